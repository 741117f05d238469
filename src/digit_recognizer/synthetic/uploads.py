"""MNIST digits re-drawn the way people upload them: dark ink on light paper, any size, off-centre,
slightly rotated, noisy, saved as PNG, JPEG or transparent PNG. Used to measure preprocessing."""

import io

import numpy as np
from PIL import Image

FORMATS = ("png", "jpeg", "rgba")
SUFFIXES = {"png": ".png", "jpeg": ".jpg", "rgba": ".png"}


def redraw_as_upload(digit: np.ndarray, rng: np.random.Generator, fmt: str) -> bytes:
    """Encode one 28x28 MNIST digit (bright ink on black) as an upload-like image file."""
    width, height = (int(v) for v in rng.integers(100, 501, size=2))
    side = max(12, int(rng.uniform(0.35, 0.8) * min(width, height)))
    ink = Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC)
    ink = ink.rotate(float(rng.uniform(-12, 12)), Image.Resampling.BICUBIC, expand=True)
    left = int(rng.integers(0, max(1, width - ink.width + 1)))
    top = int(rng.integers(0, max(1, height - ink.height + 1)))
    coverage = np.zeros((height, width), dtype=np.float32)
    patch = np.asarray(ink, dtype=np.float32)[: height - top, : width - left] / 255.0
    coverage[top : top + patch.shape[0], left : left + patch.shape[1]] = patch

    if fmt == "rgba":
        # Dark ink on a transparent background, as drawing apps export it.
        pixels = np.zeros((height, width, 4), dtype=np.uint8)
        pixels[..., :3] = int(rng.integers(0, 60))
        pixels[..., 3] = (coverage * 255).astype(np.uint8)
        image = Image.fromarray(pixels, "RGBA")
    else:
        paper = rng.uniform(185, 255)
        shade = np.linspace(0, rng.uniform(-25, 25), width, dtype=np.float32)  # uneven light
        pen = rng.uniform(0, 80)
        grey = paper + shade[None, :] - (paper - pen) * coverage
        grey += rng.normal(0, rng.uniform(0, 10), size=grey.shape)
        image = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8), "L")
        if fmt == "jpeg":
            image = image.convert("RGB")
    buffer = io.BytesIO()
    if fmt == "jpeg":
        image.save(buffer, "JPEG", quality=int(rng.integers(70, 96)))
    else:
        image.save(buffer, "PNG")
    return buffer.getvalue()


def redraw_many(digits: np.ndarray, seed: int = 0) -> list[tuple[str, bytes]]:
    """Digits shaped (N, 28, 28) re-drawn in turn as PNG, JPEG and transparent PNG uploads;
    (format, file bytes) pairs, the same for the same seed."""
    rng = np.random.default_rng(seed)
    formats = [FORMATS[i % len(FORMATS)] for i in range(len(digits))]
    return [
        (fmt, redraw_as_upload(digit, rng, fmt)) for fmt, digit in zip(formats, digits, strict=True)
    ]
