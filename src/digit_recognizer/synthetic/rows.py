"""Rows of handwritten digits made from MNIST digits, and the parts a reader cuts them into.

``compose_row`` puts digits side by side as a person writes a number (each its own height and
baseline, with gaps, or overlapping so that neighbours touch); ``photograph`` puts the row on
paper. ``benchmarks/read_numbers.py`` measures the reader on such rows of MNIST *test* digits.

``cut_parts`` teaches a model what the reader needs to know: rows of *training* digits are
segmented exactly as a user's image is (``reading.pieces.to_mnist_digits``), and every candidate
part the segmentation offers is labelled by the digits whose ink it holds: one digit whole
and nearly alone is that digit; a piece of a digit, or digits run together, is "not a
digit" (class 10). A model trained only on whole digits reads "17" run together as a
confident 7 and the left half of a 0 as a confident 1, so the reader could not tell a good
cut from a bad one. With ``pairs``, two neighbours whole and alone in a part are that pair
(class ``PAIRS_FROM + 10 * first + second``): touching digits often meet where no cut
leaves each one whole, while the cuts on either side of the pair are clean.
"""

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from digit_recognizer.errors import ImageRejected
from digit_recognizer.images import centring, decode, ink
from digit_recognizer.labels import NOT_DIGIT, PAIRS_FROM
from digit_recognizer.progress import bar
from digit_recognizer.reading import lattice as row_lattice
from digit_recognizer.reading import marks as row_marks
from digit_recognizer.reading import pieces as row_pieces
from digit_recognizer.reading.pieces import to_mnist_digits
from digit_recognizer.synthetic import paper
from digit_recognizer.synthetic.cache import cached, fingerprint
from digit_recognizer.synthetic.paper import photograph

INK = 0.3  # coverage above which a pixel is a digit's ink
# A part is no digit when it holds at least SECOND of some digit's ink besides the main one's
# (a 1 run into a 4 holds all of both: the 1 is too thin to be "other ink" by pixel count),
# under PIECE of every digit, or other ink over CROWDED times the main digit's. It is digit d
# when it holds at least WHOLE of d's ink and other ink of at most ALONE times d's, and the
# pair d, d + 1 when it holds WHOLE of both and other ink of at most ALONE times theirs. Parts
# in between teach nothing sure and are left out.
WHOLE, ALONE = 0.9, 0.15
PIECE, CROWDED, SECOND = 0.6, 0.5, 0.5
# Of one row's crowds and of its pieces, this many at most go into the pool.
PER_ROW = 3


