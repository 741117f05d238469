"""Training and inference speed, measured side by side: pipeline vs plain PyTorch vs Keras.

Every training measurement runs in its own subprocess (clean peak RSS, no shared thread
pools) and the three contenders alternate, so a noisy neighbour slows them all alike.
"""

import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from digit_recognizer.data.datamodule import MNISTDataModule
from digit_recognizer.model.nets import SeedCNN
from digit_recognizer.model.probabilities import ProbabilityNet

KERAS_BATCH_SIZE = 64  # the notebook's batch: Keras always runs at its own settings


@dataclass
class Settings:
    data_root: str
    epochs: int = 3
    batch_size: int = 64
    lr: float = 5e-3
    channels_last: bool = True
    bf16: bool = True
    limit_batches: int | None = None  # tiny mode: a few batches per epoch
    verify_md5: bool = True
    val_size: int = 5000
    keep_checkpoint: str | None = None  # where the pipeline run leaves its best checkpoint


@dataclass
class TrainResult:
    contender: str
    images_per_sec: list[float] = field(default_factory=list)  # one per epoch, training only
    test_acc: float = float("nan")
    peak_rss_mb: float = float("nan")
    wall_seconds: float = float("nan")

    @property
    def steady(self) -> float:
        """Median throughput of the epochs after the first (which pays warm-up costs)."""
        later = self.images_per_sec[1:] or self.images_per_sec
        return statistics.median(later)


def peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM"))
    return int(line.split()[1]) / 1024


def _data(settings: Settings) -> MNISTDataModule:
    data = MNISTDataModule(
        root=settings.data_root,
        batch_size=settings.batch_size,
        val_size=settings.val_size,
        verify_md5=settings.verify_md5,
    )
    data.setup()
    return data


def run_pipeline(settings: Settings, workdir: Path) -> TrainResult:
    """scripts/train.py's own code path (MLflow on), with the benchmark's epochs and batch."""
    from hydra import compose, initialize_config_dir
    from mlflow.tracking import MlflowClient

    from digit_recognizer.training.train import train

    config_dir = Path(__file__).resolve().parents[1] / "conf"
    overrides = [
        f"paths.root_dir={workdir}",
        f"paths.output_dir={workdir}/out",
        f"data.root={settings.data_root}",
        f"data.batch_size={settings.batch_size}",
        f"data.verify_md5={settings.verify_md5}",
        f"data.val_size={settings.val_size}",
        f"model.optimizer.lr={settings.lr}",
        f"model.channels_last={settings.channels_last}",
        f"trainer.precision={'bf16-mixed' if settings.bf16 else '32-true'}",
        f"trainer.max_epochs={settings.epochs}",
        "logger.run_name=benchmark",
        "data.style_share=0",  # the plain loop's work: real digits only,
        "data.augment=false",  # as they are
    ]
    if settings.limit_batches:
        overrides.append(f"trainer.limit_train_batches={settings.limit_batches}")
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    started = time.perf_counter()
    train(cfg)
    wall = time.perf_counter() - started
    client = MlflowClient(cfg.logger.tracking_uri)
    (run,) = client.search_runs([client.get_experiment_by_name("mnist").experiment_id])
    history = client.get_metric_history(run.info.run_id, "perf/train_images_per_sec")
    if settings.keep_checkpoint:
        client.download_artifacts(
            run.info.run_id, "checkpoints/best.ckpt", str(Path(settings.keep_checkpoint).parent)
        )
    return TrainResult(
        "pipeline",
        [m.value for m in sorted(history, key=lambda m: m.step)],
        run.data.metrics["test/acc"],
        peak_rss_mb(),
        wall,
    )


