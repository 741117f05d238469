"""A row of handwritten digits -> one box per digit, left to right. Pure NumPy/SciPy.

The ink's connected pieces are the starting point. Pieces stacked above one another belong
to one digit (a 5's flag, a 7's bar, a stroke broken by a pen lift), so pieces that share
most of their columns are merged. A piece much wider than tall is two or more touching
digits: it is cut at the column with the least ink, again and again, until each part has
a digit's proportions. Specks and dashes far smaller than the digits are dropped.
"""

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

# A mark wider than this (times its height) may be cut: a digit is rarely this wide, two
# touching digits nearly always are. Cut into as many parts as digits of the typical width
# (this share of the row's digit height) fit in it.
MAX_WIDTH_PER_HEIGHT = 1.25
DIGIT_WIDTH_PER_HEIGHT = 0.75
# Alone in an image, one mark is taken for touching digits only when it is this wide: a
# single digit may be written wide.
LONE_MARK_WIDTH_PER_HEIGHT = 1.8
# Pieces sharing at least this share of the narrower one's columns are one digit.
MERGE_OVERLAP = 0.5
# Marks shorter than this share of the tallest mark are specks, dots or dashes, not digits.
MIN_HEIGHT_SHARE = 0.35
MAX_DIGITS = 20
# More separate pieces of ink than this is noise or a page of text, not a number: refused
# before any work per piece.
MAX_PIECES = 10 * MAX_DIGITS


@dataclass
class Mark:
    """One digit's ink: its box in the ink map (left, top, right, bottom; exclusive) and the
    mask of its own pixels within the whole map."""

    left: int
    top: int
    right: int
    bottom: int
    pixels: np.ndarray

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


def _mark(pixels: np.ndarray) -> Mark | None:
    rows, cols = np.nonzero(pixels)
    if len(rows) == 0:
        return None
    return Mark(cols.min(), rows.min(), cols.max() + 1, rows.max() + 1, pixels)


def _merge(marks: list[Mark]) -> list[Mark]:
    """Marks sharing most of their columns (one above the other) become one, left to right."""
    merged: list[Mark] = []
    for mark in sorted(marks, key=lambda m: m.left):
        if merged:
            last = merged[-1]
            shared = min(last.right, mark.right) - max(last.left, mark.left)
            if shared >= MERGE_OVERLAP * min(last.width, mark.width):
                merged[-1] = _mark(last.pixels | mark.pixels)  # type: ignore[assignment]
                continue
        merged.append(mark)
    return merged


def _split(mark: Mark, digit_height: float) -> list[Mark]:
    """A mark cut into as many digits as its width holds (a digit is about
    ``DIGIT_WIDTH_PER_HEIGHT`` of ``digit_height`` wide), each cut at the emptiest column
    near where it is expected."""
    height = max(mark.height, digit_height)
    count = round(mark.width / (DIGIT_WIDTH_PER_HEIGHT * height))
    if count < 2 or mark.width <= MAX_WIDTH_PER_HEIGHT * height:
        return [mark]
    count = min(count, MAX_DIGITS)
    step = mark.width / count
    columns = mark.pixels[mark.top : mark.bottom, mark.left : mark.right].sum(axis=0)
    cuts, previous = [], 0
    for index in range(1, count):
        low = max(previous + 1, round(index * step - 0.35 * step))
        high = min(mark.width - 1, round(index * step + 0.35 * step))
        if high <= low:
            continue
        window = columns[low:high] + np.abs(np.arange(low, high) - index * step) * 1e-3
        previous = low + int(np.argmin(window))
        cuts.append(mark.left + previous)
    parts, start = [], mark.left
    for cut in [*cuts, mark.right]:
        pixels = mark.pixels.copy()
        pixels[:, :start] = False
        pixels[:, cut:] = False
        if (part := _mark(pixels)) is not None:
            parts.append(part)
        start = cut
    return parts


def find_marks(solid: np.ndarray) -> list[list[Mark]] | None:
    """The digit-sized marks of a stroke mask, left to right, grouped by the separate pieces
    of ink they come from (touching digits are one group of several marks); None when the
    ink is in more than ``MAX_PIECES`` pieces."""
    labels, count = ndimage.label(solid, structure=np.ones((3, 3)))
    if count == 0:
        return []
    sizes = ndimage.sum_labels(solid, labels, index=np.arange(1, count + 1))
    kept = np.flatnonzero(sizes >= 0.02 * sizes.max()) + 1  # dust is no piece of a digit
    if len(kept) > MAX_PIECES:
        return None
    pieces = [m for i in kept if (m := _mark(labels == i)) is not None]
    merged = _merge(pieces)
    digit_height = float(np.median([mark.height for mark in merged]))
    groups = [_split(mark, digit_height) for mark in merged]
    tallest = max(mark.height for group in groups for mark in group)
    kept = [[m for m in group if m.height >= MIN_HEIGHT_SHARE * tallest] for group in groups]
    return [group for group in kept if group]


def looks_like_a_number(groups: list[list[Mark]]) -> bool:
    """Whether marks found in an image are several digits: two or more separate ones, or one
    piece of ink far wider than tall (digits written touching)."""
    if len(groups) != 1:
        return len(groups) > 1
    whole = _mark(np.logical_or.reduce([mark.pixels for mark in groups[0]]))
    return whole is not None and whole.width > LONE_MARK_WIDTH_PER_HEIGHT * whole.height


def crop(ink: np.ndarray, mark: Mark, threshold: float) -> np.ndarray:
    """The ink of one mark alone (its faint edges kept, neighbours left out), cropped to its
    box and scaled so its brightest stroke is 1."""
    own = ndimage.binary_dilation(mark.pixels, iterations=2) & (ink > threshold * 0.5)
    digit = np.where(own, ink, 0.0)[mark.top : mark.bottom, mark.left : mark.right]
    return digit / max(float(digit.max()), 1e-6)
