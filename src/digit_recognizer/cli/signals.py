"""Ctrl-C and SIGTERM while answers are being given: held over a batch, or turned into an
exception that lets the caller say how far it got."""

import signal
from collections.abc import Iterator
from contextlib import contextmanager


class Interrupted(Exception):
    """Ctrl-C or SIGTERM, inside ``sigterm_as_interrupt``: the caller keeps what it has."""

    def __init__(self, signal_name: str, exit_code: int) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.exit_code = exit_code  # 128 + signal number, as a shell reports it


@contextmanager
def signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM that arrive within the block take effect when it is done."""
    arrived: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, lambda n, _: arrived.append(n)) for signum in held}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in arrived[:1]:
            signal.raise_signal(signum)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within: Ctrl-C and SIGTERM both raise ``Interrupted``, so a loop that gives answers as
    it goes can say how far it got instead of dying with a traceback (Ctrl-C) or silently
    (SIGTERM)."""

    def on_sigterm(signum: int, frame: object) -> None:
        raise Interrupted("SIGTERM", 128 + signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted("Ctrl-C", 128 + signal.SIGINT) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
