"""The real server under hostile traffic, on loopback, bounded in count and time: bodies over
the limit in any framing, disconnects, a burst of large legal images while /health is
polled, foreign hosts and formats. Memory is read from /proc; the log must hold no
traceback."""

import io
import logging
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from digit_recognizer.serving.server import RefusalRateLimit
from tests.helpers.images import digit_png, hostile_patterns
from tests.helpers.paths import ROOT
from tests.helpers.servers import free_port, served, wait_until_healthy

LIMIT_MB = 1
SLOW_CLIENT_S = 2  # the server's head and body timeouts here


@pytest.fixture(scope="module")
def hostile_server(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("hostile")
    port = free_port()
    log_path = folder / "server.log"
    log = log_path.open("w")
    temp = folder / "tmp"
    temp.mkdir()
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "scripts" / "serve.py"),
            f"ckpt={tiny_checkpoint}",
            f"port={port}",
            f"max_upload_mb={LIMIT_MB}",
            "logger=none",
            "workers=1",  # RSS is read from this one process
            f"head_timeout_s={SLOW_CLIENT_S}",
            f"body_timeout_s={SLOW_CLIENT_S}",
        ],
        cwd=folder,
        env={**os.environ, "PROJECT_ROOT": str(folder), "TMPDIR": str(temp)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy(url, process, log_path)
    yield url, process, log_path, temp
    process.terminate()
    process.wait(timeout=20)
    log.close()


def rss_mb(process: subprocess.Popen) -> float:
    status = Path(f"/proc/{process.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def raw_request(port: int, head: bytes, chunks, read: bool = True) -> bytes:
    """Send a request by hand (chunked bodies, partial bodies); returns what came back."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed on us: it refused the body
        if not read:
            return b""
        try:
            return sock.recv(4096)
        except (ConnectionResetError, TimeoutError):
            return b""


def chunked(total_mb: int, piece: bytes = b"A" * 65536):
    for _ in range(total_mb * 16):
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    yield b"0\r\n\r\n"


def test_oversized_bodies_in_any_framing_get_413_and_keep_memory(hostile_server) -> None:
    url, process, _, temp = hostile_server
    port = int(url.rsplit(":", 1)[1])
    baseline = rss_mb(process)
    for content_type in ("application/json", "multipart/form-data; boundary=x"):
        head = (
            f"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        ).encode()
        answer = raw_request(port, head, chunked(64))  # 64 MB, no Content-Length
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    declared = b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\n"
    assert raw_request(port, declared, [b"{}"]).startswith(b"HTTP/1.1 413")
    assert rss_mb(process) < baseline + 300
    assert list(temp.iterdir()) == []  # nothing spooled to disk


def test_disconnects_and_stalls_leave_no_traceback(hostile_server) -> None:
    url, _, log_path, _ = hostile_server
    port = int(url.rsplit(":", 1)[1])
    head = (
        b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 500000\r\n\r\n"
    )
    for _ in range(20):  # the client goes away halfway through its body
        raw_request(port, head, [b'{"image": "' + b"A" * 1000], read=False)
    nested = b"[" * 100_000 + b"]" * 100_000
    deep = httpx.post(
        f"{url}/api/predict", content=nested, headers={"content-type": "application/json"}
    )
    assert deep.status_code == 400
    time.sleep(1.0)
    assert httpx.get(f"{url}/health", timeout=5).status_code == 200
    assert "Traceback" not in log_path.read_text()


def test_health_stays_fast_during_a_burst_of_large_images(hostile_server) -> None:
    url, _, log_path, _ = hostile_server
    # 16 megapixels of white paper with a dark stroke: a small file, 48 MB to decode.
    paper = Image.new("RGB", (4000, 4000), "white")
    paper.paste((20, 20, 20), (1900, 1000, 2100, 3000))
    photo = io.BytesIO()
    paper.save(photo, "PNG")
    big = photo.getvalue()
    assert len(big) < LIMIT_MB * 2**20
    latencies: list[float] = []
    statuses: list[int] = []
    done = threading.Event()

    def poll() -> None:
        with httpx.Client(timeout=10) as client:
            while not done.is_set():
                started = time.perf_counter()
                client.get(f"{url}/health")
                latencies.append((time.perf_counter() - started) * 1000)
                time.sleep(0.02)

    def upload(data: bytes) -> None:
        with httpx.Client(timeout=60) as client:
            statuses.append(
                client.post(f"{url}/api/predict", files={"file": ("x.png", data)}).status_code
            )

    poller = threading.Thread(target=poll)
    poller.start()
    threads = [threading.Thread(target=upload, args=(big,)) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    done.set()
    poller.join()
    assert set(statuses) <= {200, 503} and statuses.count(200) >= 1
    assert statistics.quantiles(latencies, n=20)[-1] < 100  # p95 in ms
    assert "Traceback" not in log_path.read_text()


def test_foreign_hosts_and_unsupported_formats_are_refused(hostile_server, tmp_path: Path) -> None:
    url, _, _, _ = hostile_server
    assert httpx.get(f"{url}/health", headers={"host": "evil.example"}).status_code == 400
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    refused = httpx.post(f"{url}/api/predict", files={"file": ("x.eps", eps)})
    assert refused.status_code == 400 and "supported format" in refused.json()["detail"]
    values = np.zeros((40, 40), dtype=np.float32)
    values[5:35, 18:22] = np.inf
    tiff = io.BytesIO()
    Image.fromarray(values, mode="F").save(tiff, "TIFF")
    refused = httpx.post(f"{url}/api/predict", files={"file": ("x.tif", tiff.getvalue())})
    assert refused.status_code == 400 and "not finite" in refused.json()["detail"]
    assert httpx.get(f"{url}/favicon.ico").status_code == 200


def test_slow_heads_and_stalled_bodies_are_cut_off_quietly(hostile_server) -> None:
    """Slowloris (heads that never end, or trickle a byte at a time) and uploads that stall:
    each connection is closed or answered 408 within the timeouts, /health stays fast, and
    the log gets a line or two for the lot, not one per connection (or a traceback)."""
    url, process, log_path, _ = hostile_server
    port = int(url.rsplit(":", 1)[1])
    lines_before = len(log_path.read_text().splitlines())
    partial_head = b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
    stalled_body = (
        b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 500000\r\n\r\n" + b'{"image": "' + b"A" * 1000
    )
    sockets = []
    for payload in [partial_head] * 40 + [stalled_body] * 10:
        sock = socket.create_connection(("127.0.0.1", port), timeout=SLOW_CLIENT_S * 4)
        sock.sendall(payload)
        sockets.append(sock)
    trickler = socket.create_connection(("127.0.0.1", port), timeout=SLOW_CLIENT_S * 4)
    started = time.monotonic()
    trickled_until_closed = False
    try:
        for byte in partial_head * 10:  # one byte every 0.2 s: never a whole head
            trickler.sendall(bytes([byte]))
            if time.monotonic() - started > SLOW_CLIENT_S + 3:
                break
            time.sleep(0.2)
    except (BrokenPipeError, ConnectionResetError):
        trickled_until_closed = True
    health = httpx.get(f"{url}/health", timeout=5)
    assert health.status_code == 200 and health.elapsed.total_seconds() < 0.5
    answers = []
    for sock in sockets:
        try:
            answers.append(sock.recv(4096))
        except (ConnectionResetError, TimeoutError) as err:
            answers.append(repr(err).encode())
        sock.close()
    trickler.close()
    assert answers[:40] == [b""] * 40  # closed without an answer: a head never came
    assert all(answer.startswith(b"HTTP/1.1 408") for answer in answers[40:]), answers[40:]
    assert trickled_until_closed or time.monotonic() - started < SLOW_CLIENT_S + 4
    new_lines = log_path.read_text().splitlines()[lines_before:]
    assert not any("Traceback" in line for line in new_lines)
    assert len([line for line in new_lines if "408" in line]) <= 2, new_lines
    assert rss_mb(process) < 2000


def test_workers_are_separate_processes_that_each_answer(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    port = free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable, str(ROOT / "scripts" / "serve.py"), f"ckpt={tiny_checkpoint}",
                f"port={port}", "logger=none", "workers=2",
            ],
            cwd=tmp_path,
            env={**os.environ, "PROJECT_ROOT": str(tmp_path)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, log_path)
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        pids = set()
        with httpx.Client(timeout=10) as client:
            for _ in range(40):
                pids.add(client.get(f"{url}/health", headers={"Connection": "close"}).status_code)
                answer = client.post(f"{url}/api/predict", files={"file": ("d.png", digit_png())})
                assert answer.status_code == 200, answer.text
        assert pids == {200}

        # The second worker may still be loading when the first one answers: give it a minute.
        deadline = time.monotonic() + 60
        while log_path.read_text().count("Started server process") < 2:
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        assert len(children) >= 2, log_path.read_text()
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "Traceback" not in log_path.read_text()


def test_refusals_are_logged_once_per_client_per_window() -> None:
    limit = RefusalRateLimit(window_s=60)

    def access(client: str, status: int) -> logging.LogRecord:
        args = (client, "POST", "/api/predict", "1.1", status)
        return logging.LogRecord(
            "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', args, None
        )

    assert [limit.filter(access(f"10.0.0.1:{port}", 413)) for port in range(100)].count(True) == 1
    assert limit.filter(access("10.0.0.2:5", 413))  # another client has its own line
    assert all(limit.filter(access("10.0.0.1:7", 200)) for _ in range(5))  # answers always
    warning = logging.LogRecord(
        "uvicorn.error", logging.WARNING, "", 0, "Invalid HTTP request received.", (), None
    )
    assert [limit.filter(warning) for _ in range(50)].count(True) == 1
    limit.window_s = 0
    record = access("10.0.0.1:9", 413)
    assert limit.filter(record) and "99 more like it held back" in record.getMessage()


def test_hostile_patterns_are_answered_quickly_and_leave_health_fast(hostile_server) -> None:
    # Combs, gratings, checkerboards, dotted lines, noise: each answered (a reading or "not
    # a digit") within a second or two, and sent together they leave /health fast.
    url, _, log_path, _ = hostile_server
    patterns = hostile_patterns()
    with httpx.Client(timeout=30) as client:
        for name, data in patterns.items():
            started = time.monotonic()
            answer = client.post(f"{url}/api/predict", files={"file": (f"{name}.png", data)})
            assert answer.status_code == 200, (name, answer.text)
            assert time.monotonic() - started < 3, name
        with ThreadPoolExecutor(max_workers=8) as pool:
            sent = [
                pool.submit(client.post, f"{url}/api/predict", files={"file": ("x.png", data)})
                for data in patterns.values()
            ]
            health = []
            while not all(future.done() for future in sent):
                started = time.monotonic()
                assert client.get(f"{url}/health").status_code == 200
                health.append(time.monotonic() - started)
        assert all(future.result().status_code in (200, 503) for future in sent)
    assert max(health, default=0.0) < 1.0
    assert "Traceback" not in log_path.read_text()


@pytest.fixture(scope="module")
def budget_server(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory):
    """A server whose bodies in flight may hold 3 MB together (two 1.4 MB uploads)."""
    folder = tmp_path_factory.mktemp("budget")
    args = [f"ckpt={tiny_checkpoint}", f"max_upload_mb={LIMIT_MB}", "logger=none", "workers=1"]
    args += ["bodies_budget_mb=3", "min_body_kb_per_s=64", "body_timeout_s=30"]
    with served(folder, *args) as url:
        yield int(url.rsplit(":", 1)[1]), folder / "server.log"


def _stalled_upload(port: int, declared: int) -> socket.socket:
    """A connection that declares ``declared`` bytes of body, sends 1 KB of it and stalls."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    head = (
        f"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    ).encode()
    sock.sendall(head + b"\x89PNG" + b"\0" * 1020)
    return sock


def test_bodies_in_flight_share_one_budget_and_trickles_give_their_slot_up(
    budget_server,
) -> None:
    port, log_path = budget_server
    declared = 1_300_000
    stalled = [_stalled_upload(port, declared) for _ in range(2)]  # 2.6 of the 3 MB
    time.sleep(0.3)
    third = raw_request(
        port,
        f"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
        f"Content-Length: {declared}\r\n\r\n".encode(),
        [],
    )
    assert b" 503 " in third.split(b"\r\n")[0]  # refused before its body is read
    started = time.monotonic()
    answers = [sock.recv(4096) for sock in stalled]  # 64 KB/s after 2 s: they are cut off
    assert all(b" 408 " in answer.split(b"\r\n")[0] for answer in answers), answers
    assert time.monotonic() - started < 10  # not body_timeout_s (30 s)
    for sock in stalled:
        sock.close()
    with httpx.Client(timeout=10) as client:  # the budget is free again
        answer = client.post(
            f"http://127.0.0.1:{port}/api/predict",
            content=digit_png(),
            headers={"Content-Type": "image/png"},
        )
        assert answer.status_code == 200
    assert "Traceback" not in log_path.read_text()
