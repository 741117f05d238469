"""Files, folders and globs a user names: each real file once, never a loop, bounded."""

import time
from pathlib import Path

import pytest

from digit_recognizer.reading.files import MAX_FILES, expand_inputs
from tests.helpers.images import digit_png


def test_a_name_that_exists_is_never_a_glob(tmp_path: Path) -> None:
    for name in ("br[1].png", "br1.png"):
        (tmp_path / name).write_bytes(digit_png())
    files, failures = expand_inputs([str(tmp_path / "br[1].png")])
    assert files == [tmp_path / "br[1].png"] and not failures


def test_symlink_loops_visit_each_file_once(tmp_path: Path) -> None:
    tree = tmp_path / "loop"
    (tree / "sub").mkdir(parents=True)
    for folder in (tree, tree / "sub"):
        (folder / "d.png").write_bytes(digit_png())
    (tree / "back").symlink_to(tree)  # two links back into the tree
    (tree / "sub" / "up").symlink_to(tree)
    started = time.monotonic()
    files, _ = expand_inputs([f"{tree}/**/*.png", str(tree), str(tree / "back")])
    assert time.monotonic() - started < 5
    assert sorted(str(path.resolve()) for path in files) == sorted(
        str(path) for path in (tree / "d.png", tree / "sub" / "d.png")
    )


def test_too_many_files_is_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("digit_recognizer.reading.files.MAX_FILES", 3)
    for index in range(5):
        (tmp_path / f"{index}.png").write_bytes(b"x")
    with pytest.raises(Exception, match="more than 3 files"):
        expand_inputs([f"{tmp_path}/*.png"])
    assert MAX_FILES >= 1000
