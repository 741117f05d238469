"""Which run's model to use: a named run, or the best finished run by ``select_by``; its
checkpoint as a local file. MLflow is imported only here and in ``store``."""

import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from digit_recognizer.errors import ModelUnavailable, UserError
from digit_recognizer.tracking import remembered
from digit_recognizer.tracking.store import client, sqlite_file

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
    description of that run saying which metric chose it; its id. From an embedded store
    that has not changed since the last choice, the remembered one (``remembered``)."""
    database = sqlite_file(tracking_uri)
    if database is not None and not database.is_file():
        raise ModelUnavailable(
            f"No trained model yet ({tracking_uri} is empty); run `make train` first."
        )
    if database is not None and not run_id:  # the same store as last time: the same choice
        key, state = f"{experiment}\0{select_by}", remembered.store_state(database)
        choice = remembered.recall(CACHE_DIR, database, key, state)
        if choice is None:
            choice = _find_best_checkpoint(tracking_uri, experiment, None, select_by)
            remembered.remember(CACHE_DIR, database, key, state, choice)
        return choice
    return _find_best_checkpoint(tracking_uri, experiment, run_id, select_by)


def _find_best_checkpoint(
    tracking_uri: str, experiment: str, run_id: str | None, select_by: str
) -> tuple[Path, str, str]:
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
