"""Whole numbers: segmentation on its own, and "2026" read through the CLI, the API and the
page with a real model; single digits stay single digits."""

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digit_recognizer.data.mnist_files import find_raw_dir, load_split
from digit_recognizer.errors import NotADigit
from digit_recognizer.images.decode import MAX_STRIP, working_size
from digit_recognizer.reading.lattice import lattice, row_pieces
from digit_recognizer.reading.marks import Mark, digit_height, find_marks, looks_like_a_number
from digit_recognizer.reading.pieces import to_mnist_digits
from digit_recognizer.reading.reader import read_all
from tests.helpers.checkpoints import sure_digits
from tests.helpers.paths import HAS_REAL_MNIST, SHARED_DATA

needs_mnist = pytest.mark.skipif(not HAS_REAL_MNIST, reason=f"no MNIST copy at {SHARED_DATA}")


def _mask(*boxes: tuple[int, int, int, int], shape: tuple[int, int] = (60, 200)) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    for top, bottom, left, right in boxes:
        mask[top:bottom, left:right] = True
    return mask


def _marks(mask: np.ndarray) -> tuple[list[Mark], list[Mark]]:
    found = find_marks(mask)
    assert found is not None
    return found


def test_separate_marks_are_digits_left_to_right() -> None:
    marks, fragments = _marks(_mask((10, 50, 120, 130), (10, 50, 20, 30), (12, 48, 70, 95)))
    assert [mark.left for mark in marks] == [20, 70, 120] and fragments == []


def test_pieces_stacked_above_one_another_are_one_digit() -> None:
    # A 5 whose flag was written apart from its body, and a speck of dust beside it.
    (mark,), _ = _marks(_mask((10, 14, 22, 40), (18, 50, 20, 34), (30, 31, 150, 151)))
    assert (mark.left, mark.top, mark.right, mark.bottom) == (20, 10, 40, 50)


def _is_a_number(*boxes: tuple[int, int, int, int], shape: tuple[int, int] = (60, 200)) -> bool:
    return looks_like_a_number(_marks(_mask(*boxes, shape=shape))[0])


def test_two_digit_sized_marks_side_by_side_are_a_number() -> None:
    assert _is_a_number((10, 50, 20, 45), (12, 48, 60, 85))
    # Digits in a row differ in height and sit on their own baselines.
    assert _is_a_number((10, 50, 20, 45), (22, 45, 60, 85))


@pytest.mark.parametrize(
    "beside",
    [
        [(20, 24, 40, 43), (28, 32, 40, 43), (36, 40, 40, 43), (44, 48, 40, 43)],  # dotted line
        [(40, 56, 36, 40)],  # a comma, low beside the digit
        [(16, 32, 36, 40)],  # a tick, high and short
        [(0, 20, 34, 70)],  # a 5's flag beside its body, above the body's rows
        [(12, 58, 40, 42)],  # a thin line (a box's edge, a ruled line), as tall as the digit
    ],
)
def test_a_digit_with_a_mark_that_is_no_digit_beside_it_is_one_digit(
    beside: list[tuple[int, int, int, int]],
) -> None:
    digit = (16, 54, 20, 30)
    assert not _is_a_number(digit, *beside)
    # A mark of a digit's size on the digit's line is a second digit, even drawn half as
    # broad.
    assert _is_a_number(digit, (16, 54, 40, 50))
    assert _is_a_number(digit, (16, 54, 40, 45))


def test_a_mark_drawn_far_thinner_than_the_digits_is_none_of_the_number() -> None:
    # "7|1": the thin line between two digits drawn as broad is left out, and they stay a
    # number.
    assert _is_a_number((16, 54, 20, 30), (12, 58, 40, 42), (16, 54, 60, 70))
    # Two dotted upright lines have no digit-sized stroke at all: no number, and no error.
    dots = [(top, top + 4, left, left + 4) for top in (10, 30, 50) for left in (20, 60)]
    assert len(_marks(_mask(*dots))[0]) == 2
    assert not _is_a_number(*dots)


def test_a_single_digit_written_wide_is_no_number_unless_far_wider_than_tall() -> None:
    assert not _is_a_number((10, 50, 20, 110))  # 2.25 times as wide as tall: a wide 5
    assert _is_a_number((10, 50, 20, 130))  # 2.75 times: digits written joined up


