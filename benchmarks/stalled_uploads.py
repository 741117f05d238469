"""Memory and /health under 100 uploads that send about 5 MB of a JSON body, then stall:
``python benchmarks/stalled_uploads.py ckpt=PATH [uploads=100] [port=8765]``.

Starts ``scripts/serve.py`` (one worker, default limits), polls /health throughout, and
prints the worker's RSS (baseline, peak, 5 s after the clients left), /health's p95 and
maximum, and the status each stalled client got (503: over the bodies budget; 408: too
slow).
"""

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    options = dict(arg.split("=", 1) for arg in sys.argv[1:] if "=" in arg)
    if "ckpt" not in options:
        sys.exit(__doc__)
    count, port = int(options.get("uploads", 100)), int(options.get("port", 8765))
    server = subprocess.Popen(
        [
            *(sys.executable, str(ROOT / "scripts" / "serve.py"), f"ckpt={options['ckpt']}"),
            *(f"port={port}", "logger=none", "workers=1"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PROJECT_ROOT": str(ROOT)},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url)
        _measure(server.pid, url, port, count)
    finally:
        server.terminate()
        server.wait()


def _wait_healthy(url: str) -> None:
    for _ in range(240):
        try:
            httpx.get(f"{url}/health", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.5)
    sys.exit("error: the server did not start")


def _rss_mb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return int(next(line for line in status if line.startswith("VmRSS")).split()[1]) // 1024


def _measure(pid: int, url: str, port: int, count: int) -> None:
    body = b'{"image": "data:image/png;base64,' + b"A" * (5 * 1024 * 1024) + b'"}'
    head = (
        "POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body) + 1000}\r\n\r\n"  # 1,000 bytes never come
    ).encode()
    baseline, peak, health, sockets = _rss_mb(pid), 0, [], []
    done = threading.Event()

    def upload() -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        sockets.append(sock)
        with contextlib.suppress(OSError):  # refused mid-body
            sock.sendall(head + body)

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss_mb(pid))
            started = time.monotonic()
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{url}/health", timeout=5)
            health.append(time.monotonic() - started)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    clients = [threading.Thread(target=upload) for _ in range(count)]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    time.sleep(6)
    statuses = Counter()
    for sock in sockets:
        try:
            sock.settimeout(0.5)
            statuses[sock.recv(64).split(b"\r\n")[0].decode(errors="replace")] += 1
        except OSError:
            statuses["no answer (closed)"] += 1
        sock.close()
    time.sleep(5)
    done.set()
    watcher.join()
    health.sort()
    after = _rss_mb(pid)
    print(f"RSS: baseline {baseline} MB, peak {peak} MB (+{peak - baseline}), 5 s after the")
    print(f"clients left {after} MB (+{after - baseline})")
    p95 = health[max(0, int(0.95 * len(health)) - 1)] * 1000
    print(f"/health: p95 {p95:.0f} ms, max {health[-1] * 1000:.0f} ms over {len(health)} polls")
    print("stalled clients got:", dict(statuses))


if __name__ == "__main__":
    main()
