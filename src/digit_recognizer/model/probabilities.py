"""Pixels in, probabilities out: the MNIST normalisation and ``ProbabilityNet``, the one path
from an image to calibrated probabilities that training, inference, the MLflow model and the
benchmarks share."""

import torch
from torch import nn

from digit_recognizer.labels import NUM_CLASSES

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


class ProbabilityNet(nn.Module):
    """Pixels in, probabilities out: normalise -> net -> softmax, the one path every user of a
    trained net takes (training, inference, the MLflow model, the benchmark).

    Input: uint8 pixels (0-255) or floats in [0, 1], shape (N, 1, 28, 28), a bright digit on
    black. ``channels_last`` feeds the net NHWC tensors (faster oneDNN convolutions on CPUs).
    ``temperature`` divides the logits before the softmax (``calibration`` fits it after
    training; 1 is the net as trained). ``logits`` are always the net's own.

    A net may have an 11th output, "not a digit" (trained with ``data.not_digit_share``),
    and outputs for touching pairs (``data.cut_pairs``): the probabilities returned are the
    ten digits' share of the whole softmax, so what the net gives to "not a digit" (or to a
    pair) lowers every digit's confidence.
    """

    def __init__(
        self,
        net: nn.Module,
        mean: float = MNIST_MEAN,
        std: float = MNIST_STD,
        channels_last: bool = False,
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        self.net = net
        self.mean, self.std = float(mean), float(std)
        self.temperature = float(temperature)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.net.to(memory_format=self.memory_format)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        x = normalize_images(images, self.mean, self.std)
        return self.net(x.contiguous(memory_format=self.memory_format))

    def all_probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """The calibrated softmax over every output, "not a digit" and pairs included."""
        return (self.logits(images) / self.temperature).softmax(dim=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.all_probabilities(images)[:, :NUM_CLASSES]
