"""A group of marks -> the ways to read it as digits, left to right. Pure NumPy/SciPy.

A piece wider than one digit may be several touching digits. Where to cut it is a question
for the model, not for the ink alone (recognition-based segmentation): ``Lattice`` lists
candidate parts between the columns where the ink is thinnest, the reader classifies every
part, and ``Lattice.best_reading`` picks the parts that cover the piece and that the model
reads most surely, with a penalty for parts wider than digits are. Touching digits often
meet where no vertical cut leaves each digit whole and alone: a model that knows pairs of
touching digits (``labels.PAIRS_FROM``) may read a part as two digits at once, so that only
the cuts on either side of a pair need to be clean. Marks close together are read either
mark by mark (leaving fragments out) or joined into one digit, whichever the model reads
more surely.
"""

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from digit_recognizer.reading.marks import MAX_DIGITS, Mark, union

# Marks at most this far apart (a share of the row's digit height) may be pieces of one digit,
# up to JOIN_MOST of them; joined, they are as wide as a digit can be (MAX_PART_WIDTH).
JOIN_GAP = 0.1
JOIN_MOST = 3
# Widths, as shares of the row's digit height. A piece at most SPLIT_WIDTH wide (a 1) is one
# digit; a wider one may be cut into parts from MIN_PART_WIDTH to MAX_PART_WIDTH wide, at
# every column where the ink is the thinnest within CUT_SPACING (about a pixel): a 1 touching
# a 7 is narrower than many single digits, and touching digits often meet where a coarser
# search for thin columns finds none. For a model without "not a digit", which is as sure of
# half a 0 as of a 1, a piece up to SPLIT_WIDTH_NAIVE (an MNIST digit's median width) stays
# whole.
SPLIT_WIDTH = 0.3
SPLIT_WIDTH_NAIVE = 0.8
MIN_PART_WIDTH = 0.1
MAX_PART_WIDTH = 1.3
# A part cut from a piece whose ink is lower than this share of the digit height is a tail,
# an underline or a joining stroke, never a digit of its own: a 5 with a long tail stays one
# digit. Digits in a row differ in height by a third at most (benchmarks/read_numbers.py).
MIN_PART_HEIGHT = 0.4
CUT_SPACING = 0.015
MAX_CUTS = 8 * MAX_DIGITS
# A reading's score is the sum over its parts of log(the model's confidence) minus
# WIDE_PENALTY x (width - TYPICAL_WIDTH)^2 for parts wider than TYPICAL_WIDTH (95% of MNIST
# digits are narrower). Re-tune on numbers made of MNIST training digits:
# python benchmarks/read_numbers.py split=train seed=1
TYPICAL_WIDTH = 1.1
WIDE_PENALTY = 3.0
# A lone mark that mode=auto may cut (marks.ALONE_CUT_WIDTH) is one digit unless cutting it
# scores this much better: the model about e^2 = 7 times surer of the parts (the product of
# their confidences) than of the whole. Re-tune on validation rows, single uploads and the
# not-digit set, never on test digits (docs/reading.md):
# python benchmarks/read_numbers.py mode=auto split=val seed=1 singles=3500
ALONE_WHOLE_BONUS = 2.0
# A part up to MAX_PAIR_WIDTH wide may be two touching digits, for a model that reads pairs
# (parts wider than MAX_PART_WIDTH are read as pairs only). Read as a pair, it scores as a
# digit does, log(the model's confidence in the pair), with WIDE_PENALTY beyond twice
# TYPICAL_WIDTH.
MAX_PAIR_WIDTH = 2.8
# Candidate parts per image, at most: each is cropped and classified, so this bounds the work
# and memory an image can cause (combs and scribbles offer 100 times more than digits do).
# Keep it well above what real rows offer: python benchmarks/part_counts.py
MAX_PARTS = 1500


class TooManyParts(Exception):
    """The ink offers more candidate parts than ``MAX_PARTS``: strokes, not digits."""


