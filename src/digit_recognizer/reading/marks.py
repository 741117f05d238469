"""The marks of an image: its connected pieces of ink, pieces stacked above one another merged
into one digit's mark, and fragments told apart. Pure NumPy/SciPy.

Pieces stacked above one another belong to one digit (a 5's flag, a 7's bar, a stroke broken
by a pen lift), so pieces that share most of their columns are merged. Marks far shorter
than the digits are fragments: a speck, a dash, or a 5's flag written beside its body
rather than above it. A fragment alone is no digit; next to a digit it may be part of it,
which is for the model to say (``lattice.row_pieces``).

Whether an image is a number at all (``mode=auto``) takes clearer evidence: two marks of a
digit's size side by side, each with a stroke of its own that tall and drawn about as broad
as the others (a dotted or dashed line, a comma, a 5's flag or the thin edge of a form's box
beside a digit is not a second digit).
"""

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from scipy import ndimage

from digit_recognizer.images.ink import full_scale

# Alone in an image, one mark is taken for touching digits only when it is this wide (times
# its height): a single digit may be written wide (docs/reading.md).
LONE_MARK_WIDTH_PER_HEIGHT = 2.5
# ... and in mode=auto it is offered cut too (two digits written joined up) from this width.
ALONE_CUT_WIDTH = 1.0
# Pieces sharing at least this share of the narrower one's columns are one digit.
MERGE_OVERLAP = 0.5
# Marks shorter than this share of the tallest mark are specks, dots or dashes, not digits.
MIN_HEIGHT_SHARE = 0.35
# In mode=auto, an image is a number only when at least two marks are this share of the
# tallest high, each with one connected stroke at least MIN_HEIGHT_SHARE of the tallest
# high, and neighbours share at least SAME_LINE_SHARE of the shorter one's rows. Chosen on
# validation uploads and rows (docs/reading.md, "One digit stays one digit").
DIGIT_HEIGHT_SHARE = 0.5
SAME_LINE_SHARE = 0.3
# ... and each such mark's strokes are at least this share as broad as the broadest one's:
# one pen writes a number, and a ruled line or a box's edge beside a digit is far thinner.
# Chosen on training-digit uploads and validation rows (docs/reading.md, "A thin line").
STROKE_WIDTH_SHARE = 0.35
MAX_DIGITS = 20
# More separate pieces of ink than this is noise or a page of text, not a number: refused
# before any work per piece.
MAX_PIECES = 10 * MAX_DIGITS


@dataclass
class Mark:
    """One digit's ink: its box in the ink map (left, top, right, bottom; exclusive) and the
    mask of its own pixels within that box (a mask of the whole map per mark would cost
    megabytes each on a wide strip of many marks)."""

    left: int
    top: int
    right: int
    bottom: int
    pixels: np.ndarray
    # The height of the mark's tallest connected piece (a dotted line is tall, its dots not).
    stroke_height: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def stroke_width(self) -> float:
        """How broad its strokes are, in pixels: twice its area over its outline (a stroke
        ``w`` wide and ``L`` long covers ``w * L`` pixels within an outline ``2 * L`` long)."""
        outline = self.pixels & ~ndimage.binary_erosion(self.pixels)
        return 2.0 * float(self.pixels.sum()) / max(int(outline.sum()), 1)

    def box_within(self, left: int, top: int) -> tuple[slice, slice]:
        """This mark's box as slices of a window of the ink map whose corner is (left, top)."""
        return slice(self.top - top, self.bottom - top), slice(self.left - left, self.right - left)


def union(first: Mark, second: Mark) -> Mark:
    """The two marks' ink as one mark."""
    left, top = min(first.left, second.left), min(first.top, second.top)
    right, bottom = max(first.right, second.right), max(first.bottom, second.bottom)
    pixels = np.zeros((bottom - top, right - left), dtype=bool)
    for mark in (first, second):
        pixels[mark.box_within(left, top)] |= mark.pixels
    stroke_height = max(first.stroke_height, second.stroke_height)
    return Mark(left, top, right, bottom, pixels, stroke_height)


def _merge(marks: list[Mark]) -> list[Mark]:
    """Marks sharing most of their columns (one above the other) become one, left to right."""
    merged: list[Mark] = []
    for mark in sorted(marks, key=lambda m: m.left):
        if merged:
            last = merged[-1]
            shared = min(last.right, mark.right) - max(last.left, mark.left)
            if shared >= MERGE_OVERLAP * min(last.width, mark.width):
                merged[-1] = union(last, mark)
                continue
        merged.append(mark)
    return merged


