"""``train(cfg)``: check the config, build, fit, test the best checkpoint once. The MLflow run's
life belongs to the ``RunRecorder`` callback (``recording``)."""

import logging
import warnings
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ProgressBar
from lightning.pytorch.strategies.launchers.subprocess_script import _SubprocessScriptLauncher
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.exceptions import MisconfigurationException, SIGTERMException
from omegaconf import DictConfig, OmegaConf

from digit_recognizer import progress
from digit_recognizer.data.datamodule import MNISTDataModule
from digit_recognizer.errors import TrainingInterrupted, UserError
from digit_recognizer.tracking.descriptions import NOTE_TAG, experiment_tags
from digit_recognizer.tracking.naming import (
    flatten_config,
    git_commit,
    make_run_name,
    split_config,
)
from digit_recognizer.tracking.store import ensure_experiment, prepare_store
from digit_recognizer.training.callbacks import CheckpointOnInterrupt, ThroughputMonitor
from digit_recognizer.training.config_checks import (
    checked_training_config,
    command_line_overrides,
    resolved_precision,
)
from digit_recognizer.training.module import DigitClassifier
from digit_recognizer.training.preparation import prepare_machine
from digit_recognizer.training.recording import RunLogger, RunRecorder

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> float | None:
    """Run one experiment; returns the best validation accuracy (the sweep objective)."""
    checked, start_from = checked_training_config(cfg)
    prepare_machine(checked)
    return fit_and_test(checked, start_from)


def fit_and_test(cfg: DictConfig, start_from: str | None) -> float | None:
    """Build, fit and test a checked config (``checked_training_config``)."""
    _quiet_console()
    # Our bars (drawing the training pools) go with Lightning's: none where it shows none,
    # and one process's only under DDP.
    lightning_bar = bool(cfg.trainer.get("enable_progress_bar", True))
    bars = lightning_bar and cfg.callbacks.get("progress_bar")
    progress.enable(None if bars and rank_zero_only.rank == 0 else False)
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    datamodule: MNISTDataModule = build(cfg.data, "data")
    model: DigitClassifier = build(cfg.model, "model")
    _check_optimizer(model)
    logger = _build_logger(cfg)
    recorder = _build_recorder(cfg, logger)
    checkpoint_dir = Path(cfg.callbacks.model_checkpoint.dirpath)
    callbacks: list[Callback] = [CheckpointOnInterrupt(checkpoint_dir)]
    callbacks += [recorder] if recorder else []
    callbacks += [build(node, f"callbacks.{name}") for name, node in cfg.callbacks.items() if node]
    if logger is None:  # Lightning refuses an LR monitor with nothing to log to
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    if not lightning_bar:  # nor a bar it was told not to show
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    callbacks.append(ThroughputMonitor())
    trainer = build_trainer(cfg.trainer, callbacks=callbacks, logger=logger or False)
    _check_distributed(cfg, trainer)

    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=start_from)
        trainer.test(model, datamodule=datamodule, ckpt_path=_tested_weights(trainer))
    except (KeyboardInterrupt, SystemExit) as error:  # Lightning turns Ctrl-C into SystemExit
        by_sigterm = isinstance(error, SIGTERMException) or isinstance(
            error.__context__, SIGTERMException
        )
        resume = (
            f"resume_run={recorder.run_id}"
            if recorder and recorder.started
            else f"ckpt_path={checkpoint_dir / 'last.ckpt'}"
        )
        raise TrainingInterrupted(
            f"Training stopped by {'SIGTERM' if by_sigterm else 'Ctrl-C'}; last.ckpt is in "
            f"{checkpoint_dir}; continue with `python scripts/train.py {resume}`.",
            exit_code=143 if by_sigterm else 130,
        ) from error
    except _SETUP_ERRORS as error:
        if trainer.global_step > 0:  # not a set-up mistake: a failure while training
            raise
        reason = " ".join(str(error).split()) or type(error).__name__
        if recorder is not None and trainer.is_global_zero:
            recorder.abandon(reason)
        where = f" (run {recorder.run_id} is FAILED)" if recorder and recorder.started else ""
        raise UserError(f"Training could not start{where}: {reason}") from error
    if recorder is not None and recorder.model_error and recorder.registered_name:
        # Asked for explicitly, so a failure fails the command; the run itself is complete.
        raise UserError(
            f"Run {recorder.run_id} finished, but registering its model failed "
            f"({recorder.model_error}); retry with "
            f"`python scripts/register.py run_id={recorder.run_id}`."
        )
    callback = trainer.checkpoint_callback
    score = getattr(callback, "best_model_score", None)
    return float(score) if score is not None else None


# What Lightning raises when the trainer's settings do not fit the data (no batch to train on,
# a validation interval longer than an epoch): mistakes in the config, found at set-up.
_SETUP_ERRORS = (MisconfigurationException, ValueError, ZeroDivisionError)


def _tested_weights(trainer: L.Trainer) -> str | None:
    """The best checkpoint; the weights as they are when no validation ran to choose one
    (``trainer.max_steps`` ended training inside the first epoch)."""
    if getattr(trainer.checkpoint_callback, "best_model_path", ""):
        return "best"
    log.warning("No validation ran before training stopped: testing the final weights.")
    return None


# Lightning's console lines that say nothing about this run: an advert, an upstream
# deprecation, and a logging-interval hint for runs that log per epoch anyway.
_NOISE = (
    "litlogger",
    "LeafSpec",
    "smaller than the logging interval",
    "is not supported by the model summary",  # bf16: the summary's sizes are estimates anyway
)