def _chain_boxes(mask: np.ndarray, sure_of: set[tuple[int, int]], refuses: bool = True) -> list:
    """The (left, right) of the parts read, for a model sure (0.99) only of parts whose
    (left, right) is in ``sure_of`` (0.3 for the rest)."""
    marks, fragments = _marks(mask)
    ((ways, sources),) = row_pieces(marks, fragments, digit_height(marks))
    assert len(sources) == len(ways.parts)
    sure = [0.99 if (part[0], part[2]) in sure_of else 0.3 for part in ways.parts]
    return [(ways.parts[k][0], ways.parts[k][2]) for k in ways.best_chain(sure, refuses)]


def test_a_flag_written_beside_its_body_is_joined_when_the_model_reads_them_as_one() -> None:
    # A 5's body, and its flag beside it rather than above it (sharing a third of its
    # columns): a fragment, far shorter than the digit.
    mask = _mask((18, 50, 20, 34), (10, 14, 30, 50))
    marks, fragments = _marks(mask)
    assert len(marks) == 1 and len(fragments) == 1
    # The body alone is an unsure 6 and the two together a sure 5: one digit, joined.
    assert _chain_boxes(mask, {(20, 50)}) == [(20, 50)]
    # Sure of the body alone (the fragment a speck beside a digit): the fragment is left out.
    assert _chain_boxes(mask, {(20, 34)}) == [(20, 34)]
    # A model without "not a digit" is sure of anything: it never joins, and reads no fragment.
    assert _chain_boxes(mask, {(20, 50)}, refuses=False) == [(20, 34)]


def test_a_digit_broken_in_two_is_one_digit_and_two_digits_stay_two() -> None:
    # Two tall marks three pixels apart: a 7 whose bar's start was lifted off, or "17".
    mask = _mask((10, 50, 20, 26), (10, 50, 29, 48))
    marks, fragments = _marks(mask)
    assert len(marks) == 2 and fragments == []
    assert _chain_boxes(mask, {(20, 48)}) == [(20, 48)]
    assert _chain_boxes(mask, {(20, 26), (29, 48)}) == [(20, 26), (29, 48)]
    # Far apart, they are never joined.
    far = _mask((10, 50, 20, 26), (10, 50, 60, 79))
    assert len(row_pieces(*_marks(far), 40.0)) == 2


def test_a_long_wave_is_bounded_work_and_no_number_of_many_ones() -> None:
    from PIL import ImageDraw

    from digit_recognizer.model.checkpoints import Classifier
    from digit_recognizer.model.nets import SeedCNN
    from digit_recognizer.model.probabilities import ProbabilityNet
    from digit_recognizer.reading.lattice import Lattice
    from digit_recognizer.reading.pieces import Piece

    page = Image.new("L", (4000, 250), 255)
    wave = [(x, 125 + 90 * np.sin(x / 3.0)) for x in range(20, 3980, 2)]
    ImageDraw.Draw(page).line(wave, fill=0, width=3)
    started = time.perf_counter()
    with pytest.raises(NotADigit, match="too many strokes"):  # refused before the work
        to_mnist_digits(page, "number")
    assert time.perf_counter() - started < 1
    # However it is cut, more than 20 digits is no number.
    model = Classifier(model=ProbabilityNet(SeedCNN()).eval(), source="untrained")
    many = [Piece([(np.zeros((28, 28), np.uint8), None)], Lattice.one())] * 25
    (reading,) = read_all(model, [many], min_confidence=0.0)
    assert reading.number is None and reading.parts == []
    assert reading.reason == "not a number (it would be 25 digits; at most 20)"


def test_a_row_of_digits_keeps_the_pixels_of_each_digit() -> None:
    assert working_size((4000, 3000)) == (256, 192)  # a photo: the longer side is 256
    assert working_size((3000, 4000)) == (192, 256)
    assert working_size((1000, 150)) == (853, 128)  # a row: the shorter side is 128
    assert working_size((200, 100)) == (200, 100)  # small images are never enlarged
    assert max(working_size((1_000_000, 50))) <= MAX_STRIP


def test_hundreds_of_pieces_are_refused_quickly() -> None:
    speckled = np.full((256, 256), 255, np.uint8)
    for y in range(4, 252, 8):
        for x in range(4, 252, 8):
            speckled[y : y + 4, x : x + 4] = 0
    started = time.perf_counter()
    with pytest.raises(NotADigit, match="hundreds of separate pieces"):
        to_mnist_digits(Image.fromarray(speckled), "number")
    assert time.perf_counter() - started < 0.3


