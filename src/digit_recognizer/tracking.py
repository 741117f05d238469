"""MLflow: store locations, run names and tags, config logging, finding runs. No Lightning here.

MLflow itself is imported inside the functions that talk to a store, so training without a
logger (or on a machine without MLflow) never loads it.
"""

import logging
import os
import secrets
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from digit_recognizer.errors import ModelUnavailable, UserError

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

BEST_METRIC = "val/acc_best"
# What "the best run" means to predict, serve, eval and register (``select_by=``): the mean
# accuracy on validation digits re-drawn in people's styles; ties go to BEST_METRIC.
SELECT_BY = "val/robust"
CHECKPOINT_DIR = "checkpoints"  # artifact folder holding best.ckpt and last.ckpt
BEST_CHECKPOINT = f"{CHECKPOINT_DIR}/best.ckpt"
CACHE_DIR = Path.home() / ".cache" / "digit-recognizer"

LOCAL_SCHEMES = {"sqlite", "file", ""}
# Who wrote a run: with these a RUNNING run whose process is gone is told from a live one.
HOST_TAG, PID_TAG, PROCESS_START_TAG = "host", "pid", "process_start"
STALE_REASON_TAG = "killed_reason"

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


def ensure_experiment(tracking_uri: str, name: str, artifact_location: str | None) -> str:
    """Create the store and the experiment if missing, one process at a time; end this host's
    stale runs in it (see ``mark_stale_runs``). Returns the experiment id.

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
    except PermissionError as err:
        raise UserError(
            f"Cannot write to the MLflow store at {tracking_uri} ({err.strerror}: "
            f"{err.filename}); make mlruns/ writable or point logger.tracking_uri elsewhere."
        ) from err
    mark_stale_runs(store, experiment_id)
    return experiment_id


def process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), or None if unknown.
    With the pid it names one process: a pid reused by a later process has another start."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the name in (...) may hold spaces


def is_stale(run: "Run", host: str | None = None) -> bool:
    """True for a RUNNING run written by a process of this host that no longer exists."""
    tags = run.data.tags
    if run.info.status != "RUNNING" or tags.get(HOST_TAG) != (host or socket.gethostname()):
        return False
    try:
        pid = int(tags.get(PID_TAG, ""))
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, owned by someone else
    recorded = tags.get(PROCESS_START_TAG)
    return bool(recorded) and process_start(pid) not in (None, recorded)


def mark_stale_runs(client: "MlflowClient", experiment_id: str) -> list[str]:
    """End this host's RUNNING runs whose process is gone as KILLED, saying why; their ids."""
    running = client.search_runs([experiment_id], "attributes.status = 'RUNNING'", max_results=500)
    stale = [run for run in running if is_stale(run)]
    for run in stale:
        pid = run.data.tags.get(PID_TAG)
        client.set_tag(run.info.run_id, STALE_REASON_TAG, f"process {pid} ended without a status")
        client.set_terminated(run.info.run_id, "KILLED")
        log.warning("Marked run %s KILLED: its process %s is gone.", run.info.run_id, pid)
    return [run.info.run_id for run in stale]


# Short names for the settings people change most, in run names.
_NAME_ABBREVIATIONS = {
    "model.optimizer.lr": "lr",
    "data.batch_size": "bs",
    "trainer.max_epochs": "ep",
    "data.augment": "aug",
    "model.label_smoothing": "ls",
}
# Overrides that say where things are, not what ran: left out of names.
_UNNAMED = ("paths.", "logger.", "hydra.", "data.root", "data.download", "data.mirrors", "model=")


def make_run_name(model_name: str, overrides: list[str] | None = None) -> str:
    """Readable, sortable and unique even when the seed is fixed: the model, then what the
    command changed, then a time stamp: ``seed_cnn-lr3e-3-bs128-1125-181203-a3f9``."""
    parts = [model_name]
    for override in overrides or []:
        key, _, value = override.lstrip("+~").partition("=")
        if not value or override.lstrip("+~").startswith(_UNNAMED) or "trainer.enable" in key:
            continue
        short = _NAME_ABBREVIATIONS.get(key, key.rsplit(".", 1)[-1].replace("/", "_"))
        parts.append(f"{short}{value}".replace(" ", "")[:24])
    stamp = datetime.now().strftime("%m%d-%H%M%S")
    return f"{'-'.join(parts)[:48]}-{stamp}-{secrets.token_hex(2)}"


