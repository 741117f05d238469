"""Speed of training and inference, side by side: ``python benchmarks/speed_report.py``
(``make bench``).

Trains SeedCNN through the real pipeline (MLflow on), a plain PyTorch loop and, when
TensorFlow is installed (``pip install -e .[bench]``), the notebook's Keras model, alternating
in one run; then times prediction. Writes a Markdown table (default docs/benchmarks.md).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))  # run as a file: the measuring tools sit beside it
from benchmarks.speed import (  # noqa: E402
    Settings,
    TrainResult,
    keras_available,
    machine,
    paired_ratios,
    run_in_subprocess,
    time_commands,
    time_inference,
    whole_process_commands,
)
from digit_recognizer.data.mnist_files import find_raw_dir  # noqa: E402
from digit_recognizer.training.hardware import cpu_runs_bf16  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_root = os.environ.get("MNIST_ROOT", str(PROJECT_ROOT / "data"))
    parser.add_argument("--data-root", default=default_root, help="folder holding MNIST/raw/")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per training run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of all runs")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--fp32", action="store_true", help="no channels_last, no bf16 (bf16 only where native)"
    )
    parser.add_argument("--no-keras", action="store_true", help="skip Keras even if installed")
    parser.add_argument("--tiny", action="store_true", help="a few batches: proves it runs")
    parser.add_argument(
        "--whole-epochs", type=int, default=3, help="epochs of the whole-process runs (0: none)"
    )
    parser.add_argument(
        "--whole-only", action="store_true", help="only the whole-process comparison"
    )
    parser.add_argument("--out", default=str(PROJECT_ROOT / "docs" / "benchmarks.md"))
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if find_raw_dir(args.data_root) is None:
        sys.exit(f"error: no MNIST/raw under {args.data_root}; pass --data-root or set MNIST_ROOT.")
    keras = keras_available() and not args.no_keras
    if args.whole_only:
        stamp = f"Measured {datetime.now():%Y-%m-%d %H:%M} by `benchmarks/speed_report.py --whole-only`."
        whole = render_whole(*measure_whole(args, keras))
        report = "\n".join(["# Benchmarks", "", stamp, *whole])
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(report)
        print(report)
        return

    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(tmp) / "best.ckpt"
        settings = Settings(
            data_root=args.data_root,
            epochs=1 if args.tiny else args.epochs,
            batch_size=args.batch_size,
            channels_last=not args.fp32,
            bf16=not args.fp32 and cpu_runs_bf16(),  # as trainer.precision=auto decides
            limit_batches=5 if args.tiny else None,
            verify_md5=not args.tiny,
            val_size=100 if args.tiny else 5000,
            keep_checkpoint=str(checkpoint),
        )
        contenders = ["pipeline", "plain"]
        if keras:
            contenders.append("keras")
        runs: dict[str, list[TrainResult]] = {name: [] for name in contenders}
        for round_index in range(1 if args.tiny else args.rounds):
            order = (
                contenders[round_index % len(contenders) :]
                + contenders[: round_index % len(contenders)]
            )
            for name in order:
                print(f"round {round_index + 1}: training {name} ...", file=sys.stderr, flush=True)
                runs[name].append(run_in_subprocess(name, settings))
        inference = measure_inference(checkpoint, args.data_root, tiny=args.tiny)
    report = render(settings, runs, inference, tiny=args.tiny)
    if args.whole_epochs and not args.tiny:
        report += "\n".join(render_whole(*measure_whole(args, keras)))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(report)
    print(report)


def measure_whole(args: argparse.Namespace, keras: bool) -> tuple[int, dict[str, list[float]]]:
    """Whole processes, command to exit, alternating: ``scripts/train.py`` (MLflow on) against
    the notebook's Keras model. A first 1-step run creates the store, as a user's first run
    did: the measured runs write into a store that exists."""
    epochs = args.whole_epochs
    with tempfile.TemporaryDirectory() as tmp:
        commands = whole_process_commands(PROJECT_ROOT, args.data_root, epochs, Path(tmp), keras)
        if args.tiny:  # proves it runs on a tiny data set; not a measurement
            commands["pipeline"] += ["data.val_size=100", "data.verify_md5=false"]
        first = [
            "trainer.max_steps=1",
            "trainer.limit_val_batches=1",
            "trainer.limit_test_batches=1",
        ]
        print("whole process: creating the store ...", file=sys.stderr, flush=True)
        time_commands({"first": [*commands["pipeline"], *first]}, 1)
        print(
            f"whole process: {args.rounds} round(s) of {', '.join(commands)} ...", file=sys.stderr
        )
        return epochs, time_commands(commands, args.rounds)


def render_whole(epochs: int, seconds: dict[str, list[float]]) -> list[str]:
    lines = [
        "",
        "## Whole process",
        "",
        f"`python scripts/train.py trainer.max_epochs={epochs} data.batch_size=64` (MLflow on, "
        "a store that exists) against the notebook's Keras model in a process of its own "
        f"(`python benchmarks/keras_notebook.py DATA_ROOT {epochs}`), alternating: seconds from "
        "the command to the exit (imports, data, training, test, recording).",
        "",
        "| contender | median s | all runs s |",
        "|---|---:|---|",
    ]
    for name, values in seconds.items():
        shown = ", ".join(f"{value:.1f}" for value in values)
        lines.append(f"| {name} | {statistics.median(values):.1f} | {shown} |")
    if "keras" in seconds:
        ratios = [k / p for p, k in zip(seconds["pipeline"], seconds["keras"], strict=True)]
        lines += ["", f"- Keras seconds / pipeline seconds: {_ratios(ratios)}"]
    return [*lines, ""]


def _ratios(ratios: list[float]) -> str:
    """A ratio as the report gives it: the median of the rounds' ratios, then each."""
    shown = ", ".join(f"{ratio:.2f}" for ratio in ratios)
    return f"**{statistics.median(ratios):.2f}x** (median of the rounds' ratios: {shown})"


