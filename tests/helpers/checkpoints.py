"""Checkpoints written by the tests without training, and digits a trained one reads surely."""

from pathlib import Path

import numpy as np
import torch

from digit_recognizer.data.mnist_files import find_raw_dir, load_split
from digit_recognizer.model.checkpoints import load_classifier
from digit_recognizer.model.nets import build_net
from tests.helpers.paths import SHARED_DATA


def batchnorm_checkpoint(path: Path, outputs: int = 11) -> Path:
    """A checkpoint of an (untrained) BatchNormCNN, as experiment=outlier or reader write one:
    its batch norms hold an integer buffer (num_batches_tracked) beside the float weights."""
    spec = {"name": "BatchNormCNN", "width": 8, "num_classes": outputs}
    state = {f"net.net.{key}": value for key, value in build_net(**spec).state_dict().items()}
    torch.save({"hyper_parameters": {"net": spec}, "state_dict": state}, path)
    return path


def sure_digits(checkpoint: Path, wanted: list[int]) -> list[np.ndarray]:
    """MNIST test digits (as 28x28 arrays) that the model reads surely, one per wanted digit."""
    images, labels = load_split(find_raw_dir(SHARED_DATA), "test")
    probabilities = load_classifier(checkpoint).predict(images[:500])
    sure = (probabilities.max(dim=1).values > 0.99) & (probabilities.argmax(1) == labels[:500])
    picked, used = [], set()
    for digit in wanted:
        index = next(
            int(i)
            for i in np.flatnonzero(sure.numpy() & (labels[:500] == digit).numpy())
            if int(i) not in used
        )
        used.add(index)
        picked.append(images[index, 0].numpy())
    return picked
