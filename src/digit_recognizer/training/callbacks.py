"""Training callbacks the pipeline always attaches: epoch history and a checkpoint on interrupt."""

import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException


class ThroughputMonitor(Callback):
    """Logs each epoch's wall time and training images per second (validation excluded)."""

    def __init__(self) -> None:
        self._started = 0.0
        self._train_seconds = 0.0
        self._images = 0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._started = time.perf_counter()
        self._train_seconds = 0.0
        self._images = 0

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self._images += len(batch[1])

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking and self._train_seconds == 0.0:
            self._train_seconds = time.perf_counter() - self._started

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch_seconds = time.perf_counter() - self._started
        train_seconds = self._train_seconds or epoch_seconds
        # Under DDP: the slowest process's time, and the images of all processes together.
        pl_module.log("perf/epoch_seconds", epoch_seconds, sync_dist=True, reduce_fx="max")
        rate = self._images / max(train_seconds, 1e-9)
        pl_module.log("perf/train_images_per_sec", rate, sync_dist=True, reduce_fx="sum")


class CheckpointOnInterrupt(Callback):
    """Writes ``last.ckpt`` when fitting is stopped by Ctrl-C or SIGTERM, so it can be resumed."""

    def __init__(self, dirpath: str | Path, filename: str = "last.ckpt") -> None:
        self.path = Path(dirpath) / filename

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        interrupted = isinstance(exception, KeyboardInterrupt | SIGTERMException)
        if interrupted and trainer.state.fn == TrainerFn.FITTING:
            trainer.save_checkpoint(self.path)
