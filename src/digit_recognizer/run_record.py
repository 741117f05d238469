"""Everything one training run leaves in MLflow: config, figures, checkpoints, the model."""

import logging
import shutil
import tempfile
from pathlib import Path

import torch
from lightning.pytorch.loggers import MLFlowLogger
from omegaconf import DictConfig, OmegaConf

from digit_recognizer import plots, tracking
from digit_recognizer.data import MNISTDataModule
from digit_recognizer.mlflow_model import log_checkpoint_as_model

log = logging.getLogger(__name__)


class RunRecorder:
    """Writes one training run's config, figures and checkpoints into its MLflow run."""

    def __init__(
        self,
        logger: MLFlowLogger,
        tracking_uri: str,
        log_model: bool = True,
        registered_name: str | None = None,
    ) -> None:
        self.logger = logger
        self.client = logger.experiment
        self.run_id: str = logger.run_id
        self.tracking_uri = tracking_uri
        self.log_model = log_model
        self.registered_name = registered_name
        self.model_error: str | None = None

    def start(self, cfg: DictConfig, checkpoint_dir: Path, resumed: bool) -> None:
        config = OmegaConf.to_container(cfg, resolve=True)
        assert isinstance(config, dict)
        params = tracking.flatten_config(config)
        if resumed:
            # MLflow refuses to change a logged param: keep the first values, record the new YAML.
            logged = self.client.get_run(self.run_id).data.params
            params = {key: value for key, value in params.items() if key not in logged}
            self.client.update_run(self.run_id, status="RUNNING")
        self.logger.log_hyperparams(params)
        self.client.log_text(self.run_id, OmegaConf.to_yaml(cfg, resolve=True), "config.yaml")
        self.client.set_tag(self.run_id, "checkpoint_dir", str(checkpoint_dir.resolve()))

    def finish(
        self,
        datamodule: MNISTDataModule,
        probabilities: torch.Tensor,
        history: list[dict[str, float]],
        checkpoints: tuple[str, str],
        best_val_acc: float | None,
    ) -> None:
        assert datamodule.test_set is not None
        labels, images = datamodule.test_set.labels, datamodule.test_set.images
        if best_val_acc is not None:
            self.client.log_metric(self.run_id, tracking.BEST_METRIC, best_val_acc)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            plots.plot_learning_curves(history, folder / "learning_curves.png")
            matrix = plots.confusion_matrix(labels, probabilities.argmax(dim=1))
            plots.plot_confusion_matrix(matrix, folder / "confusion_matrix.png")
            plots.plot_mistakes(images, labels, probabilities, folder / "mistakes.png")
            self.client.log_artifacts(self.run_id, str(folder), "plots")
        best_path, last_path = checkpoints
        self._log_checkpoint(best_path, "best.ckpt")
        self._log_checkpoint(last_path, "last.ckpt")
        if self.log_model and best_path:
            self._log_model(best_path, images[:2])  # two real test digits: the input example
        self.client.set_terminated(self.run_id, "FINISHED")

    def _log_model(self, checkpoint: str, examples: torch.Tensor) -> None:
        """Log (and maybe register) the MLflow model. A failure here leaves the trained run
        complete: it is tagged and kept in ``model_error`` for the caller to report."""
        try:
            log_checkpoint_as_model(
                self.tracking_uri, self.run_id, checkpoint, examples, self.registered_name
            )
        except Exception as err:
            self.model_error = f"{type(err).__name__}: {err}".splitlines()[0]
            log.error("Could not log the MLflow model of run %s: %s", self.run_id, err)
            self.client.set_tag(self.run_id, "mlflow_model_error", self.model_error[:500])

    def fail(self, status: str, checkpoint_dir: Path, history: list[dict[str, float]]) -> None:
        """Keep what the run learned so far and end it as KILLED or FAILED; never raises."""
        try:
            self._log_checkpoint(str(checkpoint_dir / "last.ckpt"), "last.ckpt")
            if history:
                with tempfile.TemporaryDirectory() as tmp:
                    path = plots.plot_learning_curves(history, Path(tmp) / "learning_curves.png")
                    self.client.log_artifact(self.run_id, str(path), "plots")
        except Exception as err:  # the original failure matters more than a lost artifact
            log.warning("Could not save artifacts of the stopped run: %s", err)
        try:
            self.client.set_terminated(self.run_id, status)
        except Exception as err:
            log.warning("Could not mark MLflow run %s as %s: %s", self.run_id, status, err)

    def _log_checkpoint(self, path: str, name: str) -> None:
        if not path or not Path(path).is_file():
            return
        with tempfile.TemporaryDirectory() as tmp:
            # Stable artifact names let predict.py find ``checkpoints/best.ckpt`` in any run.
            target = shutil.copy(path, Path(tmp) / name)
            self.client.log_artifact(self.run_id, target, tracking.CHECKPOINT_DIR)
