"""The yardstick of other writers: scikit-learn's real digits, rendered as photos of a small
scan and read as predict.py reads an image."""

import io
from pathlib import Path

import numpy as np
from PIL import Image

from digit_recognizer.evaluation.other_writers import rendered_digits, score_other_writers
from digit_recognizer.model.checkpoints import load_classifier


def test_every_digit_is_rendered_the_same_way_for_the_same_seed() -> None:
    photos, labels = rendered_digits(seed=0)
    again, _ = rendered_digits(seed=0)
    assert len(photos) == len(labels) == 1797 and photos[:20] == again[:20]
    assert sorted(set(labels.tolist())) == list(range(10))
    first = np.asarray(Image.open(io.BytesIO(photos[0])).convert("L"), dtype=np.float64)
    assert first.shape[0] >= 72 and first.mean() > 128  # light paper around dark ink
    assert first.min() < first.mean() - 60


def test_the_score_counts_right_refused_and_unsure_answers(tiny_checkpoint: Path) -> None:
    yardstick = score_other_writers(load_classifier(tiny_checkpoint))
    assert 0.0 <= yardstick.right <= 1.0 and 0.0 <= yardstick.refused <= 1.0
    assert yardstick.right + yardstick.refused <= 1.0
    assert "1,797 real digits" in yardstick.as_text()
