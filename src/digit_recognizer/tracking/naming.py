"""What a run is called and what is logged about it: readable run names, the commit, the
config split into MLflow params (what a person varies) and tags (where and how it ran)."""

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


# Config keys that say where things are or how they ran, not what the model learnt: tags. The
# whole config stays on the run as config.yaml.
LOCATION_KEYS = (
    "paths.",
    "logger.",
    "hydra.",
    "data.root",
    "data.download",
    "data.mirrors",
    "ckpt_path",
    "resume_run",
    "trainer.default_root_dir",
    "trainer.accelerator",
    "trainer.devices",
    "trainer.strategy",
    "trainer.num_nodes",
    "callbacks.model_checkpoint.dirpath",
)
# Plumbing: how the code is wired and how it reports, which no one varies to learn better.
_PLUMBING_KEYS = (
    "callbacks.model_checkpoint.",
    "callbacks.lr_monitor.",
    "callbacks.progress_bar.",
    "trainer.enable_",
    "trainer.log_every_n_steps",
    "trainer.num_sanity_val_steps",
    "trainer.limit_",
    "data.verify_md5",
    "data.num_workers",
    "data.pin_memory",
    "data.keep_on_device",
    "data.eval_batch_size",
    "model.channels_last",
    "model.net.num_classes",
    "log_model",
    "register_model",
    "registered_model_name",
)
# A class chosen in the config is a param by its short name (model.optimizer = AdamW); the other
# ``_target_``s only say which code builds a part.
_CHOSEN_CLASSES = ("model.optimizer", "model.scheduler")


def split_config(flat: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """A flattened config (``flatten_config``) as MLflow params (what a person would vary:
    lr, batch, model, augment, ...) and tags (where things are and how the run was set up)."""
    params: dict[str, Any] = {}
    tags: dict[str, str] = {}
    for key, value in flat.items():
        parent, _, leaf = key.rpartition(".")
        if key.startswith(LOCATION_KEYS):
            tags[key] = str(value)
        elif leaf == "_target_" and parent in _CHOSEN_CLASSES:
            params[parent] = str(value).rsplit(".", 1)[-1]
        elif leaf.startswith("_") or key.startswith(_PLUMBING_KEYS):
            continue
        else:
            params[key] = value
    return params, tags
