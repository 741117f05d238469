"""Temporary MLflow stores and the runs in them."""

import shutil
import sqlite3
from pathlib import Path

from mlflow.entities import Run
from mlflow.tracking import MlflowClient


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
