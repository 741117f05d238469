"""Shared start-up for the scripts: project root, one-line user errors, the model to use."""

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from digit_recognizer.inference import Classifier

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = str(PROJECT_ROOT / "conf")
# Configs resolve every path from here, so runs land in this clone whatever the current directory.
os.environ.setdefault("PROJECT_ROOT", str(PROJECT_ROOT))


def report_user_errors(task: Callable[..., Any]) -> Callable[..., Any]:
    """Print a ``UserError`` as one line on stderr and exit with its code, instead of a traceback."""
    from digit_recognizer.errors import UserError

    @wraps(task)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return task(*args, **kwargs)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(err.exit_code)

    return wrapper


def choose_model(cfg: "DictConfig") -> "Classifier":
    """The model a script's config names: ``ckpt``, else ``run_id``, else the best run of the
    configured MLflow store (none with ``logger=none``)."""
    from digit_recognizer.inference import choose_classifier

    logger = cfg.get("logger") or {}
    return choose_classifier(
        cfg.get("ckpt"),
        cfg.get("run_id"),
        logger.get("tracking_uri", ""),
        logger.get("experiment_name", ""),
    )
