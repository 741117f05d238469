"""Everything a training config must pass before anything is built or recorded.

No Lightning here: a mistake is answered in seconds, and before an MLflow run exists.
"""

from pathlib import Path
from typing import Any

import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from digit_recognizer.errors import UserError
from digit_recognizer.model.nets import check_net_spec, state_shapes
from digit_recognizer.training import hardware
from digit_recognizer.training.resume import resumed_config
from digit_recognizer.training.schema import check_train_config


def checked_training_config(cfg: DictConfig) -> tuple[DictConfig, str | None]:
    """The config to run (a resumed run's own one), checked whole, and the checkpoint to start
    from. Only ``trainer.precision`` changes (``auto`` becomes what this machine runs)."""
    start_from = cfg.get("ckpt_path")
    if cfg.get("resume_run"):
        cfg, start_from = resumed_config(cfg, command_line_overrides())
    check_train_config(cfg)
    if start_from and not Path(start_from).is_file():
        raise UserError(f"ckpt_path={start_from} does not exist; give the path of a .ckpt file.")
    if start_from:
        _check_start_checkpoint(start_from, cfg.model.net)
    if cfg.register_model:
        if not cfg.get("logger"):
            raise UserError("register_model=true needs the MLflow logger; drop logger=none.")
        if not str(cfg.get("registered_model_name") or "").strip():
            raise UserError("register_model=true needs a registered_model_name.")
    _check_strategy(cfg.trainer)
    with open_dict(cfg):
        cfg.trainer.precision = resolved_precision(cfg.trainer)  # recorded as chosen
    return cfg, start_from


def _check_start_checkpoint(path: str, net: DictConfig) -> None:
    """A checkpoint to start from is refused, in one sentence, unless it is a digit-recognizer
    checkpoint (checked as predict checks one) holding weights for the net this run builds:
    Lightning would fail with a traceback listing every missing key."""
    from digit_recognizer.model.checkpoints import load_classifier

    held = load_classifier(path).spec
    wanted = check_net_spec(OmegaConf.to_container(net, resolve=True))
    if state_shapes(held) != state_shapes(wanted):
        raise UserError(
            f"ckpt_path={path} holds a net {held}, but this run builds {wanted}: give the model "
            "options it was trained with (model=..., or the experiment=... it came from)."
        )


def resolved_precision(trainer: DictConfig) -> Any:
    """``trainer.precision``, with ``auto`` replaced by what this machine runs fast."""
    if trainer.precision != "auto":
        return trainer.precision
    return hardware.auto_precision(str(trainer.accelerator))


def _check_strategy(trainer: DictConfig) -> None:
    if "spawn" in str(trainer.get("strategy", "")):
        raise UserError(
            "Spawned DDP workers (ddp_spawn) are not supported: use trainer=ddp, or torchrun "
            "(see the README)."
        )
    on_cpu = trainer.accelerator == "cpu" or (
        trainer.accelerator == "auto" and not torch.cuda.is_available()
    )
    if trainer.get("sync_batchnorm") and on_cpu:
        raise UserError(
            "trainer.sync_batchnorm=true needs GPUs (PyTorch's SyncBatchNorm does not run on "
            "CPUs); drop it for CPU training."
        )


def command_line_overrides() -> list[str]:
    """The overrides of the Hydra command line (none outside a Hydra app)."""
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
