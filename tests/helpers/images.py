"""Image files made by the tests: a drawn digit, a dot, a decompression bomb."""

import io
import struct
import zlib

import numpy as np
from PIL import Image, ImageDraw

from tests.helpers.data import synthetic_digits


def digit_png(size: int = 140) -> bytes:
    digit = synthetic_digits(1, seed=5)[0][0].numpy()
    inked = 255 - np.where(digit > 100, digit, 0).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(inked).resize((size, size)).save(buffer, "PNG")
    return buffer.getvalue()


def dot_png(canvas: int = 280, pen: int = 18) -> bytes:
    """The page's canvas with a single dot of its pen on it: ink, but no digit."""
    image = Image.new("L", (canvas, canvas), 255)
    ImageDraw.Draw(image).ellipse([130, 130, 130 + pen, 130 + pen], fill=17)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def png_bomb(side: int = 60_000) -> bytes:
    """A tiny PNG whose header declares side x side greyscale pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (side + 1) * 16, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def hostile_patterns(seed: int = 0) -> dict[str, bytes]:
    """PNGs made to make a reader work: combs (1-px teeth every 2 px), gratings, checkerboards,
    dotted lines and noise at several densities, in the shapes of a row and of a photo."""
    rng = np.random.default_rng(seed)
    patterns: dict[str, np.ndarray] = {}
    comb = np.full((128, 4032), 255, np.uint8)
    for left in range(8, 4032 - 336, 336):  # twelve combs: a spine and a tooth every 2 px
        comb[20:28, left : left + 320] = 0
        comb[28:110, left : left + 320 : 2] = 0
    patterns["combs"] = comb
    grating = np.full((600, 800), 255, np.uint8)
    grating[:, ::3] = 0
    patterns["grating"] = grating
    yy, xx = np.mgrid[:512, :512]
    patterns["checkerboard"] = np.where((yy // 2 + xx // 2) % 2, 255, 0).astype(np.uint8)
    patterns["coarse checkerboard"] = np.where((yy // 16 + xx // 16) % 2, 255, 0).astype(np.uint8)
    dotted = np.full((200, 3000), 255, np.uint8)
    dotted[90:96, ::6] = 0
    patterns["dotted line"] = dotted
    for density in (0.01, 0.1, 0.3, 0.5, 0.9):
        noise = np.where(rng.random((400, 400)) < density, 0, 255).astype(np.uint8)
        patterns[f"noise {density}"] = noise
        row = np.where(rng.random((96, 3000)) < density, 0, 255).astype(np.uint8)
        patterns[f"noise row {density}"] = row
    encoded = {}
    for name, pixels in patterns.items():
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "PNG", optimize=True)
        encoded[name] = buffer.getvalue()
    return encoded
