"""Test helpers: tiny IDX files, config composition, subprocess runs of the scripts."""

import contextlib
import io
import os
import shutil
import socket
import sqlite3
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import torch
from hydra import compose, initialize_config_dir
from mlflow.entities import Run
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = str(ROOT / "conf")
CHROMIUM = Path("/usr/bin/chromium")  # Debian's; .ci/run installs it
SHARED_DATA = Path(os.environ.get("MNIST_ROOT", ROOT.parent / "shared" / "data"))
HAS_REAL_MNIST = (SHARED_DATA / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()


def write_idx(path: Path, data: torch.Tensor) -> Path:
    """Write a uint8 tensor as an IDX file: zero bytes, type 0x08, rank, big-endian sizes, data."""
    header = bytes([0, 0, 0x08, data.ndim])
    header += b"".join(int(size).to_bytes(4, "big") for size in data.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + data.to(torch.uint8).contiguous().numpy().tobytes())
    return path


def synthetic_digits(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Learnable stand-ins for digits: class k lights an upright bar (drawn, it reads as a '1',
    never as a flat line) whose place depends on k, plus noise."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (count,), generator=generator)
    images = torch.randint(0, 40, (count, 28, 28), generator=generator)
    for index, label in enumerate(labels.tolist()):
        column = 4 + 2 * label
        images[index, 4:24, column : column + 3] = 255
    return images.to(torch.uint8), labels.to(torch.uint8)


def make_tiny_mnist(root: Path, train: int = 600, test: int = 200) -> Path:
    """Write the four MNIST IDX files (synthetic, small) under ``root/MNIST/raw``."""
    raw = root / "MNIST" / "raw"
    for prefix, count, seed in (("train", train, 0), ("t10k", test, 1)):
        images, labels = synthetic_digits(count, seed)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return root


def fast_overrides(
    workdir: Path, data_root: Path, in_process: bool = True, log_model: bool = False
) -> list[str]:
    """Overrides that shrink a training run to seconds and keep every output inside ``workdir``.

    In-process runs have no Hydra runtime, so they also name the output folder; script runs
    (``in_process=False``) let Hydra give each job its own. The MLflow model (a torch.export
    graph, seconds per run) is logged only for the tests that ask for it (``log_model``).
    """
    return [
        f"log_model={str(log_model).lower()}",
        f"paths.root_dir={workdir}",
        *([f"paths.output_dir={workdir}/out"] if in_process else []),
        f"data.root={data_root}",
        "data.download=false",  # tests never reach the internet
        "data.verify_md5=false",
        "data.val_size=100",
        "data.batch_size=32",
        "data.eval_batch_size=100",
        "trainer.max_epochs=1",
        "trainer.accelerator=cpu",
        "trainer.devices=1",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
        "trainer.num_sanity_val_steps=0",
        "~callbacks.progress_bar",
    ]


def real_mnist_overrides(workdir: Path) -> list[str]:
    """One epoch on the 55,000 real training digits, with the batch augmentation (a one-epoch
    fp32 model without it is erratic on shifted digits); nothing logged."""
    return [
        *fast_overrides(workdir, SHARED_DATA),
        "data.val_size=5000",
        "data.batch_size=64",
        "data.eval_batch_size=1000",
        "logger=none",
        "data.augment=true",
    ]


def compose_train(overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def run_script(script: str, args: list[str], workdir: Path, timeout: float = 300, **env: str):
    """Run ``scripts/<script>`` in a subprocess with PROJECT_ROOT=workdir; returns CompletedProcess."""
    environment = {**os.environ, "PROJECT_ROOT": str(workdir), "PYTHONUNBUFFERED": "1", **env}
    return subprocess.run(
        [sys.executable, str(ROOT / script if "/" in script else ROOT / "scripts" / script), *args],
        cwd=workdir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_script(script: str, args: list[str], workdir: Path, **env: str) -> subprocess.Popen:
    """Start ``scripts/<script>`` in the background, as ``run_script`` would run it."""
    environment = {**os.environ, "PROJECT_ROOT": str(workdir), "PYTHONUNBUFFERED": "1", **env}
    return subprocess.Popen(
        [sys.executable, str(ROOT / script if "/" in script else ROOT / "scripts" / script), *args],
        cwd=workdir,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], Any], process: subprocess.Popen, timeout: float) -> None:
    """Poll ``condition`` until it holds; fail with the process's stderr if it ends first."""
    deadline = time.monotonic() + timeout
    while not _holds(condition):
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, f"not reached in {timeout} s"
        time.sleep(0.05)


def _holds(condition: Callable[[], Any]) -> bool:
    # A folder that changes while it is listed (a checkpoint being renamed into place) can
    # make pathlib's glob fail; that only means "not yet".
    try:
        return bool(condition())
    except (OSError, StopIteration, RuntimeError):
        return False


def one_error_line(stderr: str) -> str:
    """The single ``error:`` line a refused command prints (fails if there is not exactly one)."""
    (line,) = [line for line in stderr.splitlines() if line.startswith("error:")]
    return line


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
def chromium_page(url: str, width: int, height: int) -> Iterator[Any]:
    """A Playwright page in Debian's Chromium, opened at ``url``; closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(url)
            yield page
        finally:
            browser.close()


def store_uri(workdir: Path) -> str:
    """The tracking URI of a project folder's embedded MLflow store."""
    return f"sqlite:///{workdir}/mlruns/mlflow.db"


def copy_store(source: Path, target: Path) -> Path:
    """A private copy of a project folder's MLflow store (database and artifacts), for a test
    that writes to it; the session's shared store stays as it was."""
    shutil.copytree(source / "mlruns", target / "mlruns")
    old, new = (source / "mlruns").as_uri(), (target / "mlruns").as_uri()
    with sqlite3.connect(target / "mlruns" / "mlflow.db") as db:
        for table, column in (
            ("runs", "artifact_uri"),
            ("experiments", "artifact_location"),
            ("logged_models", "artifact_location"),
        ):
            db.execute(f"UPDATE {table} SET {column} = replace({column}, ?, ?)", (old, new))
    return target


def store_client(workdir: Path) -> MlflowClient:
    """A client of the embedded MLflow store of a project folder."""
    return MlflowClient(store_uri(workdir))


def runs_of(workdir: Path) -> list[Run]:
    """The runs of the ``mnist`` experiment in ``workdir``'s embedded store (none if it is absent)."""
    client = store_client(workdir)
    experiment = client.get_experiment_by_name("mnist")
    return client.search_runs([experiment.experiment_id]) if experiment else []


def finished_runs(workdir: Path, count: int) -> list[Run]:
    """``workdir``'s runs, after checking there are ``count`` of them and all FINISHED."""
    runs = runs_of(workdir)
    assert len(runs) == count and {run.info.status for run in runs} == {"FINISHED"}, runs
    return runs


def fresh_mlflow_run(folder: Path) -> tuple[str, str]:
    """A new embedded store in ``folder`` with one run; returns its tracking URI and run id."""
    (folder / "mlruns").mkdir()
    client = store_client(folder)
    experiment = client.create_experiment("mnist", (folder / "artifacts").as_uri())
    return client.tracking_uri, client.create_run(experiment).info.run_id


def digit_png(size: int = 140) -> bytes:
    digit = synthetic_digits(1, seed=5)[0][0].numpy()
    inked = 255 - np.where(digit > 100, digit, 0).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(inked).resize((size, size)).save(buffer, "PNG")
    return buffer.getvalue()


def dot_png(canvas: int = 280, pen: int = 18) -> bytes:
    """The page's canvas with a single dot of its pen on it: ink, but no digit."""
    image = Image.new("L", (canvas, canvas), 255)
    ImageDraw.Draw(image).ellipse([130, 130, 130 + pen, 130 + pen], fill=17)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def png_bomb(side: int = 60_000) -> bytes:
    """A tiny PNG whose header declares side x side greyscale pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (side + 1) * 16, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def assert_swapped_in(
    pool: Any,
    mixed: tuple[torch.Tensor, torch.Tensor],
    batch: tuple[torch.Tensor, torch.Tensor],
    count: int,
) -> None:
    """The first ``count`` images of a ``mixed`` batch are images of ``pool`` with their own
    labels; the rest of ``batch`` is unchanged."""
    (images, labels), (original, original_labels) = mixed, batch
    for image, label in zip(images[:count], labels[:count], strict=True):
        match = (pool.images == image).flatten(1).all(dim=1)
        assert match.any() and label in pool.labels[match]
    assert torch.equal(images[count:], original[count:])
    assert torch.equal(labels[count:], original_labels[count:])
