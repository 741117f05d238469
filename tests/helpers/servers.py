"""Servers on loopback (serve.py) and a Chromium page driven by Playwright."""

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.helpers.paths import CHROMIUM, ROOT


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(
    url: str, process: subprocess.Popen, log: Path, timeout: float = 90, path: str = "/health"
) -> None:
    """Poll ``url + path`` until it answers 200; fail with the server's log if it dies or stalls."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}{path}", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert process.poll() is None, log.read_text()[-2000:]
        assert time.monotonic() < deadline, f"{url} did not come up in {timeout} s"
        time.sleep(0.3)


@contextlib.contextmanager
def served(workdir: Path, *args: str) -> Iterator[str]:
    """``scripts/serve.py ARGS`` as a real uvicorn process on a free loopback port; its URL.
    Its output goes to a file (nobody reads a pipe here: a full one would block the server)."""
    port = free_port()
    with (workdir / "server.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "serve.py"), *args, f"port={port}"],
            cwd=workdir,
            env={**os.environ, "PROJECT_ROOT": str(workdir)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url, process, workdir / "server.log")
            yield url
        finally:
            process.terminate()
            process.wait(timeout=20)


@contextlib.contextmanager
def chromium_page(url: str, width: int, height: int, touch: bool = False) -> Iterator[Any]:
    """A Playwright page in Debian's Chromium, opened at ``url``; closed afterwards. ``touch``:
    a phone's (a touch screen, a coarse pointer)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(
                viewport={"width": width, "height": height}, has_touch=touch, is_mobile=touch
            )
            page.goto(url)
            yield page
        finally:
            browser.close()
