"""Start-up of the scripts: the heavy libraries imported with the collector paused."""

import gc
import importlib

import pytest

from digit_recognizer.cli import startup


def test_libraries_load_with_the_collector_paused_then_frozen():
    frozen = gc.get_freeze_count()
    with pytest.raises(ImportError), startup.loading_libraries():
        assert not gc.isenabled()
        kept = [[] for _ in range(1000)]  # long-lived objects, as a library's import makes
        importlib.import_module("no_such_library_here")
    assert gc.isenabled()  # back on, even after a failed import
    assert gc.get_freeze_count() >= frozen + len(kept)
