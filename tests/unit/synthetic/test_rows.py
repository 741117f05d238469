"""Rows of digits and the cut parts a model learns from: the labels say what each part holds."""

from pathlib import Path

import numpy as np
import pytest

from digit_recognizer.data.mnist_files import find_raw_dir, load_split
from digit_recognizer.labels import NOT_DIGIT, PAIRS_FROM
from digit_recognizer.synthetic.rows import PER_ROW, _row_parts, compose_row, cut_parts, label_part
from tests.helpers.data import assert_swapped_in
from tests.helpers.paths import HAS_REAL_MNIST, SHARED_DATA


def _bar_digits(count: int) -> np.ndarray:
    """Digits that are a filled 20x12 block each: easy to count pixels of."""
    digits = np.zeros((count, 28, 28), np.uint8)
    digits[:, 4:24, 8:20] = 255
    return digits


def test_a_row_says_which_digit_owns_each_pixel_and_whether_digits_touch() -> None:
    rng = np.random.default_rng(0)
    coverage, owner, joined = compose_row(_bar_digits(3), rng, touching=False)
    assert not joined and set(np.unique(owner)) == {0, 1, 2, 3}
    assert ((coverage > 0.3) == (owner > 0)).mean() > 0.99
    lefts = [np.flatnonzero((owner == k).any(axis=0)).min() for k in (1, 2, 3)]
    assert lefts == sorted(lefts)  # left to right, in the order given
    _, owner, joined = compose_row(_bar_digits(3), rng, touching=True)
    assert joined


def test_a_part_is_a_digit_only_when_it_holds_one_digit_whole_and_alone() -> None:
    owner = np.zeros((40, 100), np.int32)
    owner[10:30, 10:30] = 1
    owner[10:30, 28:48] = 2  # digit 2 overlaps digit 1's last columns
    owner[10:30, 60:80] = 3
    totals = np.bincount(owner.ravel(), minlength=4)
    assert label_part(owner, totals, (58, 5, 25, 30)) == ("digit", 2)  # the third digit, alone
    assert label_part(owner, totals, (10, 5, 19, 30)) == ("digit", 0)  # the first, nearly whole
    assert label_part(owner, totals, (10, 5, 8, 30)) == ("piece", -1)  # a piece of it
    assert label_part(owner, totals, (10, 5, 40, 30)) == ("pair", 0)  # two run together, whole
    assert label_part(owner, totals, (10, 5, 72, 30)) == ("crowd", -1)  # three
    assert label_part(owner, totals, (15, 5, 35, 30)) == ("crowd", -1)  # most of one, the next
    assert label_part(owner, totals, (10, 5, 24, 30)) is None  # whole, with some of the next
    assert label_part(owner, totals, (85, 5, 10, 30)) is None  # no ink at all
    # A 1 run into the first digit is too thin to count as much ink, but it is all there.
    owner[10:30, 7:9] = 4
    totals = np.bincount(owner.ravel(), minlength=5)
    assert label_part(owner, totals, (7, 5, 21, 30)) == ("crowd", -1)


@pytest.mark.skipif(not HAS_REAL_MNIST, reason=f"no MNIST copy at {SHARED_DATA}")
def test_cut_parts_are_half_digits_half_bad_cuts_with_the_digits_labels(tmp_path: Path) -> None:
    images, labels = load_split(find_raw_dir(SHARED_DATA), "train")
    images, labels = images[:3000].numpy(), labels[:3000].numpy()
    parts, classes = cut_parts(images, labels, 200, seed=1, cache_dir=tmp_path)
    assert parts.shape == (200, 28, 28) and parts.dtype == np.uint8
    assert (classes == NOT_DIGIT).sum() == 100 and set(classes[:100]) <= set(range(10))
    assert len(set(classes[:100])) >= 8 and all(part.any() for part in parts)
    # A row offers dozens of nearly identical crowds and pieces: a few of each go in, and one
    # part per digit.
    crowds = 0
    for row in range(20):
        kinds = [kind for _, kind, _ in _row_parts(images.reshape(-1, 28, 28), labels, 1, row)]
        assert kinds.count("crowd") <= PER_ROW and kinds.count("piece") <= PER_ROW
        assert kinds.count("digit") <= 6
        crowds += kinds.count("crowd")
    assert crowds > 0
    # Drawn once: the second call reads the cache.
    (cached,) = tmp_path.glob("cuts-*.npz")
    again = cut_parts(images, labels, 200, seed=1, cache_dir=tmp_path)
    assert np.array_equal(again[0], parts) and np.array_equal(again[1], classes)
    assert cached.stat().st_mtime_ns == next(tmp_path.glob("cuts-*.npz")).stat().st_mtime_ns


@pytest.mark.skipif(not HAS_REAL_MNIST, reason=f"no MNIST copy at {SHARED_DATA}")
def test_cut_pairs_are_a_third_labelled_with_both_digits(tmp_path: Path) -> None:
    images, labels = load_split(find_raw_dir(SHARED_DATA), "train")
    images, labels = images[:3000].numpy(), labels[:3000].numpy()
    parts, classes = cut_parts(images, labels, 300, seed=1, cache_dir=tmp_path, pairs=True)
    assert parts.shape == (300, 28, 28) and all(part.any() for part in parts)
    assert (classes[:100] < NOT_DIGIT).all() and (classes[200:] == NOT_DIGIT).all()
    pairs = classes[100:200]
    assert (pairs >= PAIRS_FROM).all() and (pairs < PAIRS_FROM + 100).all()
    assert len(set(pairs)) >= 50  # all sorts of pairs, not a few
    # Each pair is two neighbours of its row, in order.
    rows = [_row_parts(images.reshape(-1, 28, 28), labels, 1, row, pairs=True) for row in range(30)]
    found = [(kind, label) for row in rows for _, kind, label in row if kind == "pair"]
    assert found and all(label >= PAIRS_FROM for _, label in found)
    # Without pairs, the same rows give none (a pair is a crowd there), and no part wider
    # than a digit.
    plain = cut_parts(images, labels, 300, seed=1, cache_dir=tmp_path)[1]
    assert (plain <= NOT_DIGIT).all()


def test_the_data_module_swaps_a_share_of_each_batch_for_cut_parts(
    tiny_mnist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from digit_recognizer.data import datamodule as data
    from digit_recognizer.synthetic import cache

    monkeypatch.setattr(cache, "CACHE_DIR", tmp_path)
    module = data.MNISTDataModule(
        root=str(tiny_mnist), val_size=100, verify_md5=False, cut_share=0.25, cut_pool=40
    )
    module.setup("fit")
    pool = module.cuts
    assert pool is not None and 0 < len(pool) <= 40 and list(tmp_path.glob("cuts-*.npz"))
    images, labels = module.train_set.images[:8], module.train_set.labels[:8]
    assert_swapped_in(pool, module._mixed(images, labels), (images, labels), 2)
    with pytest.raises(data.UserError, match="cut_share"):
        data.MNISTDataModule(cut_share=0.5, style_share=0.4, not_digit_share=0.2)
