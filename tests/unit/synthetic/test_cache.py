"""The cache of drawn sets: a damaged, foreign or hostile file is drawn again with one
warning, never trusted, never a traceback, never a large allocation."""

import logging
import zipfile
from pathlib import Path

import numpy as np
import pytest

from digit_recognizer.synthetic.cache import cached, fingerprint, read_verified

LAYOUT = {"images": ((None, 28, 28), np.dtype(np.uint8)), "labels": ((None,), np.dtype(np.int64))}


def drawing(count: int = 3):
    calls: list[int] = []

    def draw() -> dict[str, np.ndarray]:
        calls.append(1)
        return {
            "images": np.full((count, 28, 28), 7, np.uint8),
            "labels": np.arange(count, dtype=np.int64),
        }

    return draw, calls


def test_a_drawing_is_kept_and_read_back_without_drawing(tmp_path: Path) -> None:
    draw, calls = drawing()
    first = cached(tmp_path, "set", LAYOUT, draw)
    again = cached(tmp_path, "set", LAYOUT, draw)
    assert len(calls) == 1 and np.array_equal(first["images"], again["images"])
    assert [p.name for p in tmp_path.iterdir()] == ["set.npz"]  # no partial file left


def _npy_header(shape: tuple[int, ...], dtype: str) -> bytes:
    header = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape}, }}".encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header


def _damaged(path: Path, kind: str) -> None:
    good = {"images": np.zeros((3, 28, 28), np.uint8), "labels": np.zeros(3, np.int64)}
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        cached(path.parent, path.stem, LAYOUT, lambda: good)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif kind == "93 GiB header":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("images.npy", _npy_header((133_000_000, 28, 28), "|u1"))
            archive.writestr("labels.npy", _npy_header((133_000_000,), "<i8"))
            archive.writestr("__sha256__.npy", _npy_header((64,), "|u1"))
    elif kind in ("wrong shape", "NaN", "old format without checksum", "content changed"):
        arrays = dict(good)
        if kind == "wrong shape":
            arrays["images"] = np.zeros((3, 14, 14), np.uint8)
        if kind == "NaN":
            arrays["labels"] = np.full(3, np.nan)
        if kind == "content changed":
            cached(path.parent, path.stem, LAYOUT, lambda: good)
            data = bytearray(path.read_bytes())
            stored = np.load(path)
            images = stored["images"].copy()
            images[0, 0, 0] = 255
            checksum = stored["__sha256__"]
            np.savez(path, images=images, labels=stored["labels"], __sha256__=checksum)
            assert bytes(data) != path.read_bytes()
        else:
            np.savez(path, **arrays)


@pytest.mark.parametrize(
    "kind",
    [
        "empty",
        "truncated",
        "93 GiB header",
        "wrong shape",
        "NaN",
        "old format without checksum",
        "content changed",
    ],
)
def test_a_damaged_cache_file_is_drawn_again_with_one_warning(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "set.npz"
    _damaged(path, kind)
    draw, calls = drawing()
    with caplog.at_level(logging.WARNING):
        arrays = cached(tmp_path, "set", LAYOUT, draw)
    assert len(calls) == 1 and arrays["images"].shape == (3, 28, 28)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "drawing it again" in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage()
    assert read_verified(path, LAYOUT)["labels"].tolist() == [0, 1, 2]  # redrawn and kept


def test_a_cache_folder_that_cannot_be_written_only_means_no_cache(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    draw, calls = drawing()
    with caplog.at_level(logging.WARNING):
        cached(blocker / "sub", "set", LAYOUT, draw)
        cached(blocker / "sub", "set", LAYOUT, draw)
    assert len(calls) == 2 and "Could not keep a cache" in caplog.text


def test_a_drawing_that_breaks_its_layout_is_a_bug_not_a_cache_entry(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="images"):
        cached(tmp_path, "set", LAYOUT, lambda: {"images": np.zeros((2, 5, 5), np.uint8)})
    assert not list(tmp_path.iterdir())


def test_the_fingerprint_changes_with_data_settings_and_code() -> None:
    import digit_recognizer.synthetic.paper as paper

    base = fingerprint(np.zeros(3), "a", paper)
    assert base == fingerprint(np.zeros(3), "a", paper)
    assert base != fingerprint(np.ones(3), "a", paper)
    assert base != fingerprint(np.zeros(3), "b", paper)
    assert base != fingerprint(np.zeros(3), "a")