def find_marks(solid: np.ndarray) -> tuple[list[Mark], list[Mark]] | None:
    """The digit-sized pieces of ink of a stroke mask and the fragments (marks shorter than
    ``MIN_HEIGHT_SHARE`` of the tallest), each left to right, pieces stacked above one
    another merged; None when the ink is in more than ``MAX_PIECES`` pieces."""
    labels, count = ndimage.label(solid, structure=np.ones((3, 3)))
    if count == 0:
        return [], []
    sizes = ndimage.sum_labels(solid, labels, index=np.arange(1, count + 1))
    kept = np.flatnonzero(sizes >= 0.02 * sizes.max()) + 1  # dust is no piece of a digit
    if len(kept) > MAX_PIECES:
        return None
    boxes = ndimage.find_objects(labels)
    pieces = [
        Mark(
            box[1].start,
            box[0].start,
            box[1].stop,
            box[0].stop,
            labels[box] == i,
            stroke_height=box[0].stop - box[0].start,  # one piece: its own height
        )
        for i in kept
        if (box := boxes[i - 1]) is not None
    ]
    merged = _merge(pieces)
    tallest = max(mark.height for mark in merged)
    tall = [mark.height >= MIN_HEIGHT_SHARE * tallest for mark in merged]
    return (
        [mark for mark, keep in zip(merged, tall, strict=True) if keep],
        [mark for mark, keep in zip(merged, tall, strict=True) if not keep],
    )


def digit_height(marks: list[Mark]) -> float:
    """The row's typical digit height: the median mark's."""
    return float(np.median([mark.height for mark in marks]))


def looks_like_a_number(marks: list[Mark]) -> bool:
    """Whether marks found in an image are several digits: two or more of a digit's size,
    drawn as broad, side by side, or one piece of ink far wider than tall (digits written
    touching)."""
    if len(marks) == 1:
        return marks[0].width > LONE_MARK_WIDTH_PER_HEIGHT * marks[0].height
    if not marks:
        return False
    tallest = max(mark.height for mark in marks)
    digits = [
        mark
        for mark in marks
        if mark.height >= DIGIT_HEIGHT_SHARE * tallest
        and mark.stroke_height >= MIN_HEIGHT_SHARE * tallest
    ]
    broad = [mark.stroke_width for mark in digits]
    broadest = max(broad, default=0.0)
    digits = [
        mark
        for mark, width in zip(digits, broad, strict=True)
        if width >= STROKE_WIDTH_SHARE * broadest
    ]
    return any(_on_one_line(a, b) for a, b in pairwise(digits))


def _on_one_line(first: Mark, second: Mark) -> bool:
    shared = min(first.bottom, second.bottom) - max(first.top, second.top)
    return shared >= SAME_LINE_SHARE * min(first.height, second.height)


def may_be_joined_digits(marks: list[Mark]) -> bool:
    """Whether marks that do not look like a number may still be digits written joined up:
    one piece of ink at least ``ALONE_CUT_WIDTH`` times as wide as tall."""
    return len(marks) == 1 and marks[0].width >= ALONE_CUT_WIDTH * marks[0].height


def own_ink(ink: np.ndarray, mark: Mark, threshold: float) -> np.ndarray:
    """The ink of one mark alone within its box (its faint edges kept, neighbours left out)."""
    top, bottom = max(mark.top - 2, 0), mark.bottom + 2
    left, right = max(mark.left - 2, 0), mark.right + 2
    near_ink = ink[top:bottom, left:right]
    placed = np.zeros(near_ink.shape, dtype=bool)
    placed[mark.box_within(left, top)] = mark.pixels
    near = ndimage.binary_dilation(placed, iterations=2)
    window = np.where(near & (near_ink > threshold * 0.5), near_ink, 0.0)
    return window[mark.box_within(left, top)]


def crop(
    piece_ink: np.ndarray, mark: Mark, part: tuple[int, int, int, int], threshold: float
) -> np.ndarray:
    """One part's ink (``piece_ink``: ``own_ink`` of the mark it is cut from), cropped to its
    box and scaled as a whole digit is (``full_scale``)."""
    left, top, right, bottom = part
    digit = piece_ink[top - mark.top : bottom - mark.top, left - mark.left : right - mark.left]
    return full_scale(digit, threshold)
