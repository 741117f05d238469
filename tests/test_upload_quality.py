"""The predict path on digits re-drawn as people upload them, against the raw 28x28 digits."""

from pathlib import Path

import pytest

from digit_recognizer.evaluation import score_uploads
from digit_recognizer.inference import load_classifier
from digit_recognizer.mnist_files import find_raw_dir, load_split
from digit_recognizer.training import train
from tests.helpers import HAS_REAL_MNIST, SHARED_DATA, compose_train, fast_overrides

pytestmark = pytest.mark.skipif(not HAS_REAL_MNIST, reason=f"no MNIST copy at {SHARED_DATA}")
SAMPLES = 900


@pytest.fixture(scope="module")
def real_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SeedCNN after one epoch on the full 55,000 training images (about 98% accurate), with
    the batch augmentation: a one-epoch fp32 model without it is erratic on shifted digits."""
    workdir = tmp_path_factory.mktemp("real_model")
    overrides = [
        *fast_overrides(workdir, SHARED_DATA),
        "data.verify_md5=true",
        "data.val_size=5000",
        "data.batch_size=64",
        "data.eval_batch_size=1000",
        "logger=none",
        "data.augment=true",
    ]
    train(compose_train(overrides))
    return workdir / "out" / "checkpoints" / "last.ckpt"


def test_uploads_score_within_1_5_points_of_raw_digits(real_checkpoint: Path) -> None:
    classifier = load_classifier(real_checkpoint)
    images, labels = load_split(find_raw_dir(SHARED_DATA), "test")
    scores = score_uploads(classifier, images, labels, SAMPLES)
    print(scores)  # shown with -s
    assert scores["uploads"] >= scores["raw"] - 0.015
    # The seed notebook's resize-only path mostly guesses on the same files.
    assert scores["uploads_naive_resize"] < scores["uploads"] - 0.3