def test_a_strip_of_many_marks_is_refused_quickly_and_lightly() -> None:
    import tracemalloc

    strip = np.full((256, 8192), 255, np.uint8)
    for x in range(20, 8000, 40):  # 200 short strokes: as many marks as are worked at all
        strip[100:160, x : x + 6] = 0
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(NotADigit, match="200 separate marks"):
        to_mnist_digits(Image.fromarray(strip), "number")
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # Each mark's mask covers its own box, not the whole 4096 x 128 working image (that was
    # 100 MB and most of a second here).
    assert seconds < 0.5 and peak < 40 * 2**20


def test_touching_digits_are_cut_where_the_model_reads_digits() -> None:
    # Two rings joined by a thin bridge: one piece of ink, twice as wide as tall.
    mask = _mask((10, 50, 20, 50), (10, 50, 56, 86), (28, 31, 50, 56))
    mask[16:44, 26:44] = mask[16:44, 62:80] = False
    (mark,), _ = _marks(mask)
    ways = lattice(mark, digit_height([mark]))
    assert (0, ways.cuts - 1) in ways.spans  # the whole piece is one of the readings
    bridge = [k for k, (left, _, right, _) in enumerate(ways.parts) if 48 <= right <= 58]
    assert bridge, "no candidate cut in the bridge"
    # The model is sure of the two rings and of nothing else: they are the reading.
    rings = {k for k, part in enumerate(ways.parts) if part[0] == 20 and 48 <= part[2] <= 58}
    rings |= {k for k, part in enumerate(ways.parts) if 48 <= part[0] <= 58 and part[2] == 86}
    confidences = [0.99 if k in rings else 0.3 for k in range(len(ways.parts))]
    chain = ways.best_chain(confidences)
    assert len(chain) == 2 and set(chain) <= rings
    # Sure of the whole piece and of nothing else, it stays one digit.
    whole = ways.spans.index((0, ways.cuts - 1))
    confidences = [0.99 if k == whole else 0.05 for k in range(len(ways.parts))]
    assert ways.best_chain(confidences) == [whole]


def test_touching_digits_with_no_clean_cut_are_read_as_a_pair() -> None:
    from digit_recognizer.reading.lattice import MAX_PART_WIDTH, Lattice

    # Three rings joined by bridges: one piece of ink, three times as wide as tall.
    mask = _mask((10, 50, 20, 50), (10, 50, 56, 86), (10, 50, 92, 122), (28, 31, 50, 92))
    mask[16:44, 26:44] = mask[16:44, 62:80] = mask[16:44, 98:116] = False
    (mark,), _ = _marks(mask)
    ways = lattice(mark, digit_height([mark]))
    wide = [k for k, width in enumerate(ways.widths) if width > MAX_PART_WIDTH]
    whole = ways.spans.index((0, ways.cuts - 1))
    assert set(wide) - {whole}, "no part two digits wide is offered"
    # The first ring alone and the last two rings as one part.
    first = next(
        k for k, (left, _, right, _) in enumerate(ways.parts) if left == 20 and right <= 58
    )
    rest = ways.spans.index((ways.spans[first][1], ways.cuts - 1))
    assert rest in wide
    # As digits, wide parts are never read, however sure the model is of them.
    sure = [0.99 if k in wide else 0.3 for k in range(len(ways.parts))]
    assert not set(ways.best_chain(sure)) & (set(wide) - {whole})
    # A model sure of the first ring as a digit and of the rest as a pair reads three digits.
    digit_sure = [0.99 if k == first else 0.2 for k in range(len(ways.parts))]
    pair_sure = [0.99 if k == rest else 0.01 for k in range(len(ways.parts))]
    assert ways.best_reading(digit_sure, True, pair_sure) == [(first, False), (rest, True)]
    # Unsure of the pair (less sure than of two digits it doubts), it keeps the digits.
    assert all(
        not as_pair for _, as_pair in ways.best_reading(digit_sure, True, [0.02] * len(sure))
    )
    # A model that cannot refuse a piece is never asked for pairs.
    assert all(not as_pair for _, as_pair in ways.best_reading(digit_sure, False, pair_sure))
    # A piece read whole (mode=digit, or a single digit's upload) is one digit, however sure
    # of a pair the model is.
    assert Lattice.one((0, 0, 60, 40), 1.5).best_reading([0.01], True, [0.99]) == [(0, False)]


