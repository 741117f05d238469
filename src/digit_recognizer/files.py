"""Writing a file so that a reader never sees half of it: another process, or this one after
a crash, finds the old content or the new, never a torn file."""

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` under a temporary name beside ``target``, then rename it into place; on
    any failure the temporary file is removed and the error raised."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