@dataclass
class Lattice:
    """The ways to read a group of marks as digits. ``parts`` are candidate boxes (left, top,
    right, bottom; exclusive), ``spans[k] = (i, j)``: part k runs from node i to node j of
    ``cuts`` nodes (node 0 is the group's left edge, the last its right edge; within a mark
    the nodes are the columns where it may be cut). ``marks[k]``: the mark part k is cut from
    (-1: several marks joined), ``mark_spans[m]``: mark m's nodes, first to last. ``skips``:
    spans that may be read as no digit at all (fragments: specks, dashes, a detached flag)."""

    parts: list[tuple[int, int, int, int]]
    spans: list[tuple[int, int]]
    cuts: int
    widths: list[float]  # each part's width, as a share of the row's digit height
    marks: list[int] = field(default_factory=list)
    mark_spans: list[tuple[int, int]] = field(default_factory=list)
    skips: list[tuple[int, int]] = field(default_factory=list)
    # A lone mark that ``mode=auto`` reads as one digit unless the model, knowing "not a
    # digit", is surer of its parts: a model without "not a digit" reads it whole.
    alone: bool = False

    def __post_init__(self) -> None:
        if not self.marks:  # one mark: every part is cut from it
            self.marks = [0] * len(self.parts)
            self.mark_spans = [(0, self.cuts - 1)]

    @property
    def whole(self) -> int:
        """The part that is the whole group, read as one (every lattice has it)."""
        return self.spans.index((0, self.cuts - 1))

    @classmethod
    def one(cls, part: tuple[int, int, int, int] = (0, 0, 0, 0), width: float = 0.0) -> "Lattice":
        """A single part, read whole."""
        return cls([part], [(0, 1)], 2, [width])

    def digit_sized(self) -> np.ndarray:
        """Which parts may be read as one digit: parts wider than a digit are offered for
        pairs only, but each mark whole stays one (every chain ends)."""
        usable = np.asarray(self.widths, dtype=np.float64) <= MAX_PART_WIDTH
        for k, (mark, span) in enumerate(zip(self.marks, self.spans, strict=True)):
            usable[k] |= mark >= 0 and span == self.mark_spans[mark]
        return usable

    def best_chain(
        self, confidences: np.ndarray | list[float], model_refuses: bool = True
    ) -> list[int]:
        """The parts (indices, left to right) covering the group whose reading scores best,
        each read as one digit (``best_reading`` without pairs)."""
        return [k for k, _ in self.best_reading(confidences, model_refuses)]

    def best_reading(
        self,
        confidences: np.ndarray | list[float],
        model_refuses: bool = True,
        pair_confidences: np.ndarray | list[float] | None = None,
    ) -> list[tuple[int, bool]]:
        """The parts (index, and whether it is read as a pair of digits; left to right)
        covering the group whose reading scores best, given the model's confidence in each
        part as a digit and, for a model that reads pairs, as a pair; skipped fragments score
        0 (as a sure digit does) and are in no part. A model that cannot answer "not a digit"
        (``model_refuses`` false) is as sure of a piece of a digit as of a digit, so for it
        marks are never joined, fragments always left out, and a mark at most
        ``SPLIT_WIDTH_NAIVE`` wide stays whole, and a lone mark (``alone``) is one digit."""
        logs = np.log(np.clip(np.asarray(confidences, dtype=np.float64), 1e-9, 1.0))
        widths = np.asarray(self.widths, dtype=np.float64)
        scores = logs - WIDE_PENALTY * np.maximum(widths - TYPICAL_WIDTH, 0.0) ** 2
        if self.alone:
            whole = self.whole
            if not model_refuses:
                return [(whole, False)]
            scores[whole] += ALONE_WHOLE_BONUS
        usable = self.digit_sized()
        if not model_refuses:
            usable[np.asarray(self.marks) < 0] = False
            for m, span in enumerate(self.mark_spans):
                mine = [k for k in range(len(self.parts)) if self.marks[k] == m]
                whole = next(k for k in mine if self.spans[k] == span)
                if self.widths[whole] <= SPLIT_WIDTH_NAIVE:
                    usable[[k for k in mine if k != whole]] = False
        edges = [(self.spans[k], float(scores[k]), k, False) for k in np.flatnonzero(usable)]
        edges += [(span, 0.0, -1, False) for span in self.skips]
        # Pairs only where the ink may be cut (a piece read whole, as a single digit upload or
        # mode=digit is, is one digit) and in parts wider than a 1.
        if pair_confidences is not None and model_refuses and len(self.parts) > 1:
            pair_logs = np.log(np.clip(np.asarray(pair_confidences, np.float64), 1e-9, 1.0))
            beyond = np.maximum(widths - 2 * TYPICAL_WIDTH, 0.0)
            pair_scores = pair_logs - WIDE_PENALTY * beyond**2
            single = np.asarray(self.marks) >= 0  # two digits touching are one mark
            pairs = np.flatnonzero(single & (widths > SPLIT_WIDTH) & (widths <= MAX_PAIR_WIDTH))
            edges += [(self.spans[k], float(pair_scores[k]), k, True) for k in pairs]
        best = np.full(self.cuts, -np.inf)
        best[0] = 0.0
        came_by: list[tuple[int, int, bool] | None] = [None] * self.cuts
        for (i, j), score, k, as_pair in sorted(edges):
            if best[i] + score > best[j]:
                best[j], came_by[j] = best[i] + score, (i, k, as_pair)
        chain, at = [], self.cuts - 1
        while at > 0:
            start, k, as_pair = came_by[at]  # type: ignore[misc]
            if k >= 0:
                chain.append((k, as_pair))
            at = start
        return chain[::-1]