def test_a_narrow_piece_is_cut_only_for_a_model_that_can_refuse_a_piece() -> None:
    # A "1" touching a "7": one piece of ink, narrower (0.7 of its height) than many digits.
    mask = _mask((10, 50, 20, 26), (10, 14, 26, 48), (14, 50, 40, 46))
    (mark,), _ = _marks(mask)
    ways = lattice(mark, digit_height([mark]))
    whole = ways.spans.index((0, ways.cuts - 1))
    assert len(ways.parts) > 1  # narrow pieces are offered as parts too
    # The cut falls in the thin stretch of the 7's bar, between the two strokes.
    one = {k for k, (left, _, right, _) in enumerate(ways.parts) if left == 20 and right <= 40}
    seven = {k for k, (left, _, right, _) in enumerate(ways.parts) if left >= 26 and right == 48}
    assert one and seven
    confidences = [0.99 if k in one | seven else 0.2 for k in range(len(ways.parts))]
    assert len(ways.best_chain(confidences)) == 2
    # A model without "not a digit" is as sure of half a 0: it reads such a piece whole.
    assert ways.best_chain(confidences, model_refuses=False) == [whole]


@needs_mnist
def test_touching_digits_are_read_one_by_one(real_checkpoint: Path) -> None:
    from digit_recognizer.model.checkpoints import load_classifier

    digits = sure_digits(real_checkpoint, [2, 0, 2, 6])
    crops = []
    for digit in digits:
        columns = np.flatnonzero(digit.max(axis=0) > 30)
        crops.append(digit[:, columns.min() : columns.max() + 1])
    # Each digit overlaps its neighbour by 2 px: one piece of ink, written joined up.
    row = np.zeros((28, sum(c.shape[1] for c in crops) + 8), np.uint8)
    x = 4
    for crop in crops:
        region = row[:, x : x + crop.shape[1]]
        np.maximum(region, crop, out=region)
        x += crop.shape[1] - 2
    image = Image.fromarray(255 - row).resize((row.shape[1] * 3, 84), Image.Resampling.BICUBIC)
    photo = Image.fromarray(np.pad(np.asarray(image), 30, constant_values=255))
    pieces = to_mnist_digits(photo, "number")
    assert len(pieces) < 4  # some digits are joined
    (reading,) = read_all(load_classifier(real_checkpoint), [pieces], min_confidence=0.0)
    assert reading.number == "2026"


@needs_mnist
def test_a_single_digit_stays_a_digit_in_auto_mode() -> None:
    images, _ = load_split(find_raw_dir(SHARED_DATA), "test")
    for digit in images[:200, 0].numpy():
        photo = Image.fromarray(255 - digit).resize((112, 112), Image.Resampling.BICUBIC)
        (piece,) = to_mnist_digits(photo)
        ways = piece.lattice
        whole = ways.spans.index((0, ways.cuts - 1))
        # Whole, it is exactly what mode=digit reads; it is cut only for a model that knows
        # "not a digit" and is far surer of the parts than of the whole.
        pixels, box = piece.crops[whole]
        assert box is None
        assert np.array_equal(pixels, to_mnist_digits(photo, "digit")[0].crops[0][0])
        assert ways.best_chain([0.99] * len(ways.parts), model_refuses=False) == [whole]
        unsure = [0.5 if k == whole else 0.99 for k in range(len(ways.parts))]
        assert ways.best_chain(unsure) == [whole]


@needs_mnist
@pytest.mark.parametrize("slope", [0, 8, 20])
def test_a_digit_with_a_long_tail_stays_one_digit(slope: int) -> None:
    """A 5 whose last stroke runs on far to the right (its ink twice as wide as tall): the
    tail is no digit of its own, even for a model sure of every part it is shown."""
    images, labels = load_split(find_raw_dir(SHARED_DATA), "test")
    five = images[int(np.flatnonzero(labels.numpy() == 5)[0]), 0].numpy()
    photo = Image.fromarray(255 - five).resize((112, 112), Image.Resampling.BICUBIC)
    canvas = Image.new("L", (330, 160), 255)
    canvas.paste(photo, (20, 20))
    ink = np.asarray(photo) < 128
    rows, columns = np.nonzero(ink)
    low = rows >= rows.max() - 8  # the bottom of the 5's bowl: its tail starts there
    start = (20 + int(columns[low].max()) - 4, 20 + int(rows.max()) - 4)
    end = (start[0] + 170, start[1] - slope)
    ImageDraw.Draw(canvas).line([start, end], fill=0, width=9)
    for mode in ("auto", "number"):  # one digit read, whatever the model
        (piece,) = to_mnist_digits(canvas, mode)
        sure = [0.99] * len(piece.lattice.parts)
        assert len(piece.lattice.best_chain(sure, model_refuses=False)) == 1, mode
        assert len(piece.lattice.best_chain(sure)) == 1, mode


