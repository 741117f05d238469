"""One owner of a training run's MLflow record: the ``RunRecorder`` callback.

It opens the run when fitting starts (params, tags, ``config.yaml``), and ends it: FINISHED only
after the figures, both checkpoints and the model are in the store; KILLED on Ctrl-C/SIGTERM,
FAILED on any other exception. Lightning's logger only writes metrics (``RunLogger``).
"""

import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.loggers import MLFlowLogger
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities.exceptions import SIGTERMException

from digit_recognizer import progress
from digit_recognizer.evaluation import plots
from digit_recognizer.tracking.descriptions import describe_run
from digit_recognizer.tracking.mlflow_model import log_checkpoint_as_model
from digit_recognizer.tracking.selection import BEST_METRIC, CHECKPOINT_DIR
from digit_recognizer.tracking.stale import HOST_TAG, PID_TAG, PROCESS_START_TAG, process_start

log = logging.getLogger(__name__)


class RunLogger(MLFlowLogger):
    """Lightning's MLflow logger that writes metrics and nothing else about the run's life.

    Metrics are logged at step = the epoch's number, 1 to N as ``learning_curves.png`` counts
    them (runs of any batch size line up in the UI); the final scores (test, calibration,
    robustness) at the last epoch's step, where the logged model points. ``epoch`` is logged
    once per step, as the number of epochs done. Values lose the float32 noise of tensors
    (0.9918, not 0.9918000102043152).
    """

    def __init__(self, *args: Any, tags: dict[str, Any] | None = None, **kwargs: Any) -> None:
        # Lightning creates the run before the data is set up (minutes, when training pools are
        # first drawn): a run records who writes it from its creation, so a process killed in
        # that window leaves a run that shows as stale, not one RUNNING for ever.
        super().__init__(*args, tags={**(tags or {}), **_process_tags()}, **kwargs)
        self.step = 0  # the epoch being trained, counted from 1; kept current by RunRecorder
        self.finished_training = False  # set by RunRecorder: later metrics are final scores
        self.on_created: Callable[[], None] | None = None  # called once the run exists
        self._epoch_logged_at: int | None = None

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        created = self._initialized
        client = super().experiment
        if not created and self.on_created is not None:
            self.on_created()
        return client

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        metrics = dict(metrics)
        # Lightning adds the (0-based) epoch to epoch-level metrics: the epoch in training,
        # the number of epochs done with the final scores. The LR monitor's come without one.
        if "epoch" in metrics:
            epoch = int(metrics.pop("epoch"))
            self.step = epoch if self.finished_training else epoch + 1
            if self._epoch_logged_at != self.step:
                metrics["epoch"] = self._epoch_logged_at = self.step
        super().log_metrics({k: _shortest(v) for k, v in metrics.items()}, step=self.step)

    def finalize(self, status: str = "success") -> None:
        # Lightning calls this after fit and after test: too early to call a run FINISHED.
        # The RunRecorder sets the status once everything is stored.
        return


def _shortest(value: Any) -> Any:
    """The shortest decimal that rounds to the same float32: what the tensor actually held."""
    if isinstance(value, float) and np.isfinite(value):
        return float(str(np.float32(value)))
    return value


