"""The scripts run as subprocesses, as a user runs them, and what they print."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers.paths import ROOT


def run_script(script: str, args: list[str], workdir: Path, timeout: float = 300, **env: str):
    """Run ``scripts/<script>`` in a subprocess with PROJECT_ROOT=workdir; returns CompletedProcess."""
    environment = {**os.environ, "PROJECT_ROOT": str(workdir), "PYTHONUNBUFFERED": "1", **env}
    return subprocess.run(
        [sys.executable, str(ROOT / script if "/" in script else ROOT / "scripts" / script), *args],
        cwd=workdir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_script(script: str, args: list[str], workdir: Path, **env: str) -> subprocess.Popen:
    """Start ``scripts/<script>`` in the background, as ``run_script`` would run it."""
    environment = {**os.environ, "PROJECT_ROOT": str(workdir), "PYTHONUNBUFFERED": "1", **env}
    return subprocess.Popen(
        [sys.executable, str(ROOT / script if "/" in script else ROOT / "scripts" / script), *args],
        cwd=workdir,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As a shell starts a foreground command: with Ctrl-C's default action, even when this
        # suite runs as a background job (which inherits SIGINT ignored, and Python then keeps
        # it ignored: a Ctrl-C test would see the command finish instead).
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(condition: Callable[[], Any], process: subprocess.Popen, timeout: float) -> None:
    """Poll ``condition`` until it holds; fail with the process's stderr if it ends first."""
    deadline = time.monotonic() + timeout
    while not _holds(condition):
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, f"not reached in {timeout} s"
        time.sleep(0.05)


def _holds(condition: Callable[[], Any]) -> bool:
    # A folder that changes while it is listed (a checkpoint being renamed into place) can
    # make pathlib's glob fail; that only means "not yet".
    try:
        return bool(condition())
    except (OSError, StopIteration, RuntimeError):
        return False


def one_error_line(stderr: str) -> str:
    """The single ``error:`` line a refused command prints (fails if there is not exactly one)."""
    (line,) = [line for line in stderr.splitlines() if line.startswith("error:")]
    return line
