"""Ink and paper: where the strokes of an image are, whatever its polarity and lighting, and
the digit's ink cropped out of it. Pure NumPy/SciPy/PIL; nothing here knows about models."""

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

from digit_recognizer.errors import NotADigit

# Ink that spans less than this share of the image's shorter side is a speck (a dot, a smudge),
# not a digit: blown up to 20 px it would be read as a digit "for sure". A digit is also never
# much wider than tall; a wide flat stroke is a dash or an underline.
MIN_INK_SHARE = 0.1
MAX_INK_WIDTH_PER_HEIGHT = 4.0
# Ink is what stands out of the paper: GRAIN_SPREADS times the paper's noise above its level,
# and at least MIN_CONTRAST of full scale (10 grey levels in 255). Test with a sweep of ink
# contrast against paper noise: tests/unit/images/test_decode_and_centring.py.
GRAIN_SPREADS = 6.0
MIN_CONTRAST = 0.04
# Full ink is the level most of a digit's strokes reach, not its single brightest pixel:
# MNIST's digits were anti-aliased from black-and-white scans, so their strokes' cores are
# saturated, whatever pen or light drew them (docs/reading.md).
STROKE_PERCENTILE = 50.0


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


def _paper_grain(ink: np.ndarray) -> float:
    """The ink level that stands out of the paper's own grain: the paper's level (the median:
    most of an image is paper) plus ``GRAIN_SPREADS`` robust spreads of it (the median absolute
    deviation, as a standard deviation), and at least ``MIN_CONTRAST``. Light ink on clean
    paper is read; noise on grainy paper is not ink."""
    paper = float(np.median(ink))
    spread = 1.4826 * float(np.median(np.abs(ink - paper)))
    return paper + max(GRAIN_SPREADS * spread, MIN_CONTRAST)


def ink_mask(ink: np.ndarray, name: str = "image") -> tuple[np.ndarray, float]:
    """Where the strokes are (specks of noise removed), and the ink level that tells them
    from the paper; NotADigit when there is no ink, or the "ink" is most of the image."""
    if ink.shape[0] < 8 or ink.shape[1] < 8:
        raise NotADigit(f"{name}: no digit found (the image is blank)")
    stands_out = _paper_grain(ink)
    if float(ink.max()) < stands_out:
        raise NotADigit(f"{name}: no digit found (the image is blank)")
    threshold = max(_otsu_threshold(ink), stands_out)
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
    return full_scale(digit, threshold)


def full_scale(digit: np.ndarray, threshold: float) -> np.ndarray:
    """``digit``'s ink scaled so that its strokes (the ink above ``threshold``) reach 1 at
    their ``STROKE_PERCENTILE``, clipped: a faint pen or a glint does not make a digit grey."""
    strokes = digit[digit > threshold]
    level = float(np.percentile(strokes, STROKE_PERCENTILE)) if strokes.size else digit.max()
    return np.clip(digit / max(float(level), 1e-6), 0.0, 1.0)


def _check_ink_shape(height: int, width: int, image_side: int, name: str) -> None:
    """Refuse ink too small or too flat to be a digit, with a reason a person understands."""
    if max(height, width) < MIN_INK_SHARE * image_side:
        raise NotADigit(
            f"{name}: no digit found (the ink is a speck: it spans "
            f"{max(height, width) / image_side:.0%} of the image; write the digit larger)"
        )
    if width > MAX_INK_WIDTH_PER_HEIGHT * height:
        raise NotADigit(f"{name}: no digit found (the ink is a flat line, not a digit)")