def measure_inference(checkpoint: Path, data_root: str, tiny: bool) -> dict[str, float]:

    from digit_recognizer.data.mnist_files import load_split
    from digit_recognizer.model.checkpoints import load_classifier
    from digit_recognizer.reading.answers import predict_files
    from digit_recognizer.synthetic.uploads import SUFFIXES, redraw_many

    raw_dir = find_raw_dir(data_root)
    images, _ = load_split(raw_dir, "test", verify_md5=not tiny)
    results = time_inference(checkpoint, images, repeats=1 if tiny else 5)
    # A folder of upload-like images (100-500 px PNG/JPEG), predicted after the model is loaded.
    with tempfile.TemporaryDirectory() as folder:
        count = 50 if tiny else 1000
        files = []
        for index, (fmt, data) in enumerate(redraw_many(images[:count, 0].numpy())):
            path = Path(folder) / f"{index:04d}{SUFFIXES[fmt]}"
            path.write_bytes(data)
            files.append(path)
        classifier = load_classifier(checkpoint)
        start = time.perf_counter()
        predict_files(classifier, files)
        results["folder_images_per_sec"] = len(files) / (time.perf_counter() - start)
        sample = files[0]
        predict = [sys.executable, str(PROJECT_ROOT / "scripts" / "predict.py")]
        cold = time_commands(
            {
                "import_torch": [sys.executable, "-c", "import torch"],
                "predict": [*predict, f"img={sample}", f"ckpt={checkpoint}"],
            },
            repeats=1 if tiny else 5,
        )
    results["cold_import_torch_s"] = statistics.median(cold["import_torch"])
    results["cold_predict_s"] = statistics.median(cold["predict"])
    return results


def render(
    settings: Settings, runs: dict[str, list[TrainResult]], inference: dict[str, float], tiny: bool
) -> str:
    steady = {name: statistics.median(r.steady for r in results) for name, results in runs.items()}
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.now():%Y-%m-%d %H:%M} by `benchmarks/speed_report.py`"
        + (" in **tiny mode** (a few batches: not a measurement)" if tiny else "")
        + ".",
        "",
        "Machine: " + ", ".join(f"{key} {value}" for key, value in machine().items()) + ".",
        "",
        f"SeedCNN, batch {settings.batch_size}, {settings.epochs} epochs per run, "
        f"{len(next(iter(runs.values())))} alternating round(s); throughput is training images/s, "
        "the median over rounds of each run's median epoch after the first. "
        f"PyTorch runs: channels_last={settings.channels_last}, bf16 autocast={settings.bf16}. "
        "Keras runs use the notebook's settings (fp32, Adam 1e-3, batch 64). Each ratio compares "
        "runs of the same round.",
        "",
        "| contender | images/s | per-epoch images/s (all runs) | test acc | peak RSS MB |",
        "|---|---:|---|---:|---:|",
    ]
    for name, results in runs.items():
        epochs = "; ".join(", ".join(f"{v:.0f}" for v in r.images_per_sec) for r in results)
        accuracy = statistics.mean(r.test_acc for r in results)
        rss = max(r.peak_rss_mb for r in results)
        lines.append(f"| {name} | {steady[name]:.0f} | {epochs} | {accuracy:.4f} | {rss:.0f} |")
    lines.append("")
    for other, label in (("plain", "plain PyTorch"), ("keras", "Keras notebook model")):
        if other in runs:
            lines.append(f"- pipeline / {label}: {_ratios(paired_ratios(runs, other))}")
    lines += [
        "",
        "## Inference",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| batched prediction, 10,000 test digits | {inference['batched_images_per_sec']:.0f} images/s |",
        f"| single 28x28 image latency | {inference['single_image_ms']:.2f} ms |",
        f"| folder of upload-like images (decode + preprocess + predict) | {inference['folder_images_per_sec']:.0f} images/s |",
        f'| cold `python -c "import torch"` | {inference["cold_import_torch_s"]:.2f} s |',
        f"| cold `predict.py img=one.png ckpt=...` | {inference['cold_predict_s']:.2f} s "
        f"({inference['cold_predict_s'] / inference['cold_import_torch_s']:.2f}x) |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