def compose_row(
    digits: np.ndarray,
    rng: np.random.Generator,
    touching: bool,
    scale: float = 3.0,
    overlap: tuple[int, int] = (2, 9),
    gap: tuple[int, int] = (4, 30),
    lift: int = 30,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Digits (n, 28, 28), bright on black, side by side at ``scale`` times their size, each
    scaled to 80-120% of that height and lifted 0 to ``lift`` px off the top margin; neighbours
    ``overlap`` px into one another when ``touching``, else ``gap`` px apart (ranges, upper
    bound excluded). Returns the ink coverage in [0, 1], which digit (1..n; 0: none) owns each
    pixel of ink, and whether some neighbours' ink ended up connected."""
    pieces = []
    for digit in digits:
        cols = np.flatnonzero(digit.max(axis=0) > 30)
        crop = digit[:, cols.min() : cols.max() + 1] if len(cols) else digit
        height = int(28 * scale * rng.uniform(0.8, 1.2))
        width = max(1, round(crop.shape[1] * height / 28))
        pieces.append(
            np.asarray(Image.fromarray(crop).resize((width, height), Image.BICUBIC)) / 255.0
        )
    top_margin = 20
    height = max(p.shape[0] for p in pieces) + 2 * top_margin + lift
    width = sum(p.shape[1] for p in pieces) + 40 * len(pieces) + 40
    row = np.zeros((height, width), np.float32)
    owner = np.zeros((height, width), np.int32)
    x = 20
    for index, piece in enumerate(pieces):
        y = top_margin + int(rng.integers(0, lift))
        region = row[y : y + piece.shape[0], x : x + piece.shape[1]]
        np.maximum(region, piece, out=region)
        owner[y : y + piece.shape[0], x : x + piece.shape[1]][piece > INK] = index + 1
        step = -int(rng.integers(*overlap)) if touching else int(rng.integers(*gap))
        x += piece.shape[1] + step
    row, owner = row[:, : x + 40], owner[:, : x + 40]
    _, count = ndimage.label(row > INK, structure=np.ones((3, 3)))
    return row, owner, count < len(digits)


def label_part(
    owner: np.ndarray, totals: np.ndarray, box: tuple[int, int, int, int]
) -> tuple[str, int] | None:
    """What a part whose box (left, top, width, height) covers ``owner`` shows: ("digit", its
    position in the row, 0-based), ("pair", the first one's position) for two neighbours
    whole and alone, ("crowd", -1) for other digits run together, ("piece", -1) for a piece
    of one, None when unsure."""
    left, top, width, height = box
    counts = np.bincount(
        owner[top : top + height, left : left + width].ravel(), minlength=len(totals)
    )
    counts[0] = 0
    main = int(counts.argmax())
    if counts[main] == 0:
        return None
    shares = counts / np.maximum(totals, 1)
    whole = np.flatnonzero(shares >= WHOLE)
    if len(whole) == 2 and whole[1] == whole[0] + 1:
        theirs = counts[whole].sum()
        if counts.sum() - theirs <= ALONE * theirs:
            return "pair", int(whole[0]) - 1
    others = (counts.sum() - counts[main]) / counts[main]
    if np.delete(shares, main).max() >= SECOND or others > CROWDED:
        return "crowd", -1
    if shares[main] < PIECE:
        return "piece", -1
    if shares[main] >= WHOLE and others <= ALONE:
        return "digit", main - 1
    return None


def _row_parts(
    digits: np.ndarray, labels: np.ndarray, seed: int, index: int, pairs: bool = False
) -> list[tuple[np.ndarray, str, int]]:
    """Parts of one random row of ``digits`` with their kind and class (10: no digit): one
    of the parts that hold each digit (and, with ``pairs``, each pair of neighbours; without,
    a pair is a crowd), and up to ``PER_ROW`` of the crowds and of the pieces, picked at
    random (a row offers dozens of nearly identical ones). Parts wider than a digit, offered
    only to be read as pairs (a mark whole is offered anyway), are left out without
    ``pairs``. The row is written more loosely than the benchmark's rows (other scales,
    overlaps, gaps and lifts) so that a model learns cuts, not one way of composing numbers."""
    rng = np.random.default_rng([seed, index, 13])
    chosen = rng.choice(len(labels), size=int(rng.integers(2, 7)), replace=False)
    scale = float(rng.uniform(2.0, 4.0))
    coverage, owner, _ = compose_row(
        digits[chosen],
        rng,
        touching=rng.random() < 0.6,
        scale=scale,
        overlap=(1, max(2, round(4 * scale))),
        gap=(2, max(3, round(12 * scale))),
        lift=max(1, round(12 * scale)),
    )
    try:
        pieces = to_mnist_digits(photograph(coverage, rng), "number")
    except ImageRejected:
        return []
    totals = np.bincount(owner.ravel(), minlength=len(chosen) + 1)
    groups: dict[tuple[str, int], list[np.ndarray]] = {}
    for piece in pieces:
        digit_sized = piece.lattice.digit_sized()
        for (pixels, box), mark, sized in zip(
            piece.crops, piece.lattice.marks, digit_sized, strict=True
        ):
            # Parts joining separate marks are left out: the models measured in the README
            # learnt without them (whether they teach anything more is untested).
            if mark < 0 or box is None or not (sized or pairs):
                continue
            if (what := label_part(owner, totals, box)) is not None:
                if what[0] == "pair" and not pairs:
                    what = ("crowd", -1)
                groups.setdefault(what, []).append(pixels)
    found = []
    for (kind, where), parts in sorted(groups.items()):
        keep = PER_ROW if where < 0 else 1
        for pick in rng.permutation(len(parts))[:keep]:
            found.append((parts[pick], kind, _class_of(kind, labels[chosen], where)))
    return found


def _class_of(kind: str, labels: np.ndarray, where: int) -> int:
    """The class of a part of ``kind`` at position ``where`` of a row of digits ``labels``."""
    if kind == "digit":
        return int(labels[where])
    if kind == "pair":
        return PAIRS_FROM + 10 * int(labels[where]) + int(labels[where + 1])
    return NOT_DIGIT


def cut_parts(
    digits: np.ndarray,
    labels: np.ndarray,
    count: int,
    seed: int = 0,
    cache_dir: Path | None = None,
    pairs: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` candidate parts cut from rows of ``digits`` (training digits, (n, 28, 28)
    uint8) by the reader's own segmentation, as the model sees them: (n, 28, 28) uint8 and
    their classes (0-9, 10 for no digit, and with ``pairs`` ``PAIRS_FROM`` on for pairs).
    Half are digits; a quarter are digits run together and a quarter pieces of digits, so
    that what a bad cut looks like is learnt as often as a good one, and the reader's likeliest
    mistake (a 1 run into a 4 read as a sure 4) as often as the rest. With ``pairs`` a third
    are digits, a third pairs and a third bad cuts. Fewer than ``count`` only if ``count / 2``
    rows do not yield them. Cached."""
    digits = np.ascontiguousarray(np.asarray(digits, dtype=np.uint8).reshape(-1, 28, 28))
    labels = np.asarray(labels, dtype=np.int64)

    def draw() -> dict[str, np.ndarray]:
        if pairs:
            third = count // 3
            wanted = {"digit": count - 2 * third, "pair": third}
            wanted |= {"crowd": third // 2, "piece": third - third // 2}
        else:
            wanted = {"digit": count - count // 2, "crowd": count // 4}
            wanted["piece"] = count // 2 - count // 4
        found: dict[str, list[tuple[np.ndarray, int]]] = {kind: [] for kind in wanted}
        next_row, batch = 0, 64
        most_rows = max(batch, count // 2)
        with (
            ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool,
            bar("cutting rows of digits into training parts", sum(wanted.values())) as advance,
        ):
            while any(len(found[kind]) < wanted[kind] for kind in wanted) and next_row < most_rows:
                rows = range(next_row, next_row + batch)
                next_row += batch
                for parts in pool.map(lambda i: _row_parts(digits, labels, seed, i, pairs), rows):
                    for pixels, kind, label in parts:
                        if len(found[kind]) < wanted[kind]:
                            found[kind].append((pixels, label))
                            advance(1)
        chosen = [part for kind in wanted for part in found[kind]]
        images = np.stack([pixels for pixels, _ in chosen]) if chosen else np.zeros((0, 28, 28))
        result = images.astype(np.uint8), np.array([label for _, label in chosen], dtype=np.int64)
        return {"images": result[0], "labels": result[1]}

    drawing = (
        sys.modules[__name__],
        paper,
        decode,
        ink,
        centring,
        row_marks,
        row_lattice,
        row_pieces,
    )
    name = f"cuts-{fingerprint(digits, f'cut parts,{count},{seed},{pairs}', *drawing)}"
    layout = {
        "images": ((None, 28, 28), np.dtype(np.uint8)),
        "labels": ((None,), np.dtype(np.int64)),
    }
    stored = cached(cache_dir, name, layout, draw)
    return stored["images"], stored["labels"]
