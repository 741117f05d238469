"""MNIST input normalisation: the single source of truth for training, evaluation and inference."""

import torch

IMAGE_SIZE = 28
NUM_CLASSES = 10
# What a net may output beyond the ten digits: an 11th class, "not a digit" (NOT_DIGIT), and
# for a reader of touching numbers one class per pair of digits written touching, "ab" being
# class PAIRS_FROM + 10 * a + b. A net has one of OUTPUT_COUNTS outputs.
NOT_DIGIT = 10
PAIRS_FROM = 11
OUTPUT_COUNTS = (NUM_CLASSES, NUM_CLASSES + 1, PAIRS_FROM + NUM_CLASSES**2)
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