def lattice(mark: Mark, digit_height: float, budget: int = MAX_PARTS) -> Lattice:
    """Candidate parts of ``mark``: the whole, and, when it is wider than a digit, every
    stretch between two candidate cuts that is as wide as a digit, or two, can be;
    ``TooManyParts`` past ``budget`` of them, before the work of more."""
    height = max(float(mark.height), digit_height)
    if mark.width <= SPLIT_WIDTH * height:
        return Lattice.one((mark.left, mark.top, mark.right, mark.bottom), mark.width / height)
    own = mark.pixels
    cuts = [0, *_candidate_cuts(own.sum(axis=0), height), mark.width]
    # Each column's first and last inked row, so a part's rows are a min and a max.
    inked = own.any(axis=0)
    first = np.where(inked, own.argmax(axis=0), own.shape[0])
    last = np.where(inked, own.shape[0] - 1 - own[::-1].argmax(axis=0), -1)
    parts, spans, widths = [], [], []
    for i, start in enumerate(cuts):
        for j in range(i + 1, len(cuts)):
            width = cuts[j] - start
            whole = (i, j) == (0, len(cuts) - 1)  # always a candidate: every chain ends
            if not whole and width > MAX_PAIR_WIDTH * height:  # cuts run left to right
                if i > 0:
                    break
                continue  # from the left edge, the whole is still to come
            if not whole and width < MIN_PART_WIDTH * height:
                continue
            if len(parts) >= budget:
                raise TooManyParts
            bottom = int(last[start : cuts[j]].max())
            if bottom < 0:  # no ink between these cuts
                continue
            highest = int(first[start : cuts[j]].min())
            if not whole and bottom + 1 - highest < MIN_PART_HEIGHT * height:
                continue
            top = mark.top + highest
            parts.append((mark.left + start, top, mark.left + cuts[j], mark.top + bottom + 1))
            spans.append((i, j))
            widths.append(width / height)
    return Lattice(parts, spans, len(cuts), widths)


