"""MNIST digits re-drawn in the styles people's images come in, read back through the same
preprocessing a user's image takes. Pure NumPy/SciPy/PIL; nothing here knows about models.

Each style changes one thing MNIST's own digits rarely show: the pen (thin, thick), focus
(blur), the source's resolution (an 8 to 16 px scan blown up), the stroke (pen lifts), the
hand (slant) or the proportions (aspect). A model that is good on MNIST but fragile on
these is fragile on people's photos and drawings; scoring the validation digits in each
style (``val/robust/<style>``) tells models apart where the test accuracy cannot.
"""

import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from digit_recognizer.errors import ImageRejected
from digit_recognizer.images import centring, ink
from digit_recognizer.images.centring import center_in_frame
from digit_recognizer.images.ink import ink_map, isolate_digit
from digit_recognizer.progress import tracked
from digit_recognizer.synthetic import paper
from digit_recognizer.synthetic.cache import cached, fingerprint
from digit_recognizer.synthetic.paper import pen_on_paper

_U8 = np.dtype(np.uint8)
SCALE = 3  # digits are drawn 3x larger than MNIST's 28 px, as a photo or a drawing shows them


def _upscaled(digit: np.ndarray) -> np.ndarray:
    """Ink coverage in [0, 1] of a 28x28 MNIST digit drawn ``SCALE`` times larger."""
    side = digit.shape[0] * SCALE
    image = Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC)
    return np.asarray(image, dtype=np.float32) / 255.0


