"""A bounded load test of the predict API: N requests from C concurrent clients, on loopback."""

import statistics
import threading
import time
from dataclasses import dataclass

import httpx


@dataclass
class LoadReport:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds

    def as_text(self) -> str:
        return (
            f"{self.requests} requests, {self.errors} errors, "
            f"{self.requests_per_second:.0f} requests/s, "
            f"p50 {self.p50_ms:.1f} ms, p95 {self.p95_ms:.1f} ms"
        )


def run_load(url: str, image: bytes, total: int = 2000, clients: int = 8) -> LoadReport:
    """POST ``image`` to ``url`` ``total`` times from ``clients`` threads; never more, never longer
    than 30 s per request."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(total))

    def client() -> None:
        nonlocal errors
        with httpx.Client(timeout=30) as session:
            while True:
                with lock:
                    if next(counter, None) is None:
                        return
                start = time.perf_counter()
                try:
                    ok = session.post(
                        url, files={"file": ("digit.png", image, "image/png")}
                    ).is_success
                except httpx.HTTPError:
                    ok = False
                elapsed = (time.perf_counter() - start) * 1000
                with lock:
                    latencies.append(elapsed)
                    errors += not ok

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=20)
    return LoadReport(len(latencies), errors, seconds, statistics.median(latencies), quantiles[18])