def git_commit(directory: str | Path) -> str:
    """The checked-out commit (with ``-dirty`` when there are local changes), or ``unknown``."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=directory,
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def flatten_config(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Scalar leaves of a nested config as ``a.b.c`` keys; lists become their string form."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_config(value, f"{name}."))
        elif isinstance(value, list | tuple):
            flat[name] = str(list(value))
        else:
            flat[name] = value
    return flat


def get_run(tracking_uri: str, run_id: str) -> "Run":
    """The run ``run_id`` of the store, or a clear error when there is none."""
    from mlflow.exceptions import MlflowException

    try:
        return client(tracking_uri).get_run(str(run_id))
    except MlflowException as err:
        raise UserError(f"No MLflow run {run_id!r} in {tracking_uri}.") from err


def read_run_text(tracking_uri: str, run_id: str, artifact: str) -> str:
    """A text artifact of a run (such as ``config.yaml``), or a clear error when it is missing."""
    import tempfile

    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = client(tracking_uri).download_artifacts(run_id, artifact, tmp)
            return Path(local).read_text()
        except (MlflowException, OSError) as err:
            raise UserError(f"Run {run_id} has no readable {artifact} in {tracking_uri}.") from err


def find_best_checkpoint(
    tracking_uri: str, experiment: str, run_id: str | None = None, select_by: str = SELECT_BY
) -> tuple[Path, str, str]:
    """Local path of the best checkpoint of ``run_id``, or of the FINISHED run in ``experiment``
    with the highest ``select_by`` metric (ties: the highest ``val/acc_best``); a one-line
    description of that run saying which metric chose it; its id."""
    database = sqlite_file(tracking_uri)
    if database is not None and not database.is_file():
        raise ModelUnavailable(
            f"No trained model yet ({tracking_uri} is empty); run `make train` first."
        )
    store = client(tracking_uri)
    if run_id:
        run = get_run(tracking_uri, run_id)
        path, metric = _local_artifact(store, run, BEST_CHECKPOINT), None
        chosen = ["chosen by run_id"]
    else:
        run, path, metric = _best_complete_run(store, tracking_uri, experiment, select_by)
        chosen = [f"chosen by {metric} {run.data.metrics[metric]:.4f}"]
        if metric != select_by:
            chosen.append(f"no finished run has {select_by}")
    if metric != BEST_METRIC and BEST_METRIC in run.data.metrics:
        chosen.append(f"{BEST_METRIC} {run.data.metrics[BEST_METRIC]:.4f}")
    return (
        path,
        f"run {run.info.run_name} ({run.info.run_id}, {'; '.join(chosen)})",
        run.info.run_id,
    )


def _best_complete_run(
    client: "MlflowClient", tracking_uri: str, experiment: str, select_by: str
) -> tuple["Run", Path, str]:
    """The FINISHED run with the highest ``select_by`` (ties: ``val/acc_best``) whose best
    checkpoint can be had, that checkpoint, and the metric that chose it. Runs from before
    ``select_by`` was recorded rank after those with it; if none has the default metric,
    ``val/acc_best`` chooses; any other metric no run has is a mistake. Better runs without a checkpoint are skipped with a warning that names them."""
    found = client.get_experiment_by_name(experiment)
    runs = (
        client.search_runs(
            [found.experiment_id],
            filter_string="attributes.status = 'FINISHED'",
            order_by=[f"metrics.`{name}` DESC" for name in dict.fromkeys([select_by, BEST_METRIC])],
            max_results=1000,
        )
        if found
        else []
    )
    metric = select_by if any(select_by in run.data.metrics for run in runs) else BEST_METRIC
    if metric != select_by and select_by != SELECT_BY and runs:  # a typo, not an older store
        known = sorted({name for run in runs for name in run.data.metrics})
        raise UserError(
            f"No finished run in experiment {experiment!r} records the metric {select_by!r} "
            f"(select_by); they record: {', '.join(known[:12])}{' ...' if len(known) > 12 else ''}."
        )

    def rank(run: "Run") -> tuple[float, float]:
        metrics = run.data.metrics
        return (metrics.get(metric, float("-inf")), metrics.get(BEST_METRIC, float("-inf")))

    for run in sorted(runs, key=rank, reverse=True):
        if metric not in run.data.metrics:
            continue
        try:
            return run, _local_artifact(client, run, BEST_CHECKPOINT), metric
        except ModelUnavailable as err:  # said on stderr: the user asked for "the best run"
            print(f"Skipping run {run.info.run_name} ({run.info.run_id}): {err}", file=sys.stderr)
    raise ModelUnavailable(
        f"No finished training run with a best checkpoint in experiment {experiment!r} at "
        f"{tracking_uri}; run `make train` first (or pass ckpt=PATH)."
    )


def _local_artifact(client: "MlflowClient", run: "Run", artifact: str) -> Path:
    """A run's artifact as a local file: read in place from a local store, else downloaded once."""
    root = run.info.artifact_uri
    if urlparse(root).scheme in ("file", ""):
        local = Path(urlparse(root).path) / artifact
        if local.is_file():
            return local
        raise ModelUnavailable(f"Run {run.info.run_id} has no {artifact}; it cannot predict.")
    target = CACHE_DIR / run.info.run_id
    cached = target / artifact
    if cached.is_file():
        return cached
    from mlflow.exceptions import MlflowException

    try:
        return Path(client.download_artifacts(run.info.run_id, artifact, str(target)))
    except MlflowException as err:
        raise ModelUnavailable(
            f"Run {run.info.run_id} has no {artifact}; it cannot predict."
        ) from err
