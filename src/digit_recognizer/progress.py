"""Progress of long work (drawing the training pools, rendering evaluation sets, scoring and
storing a trained model): a bar on the terminal in rich's style, as Lightning's own, which
clears itself when done. Inside Lightning's loops, where its bar is the terminal's live
display, a bar is a line of that display (``within``).

Silent when stderr is not a terminal (a log file, CI, a pipe) and when turned off
(``enable(False)``: training does so with ``callbacks.progress_bar=null``).
"""

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

_enabled: bool | None = None  # None: when stderr is a terminal
_host: Any = None  # a live rich Progress that bars join as lines of their own


@contextmanager
def within(host: Any) -> Iterator[None]:
    """Bars drawn meanwhile are lines of ``host``, a rich Progress on the screen (Lightning's
    ``RichProgressBar.progress``), not displays of their own; ``None`` or a stopped one:
    bars as usual."""
    global _host
    live = getattr(host, "live", None)
    previous, _host = _host, host if getattr(live, "is_started", False) else None
    try:
        yield
    finally:
        _host = previous


def enable(on: bool | None) -> None:
    """Turn bars on or off for this process; None: on when stderr is a terminal."""
    global _enabled
    _enabled = on


def shown() -> bool:
    """Whether bars are drawn now."""
    return sys.stderr.isatty() if _enabled is None else _enabled


@contextmanager
def bar(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """A bar for ``total`` steps of ``description``; yields ``advance(steps)``."""
    if not shown() or total <= 0:
        yield lambda steps: None
        return
    if _host is not None:
        host, line = _host, _host.add_task(description, total=total)
        try:
            yield lambda steps: host.advance(line, steps)
        finally:
            host.remove_task(line)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda steps: progress.advance(task, steps)


def tracked(items: Iterable[T], description: str, total: int) -> Iterator[T]:
    """``items`` as they come, with a bar of ``total`` steps while they are consumed."""
    with bar(description, total) as advance:
        for item in items:
            yield item
            advance(1)