@needs_mnist
def test_two_digits_written_touching_are_read_as_two_in_auto_mode() -> None:
    # "20" joined up: one piece of ink, not much wider than tall (not "far wider than tall").
    images, labels = load_split(find_raw_dir(SHARED_DATA), "test")
    crops = []
    for wanted in (2, 0):
        digit = images[int(np.flatnonzero(labels.numpy() == wanted)[0]), 0].numpy()
        columns = np.flatnonzero(digit.max(axis=0) > 30)
        crops.append(digit[:, columns.min() : columns.max() + 1])
    row = np.zeros((28, crops[0].shape[1] + crops[1].shape[1] + 6), np.uint8)
    row[:, 4 : 4 + crops[0].shape[1]] = crops[0]
    joint = 4 + crops[0].shape[1] - 2
    region = row[:, joint : joint + crops[1].shape[1]]
    np.maximum(region, crops[1], out=region)
    image = Image.fromarray(255 - row).resize((row.shape[1] * 3, 84), Image.Resampling.BICUBIC)
    photo = Image.fromarray(np.pad(np.asarray(image), 30, constant_values=255))
    (piece,) = to_mnist_digits(photo)
    ways = piece.lattice
    assert ways.alone and len(ways.parts) > 1
    whole, last = ways.spans.index((0, ways.cuts - 1)), ways.cuts - 1
    # The cut nearest the joint, and the two parts it makes.
    boxes = {span: box for (_, box), span in zip(piece.crops, ways.spans, strict=True)}
    cut = min(
        (i for i in range(1, last) if (0, i) in boxes and (i, last) in boxes),
        key=lambda i: abs(sum(boxes[(0, i)][::2]) - (30 + 3 * (joint + 1))),
    )
    two = [ways.spans.index((0, cut)), ways.spans.index((cut, last))]
    sure = [0.99 if k in two else 0.05 if k == whole else 0.01 for k in range(len(ways.parts))]
    assert ways.best_chain(sure) == two and all(piece.crops[k][1] for k in two)
    # Only when the model is far surer of the parts: unsure of the whole is not enough.
    sure[whole] = 0.3
    assert ways.best_chain(sure) == [whole]
    sure[whole] = 0.05
    # A model without "not a digit" cannot judge cuts: it reads one digit, as it always did.
    assert ways.best_chain(sure, model_refuses=False) == [whole]


