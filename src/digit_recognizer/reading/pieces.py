"""An image -> its pieces of ink as candidates for the model: one digit, or a row of digits
cut every way the lattice offers, each part cropped and centred as MNIST is."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from digit_recognizer.errors import ImageRejected, NotADigit
from digit_recognizer.images.centring import center_in_frame
from digit_recognizer.images.decode import load_image, to_grayscale
from digit_recognizer.images.ink import ink_map, ink_mask, isolate_digit
from digit_recognizer.reading.lattice import MAX_PARTS, Lattice, TooManyParts, row_pieces
from digit_recognizer.reading.marks import (
    MAX_DIGITS,
    Mark,
    crop,
    digit_height,
    find_marks,
    looks_like_a_number,
    may_be_joined_digits,
    own_ink,
)

# A box in the image as given (EXIF-upright): left, top, width, height in pixels.
Box = tuple[int, int, int, int]


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
        (alone,) = _pieces(name, ink, threshold, marks, [], scale)
        if len(alone.crops) == 1:
            return [whole]
        alone.crops[alone.lattice.whole] = whole.crops[0]
        alone.lattice.alone = True
        return [alone]
    if not marks:
        raise NotADigit(f"{name}: no digit found (the image is blank)")
    if len(marks) > MAX_DIGITS:
        raise NotADigit(
            f"{name}: not a number ({len(marks)} separate marks; at most {MAX_DIGITS} digits)"
        )
    return _pieces(name, ink, threshold, marks, fragments, scale)


def _pieces(
    name: str,
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
    try:
        rows = row_pieces(marks, fragments, digit_height(marks))
    except TooManyParts:
        raise NotADigit(
            f"{name}: not a number (too many strokes to read as digits: more than "
            f"{MAX_PARTS:,} ways to cut them)"
        ) from None
    for ways, sources in rows:
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
            crops.append((center_in_frame(crop(inks[id(source)], source, part, threshold)), box))
        pieces.append(Piece(crops, ways))
    return pieces


def _whole_image(digit: np.ndarray) -> Piece:
    return Piece([(center_in_frame(digit), None)], Lattice.one())
