"""Bars for long work: on a terminal only, and never when turned off."""

import os
import pty
import subprocess
import sys
import textwrap

import pytest

from digit_recognizer import progress

SCRIPT = textwrap.dedent(
    """
    from digit_recognizer import progress
    progress.enable({setting})
    assert list(progress.tracked(range(50), "drawing test things", 50)) == list(range(50))
    """
)


@pytest.mark.parametrize(("setting", "shown"), [("None", True), ("False", False)])
def test_a_bar_shows_on_a_terminal_unless_turned_off(setting: str, shown: bool) -> None:
    leader, follower = pty.openpty()
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(setting=setting)],
        stderr=follower,
        stdout=subprocess.DEVNULL,
        timeout=60,
    )
    os.close(follower)
    written = b""
    try:
        while chunk := os.read(leader, 65536):
            written += chunk
    except OSError:  # the terminal closed: everything is read
        pass
    os.close(leader)
    assert done.returncode == 0, written.decode(errors="replace")
    assert (b"drawing test things" in written) is shown


def test_no_bar_when_output_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    progress.enable(None)
    assert list(progress.tracked(iter("abc"), "drawing", 3)) == ["a", "b", "c"]
    assert capsys.readouterr().err == ""


def test_inside_lightnings_bar_a_bar_is_a_line_of_it_and_goes_when_done() -> None:
    import io

    from rich.console import Console
    from rich.progress import Progress

    host = Progress(console=Console(file=io.StringIO(), force_terminal=True))
    progress.enable(True)
    try:
        with host, progress.within(host):
            host.add_task("Testing", total=10)
            with progress.bar("calibrating", 2) as advance:
                advance(1)
                lines = {task.description: task.completed for task in host.tasks}
            assert lines == {"Testing": 0, "calibrating": 1}
            assert [task.description for task in host.tasks] == ["Testing"]
        with progress.within(host), progress.bar("after", 1):  # stopped: a bar of its own
            assert [task.description for task in host.tasks] == ["Testing"]
    finally:
        progress.enable(None)
