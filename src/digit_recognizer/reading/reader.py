"""What an image says: a digit, a number, or "not a digit" with the reason. Shared by the
CLI and the web API, so both answer alike.

An answer is refused as "not a digit" only with evidence: the preprocessing finds no
digit-like ink (blank, a speck, a line), or a model that learnt "not a digit" is below its
threshold (its own class takes the probability away from the digits). A model with ten
outputs cannot tell a digit from other ink: low confidence is no evidence, so its answer is
kept and marked ``unsure``, with the reason. A number is refused (or unsure) when any of its
digits would be.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from digit_recognizer.errors import NotADigit
from digit_recognizer.labels import NOT_DIGIT, NUM_CLASSES, PAIRS_FROM
from digit_recognizer.model.checkpoints import Classifier
from digit_recognizer.reading.lattice import Lattice
from digit_recognizer.reading.marks import MAX_DIGITS
from digit_recognizer.reading.pieces import Box, Piece


def percent(probability: float) -> str:
    """Enough digits to tell 99.97% from 99.2%, never a rounded-up "100.0%" (the page's rule)."""
    value = 100 * probability
    if value >= 99.995:
        return ">99.99%"
    return f"{value:.2f}%" if value >= 99 else f"{value:.1f}%"


@dataclass
class DigitRead:
    """One digit's answer: the model's probabilities, where it is, and what the model saw."""

    probabilities: list[float]
    box: Box | None
    pixels: np.ndarray = field(repr=False)

    @property
    def digit(self) -> int:
        return int(np.argmax(self.probabilities))

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.digit])

    def top(self, k: int = 3) -> list[tuple[int, float]]:
        order = np.argsort(self.probabilities)[::-1][:k]
        return [(int(d), float(self.probabilities[d])) for d in order]

    def as_dict(self) -> dict:
        return {
            "digit": self.digit,
            "confidence": round(self.confidence, 6),
            "probabilities": [round(p, 6) for p in self.probabilities],
            "box": list(self.box) if self.box else None,
        }


@dataclass
class Reading:
    """An image's answer: its digits left to right (one unless it is a number), and the
    reason it is no digit or number (``None`` when it is one)."""

    parts: list[DigitRead]
    is_number: bool = False
    reason: str | None = None
    unsure: str | None = None  # why an answer given is in doubt (a model without "not a digit")

    @property
    def digit(self) -> int | None:
        return (
            self.parts[0].digit if self.parts and not self.is_number and not self.reason else None
        )

    @property
    def number(self) -> str | None:
        if not self.is_number or self.reason:
            return None
        return "".join(str(part.digit) for part in self.parts)

    def preview(self) -> np.ndarray | None:
        """What the model saw: the 28x28 digits side by side."""
        return np.concatenate([part.pixels for part in self.parts], axis=1) if self.parts else None


def read_all(
    classifier: Classifier,
    found: Sequence[list[Piece] | NotADigit],
    min_confidence: float | None = None,
    batch_size: int = 256,
) -> list[Reading]:
    """Answers for preprocessed images (each its pieces of ink, or why it holds none), with
    every candidate part of every image classified in one batch; a piece that may be several
    touching digits is read as the parts the model is surest of. ``min_confidence``: the
    threshold below which an answer is "not a digit"; ``None``: the checkpoint's own."""
    threshold = classifier.min_confidence if min_confidence is None else min_confidence
    crops = [
        pixels
        for item in found
        if not isinstance(item, NotADigit)
        for piece in item
        for pixels, _ in piece.crops
    ]
    outputs = (
        classifier.predict_all(np.stack(crops), batch_size=batch_size).numpy() if crops else None
    )
    readings, next_crop = [], 0
    for item in found:
        if isinstance(item, NotADigit):
            readings.append(Reading([], reason=_reason(item)))
            continue
        parts = []
        for piece in item:
            mine = outputs[next_crop : next_crop + len(piece.crops)]  # type: ignore[index]
            next_crop += len(piece.crops)
            parts += _read_piece(piece, mine, classifier)
        if len(parts) > MAX_DIGITS:  # a long scribble cut into many "1"s is no number
            reason = f"not a number (it would be {len(parts)} digits; at most {MAX_DIGITS})"
            readings.append(Reading([], reason=reason))
            continue
        reading = Reading(parts, is_number=len(parts) > 1)
        readings.append(_judged(reading, threshold, classifier.knows_not_a_digit))
    return readings


