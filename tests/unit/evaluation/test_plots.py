"""A run's figures and the scripts' start-up: drawn quickly, whatever the numbers."""

import pytest
import torch
from PIL import Image

from digit_recognizer.evaluation import plots


def _mistakes(count: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """40 digits, the first ``count`` of them answered wrongly."""
    images = torch.randint(0, 256, (40, 1, 28, 28), dtype=torch.uint8)
    labels = torch.arange(40) % 10
    answers = labels.clone()
    answers[:count] = (labels[:count] + 1) % 10
    return images, labels, torch.nn.functional.one_hot(answers, 10).float() * 0.9 + 0.01


@pytest.mark.parametrize(("count", "rows"), [(0, 1), (3, 1), (20, 3), (40, 4)])
def test_mistakes_grid_grows_with_the_mistakes(tmp_path, count, rows):
    images, labels, probabilities = _mistakes(count)
    path = plots.plot_mistakes(images, labels, probabilities, tmp_path / "m.png")
    with Image.open(path) as figure:
        width, height = figure.size
    assert width == round(8 * 1.3 * 110)  # 8 digits a row
    assert height == round((rows * 1.5 + 0.5) * 110)  # 32 at most: 4 rows


def test_worst_mistakes_come_first():
    labels = torch.tensor([0, 1, 2, 3])
    probabilities = torch.tensor(
        [[0.2, 0.8, 0, 0], [0, 1.0, 0, 0], [0.95, 0.05, 0, 0], [0.6, 0.4, 0, 0]]
    )
    assert plots.worst_mistakes(labels, probabilities, 5).tolist() == [2, 0, 3]