class RunRecorder(Callback):
    """Writes one training run into MLflow and decides its final status (global rank 0 only)."""

    def __init__(
        self,
        logger: RunLogger,
        tracking_uri: str,
        params: dict[str, Any],
        tags: dict[str, str],
        config_yaml: str,
        log_model: bool = True,
        registered_name: str | None = None,
    ) -> None:
        self.logger, self.tracking_uri = logger, tracking_uri
        self.params, self.tags, self.config_yaml = params, tags, config_yaml
        self.log_model, self.registered_name = log_model, registered_name
        self.model_error: str | None = None
        self.started = False
        self.history: list[dict[str, float]] = []
        self.best_score: float | None = None
        self._checkpoints = ("", "")
        # Params are on record from the moment the run exists, before minutes of data set-up.
        logger.on_created = self.start

    @property
    def run_id(self) -> str:
        return self.logger.run_id  # type: ignore[return-value]

    def start(self) -> None:
        """Open (or reopen) the run and record what ran: params, tags, the resolved YAML."""
        if self.started:
            return
        self.started = True
        client = self.logger.experiment
        logged = client.get_run(self.run_id).data.params
        # MLflow keeps a param's first value: a resumed run records changes in config.yaml.
        fresh = {key: value for key, value in self.params.items() if key not in logged}
        client.update_run(self.run_id, status="RUNNING")
        client.log_batch(
            self.run_id,
            params=[_param(key, value) for key, value in fresh.items()],
            tags=[_tag(key, value) for key, value in {**self.tags, **_process_tags()}.items()],
        )
        client.log_text(self.run_id, self.config_yaml, "config.yaml")

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            self.start()

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.logger.step = trainer.current_epoch + 1

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.logger.finished_training = True
        # Read now: testing the best checkpoint restores its (shorter) history and callback state.
        self.history = list(getattr(pl_module, "history", []))
        callback = trainer.checkpoint_callback
        if isinstance(callback, ModelCheckpoint):
            self._checkpoints = (callback.best_model_path, callback.last_model_path)
            score = callback.best_model_score
            self.best_score = float(score) if score is not None else None

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        probabilities = getattr(pl_module, "test_probabilities", None)
        datamodule = trainer.datamodule  # type: ignore[attr-defined]
        logits = getattr(pl_module, "test_logits", None)
        temperature = float(getattr(getattr(pl_module, "net", None), "temperature", 1.0))
        with progress.within(getattr(trainer.progress_bar_callback, "progress", None)):
            self.finish(
                datamodule.test_set.images,
                datamodule.test_set.labels,
                probabilities,
                (logits, temperature) if logits is not None else None,
            )

    def finish(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        probabilities: torch.Tensor | None,
        calibration: tuple[torch.Tensor, float] | None = None,
    ) -> None:
        """Store the run's results, then (and only then) mark it FINISHED. ``calibration``:
        the test logits and the fitted temperature, for ``plots/calibration.png``."""
        client = self.logger.experiment
        steps = 3 + int(bool(self.log_model and self._checkpoints[0]))
        with progress.bar("storing the run in MLflow", steps) as advance:
            self._store(client, images, labels, probabilities, calibration, advance)
        client.set_terminated(self.run_id, "FINISHED")

    def _store(
        self,
        client: Any,
        images: torch.Tensor,
        labels: torch.Tensor,
        probabilities: torch.Tensor | None,
        calibration: tuple[torch.Tensor, float] | None,
        advance: Callable[[int], None],
    ) -> None:
        """The run's results: its best score, plots, checkpoints, model and description."""
        if self.best_score is not None:
            client.log_metric(
                self.run_id, BEST_METRIC, _shortest(self.best_score), step=self.logger.step
            )
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            plots.plot_learning_curves(self.history, folder / "learning_curves.png")
            if probabilities is not None and len(probabilities) == len(labels):
                matrix = plots.confusion_matrix(labels.cpu(), probabilities.argmax(dim=1))
                plots.plot_confusion_matrix(matrix, folder / "confusion_matrix.png")
                plots.plot_mistakes(
                    images.cpu(), labels.cpu(), probabilities, folder / "mistakes.png"
                )
            if calibration is not None and len(calibration[0]) == len(labels):
                logits, temperature = calibration
                plots.plot_calibration(
                    logits, labels.cpu(), temperature, folder / "calibration.png"
                )
            client.log_artifacts(self.run_id, str(folder), "plots")
        advance(1)
        best_path, last_path = self._checkpoints
        self._log_checkpoint(best_path, "best.ckpt")
        self._log_checkpoint(last_path, "last.ckpt")
        advance(1)
        if self.log_model and best_path:
            self._log_model(best_path, images[:2].cpu())  # two real test digits: the input example
            advance(1)
        describe_run(client, self.run_id)
        advance(1)

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        if not trainer.is_global_zero or not self.started:
            return  # nothing recorded yet: no run to end
        interrupted = isinstance(exception, KeyboardInterrupt | SIGTERMException | SystemExit)
        self.fail("KILLED" if interrupted else "FAILED", trainer, pl_module)

    def abandon(self, reason: str) -> None:
        """A run that could not start: record what was asked (params, tags, config) and end it
        FAILED with the reason; never raises."""
        try:
            if not self.started:
                self.start()
            self.logger.experiment.set_tag(self.run_id, "failed_reason", reason[:5000])
            self.logger.experiment.set_terminated(self.run_id, "FAILED")
        except Exception as err:  # the original mistake is what the user must see
            log.warning("Could not mark the MLflow run FAILED: %s", err)

    def fail(self, status: str, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Keep what the run learned so far and end it as KILLED or FAILED; never raises."""
        client = self.logger.experiment
        try:
            callback = trainer.checkpoint_callback
            folder = getattr(callback, "dirpath", None)
            if folder:
                self._log_checkpoint(str(Path(folder) / "last.ckpt"), "last.ckpt")
            history = getattr(pl_module, "history", [])
            if history:
                with tempfile.TemporaryDirectory() as tmp:
                    path = plots.plot_learning_curves(history, Path(tmp) / "learning_curves.png")
                    client.log_artifact(self.run_id, str(path), "plots")
        except Exception as err:  # the original failure matters more than a lost artifact
            log.warning("Could not save artifacts of the stopped run: %s", err)
        try:
            client.set_terminated(self.run_id, status)
        except Exception as err:
            log.warning("Could not mark MLflow run %s as %s: %s", self.run_id, status, err)

    def _log_model(self, checkpoint: str, examples: torch.Tensor) -> None:
        """Log (and maybe register) the MLflow model. A failure here leaves the trained run
        complete: it is tagged and kept in ``model_error`` for the caller to report."""
        try:
            log_checkpoint_as_model(
                self.tracking_uri,
                self.run_id,
                checkpoint,
                examples,
                self.registered_name,
                step=self.logger.step,
            )
        except Exception as err:
            self.model_error = f"{type(err).__name__}: {err}".splitlines()[0]
            log.error("Could not log the MLflow model of run %s: %s", self.run_id, err)
            self.logger.experiment.set_tag(
                self.run_id, "mlflow_model_error", self.model_error[:500]
            )

    def _log_checkpoint(self, path: str, name: str) -> None:
        if not path or not Path(path).is_file():
            return
        with tempfile.TemporaryDirectory() as tmp:
            # Stable artifact names let predict.py find ``checkpoints/best.ckpt`` in any run.
            target = shutil.copy(path, Path(tmp) / name)
            self.logger.experiment.log_artifact(self.run_id, target, CHECKPOINT_DIR)


def _process_tags() -> dict[str, str]:
    """Who is writing the run: a RUNNING run whose process is gone can be told from a live one."""
    return {
        HOST_TAG: socket.gethostname(),
        PID_TAG: str(os.getpid()),
        PROCESS_START_TAG: process_start(os.getpid()) or "",
    }


def _param(key: str, value: Any) -> Any:
    from mlflow.entities import Param

    return Param(key, str(value)[:6000])


def _tag(key: str, value: Any) -> Any:
    from mlflow.entities import RunTag

    return RunTag(key, str(value)[:5000])
