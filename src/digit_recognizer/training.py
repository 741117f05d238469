"""``train(cfg)``: fit, test the best checkpoint on the official test set, and record the run."""

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import Logger, MLFlowLogger
from lightning.pytorch.strategies.launchers.subprocess_script import _SubprocessScriptLauncher
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, open_dict

from digit_recognizer import tracking
from digit_recognizer.callbacks import CheckpointOnInterrupt, ThroughputMonitor
from digit_recognizer.data import MNISTDataModule
from digit_recognizer.errors import TrainingInterrupted, UserError
from digit_recognizer.module import DigitClassifier
from digit_recognizer.run_record import RunRecorder

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> float | None:
    """Run one experiment; returns the best validation accuracy (the sweep objective)."""
    _print_lightning_logs_once()
    resume_ckpt, resume_run_id = _resume_point(cfg)
    log_model, registered_name = _model_logging(cfg)
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    datamodule: MNISTDataModule = build(cfg.data, "data")
    model: DigitClassifier = build(cfg.model, "model")
    _check_optimizer(model)
    logger = _build_logger(cfg, resume_run_id)
    checkpoint_dir = Path(cfg.callbacks.model_checkpoint.dirpath)
    callbacks = [build(node, f"callbacks.{name}") for name, node in cfg.callbacks.items() if node]
    if logger is None:  # Lightning refuses an LR monitor with nothing to log to
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    callbacks += [ThroughputMonitor(), CheckpointOnInterrupt(checkpoint_dir)]
    trainer: L.Trainer = build(cfg.trainer, "trainer", callbacks=callbacks, logger=logger or False)
    _check_distributed(cfg, trainer)
    # Under DDP every process runs this function; only global rank 0 writes the MLflow run.
    run = (
        RunRecorder(logger, cfg.logger.tracking_uri, log_model, registered_name)
        if isinstance(logger, MLFlowLogger) and rank_zero_only.rank == 0
        else None
    )
    if run is not None:
        run.start(cfg, checkpoint_dir, resumed=resume_run_id is not None)

    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=resume_ckpt)
        best_val_acc = _evaluate(trainer, model, datamodule, run)
    except BaseException as error:
        interrupted = isinstance(error, KeyboardInterrupt | SystemExit)
        if run is not None:
            run.fail("KILLED" if interrupted else "FAILED", checkpoint_dir, model.history)
        if interrupted:
            by_sigterm = isinstance(error, SIGTERMException)
            resume = (
                f"resume_run={run.run_id}" if run else f"ckpt_path={checkpoint_dir / 'last.ckpt'}"
            )
            raise TrainingInterrupted(
                f"Training stopped by {'SIGTERM' if by_sigterm else 'Ctrl-C'}; last.ckpt is in "
                f"{checkpoint_dir}; continue with `python scripts/train.py {resume}`.",
                exit_code=143 if by_sigterm else 130,
            ) from error
        raise
    if run is not None and run.model_error and run.registered_name:
        # Asked for explicitly, so a failure fails the command; the run itself is complete.
        raise UserError(
            f"Run {run.run_id} finished, but registering its model failed ({run.model_error}); "
            f"retry with `python scripts/register.py run_id={run.run_id}`."
        )
    return best_val_acc


def _print_lightning_logs_once() -> None:
    # `import lightning` gives its logger a console handler of its own; when Hydra has already
    # put one on the root logger, every Lightning message would be printed twice.
    if logging.getLogger().handlers:
        package_logger = logging.getLogger("lightning")
        for handler in list(package_logger.handlers):
            package_logger.removeHandler(handler)


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


def _check_optimizer(model: DigitClassifier) -> None:
    # Building the optimizer once here turns a bad value (lr=-1, lr=abc) into a clear message
    # before any run is created, instead of a traceback from inside Trainer.fit.
    try:
        model.optimizer_factory(model.parameters())
    except (TypeError, ValueError) as err:
        raise UserError(f"model.optimizer has a bad value: {err}") from err


def _check_distributed(cfg: DictConfig, trainer: L.Trainer) -> None:
    """Refuse, before any run starts, distributed set-ups that would fail halfway: a Hydra
    multirun under DDP's script launcher, and synchronised batch norm on CPUs."""
    strategy = trainer.strategy
    if cfg.trainer.get("sync_batchnorm") and strategy.root_device.type == "cpu":
        raise UserError(
            "trainer.sync_batchnorm=true needs GPUs (PyTorch's SyncBatchNorm does not run on "
            "CPUs); drop it for CPU training."
        )
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


def _model_logging(cfg: DictConfig) -> tuple[bool, str | None]:
    """Whether to log the best checkpoint as an MLflow model, and the registry name to use."""
    if not cfg.get("register_model"):
        return bool(cfg.get("log_model")), None
    if not cfg.get("logger"):
        raise UserError("register_model=true needs the MLflow logger; drop logger=none.")
    name = cfg.get("registered_model_name")
    if not name or not str(name).strip():
        raise UserError("register_model=true needs a registered_model_name.")
    return True, str(name)


