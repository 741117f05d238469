"""Tiny MNIST IDX files written by the tests, synthetic digits, and batch checks."""

from pathlib import Path
from typing import Any

import torch


def write_idx(path: Path, data: torch.Tensor) -> Path:
    """Write a uint8 tensor as an IDX file: zero bytes, type 0x08, rank, big-endian sizes, data."""
    header = bytes([0, 0, 0x08, data.ndim])
    header += b"".join(int(size).to_bytes(4, "big") for size in data.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + data.to(torch.uint8).contiguous().numpy().tobytes())
    return path


def synthetic_digits(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Learnable stand-ins for digits: class k lights an upright bar (drawn, it reads as a '1',
    never as a flat line) whose place depends on k, plus noise."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (count,), generator=generator)
    images = torch.randint(0, 40, (count, 28, 28), generator=generator)
    for index, label in enumerate(labels.tolist()):
        column = 4 + 2 * label
        images[index, 4:24, column : column + 3] = 255
    return images.to(torch.uint8), labels.to(torch.uint8)


def make_tiny_mnist(root: Path, train: int = 600, test: int = 200) -> Path:
    """Write the four MNIST IDX files (synthetic, small) under ``root/MNIST/raw``."""
    raw = root / "MNIST" / "raw"
    for prefix, count, seed in (("train", train, 0), ("t10k", test, 1)):
        images, labels = synthetic_digits(count, seed)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return root


def assert_swapped_in(
    pool: Any,
    mixed: tuple[torch.Tensor, torch.Tensor],
    batch: tuple[torch.Tensor, torch.Tensor],
    count: int,
) -> None:
    """The first ``count`` images of a ``mixed`` batch are images of ``pool`` with their own
    labels; the rest of ``batch`` is unchanged."""
    (images, labels), (original, original_labels) = mixed, batch
    for image, label in zip(images[:count], labels[:count], strict=True):
        match = (pool.images == image).flatten(1).all(dim=1)
        assert match.any() and label in pool.labels[match]
    assert torch.equal(images[count:], original[count:])
    assert torch.equal(labels[count:], original_labels[count:])
