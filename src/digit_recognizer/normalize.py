"""MNIST input normalisation: the single source of truth for training, evaluation and inference."""

import torch

IMAGE_SIZE = 28
NUM_CLASSES = 10
# Mean and standard deviation of the 60,000 MNIST training pixels, scaled to [0, 1].
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


def normalize_images(
    images: torch.Tensor, mean: float = MNIST_MEAN, std: float = MNIST_STD
) -> torch.Tensor:
    """Map uint8 pixels (0-255) or floats in [0, 1] to the zero-mean, unit-variance net input."""
    if images.dtype == torch.uint8:
        images = images.float().div_(255.0)
    return (images - mean) / std
