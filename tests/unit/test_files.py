"""Files written atomically: the old content or the new, never a torn file."""

from pathlib import Path
from typing import BinaryIO

import pytest

from digit_recognizer.files import write_atomically


def test_bytes_or_a_writer_replace_the_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "state.bin"
    write_atomically(target, b"old")
    write_atomically(target, lambda file: file.write(b"new, written in place"))
    assert target.read_bytes() == b"new, written in place"
    assert [path.name for path in tmp_path.iterdir()] == ["state.bin"]


def test_a_writer_that_fails_halfway_leaves_the_old_file_and_no_debris(tmp_path: Path) -> None:
    target = tmp_path / "state.bin"
    write_atomically(target, b"old")

    def fails_halfway(file: BinaryIO) -> None:
        file.write(b"half of the new")
        raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_atomically(target, fails_halfway)
    assert target.read_bytes() == b"old"
    assert [path.name for path in tmp_path.iterdir()] == ["state.bin"]
