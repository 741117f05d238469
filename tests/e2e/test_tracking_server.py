"""Tracking beyond one process: trainings racing on the embedded store, and a real MLflow server."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.helpers.configs import fast_overrides
from tests.helpers.images import digit_png
from tests.helpers.paths import ROOT
from tests.helpers.processes import run_script
from tests.helpers.servers import free_port, wait_until_healthy
from tests.helpers.stores import finished_runs, store_client, store_uri


def test_two_trainings_at_once_on_a_fresh_sqlite_store(tiny_mnist: Path, tmp_path: Path) -> None:
    args = [*fast_overrides(tmp_path, tiny_mnist, in_process=False), "trainer.max_epochs=3"]
    env = {**os.environ, "PROJECT_ROOT": str(tmp_path)}
    processes = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "train.py"), *args, f"seed={seed}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr[-3000:]
    runs = finished_runs(tmp_path, 2)
    client = store_client(tmp_path)
    for run in runs:
        assert len(client.get_metric_history(run.info.run_id, "val/acc")) == 3
        assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"checkpoints", "plots"}


@pytest.mark.slow  # a minute; the thread share is tested without it in test_hardware.py
def test_joblib_launcher_runs_a_sweep_in_parallel(tiny_mnist: Path, tmp_path: Path) -> None:
    args = [
        "-m",
        *fast_overrides(tmp_path, tiny_mnist, in_process=False),
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "model.optimizer.lr=1e-3,3e-3",
        "trainer.max_epochs=12",  # long enough that both jobs are surely running at once
    ]
    result = run_script("train.py", args, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = finished_runs(tmp_path, 2)
    assert len({run.data.tags["sweep"] for run in runs}) == 1
    first, second = sorted(runs, key=lambda run: run.info.start_time)
    assert second.info.start_time < first.info.end_time  # the two jobs overlapped in time
    cores = len(os.sched_getaffinity(0))
    # Each job got its share of the cores instead of all of them.
    assert {run.data.tags["torch_threads"] for run in runs} == {str(max(1, cores // 2))}


@pytest.mark.slow  # the SLURM launcher's local twin: half a minute of job start-ups
def test_submitit_launcher_runs_sweep_jobs_as_separate_processes(
    tiny_mnist: Path, tmp_path: Path
) -> None:
    # submitit_local is the SLURM launcher's local twin: same plugin, same job pickling.
    args = [
        "-m",
        *fast_overrides(tmp_path, tiny_mnist, in_process=False),
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=10",
        "seed=1,2",
    ]
    result = run_script("train.py", args, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = finished_runs(tmp_path, 2)
    assert {run.data.tags["seed"] for run in runs} == {"1", "2"}
    (sweep,) = (tmp_path / "logs" / "multiruns").iterdir()
    assert list((sweep / ".submitit").iterdir())  # submitit's own job folders


def test_training_and_prediction_through_a_tracking_server(
    tiny_mnist: Path, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", f"sqlite:///{tmp_path}/server/mlflow.db",
            "--serve-artifacts", "--artifacts-destination", str(tmp_path / "server" / "artifacts"),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_until_healthy(url, server, tmp_path / "server.log")
        workdir = tmp_path / "client"  # nothing of the store is on this side
        workdir.mkdir()
        args = [
            *fast_overrides(workdir, tiny_mnist, in_process=False),
            f"logger.tracking_uri={url}",
        ]
        trained = run_script("train.py", args, workdir, HOME=str(workdir))
        assert trained.returncode == 0, trained.stderr[-3000:]
        assert not (workdir / "mlruns" / "mlflow.db").exists()

        client = MlflowClient(url)
        (run,) = client.search_runs([client.get_experiment_by_name("mnist").experiment_id])
        assert run.info.status == "FINISHED" and "test/acc" in run.data.metrics
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "checkpoints")}
        assert "checkpoints/best.ckpt" in artifacts
        assert (tmp_path / "server" / "artifacts").is_dir()  # the server stored them

        image = workdir / "digit.png"
        image.write_bytes(digit_png())
        predicted = run_script(
            "predict.py", [f"img={image}", f"logger.tracking_uri={url}"], workdir, HOME=str(workdir)
        )
        assert predicted.returncode == 0, predicted.stderr[-3000:]
        assert f"model: run {run.info.run_name}" in predicted.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_a_run_records_its_process_from_creation(tmp_path: Path) -> None:
    """Lightning creates the run before the data is set up; a process killed then must leave
    a run that can be told stale (it names its host and pid from the start)."""
    import socket

    from digit_recognizer.tracking import stale, store
    from digit_recognizer.training.recording import RunLogger

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store.ensure_experiment(uri, "mnist", None)
    logger = RunLogger(experiment_name="mnist", tracking_uri=uri, tags={"mine": "kept"})
    run = logger.experiment.get_run(logger.run_id)
    assert run.data.tags[stale.PID_TAG] == str(os.getpid())
    assert run.data.tags[stale.HOST_TAG] == socket.gethostname()
    assert run.data.tags["mine"] == "kept" and not stale.is_stale(run)  # alive: this process


def test_a_run_killed_before_its_parameters_shows_unknowns_not_defaults(tmp_path: Path) -> None:
    # A training killed while it started: a RUNNING run with no parameters yet. The table
    # must not claim it trained without augmentation.
    from digit_recognizer.tracking.comparison import top_runs

    client = store_client(tmp_path)
    experiment = client.create_experiment("mnist")
    client.create_run(experiment, run_name="cut short")
    found = top_runs(store_uri(tmp_path), "mnist", "val/acc_best", 10)
    (row,) = found.rows
    assert (found.experiment_id, found.saved_view) == (experiment, False)
    assert row["run"] == "cut short"
    assert (row["lr"], row["batch"], row["augment"]) == ("?", "?", "?")


def test_a_run_has_its_params_from_creation(tmp_path: Path) -> None:
    """compare.py shows what a run is trying from the moment it exists, not after minutes of
    data set-up: the recorder logs params, tags and config.yaml when the run is created."""
    from digit_recognizer.tracking import store
    from digit_recognizer.training.recording import RunLogger, RunRecorder

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store.ensure_experiment(uri, "mnist", None)
    logger = RunLogger(experiment_name="mnist", tracking_uri=uri)
    RunRecorder(logger, uri, {"model.optimizer.lr": 0.003}, {"model": "seed_cnn"}, "seed: 1\n")
    run = logger.experiment.get_run(logger.run_id)  # what Lightning does before set-up
    assert run.data.params == {"model.optimizer.lr": "0.003"}
    assert run.data.tags["model"] == "seed_cnn" and run.info.status == "RUNNING"