def _candidate_cuts(profile: np.ndarray, height: float) -> list[int]:
    """Columns (from a piece's left edge) where its ink is the thinnest within
    ``CUT_SPACING`` of the height, away from its edges; one per flat stretch."""
    spacing = max(1, round(CUT_SPACING * height))
    smooth = ndimage.uniform_filter1d(profile.astype(np.float64), size=3, mode="nearest")
    lowest = ndimage.minimum_filter1d(smooth, size=2 * spacing + 1, mode="nearest")
    edge = max(1, round(MIN_PART_WIDTH * height))
    candidates = np.flatnonzero(smooth <= lowest)
    candidates = candidates[(candidates >= edge) & (candidates <= len(profile) - edge)]
    cuts: list[int] = []
    for run in np.split(candidates, np.flatnonzero(np.diff(candidates) > 1) + 1):
        if len(run):
            cuts.append(int(run[len(run) // 2]))
    if len(cuts) > MAX_CUTS:  # a long scribble: its thinnest places only, to bound the work
        cuts = sorted(sorted(cuts, key=lambda column: smooth[column])[:MAX_CUTS])
    return cuts


def row_pieces(
    marks: list[Mark], fragments: list[Mark], height: float
) -> list[tuple[Lattice, list[Mark]]]:
    """The row's marks in groups of neighbours close enough to be one digit's pieces, left
    to right, each with its lattice and, for each part, the mark its ink is cut from (a
    joined mark for parts joining several). Fragments with no digit beside them are left
    out; a mark with no neighbour close by is read alone, as ``lattice`` says.
    ``TooManyParts`` when the row offers more than ``MAX_PARTS`` candidates."""
    items = sorted([(m, True) for m in marks] + [(f, False) for f in fragments], key=_left)
    groups: list[list[tuple[Mark, bool]]] = []
    reach = -np.inf
    for item in items:
        if groups and item[0].left - reach <= JOIN_GAP * height:
            groups[-1].append(item)
            reach = max(reach, item[0].right)
        else:
            groups.append([item])
            reach = item[0].right
    found, budget = [], MAX_PARTS
    for group in groups:
        if any(is_digit for _, is_digit in group):
            found.append(_group_lattice(group, height, budget))
            budget -= len(found[-1][0].parts)
    return found


def _left(item: tuple[Mark, bool]) -> int:
    return item[0].left


def _group_lattice(
    group: list[tuple[Mark, bool]], height: float, budget: int = MAX_PARTS
) -> tuple[Lattice, list[Mark]]:
    """One lattice for a group of marks: each digit-sized mark's own parts, each fragment a
    skip, and every run of up to ``JOIN_MOST`` neighbours holding a digit-sized mark joined
    whole, when the joined mark is no wider than a digit can be."""
    parts, spans, widths, owners, sources = [], [], [], [], []
    mark_spans, skips, starts = [], [], []
    node = 0
    for mark, is_digit in group:
        starts.append(node)
        if not is_digit:
            skips.append((node, node + 1))
            node += 1
            continue
        ways = lattice(mark, height, budget - len(parts))
        for part, (i, j), width in zip(ways.parts, ways.spans, ways.widths, strict=True):
            parts.append(part)
            spans.append((node + i, node + j))
            widths.append(width)
            owners.append(len(mark_spans))
            sources.append(mark)
        mark_spans.append((node, node + ways.cuts - 1))
        node += ways.cuts - 1
    starts.append(node)
    for first in range(len(group)):
        joined = group[first][0]
        for last in range(first + 1, min(first + JOIN_MOST, len(group))):
            joined = union(joined, group[last][0])
            if joined.width > MAX_PART_WIDTH * max(float(joined.height), height):
                break
            if not any(is_digit for _, is_digit in group[first : last + 1]):
                continue
            if len(parts) >= budget:
                raise TooManyParts
            parts.append((joined.left, joined.top, joined.right, joined.bottom))
            spans.append((starts[first], starts[last + 1]))
            widths.append(joined.width / max(float(joined.height), height))
            owners.append(-1)
            sources.append(joined)
    return Lattice(parts, spans, node + 1, widths, owners, mark_spans, skips), sources
