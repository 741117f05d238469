"""What a run is called and what is logged about it: readable run names, the commit, the
config flattened into MLflow params."""

import secrets
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

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
