"""``resume_run=ID``: continue an interrupted run with its own recorded config, or refuse.

Nothing here writes to the store: a run that cannot be continued keeps its status.
"""

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from digit_recognizer.errors import UserError
from digit_recognizer.tracking.selection import get_run, read_run_text
from digit_recognizer.tracking.stale import HOST_TAG, PID_TAG, is_stale

# What may differ from the recorded config on resume: where things are, and how the console
# looks. trainer.max_epochs too, when no learning-rate schedule was sized for the old length.
SAFE_ON_RESUME = (
    "paths",
    "logger",
    "resume_run",
    "data.root",
    "data.download",
    "data.num_workers",
    "data.pin_memory",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
    "callbacks.progress_bar",
)
_ABSENT = object()


def resumed_config(cfg: DictConfig, overrides: list[str]) -> tuple[DictConfig, str]:
    """The config to continue run ``cfg.resume_run`` with, and the checkpoint to continue from.

    The base is the run's ``config.yaml`` artifact; ``overrides`` (the command line's) may only
    change what ``SAFE_ON_RESUME`` names. Anything else is refused with one sentence.
    """
    run_id = str(cfg.resume_run)
    if not cfg.get("logger"):
        raise UserError("resume_run needs the MLflow logger; drop logger=none or use ckpt_path.")
    uri = cfg.logger.tracking_uri
    run = get_run(uri, run_id)
    name = f"Run {run.info.run_name} ({run_id})"
    if run.info.status == "FINISHED":
        raise UserError(
            f"{name} already FINISHED; to train it further start a new run from its checkpoint: "
            f"python scripts/train.py ckpt_path={_checkpoint_hint(run)}"
        )
    if run.info.status == "RUNNING" and not is_stale(run):
        raise UserError(
            f"{name} is still RUNNING (pid {run.data.tags.get(PID_TAG, '?')} on "
            f"{run.data.tags.get(HOST_TAG, '?')}); stop it first, then resume."
        )
    last = Path(run.data.tags.get("checkpoint_dir", "")) / "last.ckpt"
    if not run.data.tags.get("checkpoint_dir") or not last.is_file():
        raise UserError(
            f"{name} has no last.ckpt on this machine (looked in {last.parent}); pass "
            "ckpt_path=PATH to a checkpoint to start a new run from it."
        )
    recorded = OmegaConf.create(read_run_text(uri, run_id, "config.yaml"))
    assert isinstance(recorded, DictConfig)
    return merge_safe_overrides(cfg, recorded, overrides, name), str(last)


def merge_safe_overrides(
    cfg: DictConfig, recorded: DictConfig, overrides: list[str], name: str = "the run"
) -> DictConfig:
    """``recorded`` with the locations of ``cfg`` and the values of ``overrides`` that are safe
    to change on resume; a ``UserError`` for any other override that changes a value."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    merged = recorded.copy()
    # The run was found through this store; everything else comes from the recording.
    for key in ("logger", "resume_run"):
        OmegaConf.update(merged, key, cfg.get(key), force_add=True, merge=False)
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.key_or_group.replace("/", ".")
        if key.startswith("hydra"):
            continue
        new, old = _value(cfg, key), _value(merged, key)
        if new == old:
            continue
        if key.startswith(SAFE_ON_RESUME) or _epochs_may_change(key, recorded):
            if new is _ABSENT:
                _delete(merged, key)
            else:
                OmegaConf.update(merged, key, OmegaConf.select(cfg, key), merge=False)
            continue
        if key == "trainer.max_epochs":
            raise UserError(
                f"trainer.max_epochs cannot change when resuming {name}: its learning-rate "
                f"schedule was sized for {old} epochs. Resume without it, or fine-tune as a new "
                "run: python scripts/train.py ckpt_path=PATH model/scheduler=none"
            )
        raise UserError(
            f"{key} cannot change when resuming {name} (it ran with {_shown(old)}); resume "
            "without it, or start a new run from its checkpoint with ckpt_path=PATH."
        )
    return merged


def _epochs_may_change(key: str, recorded: DictConfig) -> bool:
    return key == "trainer.max_epochs" and OmegaConf.select(recorded, "model.scheduler") is None


def _value(cfg: DictConfig, key: str) -> Any:
    node = OmegaConf.select(cfg, key, default=_ABSENT)
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def _delete(cfg: DictConfig, key: str) -> None:
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(cfg, parent) if parent else cfg
    if isinstance(node, DictConfig) and leaf in node:
        del node[leaf]


def _shown(value: Any) -> str:
    return "nothing" if value is _ABSENT else repr(value)


def _checkpoint_hint(run: Any) -> str:
    folder = run.data.tags.get("checkpoint_dir")
    return str(Path(folder) / "last.ckpt") if folder else "PATH"