def thin(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A fine pen: strokes eroded to a third or less of their width (never erased)."""
    ink = _upscaled(digit)
    for size in (int(rng.integers(5, 8)), 4, 3):
        eroded = ndimage.grey_erosion(ink, size=(size, size))
        if (eroded > 0.5).sum() >= 0.15 * (ink > 0.5).sum():
            return eroded
    return ink


def thick(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A marker: strokes dilated to about twice their width."""
    size = int(rng.integers(5, 9))
    return ndimage.grey_dilation(_upscaled(digit), size=(size, size))


def blur(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Out of focus: a Gaussian blur about as wide as a stroke."""
    return ndimage.gaussian_filter(_upscaled(digit), sigma=float(rng.uniform(2.0, 4.5)))


def lowres(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A low-resolution scan blown up: the digit at 8 to 16 px, enlarged in square blocks."""
    cells = int(rng.integers(8, 17))
    small = Image.fromarray(digit).resize((cells, cells), Image.Resampling.BOX)
    side = digit.shape[0] * SCALE
    return np.asarray(small.resize((side, side), Image.Resampling.NEAREST), np.float32) / 255.0


def broken(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pen lifts and a dry pen: two to four short gaps in the strokes."""
    ink = _upscaled(digit)
    rows, cols = np.indices(ink.shape, dtype=np.float32)
    on_ink = np.argwhere(ink > 0.5)
    if len(on_ink) == 0:
        return ink
    for row, col in on_ink[rng.choice(len(on_ink), size=int(rng.integers(2, 5)))]:
        radius = rng.uniform(2.5, 4.0)
        ink = np.where((rows - row) ** 2 + (cols - col) ** 2 < radius**2, 0.0, ink)
    return ink


def slant(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Slanted writing: sheared by 20 to 35 degrees either way."""
    ink = _upscaled(digit)
    shear = float(np.tan(np.radians(rng.uniform(20, 35)))) * float(rng.choice([-1, 1]))
    pad = int(abs(shear) * ink.shape[0] / 2) + 1
    ink = np.pad(ink, ((0, 0), (pad, pad)))
    center = np.array(ink.shape) / 2
    matrix = np.array([[1.0, 0.0], [shear, 1.0]])  # column moves with the row: a shear
    offset = center - matrix @ center
    return ndimage.affine_transform(ink, matrix, offset=offset, order=1)


def aspect(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Other proportions: squeezed to 50-70% of its width, or of its height."""
    ink = _upscaled(digit)
    factor = float(rng.uniform(0.5, 0.7))
    height, width = ink.shape
    size = (
        (round(width * factor), height) if rng.random() < 0.5 else (width, round(height * factor))
    )
    image = Image.fromarray((ink * 255).astype(np.uint8)).resize(size, Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.float32) / 255.0


STYLES: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "thin": thin,
    "thick": thick,
    "blur": blur,
    "lowres": lowres,
    "broken": broken,
    "slant": slant,
    "aspect": aspect,
}
# What a drawing depends on: a change to any of these modules draws the caches anew.
_DRAWING = (sys.modules[__name__], paper, ink, centring)


def restyle(digit: np.ndarray, style: str, rng: np.random.Generator) -> np.ndarray:
    """One 28x28 MNIST digit drawn in ``style`` on paper and read back as a user's image is:
    a 28x28 uint8 digit. A drawing the preprocessing refuses comes back blank (a miss)."""
    grey = pen_on_paper(STYLES[style](digit, rng), rng)
    try:
        return center_in_frame(isolate_digit(ink_map(grey)))
    except ImageRejected:
        return np.zeros_like(digit)


def restyle_many(digits: np.ndarray, style: str, seed: int = 0) -> np.ndarray:
    """Digits shaped (N, 28, 28) or (N, 1, 28, 28) in ``style``, (N, 28, 28) uint8, each from
    its own seeded generator (the same result whatever the thread count); SciPy and PIL
    release the GIL, so threads help."""
    digits = np.asarray(digits, dtype=np.uint8).reshape(-1, 28, 28)

    def one(index: int) -> np.ndarray:
        rng = np.random.default_rng([seed, index, list(STYLES).index(style)])
        return restyle(digits[index], style, rng)

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        return np.stack(list(pool.map(one, range(len(digits))))) if len(digits) else digits


def training_pool(
    digits: np.ndarray, count: int, seed: int = 0, cache_dir: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` training digits, chosen at random, each re-drawn in a random style (or only
    put on paper) and read back like a user's image: (indices into ``digits``, (n, 28, 28)
    uint8). For training that sees what users send; cached like ``robustness_set``."""
    digits = np.ascontiguousarray(np.asarray(digits, dtype=np.uint8).reshape(-1, 28, 28))
    rng = np.random.default_rng(seed)
    count = min(count, len(digits))
    indices = np.sort(rng.choice(len(digits), size=count, replace=False))
    names = ["plain", *STYLES]
    chosen = rng.integers(0, len(names), size=count)

    def one(position: int) -> np.ndarray:
        style_rng = np.random.default_rng([seed, int(indices[position]), 7])
        digit = digits[indices[position]]
        if names[chosen[position]] == "plain":
            grey = pen_on_paper(_upscaled(digit), style_rng)
            try:
                return center_in_frame(isolate_digit(ink_map(grey)))
            except ImageRejected:
                return digit
        styled = restyle(digit, names[chosen[position]], style_rng)
        return styled if styled.any() else digit

    def draw() -> dict[str, np.ndarray]:
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            drawn = tracked(pool.map(one, range(count)), "drawing styled training digits", count)
            return {"images": np.stack(list(drawn)) if count else digits[:0]}

    name = f"pool-{fingerprint(digits, f'pool,{count},{seed}', *_DRAWING)}"
    return indices, cached(cache_dir, name, {"images": ((count, 28, 28), _U8)}, draw)["images"]


def robustness_set(
    digits: np.ndarray, styles: list[str], size: int, cache_dir: Path | None = None
) -> dict[str, np.ndarray]:
    """The first ``size`` of ``digits`` in every style, as ``{style: (n, 28, 28) uint8}``.

    Rendering costs about a millisecond per digit and style, the same for every run on the
    same validation split: kept in ``cache_dir`` (if given and writable) under a name that
    hashes the digits, styles and the code that draws them, so a change to any of them renders anew.
    """
    digits = np.ascontiguousarray(np.asarray(digits[:size], dtype=np.uint8).reshape(-1, 28, 28))
    name = f"styled-{fingerprint(digits, ','.join(styles), *_DRAWING)}"
    layout = {style: ((len(digits), 28, 28), _U8) for style in styles}

    def draw() -> dict[str, np.ndarray]:
        description = f"drawing {len(digits)} validation digits in each style"
        return {s: restyle_many(digits, s) for s in tracked(styles, description, len(styles))}

    return cached(cache_dir, name, layout, draw)
