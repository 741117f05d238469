"""Start-up of a script: where the project is, and importing the heavy libraries quickly."""

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def config_dir(script: str) -> str:
    """The ``conf/`` folder of the project holding ``script`` (a file in ``scripts/``).

    Configs resolve every path from ``PROJECT_ROOT``, so runs land in this clone whatever the
    current directory; an empty ``PROJECT_ROOT`` counts as unset (it would put the store at
    ``/mlruns``)."""
    root = Path(script).resolve().parents[1]
    if not os.environ.get("PROJECT_ROOT"):
        os.environ["PROJECT_ROOT"] = str(root)
    return str(root / "conf")


@contextmanager
def loading_libraries() -> Iterator[None]:
    """Import the heavy libraries with the cyclic collector paused: their import makes millions
    of long-lived objects that it would otherwise scan again and again (docs/performance.md).
    What they made is then frozen out of later collections."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()