def run_plain(settings: Settings, workdir: Path) -> TrainResult:
    """A minimal PyTorch loop: same net, data, batch, optimizer, schedule and precision."""
    torch.manual_seed(0)
    started = time.perf_counter()
    data = _data(settings)
    model = ProbabilityNet(SeedCNN(), channels_last=settings.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    loader = data.train_dataloader()
    steps = settings.limit_batches or len(loader)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=settings.lr, total_steps=steps * settings.epochs, pct_start=0.25
    )
    speeds = []
    for _ in range(settings.epochs):
        model.train()
        epoch_start, seen = time.perf_counter(), 0
        for step, (images, labels) in enumerate(loader):
            if step == steps:
                break
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=settings.bf16):
                loss = torch.nn.functional.cross_entropy(model.logits(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            seen += len(labels)
        speeds.append(seen / (time.perf_counter() - epoch_start))
    model.eval()
    correct = 0
    with torch.inference_mode():
        for images, labels in data.test_dataloader():
            correct += int((model(images).argmax(dim=1) == labels).sum())
    assert data.test_set is not None
    accuracy = correct / len(data.test_set)
    return TrainResult("plain", speeds, accuracy, peak_rss_mb(), time.perf_counter() - started)


def run_keras(settings: Settings, workdir: Path) -> TrainResult:
    """The notebook's Keras model and settings: Adam(1e-3), fp32, batch 64, NHWC tensors."""
    import keras

    from benchmarks.keras_notebook import notebook_model

    started = time.perf_counter()
    data = _data(settings)
    assert data.train_set is not None and data.test_set is not None

    def as_keras(images: torch.Tensor) -> np.ndarray:
        return images.permute(0, 2, 3, 1).numpy().astype("float32") / 255.0

    train_x, train_y = as_keras(data.train_set.images), data.train_set.labels.numpy()
    if settings.limit_batches:
        count = settings.limit_batches * KERAS_BATCH_SIZE
        train_x, train_y = train_x[:count], train_y[:count]
    model = notebook_model()

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.speeds: list[float] = []

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.speeds.append(len(train_x) / (time.perf_counter() - self.start))

    timer = EpochTimer()
    model.fit(
        train_x,
        train_y,
        epochs=settings.epochs,
        batch_size=KERAS_BATCH_SIZE,
        callbacks=[timer],
        verbose=0,
    )
    _, accuracy = model.evaluate(
        as_keras(data.test_set.images), data.test_set.labels.numpy(), verbose=0
    )
    return TrainResult(
        "keras", timer.speeds, float(accuracy), peak_rss_mb(), time.perf_counter() - started
    )


CONTENDERS = {"pipeline": run_pipeline, "plain": run_plain, "keras": run_keras}


def paired_ratios(runs: dict[str, list[TrainResult]], other: str) -> list[float]:
    """pipeline/other throughput within each round: runs next to each other share the host's
    mood, so these ratios are steadier than a ratio of medians taken over all rounds."""
    pairs = zip(runs["pipeline"], runs[other], strict=True)
    return [mine.steady / theirs.steady for mine, theirs in pairs]


def keras_available() -> bool:
    try:
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True


def run_in_subprocess(contender: str, settings: Settings) -> TrainResult:
    """One training measurement in a fresh interpreter (see the module docstring): this file
    run as ``python speed.py CONTENDER SETTINGS_JSON WORKDIR``."""
    with tempfile.TemporaryDirectory() as tmp:
        settings_json = json.dumps(asdict(settings))
        command = [sys.executable, str(Path(__file__).resolve()), contender, settings_json, tmp]
        result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{contender} benchmark failed:\n{result.stderr[-3000:]}")
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    return TrainResult(**payload)


def time_inference(
    checkpoint: Path, test_images: torch.Tensor, repeats: int = 5
) -> dict[str, float]:
    """Batched images/s and single-image latency (ms) of ``model.checkpoints``, medians of repeats."""
    from digit_recognizer.model.checkpoints import load_classifier

    classifier = load_classifier(checkpoint)
    classifier.predict(test_images[:512])  # warm-up
    batched = []
    for _ in range(repeats):
        start = time.perf_counter()
        classifier.predict(test_images)
        batched.append(len(test_images) / (time.perf_counter() - start))
    single = []
    for index in range(100):
        start = time.perf_counter()
        classifier.predict(test_images[index : index + 1])
        single.append((time.perf_counter() - start) * 1000)
    return {
        "batched_images_per_sec": statistics.median(batched),
        "single_image_ms": statistics.median(single),
    }


def time_commands(commands: dict[str, Sequence[str]], repeats: int) -> dict[str, list[float]]:
    """Wall seconds of each command, from start to exit, run interleaved ``repeats`` times."""
    seconds: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            start = time.perf_counter()
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                raise RuntimeError(f"{name} failed:\n{result.stderr[-3000:]}")
            seconds[name].append(time.perf_counter() - start)
    return seconds


def whole_process_commands(
    project: Path, data_root: str, epochs: int, workdir: Path, keras: bool
) -> dict[str, list[str]]:
    """The two commands a user runs, as they run them: ``scripts/train.py`` with MLflow on
    (its store in ``workdir``) and the notebook's Keras model in a process of its own."""
    commands = {
        "pipeline": [
            sys.executable,
            str(project / "scripts" / "train.py"),
            f"trainer.max_epochs={epochs}",
            f"data.root={data_root}",
            "data.batch_size=64",
            f"paths.root_dir={workdir}",
            f"hydra.run.dir={workdir}/outputs/${{now:%H-%M-%S-%f}}",
            "logger.run_name=benchmark",
        ]
    }
    if keras:
        script = project / "benchmarks" / "keras_notebook.py"
        commands["keras"] = [sys.executable, str(script), data_root, str(epochs)]
    return commands


def machine() -> dict[str, str]:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    details = {
        "cpu": cpu,
        "cores": str(torch.get_num_threads()),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    if keras_available():
        import tensorflow

        details["tensorflow"] = tensorflow.__version__
    return details


if __name__ == "__main__":  # one measurement, asked for by run_in_subprocess
    name, settings_json, workdir = sys.argv[1:4]
    result = CONTENDERS[name](Settings(**json.loads(settings_json)), Path(workdir))
    print(json.dumps(asdict(result)))
