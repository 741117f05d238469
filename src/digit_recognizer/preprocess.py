"""Any user image -> a 28x28 MNIST-style digit (bright ink on black, centred by mass).

Pure functions over PIL and NumPy; nothing here knows about models. The steps follow how
MNIST itself was made: the digit's ink is cropped, scaled so its longer side is 20 px with
the aspect kept, and placed in a 28x28 frame with its centre of mass at the centre.
"""

import functools
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import (
    BmpImagePlugin,
    GifImagePlugin,
    Image,
    ImageFilter,
    ImageOps,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    UnidentifiedImageError,
    WebPImagePlugin,
)
from scipy import ndimage

from digit_recognizer.errors import UserError
from digit_recognizer.segment import (
    MAX_DIGITS,
    Lattice,
    Mark,
    crop,
    digit_height,
    find_marks,
    looks_like_a_number,
    may_be_joined_digits,
    own_ink,
    row_pieces,
)

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
DIGIT_BOX = 20
FRAME = 28
# Ink that spans less than this share of the image's shorter side is a speck (a dot, a smudge),
# not a digit: blown up to 20 px it would be read as a digit "for sure". A digit is also never
# much wider than tall; a wide flat stroke is a dash or an underline.
MIN_INK_SHARE = 0.1
MAX_INK_WIDTH_PER_HEIGHT = 4.0


class ImageRejected(UserError):
    """The file is no usable digit image (unreadable, blank, too large, ...)."""


class NotADigit(ImageRejected):
    """The image was read, but what it shows is no digit (blank, a speck, a line, scribbles):
    an answer ("not a digit"), not a failure."""


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
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise ImageRejected(f"{name}: truncated or corrupt image ({err})") from err
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
    image.thumbnail(working_size(image.size), Image.Resampling.BOX)  # keeps aspect
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        values = np.asarray(image, dtype=np.float32)
        if not np.isfinite(values).all():
            raise ImageRejected("holds pixel values that are not finite numbers (inf or NaN)")
        low, high = float(values.min()), float(values.max())
        return (values - low) / (high - low) if high > low else np.zeros_like(values)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, _paper_for(rgba))
        image = Image.alpha_composite(paper, rgba)
    grey = (
        image.convert("RGB").convert("L") if image.mode not in ("L", "RGB") else image.convert("L")
    )
    return np.asarray(grey, dtype=np.float32) / 255.0


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


