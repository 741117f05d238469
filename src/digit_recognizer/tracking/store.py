"""MLflow stores: a client with deadlines, a store checked before use, experiments made once.

MLflow itself is imported inside the functions that talk to a store, so training without a
logger (or on a machine without MLflow) never loads it.
"""

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from digit_recognizer.errors import UserError
from digit_recognizer.tracking.stale import mark_stale_runs

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

LOCAL_SCHEMES = {"sqlite", "file", ""}

log = logging.getLogger(__name__)


# Deadlines for talking to a tracking server: MLflow's own defaults retry for minutes. The
# first look (GET /health) must answer within PROBE_TIMEOUT_S.
SERVER_TIMEOUT_S = 10
PROBE_TIMEOUT_S = 5
_MLFLOW_HTTP_LIMITS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": str(SERVER_TIMEOUT_S),
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
}
_reachable: set[str] = set()


def client(tracking_uri: str) -> "MlflowClient":
    """An MlflowClient for ``tracking_uri``, after checking the store can answer: a server
    must reply to /health within the deadline; an SQLite file must be a database. The check
    comes before MLflow is imported (seconds), so a dead server is answered sooner."""
    if tracking_uri not in _reachable:
        _check_store(tracking_uri)
        _reachable.add(tracking_uri)
    for name, value in _MLFLOW_HTTP_LIMITS.items():
        os.environ.setdefault(name, value)
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri)


def _check_store(tracking_uri: str) -> None:
    scheme = urlparse(tracking_uri).scheme
    if scheme in ("http", "https"):
        import urllib.error
        import urllib.request

        try:
            url = tracking_uri.rstrip("/") + "/health"
            with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_S) as response:
                response.read(64)
        except (urllib.error.URLError, OSError, ValueError) as err:
            reason = getattr(err, "reason", None) or err
            raise UserError(
                f"The MLflow tracking server at {tracking_uri} does not answer ({reason}); "
                "start it (mlflow server ...) or fix logger.tracking_uri."
            ) from None
    database = sqlite_file(tracking_uri)
    problem = _sqlite_problem(database) if database is not None and database.exists() else None
    if problem:
        raise UserError(
            f"The MLflow store {database} {problem}; move it aside (the next training makes a "
            "fresh one) or point logger.tracking_uri at another store."
        )


def _sqlite_problem(database: Path) -> str | None:
    """What is wrong with an embedded store's database file, read without writing to it."""
    import sqlite3

    try:
        with open(database, "rb") as handle:
            header = handle.read(16)
    except OSError as err:
        return f"cannot be read ({err.strerror})"
    if not header:
        return "is empty"
    if header != b"SQLite format 3\x00":
        return "is not an SQLite database"
    try:
        connection = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
        try:
            verdict = connection.execute("PRAGMA quick_check(1)").fetchone()[0]
            query = "SELECT name FROM sqlite_master WHERE type = 'table'"
            tables = {row[0] for row in connection.execute(query)}
        finally:
            connection.close()
    except sqlite3.DatabaseError as err:
        return f"is corrupt ({err})"
    if verdict != "ok":
        return f"is corrupt ({verdict})"
    if "alembic_version" not in tables:
        return "is not an MLflow store"
    return None


def is_local_store(tracking_uri: str) -> bool:
    """True for the embedded stores (SQLite file or plain folder), false for a tracking server."""
    return urlparse(tracking_uri).scheme in LOCAL_SCHEMES


def sqlite_file(tracking_uri: str) -> Path | None:
    """The database file of an embedded SQLite store; None for any other store."""
    parsed = urlparse(tracking_uri)
    # sqlite:////abs/path.db has path //abs/path.db; the leading slash belongs to the URI.
    return Path(parsed.path[1:]) if parsed.scheme == "sqlite" else None


def prepare_store(tracking_uri: str, artifact_location: str | None) -> str | None:
    """Create the embedded store's folder; returns the artifact location to use (None for servers)."""
    database = sqlite_file(tracking_uri)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
    if not is_local_store(tracking_uri) or artifact_location is None:
        return None
    Path(artifact_location).mkdir(parents=True, exist_ok=True)
    return Path(artifact_location).resolve().as_uri()


def ensure_experiment(
    tracking_uri: str,
    name: str,
    artifact_location: str | None,
    tags: dict[str, str] | None = None,
    keep: tuple[str, ...] = (),
) -> str:
    """Create the store and the experiment if missing, one process at a time; end this host's
    stale runs in it (see ``mark_stale_runs``). Returns the experiment id.

    ``tags`` are set on the experiment where they differ, except those named in ``keep`` that
    it already has (a description a person wrote in the UI stays).

    Two trainings started together on a fresh SQLite store would both run its schema migration
    (one fails) and both create the experiment (one fails); a file lock beside the database
    serialises that first step. Servers handle their own concurrency.
    """
    from contextlib import nullcontext

    from filelock import FileLock

    database = sqlite_file(tracking_uri)
    try:
        with FileLock(f"{database}.lock", timeout=120) if database else nullcontext():
            store = client(tracking_uri)
            found = store.get_experiment_by_name(name)
            experiment_id = (
                found.experiment_id
                if found
                else store.create_experiment(name, artifact_location=artifact_location)
            )
            have = found.tags if found else {}
            for key, value in (tags or {}).items():
                if have.get(key) != value and not (key in keep and have.get(key)):
                    store.set_experiment_tag(experiment_id, key, value)
    except PermissionError as err:
        raise UserError(
            f"Cannot write to the MLflow store at {tracking_uri} ({err.strerror}: "
            f"{err.filename}); make mlruns/ writable or point logger.tracking_uri elsewhere."
        ) from err
    mark_stale_runs(store, experiment_id)
    return experiment_id
