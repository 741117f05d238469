"""scripts/train.py in subprocesses: user errors, multirun grouping, SIGTERM and resume."""

import re
import signal
import time
from pathlib import Path

import pytest
import torch
import yaml
from mlflow.tracking import MlflowClient

from tests.helpers.configs import fast_overrides
from tests.helpers.data import make_tiny_mnist
from tests.helpers.processes import one_error_line, run_script, start_script, wait_for
from tests.helpers.servers import free_port
from tests.helpers.stores import finished_runs, runs_of, store_uri


@pytest.mark.parametrize("download", ["false", "true"])
def test_missing_data_is_one_line_and_exit_2_before_a_run(tmp_path: Path, download: str) -> None:
    # Offline: the download is refused by a mirror that does not answer.
    dead = f"http://127.0.0.1:{free_port()}/"
    args = [f"data.root={tmp_path}/nowhere", f"data.download={download}", f"data.mirrors=[{dead}]"]
    started = time.monotonic()
    result = run_script("train.py", args, tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line = one_error_line(result.stderr)
    assert "MNIST_ROOT" in line and "data.root" in line and "t10k-labels-idx1-ubyte" in line
    assert time.monotonic() - started < 30
    assert runs_of(tmp_path) == []


def test_a_bad_value_is_one_line_exit_2_and_no_run(tiny_mnist: Path, tmp_path: Path) -> None:
    args = [*fast_overrides(tmp_path, tiny_mnist, in_process=False), "trainer.max_epochs=abc"]
    result = run_script("train.py", args, tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "trainer.max_epochs='abc'" in one_error_line(result.stderr)
    assert runs_of(tmp_path) == []


def test_cfg_job_prints_the_resolved_config(tmp_path: Path) -> None:
    result = run_script("train.py", ["--cfg", "job", "data.batch_size=128"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "batch_size: 128" in result.stdout and "_target_: torch.optim.Adam" in result.stdout


@pytest.mark.slow  # the Optuna and joblib sweeps cover multirun grouping in the default run
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


def test_sigterm_then_the_printed_resume_command_finishes_the_run(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Epochs of a few seconds, so that the stop lands inside the second of two.
    data = make_tiny_mnist(tmp_path_factory.mktemp("slow_mnist"), train=10_000, test=200)
    args = [
        *fast_overrides(tmp_path, data, in_process=False),
        "trainer.max_epochs=2",
        "data.batch_size=16",
    ]
    process = start_script("train.py", args, tmp_path)
    wait_for(lambda: list(tmp_path.glob("logs/runs/*/checkpoints/last.ckpt")), process, 180)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 143, stderr[-3000:]
    assert "Traceback" not in stderr
    (run,) = runs_of(tmp_path)
    assert run.info.status == "KILLED"
    printed = re.search(r"`python scripts/train.py (resume_run=\S+)`", stderr)
    assert printed and printed.group(1) == f"resume_run={run.info.run_id}", stderr[-2000:]
    recorded = _config_of(run.info.run_id, tmp_path)
    last = Path(run.data.tags["checkpoint_dir"]) / "last.ckpt"
    stopped_at = torch.load(last, weights_only=True)["epoch"]
    assert stopped_at < 2, "the run ended before the signal; make its epochs longer"

    # The one-cycle schedule was sized for 2 epochs: a longer run is refused, nothing changes.
    longer = run_script("train.py", [printed.group(1), "trainer.max_epochs=5"], tmp_path)
    assert longer.returncode == 2 and "Traceback" not in longer.stderr
    assert "trainer.max_epochs cannot change" in one_error_line(longer.stderr)
    assert runs_of(tmp_path)[0].info.status == "KILLED"

    resumed = run_script("train.py", [printed.group(1)], tmp_path)  # as printed, nothing added
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    (run,) = runs_of(tmp_path)
    assert run.info.status == "FINISHED" and "test/acc" in run.data.metrics
    history = torch.load(last, weights_only=True)["epoch_history"]
    assert [int(row["epoch"]) for row in history] == [0, 1]
    epochs = MlflowClient(store_uri(tmp_path)).get_metric_history(run.info.run_id, "val/acc")
    assert sorted(metric.step for metric in epochs) == [1, 2]  # epochs counted from 1
    after = _config_of(run.info.run_id, tmp_path)
    assert {**after, "resume_run": None} == {**recorded, "resume_run": None}

    again = run_script("train.py", [printed.group(1)], tmp_path)
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert "already FINISHED" in one_error_line(again.stderr) and "ckpt_path=" in again.stderr
    assert runs_of(tmp_path)[0].info.status == "FINISHED"


def _config_of(run_id: str, workdir: Path) -> dict:
    folder = workdir / f"config-{time.monotonic_ns()}"
    local = MlflowClient(store_uri(workdir)).download_artifacts(run_id, "config.yaml", str(folder))
    return yaml.safe_load(Path(local).read_text())


def test_a_killed_training_shows_stale_and_the_next_one_ends_it(
    tiny_mnist: Path, tmp_path: Path
) -> None:
    args = fast_overrides(tmp_path, tiny_mnist, in_process=False)
    victim = [*args, "trainer.max_epochs=1000", "logger.run_name=victim"]
    process = start_script("train.py", victim, tmp_path)
    wait_for(lambda: list(tmp_path.glob("logs/runs/*/checkpoints/last.ckpt")), process, 180)
    process.kill()  # SIGKILL: no handler runs, the run stays RUNNING
    process.communicate(timeout=30)
    (run,) = runs_of(tmp_path)
    assert run.info.status == "RUNNING"

    table = run_script("compare.py", [], tmp_path)
    assert table.returncode == 0, table.stderr
    assert "stale" in next(line for line in table.stdout.splitlines() if "victim" in line)

    assert run_script("train.py", args, tmp_path).returncode == 0
    runs = {r.info.run_id: r for r in runs_of(tmp_path)}
    assert runs[run.info.run_id].info.status == "KILLED"
    assert f"process {process.pid} ended" in runs[run.info.run_id].data.tags["killed_reason"]
    assert [r.info.status for i, r in runs.items() if i != run.info.run_id] == ["FINISHED"]


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
