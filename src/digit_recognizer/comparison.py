"""The top runs of an MLflow experiment as rows a terminal table can show."""

from typing import Any

from digit_recognizer.errors import UserError
from digit_recognizer.tracking import BEST_METRIC

COLUMNS = (
    "run",
    "model",
    "lr",
    "batch",
    "augment",
    "val/acc_best",
    "test/acc",
    "epochs",
    "minutes",
    "status",
)


def top_runs(
    tracking_uri: str, experiment: str, sort: str, top: int, filter_string: str = ""
) -> list[dict[str, Any]]:
    """The ``top`` runs with the highest ``sort`` metric, newest first among equals."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
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
        end = run.info.end_time or run.info.start_time
        rows.append(
            {
                "run": run.info.run_name,
                "model": tags.get("model", "?"),
                "lr": params.get("model.optimizer.lr", "?"),
                "batch": params.get("data.batch_size", "?"),
                "augment": params.get("data.augment", "False"),
                "val/acc_best": metrics.get(BEST_METRIC),
                "test/acc": metrics.get("test/acc"),
                "epochs": int(metrics["epoch"]) if "epoch" in metrics else None,
                "minutes": (end - run.info.start_time) / 60000,
                "status": run.info.status,
            }
        )
    return rows
