"""scripts/train.py in subprocesses: user errors, multirun grouping, SIGTERM and resume."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from tests.helpers import ROOT, fast_overrides, finished_runs, run_script, runs_of


def test_missing_data_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_script("train.py", [f"data.root={tmp_path}/nowhere"], tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "MNIST_ROOT" in line


def test_cfg_job_prints_the_resolved_config(tmp_path: Path) -> None:
    result = run_script("train.py", ["--cfg", "job", "data.batch_size=128"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "batch_size: 128" in result.stdout and "_target_: torch.optim.Adam" in result.stdout


def test_multirun_gives_one_grouped_run_per_job(tiny_mnist: Path, tmp_path: Path) -> None:
    args = ["-m", *fast_overrides(tmp_path, tiny_mnist, in_process=False)]
    result = run_script("train.py", [*args, "model.optimizer.lr=1e-3,3e-3"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = finished_runs(tmp_path, 2)
    assert {run.data.params["model.optimizer.lr"] for run in runs} == {"0.001", "0.003"}
    assert len({run.data.tags["sweep"] for run in runs}) == 1
    checkpoint_dirs = {run.data.tags["checkpoint_dir"] for run in runs}
    assert len(checkpoint_dirs) == 2
    assert all((Path(folder) / "last.ckpt").is_file() for folder in checkpoint_dirs)


def test_sigterm_keeps_last_ckpt_and_resume_continues_the_run(
    tiny_mnist: Path, tmp_path: Path
) -> None:
    args = [*fast_overrides(tmp_path, tiny_mnist, in_process=False), "trainer.max_epochs=1000"]
    env = {"PROJECT_ROOT": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "train.py"), *args],
        cwd=tmp_path,
        env={**__import__("os").environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 180
    while not list(tmp_path.glob("logs/runs/*/checkpoints/last.ckpt")):
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "training never wrote last.ckpt"
        time.sleep(0.2)
    time.sleep(1.0)  # a few more epochs, so the stop lands mid-training
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 143, stderr[-3000:]
    assert "Traceback" not in stderr
    (run,) = runs_of(tmp_path)
    assert run.info.status == "KILLED"
    assert f"resume_run={run.info.run_id}" in stderr
    last = Path(run.data.tags["checkpoint_dir"]) / "last.ckpt"
    saved = torch.load(last, weights_only=True)
    stopped_at = saved["epoch"]

    final_epochs = stopped_at + 2
    resumed = run_script(
        "train.py",
        [*args, f"resume_run={run.info.run_id}", f"trainer.max_epochs={final_epochs}"],
        tmp_path,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    (run,) = runs_of(tmp_path)  # the same MLflow run, now complete
    assert run.info.status == "FINISHED"
    assert "test/acc" in run.data.metrics
    final = torch.load(last, weights_only=True)
    assert final["global_step"] > saved["global_step"]
    history = final["epoch_history"]
    # Epochs before the stop came from the first process, the rest from the resumed one.
    assert [int(row["epoch"]) for row in history] == list(range(final_epochs))


def test_two_trial_optuna_sweep_gives_two_grouped_runs(tiny_mnist: Path, tmp_path: Path) -> None:
    args = [
        *fast_overrides(tmp_path, tiny_mnist, in_process=False),
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.sampler.n_startup_trials=2",
        "trainer.max_epochs=1",
    ]
    result = run_script("train.py", args, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = finished_runs(tmp_path, 2)
    assert len({run.data.tags["sweep"] for run in runs}) == 1
    assert all("val/acc_best" in run.data.metrics for run in runs)
    assert (next(tmp_path.glob("logs/multiruns/*/optimization_results.yaml"))).is_file()


def test_compare_prints_the_best_runs(trained_store: Path) -> None:
    result = run_script("compare.py", ["top=5"], trained_store)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    good = next(i for i, line in enumerate(lines) if "good" in line)
    poor = next(i for i, line in enumerate(lines) if "poor" in line)
    assert good < poor  # ranked by val/acc_best