def _read_piece(piece: Piece, outputs: np.ndarray, classifier: Classifier) -> list[DigitRead]:
    """The digits of one piece, given the net's outputs for each of its candidate parts: the
    chain of parts it reads most surely, each one digit or (for a net that reads pairs) two.
    A pair's digits have the pair's marginal probabilities (the first digit's: the sum over
    pairs starting with it) and each half of its box. A cut of a lone piece that a net
    reading pairs denies (``_cut_the_net_denies``) leaves the piece whole."""
    digits = outputs[:, :NUM_CLASSES]
    pairs = None
    if classifier.reads_pairs:
        pairs = outputs[:, PAIRS_FROM:].reshape(len(outputs), NUM_CLASSES, NUM_CLASSES)
    ways = piece.lattice
    chain = ways.best_reading(
        digits.max(axis=1),
        classifier.knows_not_a_digit,
        None if pairs is None else pairs.max(axis=(1, 2)),
    )
    if pairs is not None and _cut_the_net_denies(ways, outputs, chain):
        chain = [(ways.whole, False)]
    read = []
    for k, as_pair in chain:
        pixels, box = piece.crops[k]
        if not as_pair:
            read.append(DigitRead(digits[k].tolist(), box, pixels))
            continue
        halves: list[Box | None] = [None, None]
        if box is not None:
            left, top, width, height = box
            halves = [
                (left, top, width // 2, height),
                (left + width // 2, top, width - width // 2, height),
            ]
        pair = pairs[k]  # type: ignore[index]
        read.append(DigitRead(pair.sum(axis=1).tolist(), halves[0], pixels))
        read.append(DigitRead(pair.sum(axis=0).tolist(), halves[1], pixels))
    return read


def _cut_the_net_denies(ways: Lattice, outputs: np.ndarray, chain: list[tuple[int, bool]]) -> bool:
    """Whether ``chain`` cuts a lone piece of ink (``Lattice.alone``) that a net reading pairs
    calls "not a digit" whole where that net, shown two neighbouring digits of the cut
    together, calls them "not a digit" too. Two digits written touching are one of its
    pairs: had the cut been right, it would have read the pair. The strokes of a "v", a "w"
    or an "M" and the halves of a smiley are each a sure 1; two of them together are no pair.
    (The whole of three digits and more written touching is "not a digit" to the net, which
    learnt runs of them so: their cut stands when its neighbours read as pairs.)"""
    if not ways.alone:
        return False
    if int(outputs[ways.whole].argmax()) != NOT_DIGIT:
        return False
    if sum(2 if as_pair else 1 for _, as_pair in chain) == 2:
        return True
    for (first, first_pair), (second, second_pair) in pairwise(chain):
        together = (ways.spans[first][0], ways.spans[second][1])
        if first_pair or second_pair or together not in ways.spans:
            continue
        if int(outputs[ways.spans.index(together)].argmax()) == NOT_DIGIT:
            return True
    return False


def _reason(refusal: NotADigit) -> str:
    """The preprocessing's words without the file name: "no digit found (...)"."""
    text = str(refusal)
    return text.split(": ", 1)[1] if ": " in text else text


def _judged(reading: Reading, threshold: float, refuses: bool) -> Reading:
    """Below the threshold, a model that learnt "not a digit" refuses; one that cannot tell
    a digit from other ink answers and says it is unsure."""
    unsure = [i for i, part in enumerate(reading.parts) if part.confidence < threshold]
    if not unsure:
        return reading
    part = reading.parts[unsure[0]]
    doubt = (
        f"the model is only {percent(part.confidence)} sure it is a {part.digit}, "
        f"below its {percent(threshold)} threshold"
    )
    if not refuses:
        where = f"digit {unsure[0] + 1}: " if reading.is_number else ""
        reading.unsure = (
            f"{where}{doubt}; this model cannot tell a digit from other marks "
            "(train one that can: python scripts/train.py experiment=reader)"
        )
        return reading
    if reading.is_number:
        reading.reason = (
            f"not a number (mark {unsure[0] + 1} of {len(reading.parts)} is not a digit: {doubt})"
        )
    else:
        reading.reason = f"not a digit ({doubt})"
    return reading
