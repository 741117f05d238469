"""How the web app is run: uvicorn with a deadline for request heads, rate-limited logs of
refused clients, and N worker processes that each load the chosen checkpoint.

The app itself (routes, body limits, the thread pool) is in ``app``; this module is what
``scripts/serve.py`` hands to uvicorn.
"""

import asyncio
import contextlib
import ctypes
import errno
import json
import logging
import os
import socket
import time
from collections import Counter
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

# Seconds a client may take to send a request's line and headers (uvicorn has no such limit:
# a client sending one header byte at a time would hold its connection for ever).
HEAD_TIMEOUT_S = 10.0
# The app factory's settings travel to worker processes in this environment variable.
SETTINGS_VARIABLE = "DIGIT_RECOGNIZER_SERVE"


class HeadDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request head is not complete
    ``HEAD_TIMEOUT_S`` after the connection opened or the previous response ended."""

    head_timeout_s = HEAD_TIMEOUT_S
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
        self._head_deadline = self.loop.call_later(self.head_timeout_s, self._head_overdue)

    def _head_overdue(self) -> None:
        # IDLE: h11 has not seen a whole request head since the deadline was armed.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


class RefusalRateLimit(logging.Filter):
    """At most one log line per client (or per message, when it names no client) every
    ``window_s`` seconds for refusals (status 4xx/5xx, warnings); the next line that passes
    says how many were held back. Successful requests always pass."""

    def __init__(self, window_s: float = 10.0) -> None:
        super().__init__()
        self.window_s = window_s
        self._last: dict[str, float] = {}
        self._held: Counter[str] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        key = self._refusal_key(record)
        if key is None:
            return True
        now = time.monotonic()
        if now - self._last.get(key, -self.window_s) < self.window_s:
            self._held[key] += 1
            return False
        if len(self._last) > 10_000:  # many clients: forget the quiet ones
            self._last = {k: t for k, t in self._last.items() if now - t < self.window_s}
        self._last[key] = now
        held = self._held.pop(key, 0)
        if held:
            record.msg = f"{record.msg} (and {held} more like it held back)"
        return True

    @staticmethod
    def _refusal_key(record: logging.LogRecord) -> str | None:
        args = record.args if isinstance(record.args, tuple) else ()
        if record.name == "uvicorn.access" and len(args) == 5:
            client, status = str(args[0]), args[4]
            if isinstance(status, int) and status < 400:
                return None
            return "access " + client.rsplit(":", 1)[0]  # the address without the port
        if record.levelno >= logging.WARNING:
            return f"{record.name} {record.msg}"
        return None


def log_config() -> dict[str, Any]:
    """uvicorn's logging with the refusal rate limit on its access and error loggers."""
    from uvicorn.config import LOGGING_CONFIG

    config = json.loads(json.dumps(LOGGING_CONFIG))
    config["filters"] = {"refusals": {"()": f"{__name__}.RefusalRateLimit"}}
    for handler in config["handlers"].values():
        handler["filters"] = ["refusals"]
    return config


def check_address(host: str, port: int) -> None:
    """Refuse, in one sentence, an address this machine cannot serve on (a port another
    program listens on, a host name that is not this machine's), before anything starts;
    uvicorn would start, log a bind error and exit 3."""
    from digit_recognizer.errors import UserError

    try:
        (family, kind, proto, _, address), *_ = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except (socket.gaierror, UnicodeError) as err:
        raise UserError(f"Cannot serve on host={host}: no such address ({err}).") from err
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as err:
            why = {
                errno.EADDRINUSE: "another program listens there",
                errno.EADDRNOTAVAIL: "that is not an address of this machine",
            }.get(err.errno or 0, err.strerror or str(err))
            raise UserError(
                f"Cannot serve on {host}:{port}: {why}; choose another port= (or host=)."
            ) from err


def default_workers(cores: int | None = None) -> int:
    """Worker processes for this machine: one per two cores (each runs ``threads`` decoding
    threads), at least 1, at most 8."""
    return max(1, min(8, (cores or os.cpu_count() or 1) // 2))


def app_from_environment() -> Any:
    """The app for one uvicorn worker process, built from the settings ``scripts/serve.py``
    put in the environment: the checkpoint is loaded again in every worker."""
    import torch

    from digit_recognizer.model.checkpoints import load_classifier
    from digit_recognizer.serving.app import create_app

    settings = json.loads(os.environ[SETTINGS_VARIABLE])
    _give_large_blocks_back()
    torch.set_num_threads(1)  # one image per request: more threads only fight each other
    classifier = load_classifier(settings.pop("checkpoint"))
    classifier.source, classifier.run_id = settings.pop("source"), settings.pop("run_id")
    HeadDeadlineProtocol.head_timeout_s = settings.pop("head_timeout_s")
    settings["hosts"] = tuple(settings["hosts"])
    return create_app(classifier, **settings)


def _give_large_blocks_back() -> None:
    """Make glibc hand every freed block over 256 KB back to the system at once. By default it
    raises that threshold after large blocks are freed, after which request bodies (up to a
    few MB each) come from the heap and the worker keeps their memory after a burst."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: its allocator decides
        ctypes.CDLL("libc.so.6").mallopt(_M_MMAP_THRESHOLD, 256 * 1024)


_M_MMAP_THRESHOLD = -3  # glibc's malloc.h
