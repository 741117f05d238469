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
