"""Ink put on paper and photographed: the one place that decides how synthetic drawings look
as a user's photo or scan, shared by the styled digits, the non-digits and the rows."""

import io

import numpy as np
from PIL import Image

MARGIN = 16  # paper around a styled digit, in pixels of the drawing


def pen_on_paper(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ink coverage as dark ink on light, slightly uneven paper with a margin: a greyscale
    image in [0, 1] as ``images.decode.to_grayscale`` returns it for a photo."""
    coverage = np.pad(np.clip(ink, 0.0, 1.0), MARGIN)
    paper = rng.uniform(0.8, 1.0)
    pen = rng.uniform(0.0, 0.3)
    shade = np.linspace(0.0, rng.uniform(-0.08, 0.08), coverage.shape[1], dtype=np.float32)
    grey = paper + shade[None, :] - (paper - pen) * coverage
    grey += rng.normal(0.0, 0.02, size=grey.shape).astype(np.float32)
    return np.clip(grey, 0.0, 1.0).astype(np.float32)


def lit_paper(coverage: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ink coverage in [0, 1] as grey levels (0-255, unclipped) of light paper and a dark pen,
    lit unevenly from one side, with sensor noise."""
    paper, pen = rng.uniform(190, 250), rng.uniform(0, 70)
    shade = np.linspace(0, rng.uniform(-20, 20), coverage.shape[1])
    grey = paper + shade[None, :] - (paper - pen) * coverage
    return grey + rng.normal(0, rng.uniform(0, 8), size=grey.shape)


def photograph(coverage: np.ndarray, rng: np.random.Generator) -> bytes:
    """Ink coverage as a photo of paper: uneven light, sensor noise, PNG or JPEG."""
    grey = lit_paper(coverage, rng)
    return encode_as_photo(Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8)), rng)


def encode_as_photo(image: Image.Image, rng: np.random.Generator) -> bytes:
    """A greyscale image saved as a phone or scanner would: PNG, or JPEG at quality 75-94."""
    buffer = io.BytesIO()
    if rng.random() < 0.5:
        image.save(buffer, "PNG")
    else:
        image.convert("RGB").save(buffer, "JPEG", quality=int(rng.integers(75, 95)))
    return buffer.getvalue()