def _quiet_console() -> None:
    """Lightning's messages printed once, without the noise above."""
    # `import lightning` gives its logger a console handler of its own; when Hydra has already
    # put one on the root logger, every Lightning message would be printed twice.
    if logging.getLogger().handlers:
        package_logger = logging.getLogger("lightning")
        for handler in list(package_logger.handlers):
            package_logger.removeHandler(handler)
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _DropNoise) for f in rank_zero.filters):
        rank_zero.addFilter(_DropNoise())
    for text in _NOISE:
        warnings.filterwarnings("ignore", message=f".*{text}.*")


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not any(text in record.getMessage() for text in _NOISE)


def build(node: DictConfig, what: str, **kwargs: Any) -> Any:
    """Instantiate a config node, turning config mistakes into one readable sentence."""
    try:
        return hydra.utils.instantiate(node, **kwargs)
    except InstantiationException as err:
        cause = err.__cause__
        if isinstance(cause, UserError):
            raise cause from None
        reason = (
            str(cause or err).strip().splitlines()[-1] if str(cause or err).strip() else repr(cause)
        )
        raise UserError(f"Cannot build {what} from the config: {reason}") from err


def build_trainer(node: DictConfig, **kwargs: Any) -> L.Trainer:
    """The Lightning ``Trainer`` a ``trainer`` config node describes (``precision=auto`` resolved)."""
    return build(node, "trainer", precision=resolved_precision(node), **kwargs)


def _check_optimizer(model: DigitClassifier) -> None:
    # Building the optimizer once here turns a bad value (lr=-1, lr=abc) into a clear message
    # before any run is created, instead of a traceback from inside Trainer.fit.
    try:
        model.optimizer_factory(model.parameters())
    except (TypeError, ValueError) as err:
        raise UserError(f"model.optimizer has a bad value: {err}") from err


def _check_distributed(cfg: DictConfig, trainer: L.Trainer) -> None:
    """Refuse, before any run starts, distributed set-ups that would fail halfway: a Hydra
    multirun under DDP's script launcher."""
    strategy = trainer.strategy
    launcher = getattr(strategy, "launcher", None)
    environment = getattr(strategy, "cluster_environment", None)
    spawns_script = (
        isinstance(launcher, _SubprocessScriptLauncher)
        and environment is not None
        and not environment.creates_processes_externally
    )
    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    if spawns_script and multirun:
        raise UserError(
            "trainer.strategy=ddp re-runs the script for each extra process, which a Hydra "
            "multirun cannot do; start each job with torchrun (see the README), or sweep "
            "with trainer.devices=1."
        )


def _build_logger(cfg: DictConfig) -> RunLogger | L.pytorch.loggers.Logger | None:
    """The MLflow logger (its run is created lazily, when fitting starts), another Lightning
    logger as configured, or None."""
    node = cfg.get("logger")
    if not node:
        return None
    if not node.get("tracking_uri"):
        return build(node, "logger")
    location = prepare_store(node.tracking_uri, node.get("artifact_location"))
    # A training experiment, described, with a saved view of its runs table.
    ensure_experiment(
        node.tracking_uri, node.experiment_name, location, experiment_tags(), keep=(NOTE_TAG,)
    )
    return RunLogger(
        experiment_name=node.experiment_name,
        tracking_uri=node.tracking_uri,
        run_name=node.get("run_name")
        or make_run_name(_model_choice(cfg), command_line_overrides()),
        tags=dict(node.get("tags") or {}),
        run_id=cfg.get("resume_run") or None,
        artifact_location=location,
    )


def _build_recorder(cfg: DictConfig, logger: Any) -> RunRecorder | None:
    """The run's recorder, on global rank 0 only (under DDP every process runs ``train``)."""
    if not isinstance(logger, RunLogger) or rank_zero_only.rank != 0:
        return None
    config = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(config, dict)
    params, tags = split_config(flatten_config(config))
    tags["checkpoint_dir"] = str(Path(cfg.callbacks.model_checkpoint.dirpath).resolve())
    if not cfg.get("resume_run"):  # a resumed run keeps the tags it was started with
        tags.update(_run_tags(cfg))
    return RunRecorder(
        logger,
        cfg.logger.tracking_uri,
        params,
        tags,
        OmegaConf.to_yaml(cfg, resolve=True),
        # A model to register must be logged first, whatever log_model says.
        log_model=bool(cfg.get("log_model")) or bool(cfg.register_model),
        registered_name=str(cfg.registered_model_name) if cfg.register_model else None,
    )


def _run_tags(cfg: DictConfig) -> dict[str, str]:
    tags = {
        "model": _model_choice(cfg),
        "net": str(cfg.model.net.name),
        "data": "MNIST",
        "seed": str(cfg.get("seed")),
        "git_commit": git_commit(cfg.paths.root_dir),
        "torch_threads": str(torch.get_num_threads()),
    }
    if HydraConfig.initialized():
        hydra_cfg = HydraConfig.get()
        tags["overrides"] = " ".join(hydra_cfg.overrides.task) or "(none)"
        tags["output_dir"] = hydra_cfg.runtime.output_dir
        if hydra_cfg.mode == RunMode.MULTIRUN:
            # Every job of one multirun shares the sweep folder: group by this tag in the MLflow UI.
            tags["sweep"] = Path(hydra_cfg.sweep.dir).name
            tags["sweep_job"] = str(hydra_cfg.job.num)
    return tags


def _model_choice(cfg: DictConfig) -> str:
    """The model config's name (``seed_cnn``), or the net's class name outside a Hydra app."""
    if HydraConfig.initialized():
        return str(HydraConfig.get().runtime.choices.get("model", cfg.model.net.name))
    return str(cfg.model.net.name)
