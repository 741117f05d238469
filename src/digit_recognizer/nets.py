"""Plain ``nn.Module`` classifiers for 1x28x28 digits. No framework code lives here."""

from typing import Any

import torch
from torch import nn

from digit_recognizer.errors import UserError
from digit_recognizer.normalize import NUM_CLASSES


class SeedCNN(nn.Module):
    """The original notebook's Keras CNN, layer for layer: 93,322 trainable parameters."""

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3),  # 26x26x32
            nn.ReLU(),
            nn.MaxPool2d(2),  # 13x13x32
            nn.Conv2d(32, 64, kernel_size=3),  # 11x11x64
            nn.ReLU(),
            nn.MaxPool2d(2),  # 5x5x64
            nn.Conv2d(64, 64, kernel_size=3),  # 3x3x64
            nn.ReLU(),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),  # 576
            nn.Linear(3 * 3 * 64, 64),
            nn.ReLU(),
            nn.Linear(64, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def conv_bn(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 same-padding convolution, batch norm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class BatchNormCNN(nn.Module):
    """A stronger net: three stages of batch-normed 3x3 convolutions, then dropout and a
    small classifier. ``width`` sets the first stage's channels (doubled per stage)."""

    def __init__(
        self, width: int = 32, dropout: float = 0.3, num_classes: int = NUM_CLASSES
    ) -> None:
        super().__init__()
        w1, w2, w3 = width, 2 * width, 4 * width
        self.features = nn.Sequential(
            conv_bn(1, w1),
            conv_bn(w1, w1),
            nn.MaxPool2d(2),  # 14x14
            conv_bn(w1, w2),
            conv_bn(w2, w2),
            nn.MaxPool2d(2),  # 7x7
            conv_bn(w2, w3),
            nn.MaxPool2d(2),  # 3x3
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(w3 * 3 * 3, 128),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout / 2),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


# Checkpoints name their net by key, so inference rebuilds it without importing arbitrary code.
NETS: dict[str, type[nn.Module]] = {
    "SeedCNN": SeedCNN,
    "BatchNormCNN": BatchNormCNN,
}


def build_net(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered net ``name`` with its keyword arguments."""
    if name not in NETS:
        known = ", ".join(sorted(NETS))
        raise UserError(f"Unknown net {name!r}; known nets: {known}.")
    return NETS[name](**kwargs)


def count_parameters(net: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