def _resume_point(cfg: DictConfig) -> tuple[str | None, str | None]:
    """The checkpoint to continue from and, for ``resume_run``, the MLflow run to continue."""
    run_id = cfg.get("resume_run")
    ckpt_path = cfg.get("ckpt_path")
    if run_id:
        if not cfg.get("logger"):
            raise UserError(
                "resume_run needs the MLflow logger; drop logger=none or use ckpt_path."
            )
        run = tracking.get_run(cfg.logger.tracking_uri, run_id)
        checkpoint_dir = run.data.tags.get("checkpoint_dir")
        if not checkpoint_dir or not (Path(checkpoint_dir) / "last.ckpt").is_file():
            raise UserError(
                f"Run {run_id} has no last.ckpt on this machine (looked in {checkpoint_dir}); "
                "pass ckpt_path=PATH to a checkpoint instead."
            )
        with open_dict(cfg):
            cfg.callbacks.model_checkpoint.dirpath = checkpoint_dir
        ckpt_path = str(Path(checkpoint_dir) / "last.ckpt")
    if ckpt_path and not Path(ckpt_path).is_file():
        raise UserError(f"ckpt_path={ckpt_path} does not exist; give the path of a .ckpt file.")
    return ckpt_path, run_id


def _build_logger(cfg: DictConfig, run_id: str | None) -> Logger | None:
    node = cfg.get("logger")
    if not node:
        return None
    location = None
    # An MLflow logger gets its store prepared; another Lightning logger passes straight through.
    if node.get("tracking_uri"):
        location = tracking.prepare_store(node.tracking_uri, node.get("artifact_location"))
        tracking.ensure_experiment(node.tracking_uri, node.experiment_name, location)
    tags = {**(node.get("tags") or {}), **_run_tags(cfg)}
    return build(
        node,
        "logger",
        run_name=node.get("run_name") or tracking.make_run_name(_model_choice(cfg)),
        tags=tags,
        run_id=run_id,
        artifact_location=location,
    )


def _run_tags(cfg: DictConfig) -> dict[str, str]:
    tags = {
        "model": _model_choice(cfg),
        "net": str(cfg.model.net.name),
        "data": "MNIST",
        "seed": str(cfg.get("seed")),
        "git_commit": tracking.git_commit(cfg.paths.root_dir),
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


def _evaluate(
    trainer: L.Trainer,
    model: DigitClassifier,
    datamodule: MNISTDataModule,
    run: "RunRecorder | None",
) -> float | None:
    """Test the best checkpoint once on the official test set and record metrics and figures."""
    fit = _fit_outcome(trainer, model)
    trainer.test(model, datamodule=datamodule, ckpt_path=fit.best_path or None)
    if run is not None:  # the model now holds the tested weights, on every process
        probabilities = _test_probabilities(model, datamodule)
        checkpoints = (fit.best_path, fit.last_path)
        run.finish(datamodule, probabilities, fit.history, checkpoints, fit.best_score)
    return fit.best_score


@dataclass
class FitOutcome:
    best_path: str
    last_path: str
    best_score: float | None
    history: list[dict[str, float]]


def _fit_outcome(trainer: L.Trainer, model: DigitClassifier) -> FitOutcome:
    """Checkpoints, best monitored score and epoch history of the fit that just ended.

    Read before testing: restoring the best checkpoint also restores the checkpoint callback's
    state and the model's (shorter) history. After ddp_spawn this process knows only the best
    path (the fit ran in worker processes); the rest is read back from the checkpoint files.
    """
    callback: ModelCheckpoint | None = trainer.checkpoint_callback  # type: ignore[assignment]
    history = list(model.history)
    if callback is None:
        return FitOutcome("", "", None, history)
    best_path, last_path = callback.best_model_path, callback.last_model_path
    score = callback.best_model_score
    if not last_path and callback.dirpath:
        saved = Path(callback.dirpath) / f"{callback.CHECKPOINT_NAME_LAST}{callback.FILE_EXTENSION}"
        last_path = str(saved) if saved.is_file() else ""
    if score is None and best_path:
        states = _load_checkpoint(best_path).get("callbacks", {})
        scores = [s.get("best_model_score") for k, s in states.items() if "ModelCheckpoint" in k]
        score = next((value for value in scores if value is not None), None)
    if not history and last_path:
        history = list(_load_checkpoint(last_path).get("epoch_history", []))
    return FitOutcome(best_path, last_path, float(score) if score is not None else None, history)


def _load_checkpoint(path: str) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)


@torch.inference_mode()
def _test_probabilities(model: DigitClassifier, datamodule: MNISTDataModule) -> torch.Tensor:
    """Probabilities for the whole test set, in order, computed by this process alone.

    (``trainer.predict`` under DDP would give each process a strided share of the set.)
    """
    if datamodule.test_set is None:  # with ddp_spawn, only the worker processes set it up
        datamodule.setup("test")
    assert datamodule.test_set is not None
    model.eval()
    chunks = datamodule.test_set.images.split(datamodule.eval_batch_size)
    return torch.cat([model(chunk.to(model.device)).softmax(dim=1).cpu() for chunk in chunks])
