"""Opening a user's image safely: only the formats people upload, sizes checked before
decoding, every mode reduced to an upright greyscale array in [0, 1]."""

import functools
import io
import warnings
from pathlib import Path

import numpy as np
from PIL import (
    BmpImagePlugin,
    GifImagePlugin,
    Image,
    ImageOps,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    UnidentifiedImageError,
    WebPImagePlugin,
)

from digit_recognizer.errors import ImageRejected

# Registered by importing them, so that Image.open(formats=...) finds exactly these.
_PLUGINS = (BmpImagePlugin, GifImagePlugin, JpegImagePlugin, PngImagePlugin)
_PLUGINS += (TiffImagePlugin, WebPImagePlugin)

# The formats people upload, and the only Pillow plugins used to open a file (EPS would run
# Ghostscript). A phone's multi-picture JPEG (MPO) opens through the JPEG plugin.
IMAGE_FORMATS: dict[str, tuple[str, ...]] = {
    "PNG": (".png",),
    "JPEG": (".jpg", ".jpeg", ".jfif"),
    "GIF": (".gif",),
    "WEBP": (".webp",),
    "BMP": (".bmp",),
    "TIFF": (".tif", ".tiff"),
    # Phone photos: iPhones save HEIC by default (pillow-heif reads it), some phones AVIF.
    "HEIF": (".heic", ".heif"),
    "AVIF": (".avif",),
}
IMAGE_SUFFIXES = frozenset(suffix for suffixes in IMAGE_FORMATS.values() for suffix in suffixes)
# Refuse anything larger before decoding it: a phone photo is at most ~50 MP, and decoding
# (after JPEG's reduced draft) may take at most MAX_DECODE_BYTES of pixel data.
MAX_PIXELS = 50_000_000
MAX_DECODE_BYTES = 100 * 1024 * 1024
_NUMERIC_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_BITS_PER_BAND = {"1": 1, "I;16": 16, "I;16B": 16, "I;16L": 16, "I": 32, "F": 32}
# Photos are cut down first: enough detail for a 20 px digit, and fast. The longer side to
# WORKING_SIZE; but a strip wider than 2:1 (a row of digits) keeps its shorter side at half
# that, so each digit keeps as many pixels as one alone would (longest side MAX_STRIP).
WORKING_SIZE = 256
MAX_STRIP = 16 * WORKING_SIZE
_TOO_LARGE = (
    f"too many pixels to decode safely (limit {MAX_PIXELS // 1_000_000} megapixels or "
    f"{MAX_DECODE_BYTES // 2**20} MB of pixel data)"
)


@functools.cache
def _register_heif() -> None:
    """Teach Pillow HEIC/HEIF (pillow-heif), once, when the first image is opened."""
    from pillow_heif import register_heif_opener

    register_heif_opener()


def load_image(source: str | Path | bytes) -> Image.Image:
    """Open an image file (or bytes) safely: size checked before decoding, first frame only."""
    _register_heif()
    name = "upload" if isinstance(source, bytes) else str(source)
    try:
        size = len(source) if isinstance(source, bytes) else Path(source).stat().st_size
        if size == 0:
            raise ImageRejected(f"{name}: empty file")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(
                io.BytesIO(source) if isinstance(source, bytes) else source,
                formats=tuple(IMAGE_FORMATS),
            )
            if image.width * image.height > MAX_PIXELS:
                raise ImageRejected(f"{name}: {_TOO_LARGE}")
            if image.format != "HEIF":  # a HEIC opens at its primary image, which is the one
                image.seek(0)  # animations: the first frame
            image.draft("RGB", (WORKING_SIZE * 2, WORKING_SIZE * 2))  # JPEG: decode reduced
            if decode_bytes(image) > MAX_DECODE_BYTES:
                raise ImageRejected(f"{name}: {_TOO_LARGE}")
            image.load()
    except ImageRejected:
        raise
    except FileNotFoundError as err:
        raise ImageRejected(f"{name}: no such file") from err
    except IsADirectoryError as err:
        raise ImageRejected(f"{name}: is a directory, not an image") from err
    except PermissionError as err:
        raise ImageRejected(f"{name}: permission denied") from err
    except UnidentifiedImageError as err:
        allowed = ", ".join(IMAGE_FORMATS)
        raise ImageRejected(f"{name}: not an image in a supported format ({allowed})") from err
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageRejected(f"{name}: {_TOO_LARGE}") from err
    except (OSError, SyntaxError, ValueError, EOFError, RuntimeError) as err:
        # RuntimeError: libheif's (a security limit, a broken box); its text spans lines.
        reason = " ".join(str(err).split()) or type(err).__name__
        raise ImageRejected(f"{name}: truncated or corrupt image ({reason})") from err
    return image


def decode_bytes(image: Image.Image) -> int:
    """Bytes of pixel data decoding ``image`` would produce: pixels x bands x bit depth."""
    bits = _BITS_PER_BAND.get(image.mode, 8) * len(image.getbands())
    return image.width * image.height * bits // 8


def to_grayscale(image: Image.Image) -> np.ndarray:
    """Upright greyscale float32 array in [0, 1]. Transparency is composited on white paper,
    or on black where most of the image is transparent and what is drawn on it is light
    (white strokes on a transparent canvas, as drawing apps export them)."""
    image = ImageOps.exif_transpose(image) or image
    if image.mode in _NUMERIC_MODES:
        return _numeric_grayscale(image)
    image.thumbnail(working_size(image.size), Image.Resampling.BOX)  # keeps aspect
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, _paper_for(rgba))
        image = Image.alpha_composite(paper, rgba)
    grey = (
        image.convert("RGB").convert("L") if image.mode not in ("L", "RGB") else image.convert("L")
    )
    return np.asarray(grey, dtype=np.float32) / 255.0


def _numeric_grayscale(image: Image.Image) -> np.ndarray:
    """A 16- or 32-bit integer or float image, stretched to [0, 1] before it is shrunk:
    Pillow's reducers refuse 16-bit modes and sum 32-bit ones in integers that overflow."""
    values = np.asarray(image, dtype=np.float32)
    if not np.isfinite(values).all():
        raise ImageRejected("holds pixel values that are not finite numbers (inf or NaN)")
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    shrunk = Image.fromarray(scaled.astype(np.float32)).resize(
        working_size(image.size), Image.Resampling.BOX
    )
    return np.clip(np.asarray(shrunk, dtype=np.float32), 0.0, 1.0)


def _paper_for(rgba: Image.Image) -> tuple[int, int, int, int]:
    """White paper, unless most of the image is transparent and its opaque pixels are light
    on average: then black, so that light strokes stay visible."""
    alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255.0
    if (alpha < 0.5).mean() <= 0.5 or not alpha.any():
        return (255, 255, 255, 255)
    light = np.asarray(rgba.convert("L"), dtype=np.float32) / 255.0
    drawn = float((light * alpha).sum() / alpha.sum())
    return (0, 0, 0, 255) if drawn > 0.5 else (255, 255, 255, 255)


def working_size(size: tuple[int, int]) -> tuple[int, int]:
    """The largest size an image of ``size`` is worked at (see ``WORKING_SIZE``)."""
    longer, shorter = max(size), max(min(size), 1)
    scale = min(1.0, max(WORKING_SIZE / longer, WORKING_SIZE / 2 / shorter), MAX_STRIP / longer)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))
