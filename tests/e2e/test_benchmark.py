"""The benchmark runs end to end in tiny mode, so it cannot rot (the full run is `make bench`)."""

from pathlib import Path

import pytest

from tests.helpers.processes import run_script


@pytest.mark.slow  # a minute of subprocess start-ups; `make bench` runs it for real
def test_tiny_benchmark_writes_its_table(tiny_mnist: Path, tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    args = ["--tiny", "--no-keras", f"--data-root={tiny_mnist}", f"--out={out}"]
    result = run_script("benchmarks/speed_report.py", args, tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = out.read_text()
    assert "| pipeline |" in report and "| plain |" in report
    assert "pipeline / plain PyTorch" in report and "cold `predict.py" in report


@pytest.mark.slow  # two training processes
def test_whole_process_comparison_times_the_real_command(tiny_mnist: Path, tmp_path: Path) -> None:
    out = tmp_path / "whole.md"
    args = ["--tiny", "--whole-only", "--whole-epochs=1", "--rounds=1", "--no-keras"]
    result = run_script(
        "benchmarks/speed_report.py", [*args, f"--data-root={tiny_mnist}", f"--out={out}"], tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = out.read_text()
    assert "## Whole process" in report and "| pipeline |" in report


def test_the_keras_baseline_reads_the_idx_files_as_torchvision_does(tiny_mnist: Path) -> None:
    from benchmarks.keras_notebook import read_idx
    from digit_recognizer.data.mnist_files import find_raw_dir, load_split

    raw = find_raw_dir(tiny_mnist)
    images, labels = load_split(raw, "test", verify_md5=False)
    assert (read_idx(raw / "t10k-images-idx3-ubyte") == images.numpy().reshape(-1, 28, 28)).all()
    assert (read_idx(raw / "t10k-labels-idx1-ubyte") == labels.numpy()).all()
