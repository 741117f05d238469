"""Plain ``nn.Module`` classifiers for 1x28x28 digits, and the registry that rebuilds them from
a checked spec (``{"name": "SeedCNN", ...}``). No framework code lives here."""

import inspect
import math
from typing import Any

import torch
from torch import nn

from digit_recognizer.errors import UserError
from digit_recognizer.labels import NUM_CLASSES


class SeedCNN(nn.Module):
    """The original notebook's Keras CNN, layer for layer: 93,322 trainable parameters.

    Each ReLU that Keras applies before a max-pool comes after it here: ReLU is monotonic, so
    ``relu(max(a, b)) == max(relu(a), relu(b))`` and outputs, gradients and trained weights are
    the same (bit for bit in a test), while the ReLU and its backward touch a quarter of the
    values (the speed-up is measured in docs/performance.md).
    """

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        # The state-dict keys (features.0/3/6, classifier.1/3) are those of the Keras order.
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3),  # 26x26x32
            nn.MaxPool2d(2),  # 13x13x32
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=3),  # 11x11x64
            nn.MaxPool2d(2),  # 5x5x64
            nn.ReLU(),
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


# What a net spec may say, whoever wrote it: (type, lowest, highest-or-bound) per argument.
# The bounds keep a foreign checkpoint from asking for gigabytes before anything is checked.
SPEC_LIMITS: dict[str, tuple[type, float, float]] = {
    "num_classes": (int, 2, 1000),
    "width": (int, 1, 256),
    "dropout": (float, 0.0, 1.0),  # [0, 1): a dropout of 1 would zero every activation
}


def check_net_spec(spec: Any) -> dict[str, Any]:
    """A net spec (``{"name": ..., **arguments}``) checked against the registry; returns a plain
    copy. Raises ``UserError`` naming the first thing wrong: unknown net or keyword, a wrong
    type, a value out of range."""
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise UserError("A net spec must be a mapping with a net name (name: SeedCNN).")
    name = spec["name"]
    if name not in NETS:
        raise UserError(f"Unknown net {name!r}; known nets: {', '.join(sorted(NETS))}.")
    allowed = set(inspect.signature(NETS[name]).parameters) & set(SPEC_LIMITS)
    arguments = {key: value for key, value in spec.items() if key != "name"}
    for key, value in arguments.items():
        if key not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise UserError(f"{name} takes no argument {key!r} (it takes: {known}).")
        kind, low, high = SPEC_LIMITS[key]
        number_ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not number_ok or (kind is int and not isinstance(value, int)):
            raise UserError(f"{name}.{key} must be a {kind.__name__}, got {value!r}.")
        in_range = (
            math.isfinite(value)
            and low <= value
            and (value < high if key == "dropout" else value <= high)
        )
        if not in_range:
            closing = ")" if key == "dropout" else "]"
            raise UserError(f"{name}.{key}={value!r} is outside [{low}, {high}{closing}.")
    return {"name": name, **arguments}


def build_net(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered net ``name`` with its keyword arguments (checked first)."""
    spec = check_net_spec({"name": name, **kwargs})
    spec.pop("name")
    return NETS[name](**spec)


def state_shapes(spec: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """The state-dict entry shapes a (checked) spec implies, computed without allocating weights."""
    with torch.device("meta"):
        return {key: tuple(value.shape) for key, value in build_net(**spec).state_dict().items()}


def count_parameters(net: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