def test_a_net_that_reads_pairs_answers_a_pair_as_two_digits_with_half_boxes() -> None:
    import torch

    from digit_recognizer.labels import PAIRS_FROM
    from digit_recognizer.model.checkpoints import Classifier
    from digit_recognizer.model.probabilities import ProbabilityNet
    from digit_recognizer.reading.lattice import Lattice
    from digit_recognizer.reading.pieces import Piece

    class Marked(torch.nn.Module):
        """Sure of the pair "27" (if it has pair outputs) for an image whose corner pixel is
        lit, else unsure."""

        def __init__(self, outputs: int) -> None:
            super().__init__()
            self.outputs = outputs
            self.unused = torch.nn.Linear(1, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            logits = torch.zeros(len(x), self.outputs)
            if self.outputs > PAIRS_FROM:
                logits[:, PAIRS_FROM + 27] = torch.where(x[:, 0, 0, 0] > 0, 12.0, 0.0)
            return logits

    plain, lit = np.zeros((28, 28), np.uint8), np.zeros((28, 28), np.uint8)
    lit[0, 0] = 255
    # One piece: two halves (unsure) or the whole (lit: sure it is "27").
    ways = Lattice([(0, 0, 10, 20)] * 3, [(0, 1), (1, 2), (0, 2)], 3, [0.5, 0.5, 1.2])
    piece = Piece([(plain, (0, 0, 10, 20)), (plain, (10, 0, 10, 20)), (lit, (0, 0, 21, 20))], ways)
    model = ProbabilityNet(Marked(PAIRS_FROM + 100)).eval()
    reader = Classifier(model, "marked", spec={"name": "Marked", "num_classes": PAIRS_FROM + 100})
    (reading,) = read_all(reader, [[piece]], min_confidence=0.0)
    assert reading.number == "27" and reader.reads_pairs
    first, second = reading.parts
    assert (first.box, second.box) == ((0, 0, 10, 20), (10, 0, 11, 20))
    assert first.confidence > 0.99 and abs(sum(second.probabilities) - first.confidence) < 1e-3
    # A net without pair outputs (an 11-class checkpoint) reads digits only.
    model = ProbabilityNet(Marked(11)).eval()
    eleven = Classifier(model, "marked", spec={"name": "Marked", "num_classes": 11})
    (reading,) = read_all(eleven, [[piece]], min_confidence=0.0)
    assert not eleven.reads_pairs
    assert [part.box for part in reading.parts] in (
        [(0, 0, 10, 20), (10, 0, 10, 20)],
        [(0, 0, 21, 20)],
    )


def test_a_lone_piece_is_not_cut_where_the_pair_reader_sees_no_pair() -> None:
    import torch

    from digit_recognizer.labels import NOT_DIGIT, PAIRS_FROM
    from digit_recognizer.model.checkpoints import Classifier
    from digit_recognizer.model.probabilities import ProbabilityNet
    from digit_recognizer.reading.lattice import Lattice
    from digit_recognizer.reading.pieces import Piece

    class Strokes(torch.nn.Module):
        """Sure each stroke (no pixel lit) is a 1; sure two strokes together (pixel (0, 1)
        lit) are ``two``, and the whole piece (pixel (0, 0) lit) ``whole``."""

        def __init__(self, two: int, whole: int) -> None:
            super().__init__()
            self.two, self.whole = two, whole
            self.unused = torch.nn.Linear(1, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            logits = torch.zeros(len(x), PAIRS_FROM + 100)
            logits[torch.arange(len(x)), torch.where(x[:, 0, 0, 1] > 0, self.two, 1)] = 12.0
            logits[x[:, 0, 0, 0] > 0] = 0.0
            logits[x[:, 0, 0, 0] > 0, self.whole] = 12.0
            return logits

    def crop(lit: tuple[int, int] | None) -> np.ndarray:
        pixels = np.zeros((28, 28), np.uint8)
        if lit:
            pixels[lit] = 255
        return pixels

    def read(strokes: int, two: int, whole: int, alone: bool = True) -> tuple:
        """A lone piece of ``strokes`` strokes, each 0.4 wide, cut between every two."""
        spans = [(i, j) for i in range(strokes) for j in range(i + 1, strokes + 1)]
        ways = Lattice([(0, 0, 10, 20)] * len(spans), spans, strokes + 1, [0.4] * len(spans))
        ways.alone = alone
        lit = {1: None, 2: (0, 1), strokes: (0, 0)}
        crops = [(crop(lit.get(j - i, (0, 2))), (0, 0, 10, 20)) for i, j in spans]
        spec = {"name": "Strokes", "num_classes": PAIRS_FROM + 100}
        net = Classifier(ProbabilityNet(Strokes(two, whole)).eval(), "strokes", spec=spec)
        (reading,) = read_all(net, [[Piece(crops, ways)]], min_confidence=0.5)
        return reading.number, reading.reason

    pair_11, no = PAIRS_FROM + 11, NOT_DIGIT
    # A "v": each stroke a sure 1, the whole "not a digit" and no pair: refused, not "11".
    number, reason = read(2, two=no, whole=no)
    assert number is None and reason is not None and reason.startswith("not a digit")
    # Two 1s written touching: the net reads the pair whole, so the number stands.
    assert read(2, two=pair_11, whole=pair_11) == ("11", None)
    # A "w" (three strokes here): no two neighbouring strokes are a pair: refused.
    number, reason = read(3, two=no, whole=no)
    assert number is None and reason is not None
    # Three 1s written touching: "not a digit" whole (a run), but each two a pair: "111".
    assert read(3, two=pair_11, whole=no) == ("111", None)
    # Marks side by side (no lone piece) are read as the marks say.
    assert read(2, two=no, whole=no, alone=False) == ("11", None)
