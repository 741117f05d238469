"""The benchmark runs end to end in tiny mode, so it cannot rot (the full run is `make bench`)."""

from pathlib import Path

import pytest

from tests.helpers import run_script


@pytest.mark.slow  # a minute of subprocess start-ups; `make bench` runs it for real
def test_tiny_benchmark_writes_its_table(tiny_mnist: Path, tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    args = ["--tiny", "--no-keras", f"--data-root={tiny_mnist}", f"--out={out}"]
    result = run_script("benchmark.py", args, tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = out.read_text()
    assert "| pipeline |" in report and "| plain |" in report
    assert "pipeline / plain PyTorch" in report and "cold `predict.py" in report
