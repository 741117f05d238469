"""What the MLflow UI shows a person first: the experiment's description, kind and saved view
of the runs table, and each run's description with its scores.

MLflow 3.x reads these from tags: ``mlflow.note.content`` (an experiment's or run's
description, markdown), ``mlflow.experimentKind`` (training, not GenAI) and
``mlflow.sharedViewState.<key>`` (a runs-table view that ``?viewStateShareKey=<key>`` opens,
with the charts its chart mode shows first: here parallel coordinates of how each run was
trained against its scores).
"""

import json
from typing import Any

from digit_recognizer.tracking.selection import BEST_METRIC

NOTE_TAG = "mlflow.note.content"
KIND_TAG = "mlflow.experimentKind"
TRAINING_KIND = "custom_model_development"
VIEW_KEY = "digits"  # the saved view's name, in links: ?viewStateShareKey=digits
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"

# What a person compares runs by: the scores, and the params they varied.
SCORES = (BEST_METRIC, "test/acc")
TRAINED_WITH = ("model.optimizer.lr", "data.batch_size", "data.augment")

# The runs table's columns, in order: which run is best and how it was trained.
VIEW_COLUMNS = (
    ("tags", "model"),
    *(("params", name) for name in TRAINED_WITH),
    ("params", "trainer.max_epochs"),
    *(("metrics", name) for name in SCORES),
    ("attributes", "Duration"),
    ("attributes", "Models"),
)
# The chart mode's first section: one parallel-coordinates chart, as wide as the section.
# MLflow adds its own sections of charts, one per metric, below it.
COMPARE_SECTION = {
    "uuid": "digits-compare",
    "name": "Training settings and scores",
    "display": True,
    "isReordered": False,
    "columns": 1,
    "cardHeight": 420,
}
PARALLEL_CHART = {
    "type": "PARALLEL",
    "uuid": "digits-parallel",
    "metricSectionId": COMPARE_SECTION["uuid"],
    "selectedParams": ["model.net.name", *TRAINED_WITH],
    "selectedMetrics": list(SCORES),
    "deleted": False,
    "isGenerated": False,
}

EXPERIMENT_NOTE = f"""\
Digit classifiers trained by `python scripts/train.py`, best first by `{BEST_METRIC}` (the best
validation accuracy, which chooses checkpoints and runs; `test/acc` is reported, never used to
choose). A run's params are what was varied; its full config is `config.yaml`, its scores are
in its description, its figures under `plots/`, its checkpoints under `checkpoints/`.

`python scripts/compare.py` prints the best runs as a table, with links that open this table
with these columns, its chart view (parallel coordinates of how each run was trained against
its scores) and the chosen runs side by side.
"""


def experiment_tags() -> dict[str, str]:
    """The tags that make the experiment read as a training experiment, described, with a
    saved view of the runs that matter."""
    column_keys = [f"{kind}.`{name}`" for kind, name in VIEW_COLUMNS]
    view = {
        "orderByKey": f"metrics.`{BEST_METRIC}`",
        "orderByAsc": False,
        "selectedColumns": column_keys,
        "columnOrder": column_keys,
        "compareRunCharts": [PARALLEL_CHART],
        "compareRunSections": [COMPARE_SECTION],
        # Sections in the order given, ours first (MLflow sorts them by name otherwise).
        "isAccordionReordered": True,
    }
    return {KIND_TAG: TRAINING_KIND, NOTE_TAG: EXPERIMENT_NOTE, VIEW_TAG: json.dumps(view)}


def run_note(
    run_name: str, params: dict[str, str], metrics: dict[str, float], tags: dict[str, str]
) -> str:
    """A run's description: its scores as numbers and how it was trained, in a few lines."""

    def score(key: str, label: str) -> str | None:
        value = metrics.get(key)
        return f"| {label} | {value:.2%} |" if value is not None else None

    def setting(key: str, label: str) -> str | None:
        value = params.get(key)
        return f"| {label} | {value} |" if value is not None else None

    rows = [
        score(BEST_METRIC, f"best validation accuracy (`{BEST_METRIC}`)"),
        score("test/acc", "test accuracy (`test/acc`, the MNIST test set)"),
        score("val/robust", "validation digits in people's styles (`val/robust`)"),
        score("test/answered", "test digits answered, not refused (`test/answered`)"),
        score("eval/other_writers_right", "other writers' digits read right (eval.py)"),
        setting("model.net.name", "net"),
        setting("model.optimizer", "optimizer"),
        setting("model.optimizer.lr", "learning rate"),
        setting("data.batch_size", "batch size"),
        setting("data.augment", "augmentation"),
        setting("trainer.max_epochs", "epochs asked"),
        setting("seed", "seed"),
    ]
    epochs = metrics.get("epoch")
    trained = f", {int(epochs)} epochs trained" if epochs is not None else ""
    overrides = tags.get("overrides", "")
    lines = [
        f"**{run_name}**: model `{tags.get('model', '?')}`{trained}.",
        "",
        "| | |",
        "|---|---|",
        *(row for row in rows if row),
    ]
    if overrides and overrides != "(none)":
        lines += ["", f"Trained with the overrides `{overrides}`."]
    return "\n".join(lines) + "\n"


def describe_run(client: Any, run_id: str) -> None:
    """Write run ``run_id``'s description from what it has logged, unless a person wrote one."""
    run = client.get_run(run_id)
    note = run_note(run.info.run_name, run.data.params, run.data.metrics, run.data.tags)
    written = run.data.tags.get(NOTE_TAG)
    if written is None or written.startswith(note.split(":", 1)[0]):  # ours, or none yet
        client.set_tag(run_id, NOTE_TAG, note)
