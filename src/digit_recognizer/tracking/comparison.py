"""The top runs of an MLflow experiment as rows a terminal table can show."""

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from digit_recognizer.errors import UserError
from digit_recognizer.tracking.descriptions import VIEW_KEY, VIEW_TAG
from digit_recognizer.tracking.selection import BEST_METRIC
from digit_recognizer.tracking.stale import is_stale

COLUMNS = (
    "run",
    "model",
    "sweep",
    "lr",
    "batch",
    "augment",
    "val/acc_best",
    "test/acc",
    "epochs",
    "minutes",
    "status",
)


# Which runs a table shows: the ones that finished or may still be running, or all.
STATUS_FILTERS = {
    "active": "attributes.status != 'FAILED' and attributes.status != 'KILLED'",
    "all": "",
}


@dataclass
class TopRuns:
    """An experiment's top runs as rows (one dict per run, keyed by ``COLUMNS`` and
    ``run_id``), and what links into the UI need to know of the experiment."""

    experiment_id: str
    saved_view: bool  # the project's view of the runs is in the store (a training made it)
    rows: list[dict[str, Any]]


def top_runs(
    tracking_uri: str,
    experiment: str,
    sort: str,
    top: int,
    filter_string: str = "",
    status: str = "active",
) -> TopRuns:
    """The ``top`` runs with the highest ``sort`` metric, newest first among equals. A RUNNING
    run whose process is gone shows as ``stale``; FAILED and KILLED runs only with status=all."""
    if status not in STATUS_FILTERS:
        raise UserError(f"status must be one of {', '.join(STATUS_FILTERS)}, not {status!r}.")
    filter_string = " and ".join(f for f in (filter_string, STATUS_FILTERS[status]) if f)
    from mlflow.exceptions import MlflowException

    from digit_recognizer.tracking.store import client as store_client

    client = store_client(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise UserError(f"No experiment {experiment!r} in {tracking_uri}; run `make train` first.")
    try:
        runs = client.search_runs(
            [found.experiment_id],
            filter_string=filter_string,
            order_by=[f"metrics.`{sort}` DESC", "attributes.start_time DESC"],
            max_results=top,
        )
    except MlflowException as err:
        raise UserError(f"MLflow rejected the search: {err.message}") from err
    rows = []
    for run in runs:
        params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
        # A run still going: its minutes so far.
        end = run.info.end_time or int(time.time() * 1000)
        rows.append(
            {
                "run_id": run.info.run_id,
                "run": run.info.run_name,
                "model": tags.get("model", "?"),
                "sweep": tags.get("sweep"),
                "lr": params.get("model.optimizer.lr", "?"),
                "batch": params.get("data.batch_size", "?"),
                "augment": params.get("data.augment", "?"),
                "val/acc_best": metrics.get(BEST_METRIC),
                "test/acc": metrics.get("test/acc"),
                "epochs": int(metrics["epoch"]) if "epoch" in metrics else None,
                "minutes": (end - run.info.start_time) / 60000,
                "status": "stale" if is_stale(run) else run.info.status,
            }
        )
    return TopRuns(found.experiment_id, VIEW_TAG in found.tags, rows)


def ui_links(
    ui_url: str, experiment_id: str, run_ids: list[str], saved_view: bool = True
) -> dict[str, str]:
    """Links into the MLflow UI: the experiment's runs in the project's saved view (its
    columns, best first), the same view's charts (parallel coordinates first), and these runs
    side by side.

    MLflow 3.x opens an experiment on its GenAI overview unless the browser last chose
    "Model training" (kept in the browser, not in the store); ``workflowType`` in the link
    chooses it, so the link lands on the runs whatever the browser chose before.
    """
    base = ui_url.rstrip("/")
    mode = "workflowType=machine_learning"
    view = f"&viewStateShareKey={VIEW_KEY}" if saved_view else ""
    links = {"runs": f"{base}/#/experiments/{experiment_id}/runs?{mode}{view}"}
    if saved_view:
        links["charts"] = f"{links['runs']}&compareRunsMode=CHART"
    if len(run_ids) > 1:
        runs, experiments = (quote(json.dumps(ids), safe="") for ids in (run_ids, [experiment_id]))
        links["compare"] = f"{base}/#/compare-runs?runs={runs}&experiments={experiments}&{mode}"
    return links
