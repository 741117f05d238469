"""The best runs of the MLflow store as a terminal table: ``python scripts/compare.py``."""

import sys

import hydra
from omegaconf import DictConfig

from digit_recognizer.cli.arguments import path_arguments
from digit_recognizer.cli.exits import report_user_errors, run_main
from digit_recognizer.cli.startup import config_dir

CONFIG_DIR = config_dir(__file__)

# An MLflow filter holds spaces, quotes and '=': it reaches the config exactly as typed
# ("filter=tags.model = 'bn_cnn'"), quoted for Hydra the way file names are.
PATH_KEYS = ("filter",)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="compare")
@report_user_errors
def main(cfg: DictConfig) -> None:
    from rich.console import Console
    from rich.table import Table

    from digit_recognizer.cli.options import CompareConfig, checked_options
    from digit_recognizer.tracking.comparison import COLUMNS, top_runs, ui_links

    checked_options(CompareConfig, cfg)
    found = top_runs(
        cfg.logger.tracking_uri,
        cfg.logger.experiment_name,
        cfg.sort,
        cfg.top,
        cfg.filter,
        cfg.status,
    )
    rows = found.rows
    table = Table(title=f"Top {len(rows)} runs of {cfg.logger.experiment_name!r} by {cfg.sort}")
    for column in COLUMNS:
        table.add_column(
            column, justify="left" if column in ("run", "model", "sweep", "status") else "right"
        )
    for row in rows:
        table.add_row(*(_cell(column, row[column]) for column in COLUMNS))
    console = Console(width=160)
    console.print(table)
    if rows:
        links = ui_links(
            cfg.ui_url, found.experiment_id, [row["run_id"] for row in rows], found.saved_view
        )
        console.print(f"In the MLflow UI (make ui), the runs: {links['runs']}", soft_wrap=True)
        if "charts" in links:
            console.print(f"how they were trained, charted: {links['charts']}", soft_wrap=True)
        if "compare" in links:
            console.print(f"these {len(rows)} side by side: {links['compare']}", soft_wrap=True)


def _cell(column: str, value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}" if column == "minutes" else f"{value:.4f}"
    return str(value)


if __name__ == "__main__":
    sys.argv[1:] = path_arguments(sys.argv[1:], PATH_KEYS, list_key=None)
    run_main(main)