def ink_map(grey: np.ndarray) -> np.ndarray:
    """Ink as bright values on a zero background, whatever the polarity and lighting of the input."""
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    # Paper is what the border mostly shows: light paper means dark ink, so flip it.
    ink = 1.0 - grey if np.median(border) > 0.5 else grey.copy()
    # Estimate the (possibly uneven) background: erase strokes with a minimum filter, then blur.
    height, width = ink.shape
    small = Image.fromarray((ink * 255).astype(np.uint8)).resize(
        (max(1, width // 4), max(1, height // 4)), Image.Resampling.BOX
    )
    background = small.filter(ImageFilter.MinFilter(5)).filter(ImageFilter.GaussianBlur(2))
    background = np.asarray(background.resize((width, height), Image.Resampling.BILINEAR))
    return np.clip(ink - background.astype(np.float32) / 255.0, 0.0, 1.0)


def _otsu_threshold(values: np.ndarray, bins: int = 64) -> float:
    """The threshold that best splits values in [0, 1] into two classes (Otsu's method)."""
    weights = np.bincount((values * (bins - 0.001)).astype(np.intp).ravel(), minlength=bins)
    weights = weights.astype(np.float64)
    centers = (np.arange(bins) + 0.5) / bins
    below = np.cumsum(weights)
    above = weights.sum() - below
    ink_below = np.cumsum(weights * centers)
    mean_below = ink_below / np.maximum(below, 1)
    mean_above = (ink_below[-1] - ink_below) / np.maximum(above, 1)
    between = below * above * (mean_below - mean_above) ** 2
    return float((np.argmax(between) + 1) / bins)


def _strokes(mask: np.ndarray) -> np.ndarray:
    """The strokes of ``mask`` without isolated specks of noise.

    An opening (erode, then dilate, 3x3) removes specks; a thin stroke may lose most of its
    pixels in it too, so what is kept is every connected piece of ink that survives the
    opening somewhere, whole. A digit drawn with a hairline pen, which vanishes in the
    opening, keeps the plain mask.
    """
    survivors = ndimage.binary_opening(mask, structure=np.ones((3, 3)))
    pieces, _ = ndimage.label(mask, structure=np.ones((3, 3)))
    kept = np.isin(pieces, np.unique(pieces[survivors]))
    return kept if kept.sum() >= 0.3 * mask.sum() else mask


def ink_mask(ink: np.ndarray, name: str = "image") -> tuple[np.ndarray, float]:
    """Where the strokes are (specks of noise removed), and the ink level that tells them
    from the paper; NotADigit when there is no ink, or the "ink" is most of the image."""
    if ink.shape[0] < 8 or ink.shape[1] < 8 or float(ink.max()) < 0.15:
        raise NotADigit(f"{name}: no digit found (the image is blank)")
    threshold = max(_otsu_threshold(ink), 0.1)
    solid = _strokes(ink > threshold)
    if solid.sum() < 4 or solid.mean() > 0.6:
        raise NotADigit(f"{name}: no digit found (no strokes stand out from the background)")
    return solid, threshold


def isolate_digit(
    ink: np.ndarray, name: str = "image", strokes: tuple[np.ndarray, float] | None = None
) -> np.ndarray:
    """Crop to the ink, with noise below the ink/background threshold cleared (``strokes``:
    ``ink_mask``'s answer, if already known)."""
    solid, threshold = strokes or ink_mask(ink, name)
    rows, cols = np.nonzero(solid)
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    _check_ink_shape(bottom - top, right - left, min(ink.shape), name)
    digit = np.where(ink > threshold * 0.5, ink, 0.0)[top:bottom, left:right]
    return digit / max(float(digit.max()), 1e-6)


def _check_ink_shape(height: int, width: int, image_side: int, name: str) -> None:
    """Refuse ink too small or too flat to be a digit, with a reason a person understands."""
    if max(height, width) < MIN_INK_SHARE * image_side:
        raise NotADigit(
            f"{name}: no digit found (the ink is a speck: it spans "
            f"{max(height, width) / image_side:.0%} of the image; write the digit larger)"
        )
    if width > MAX_INK_WIDTH_PER_HEIGHT * height:
        raise NotADigit(f"{name}: no digit found (the ink is a flat line, not a digit)")


def center_in_frame(digit: np.ndarray) -> np.ndarray:
    """Scale the longer side to 20 px (aspect kept) and centre the mass in a 28x28 uint8 frame."""
    height, width = digit.shape
    scale = DIGIT_BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = Image.fromarray((digit * 255).astype(np.uint8)).resize(size, Image.Resampling.LANCZOS)
    small = np.asarray(image, dtype=np.float32)
    total = small.sum()
    rows, cols = np.indices(small.shape)
    center_row = (rows * small).sum() / total if total else small.shape[0] / 2
    center_col = (cols * small).sum() / total if total else small.shape[1] / 2
    top = int(np.rint(FRAME / 2 - center_row))
    left = int(np.rint(FRAME / 2 - center_col))
    top = min(max(top, 0), FRAME - small.shape[0])
    left = min(max(left, 0), FRAME - small.shape[1])
    frame = np.zeros((FRAME, FRAME), dtype=np.float32)
    frame[top : top + small.shape[0], left : left + small.shape[1]] = small
    return np.clip(frame, 0, 255).astype(np.uint8)


def to_mnist_array(source: str | Path | bytes | Image.Image) -> np.ndarray:
    """The full path: file, bytes or PIL image -> 28x28 uint8 MNIST-style digit."""
    name = "upload" if isinstance(source, bytes | Image.Image) else str(source)
    image = source if isinstance(source, Image.Image) else load_image(source)
    try:
        grey = to_grayscale(image)
    except ImageRejected as err:
        raise ImageRejected(f"{name}: {err}") from None
    return center_in_frame(isolate_digit(ink_map(grey), name))


# A box in the image as given (EXIF-upright): left, top, width, height in pixels.
Box = tuple[int, int, int, int]
MODES = ("auto", "digit", "number")


@dataclass
class Piece:
    """One piece of ink, or a group of marks close enough to be one digit's pieces, and the
    ways to read it: the 28x28 crops of its candidate parts, with their boxes, and the
    lattice saying which parts together cover it. A single digit is one part (box ``None``
    when the whole image is that digit)."""

    crops: list[tuple[np.ndarray, Box | None]]
    lattice: Lattice


def to_mnist_digits(source: str | Path | bytes | Image.Image, mode: str = "auto") -> list[Piece]:
    """The pieces of ink an image shows, left to right, as MNIST-style candidates for the
    model. ``digit``: the whole image is one digit; ``number``: a row of digits, segmented;
    ``auto``: a number when two or more digit-sized marks stand side by side, else one digit
    (a lone piece at least as wide as tall offered cut too: two digits written joined up)."""
    name = "upload" if isinstance(source, bytes | Image.Image) else str(source)
    image = source if isinstance(source, Image.Image) else load_image(source)
    upright = image.size[::-1] if image.getexif().get(0x0112) in (5, 6, 7, 8) else image.size
    try:
        grey = to_grayscale(image)
    except ImageRejected as err:
        raise ImageRejected(f"{name}: {err}") from None
    ink = ink_map(grey)
    if mode == "digit":
        return [_whole_image(isolate_digit(ink, name))]
    solid, threshold = ink_mask(ink, name)
    found = find_marks(solid)
    if found is None:
        raise NotADigit(
            f"{name}: no digit found (the ink is in hundreds of separate pieces: noise or text)"
        )
    marks, fragments = found
    scale = upright[0] / grey.shape[1], upright[1] / grey.shape[0]
    if mode == "auto" and not looks_like_a_number(marks):
        whole = _whole_image(isolate_digit(ink, name, (solid, threshold)))
        if not may_be_joined_digits(marks):
            return [whole]
        # One piece of ink: one digit, or two written touching. Read whole as a single digit,
        # or cut, if a model that knows "not a digit" is surer of the parts.
        (alone,) = _pieces(ink, threshold, marks, [], scale)
        if len(alone.crops) == 1:
            return [whole]
        everything = alone.lattice.spans.index((0, alone.lattice.cuts - 1))
        alone.crops[everything] = whole.crops[0]
        alone.lattice.alone = True
        return [alone]
    if not marks:
        raise NotADigit(f"{name}: no digit found (the image is blank)")
    if len(marks) > MAX_DIGITS:
        raise NotADigit(
            f"{name}: not a number ({len(marks)} separate marks; at most {MAX_DIGITS} digits)"
        )
    return _pieces(ink, threshold, marks, fragments, scale)


def _pieces(
    ink: np.ndarray,
    threshold: float,
    marks: list[Mark],
    fragments: list[Mark],
    scale: tuple[float, float],
) -> list[Piece]:
    """A row's groups of marks, each with its candidate parts' crops and boxes (in the
    image's pixels: ``scale`` from the working image's)."""
    scale_x, scale_y = scale
    pieces = []
    for ways, sources in row_pieces(marks, fragments, digit_height(marks)):
        inks: dict[int, np.ndarray] = {}  # each source mark's own ink, found once
        crops: list[tuple[np.ndarray, Box | None]] = []
        for part, source in zip(ways.parts, sources, strict=True):
            if id(source) not in inks:
                inks[id(source)] = own_ink(ink, source, threshold)
            left, top, right, bottom = part
            box = (
                round(left * scale_x),
                round(top * scale_y),
                round((right - left) * scale_x),
                round((bottom - top) * scale_y),
            )
            crops.append((center_in_frame(crop(inks[id(source)], source, part)), box))
        pieces.append(Piece(crops, ways))
    return pieces


def _whole_image(digit: np.ndarray) -> Piece:
    return Piece([(center_in_frame(digit), None)], Lattice.one())


def naive_resize(source: str | Path | bytes | Image.Image) -> np.ndarray:
    """The seed notebook's preprocessing, kept for comparison: greyscale, resize to 28x28."""
    image = source if isinstance(source, Image.Image) else load_image(source)
    grey = image.convert("L").resize((FRAME, FRAME))
    return np.asarray(grey, dtype=np.uint8)
