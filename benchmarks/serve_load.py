"""Load on the web API, measured with wrk (Debian's `wrk` package): start `scripts/serve.py`,
POST one real digit (a 140 px PNG as a JSON data URL) from 8 and from 64 connections, print
a Markdown table of requests, errors, requests/s and latency percentiles.

    python benchmarks/serve_load.py [--seconds 4] [serve.py overrides, e.g. ckpt=PATH workers=2]

Server and wrk share the machine's cores, as on a laptop; the figures are this machine's.
"""

import argparse
import base64
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
# wrk calls done() once at the end; latencies are in microseconds.
REPORT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = io.open(os.getenv("BODY"), "rb")
wrk.body = file:read("*a")
file:close()
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %f %f %f %f\\n", summary.requests,
    e.connect + e.read + e.write + e.timeout + e.status, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


def digit_body() -> bytes:
    """A real MNIST-looking digit drawn dark on light, 140 px, as the page would send it."""
    canvas = np.full((140, 140), 245, dtype=np.uint8)
    canvas[20:120, 64:78] = 25  # a '1'
    canvas[20:34, 50:78] = 25
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return json.dumps({"image": url}).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=4, help="per wrk run")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("overrides", nargs="*", help="passed to scripts/serve.py")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    url = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "serve.py"), f"port={args.port}", *args.overrides],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_healthy(url, server)
        with tempfile.TemporaryDirectory() as folder:
            body, script = Path(folder) / "body.json", Path(folder) / "report.lua"
            body.write_bytes(digit_body())
            script.write_text(REPORT)
            assert httpx.post(f"{url}/api/predict", content=body.read_bytes(),
                              headers={"content-type": "application/json"}).status_code == 200  # fmt: skip
            print("| connections | requests | errors | requests/s | p50 ms | p95 ms | p99 ms |")
            print("|---:|---:|---:|---:|---:|---:|---:|")
            for connections in (8, 64):
                print(_row(url, connections, args.seconds, body, script), flush=True)
                time.sleep(1)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _row(url: str, connections: int, seconds: int, body: Path, script: Path) -> str:
    done = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "-s",
            str(script),
            f"{url}/api/predict",
        ],
        env={"BODY": str(body), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT"))
    requests, errors, micros, p50, p95, p99, _ = (float(v) for v in line.split()[1:])
    rate = requests / (micros / 1e6)
    return (
        f"| {connections} | {requests:,.0f} | {errors:,.0f} | {rate:,.0f} | "
        f"{p50 / 1000:.1f} | {p95 / 1000:.1f} | {p99 / 1000:.1f} |"
    )


def _wait_healthy(url: str, server: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"serve.py exited: {server.stderr.read() if server.stderr else ''}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    sys.exit("serve.py did not answer /health")


if __name__ == "__main__":
    main()
