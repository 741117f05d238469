"""``DigitClassifier``: the LightningModule that trains, evaluates and predicts with a net."""

import inspect
from collections.abc import Callable
from functools import partial
from typing import Any

import lightning as L
import torch
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from digit_recognizer import progress
from digit_recognizer.labels import NUM_CLASSES
from digit_recognizer.model.calibration import (
    confidence_threshold,
    expected_calibration_error,
    fit_temperature,
    store_calibration,
)
from digit_recognizer.model.nets import build_net
from digit_recognizer.model.probabilities import MNIST_MEAN, MNIST_STD, ProbabilityNet

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., torch.optim.lr_scheduler.LRScheduler]


class DigitClassifier(L.LightningModule):
    """Classify 1x28x28 digits with the registered net described by ``net`` (name + arguments).

    The checkpoint's hyperparameters hold only plain values (net description, normalisation,
    loss settings), so ``model.checkpoints`` rebuilds the net from a checkpoint alone.
    """

    def __init__(
        self,
        net: dict[str, Any],
        optimizer: OptimizerFactory | None = None,
        scheduler: SchedulerFactory | None = None,
        scheduler_interval: str = "epoch",
        label_smoothing: float = 0.0,
        input_mean: float = MNIST_MEAN,
        input_std: float = MNIST_STD,
        channels_last: bool = False,
        temperature: float = 1.0,
        min_confidence: float = 0.0,
    ) -> None:
        super().__init__()
        # Optimizer and scheduler are Hydra partials (code, not data): the resolved config records them.
        self.save_hyperparameters(ignore=["optimizer", "scheduler"], logger=False)
        # NHWC suits oneDNN's CPU convolutions (and tensor cores): a large speed-up at no accuracy cost.
        self.net = ProbabilityNet(
            build_net(**net), input_mean, input_std, channels_last, temperature
        )
        self.optimizer_factory = optimizer or partial(torch.optim.Adam, lr=1e-3)
        self.scheduler_factory = scheduler
        self.criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        # Per-epoch metrics of training, for the learning curves; kept in checkpoints for resumes.
        self.history: list[dict[str, float]] = []
        self._train_totals = torch.zeros(3)  # loss sum, correct, seen
        self.val_acc = MulticlassAccuracy(num_classes=NUM_CLASSES, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes=NUM_CLASSES, average="micro")
        # Lets Lightning's model summary show each layer's sizes and real FLOPs.
        self.example_input_array = torch.zeros(2, 1, 28, 28, dtype=torch.uint8)
        # The test set's logits and calibrated probabilities, in order, from the one test pass
        # (for the run's figures).
        self.test_logits: torch.Tensor | None = None
        self.test_probabilities: torch.Tensor | None = None
        self._test_chunks: list[tuple[torch.Tensor, torch.Tensor]] = []
        # Scores computed once before the test pass (calibration, robustness), logged with it.
        self._final_metrics: dict[str, float] = {}

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of uint8 (0-255) or [0, 1] float images."""
        return self.net.logits(images)

    def _shared_step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        images, labels = batch
        logits = self(images)
        loss = self.criterion(logits, labels)
        accuracy = getattr(self, f"{stage}_acc")
        accuracy(logits[:, :NUM_CLASSES], labels)  # the digit it would answer
        # sync_dist: the mean over all processes under DDP (nothing to do on one device).
        self.log(f"{stage}/loss", loss, on_step=False, on_epoch=True, prog_bar=True, sync_dist=True)
        self.log(f"{stage}/acc", accuracy, on_step=False, on_epoch=True, prog_bar=True)
        return logits

    def on_train_epoch_start(self) -> None:
        self._train_totals = torch.zeros(3, device=self.device)

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        images, labels = batch
        logits = self(images)
        loss = self.criterion(logits, labels)
        # Running sums logged once per epoch: logging and metric objects on every step are a
        # sizeable share of a small net's step (docs/performance.md).
        correct = (logits.argmax(dim=1) == labels).sum().float()
        seen = loss.new_tensor(float(len(labels)))
        self._train_totals.add_(torch.stack([loss.detach().float() * seen, correct, seen]))
        return loss

    def on_train_epoch_end(self) -> None:
        # Summed over all processes under DDP (identity on one device): exact epoch means.
        totals = self.trainer.strategy.reduce(self._train_totals, reduce_op="sum")
        loss_sum, correct, seen = totals.clamp(min=1e-12).unbind()
        # Equal on every process already; sync_dist only tells Lightning so.
        self.log("train/loss", loss_sum / seen, prog_bar=True, sync_dist=True)
        self.log("train/acc", correct / seen, prog_bar=True, sync_dist=True)
        # Validation already ran this epoch and callbacks logged perf/*: record the whole row.
        row = {key: float(value) for key, value in self.trainer.callback_metrics.items()}
        self.history.append({**row, "epoch": self.current_epoch})

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["epoch_history"] = self.history

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.history = list(checkpoint.get("epoch_history", []))

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._shared_step(batch, "val")

    def on_test_start(self) -> None:
        """With the weights about to be tested (the best checkpoint): score robustness and fit
        the temperature on the validation split, so the test set is scored once, calibrated.
        Every process works on the whole split: all get the same values."""
        datamodule = getattr(self.trainer, "datamodule", None)
        val_set = getattr(datamodule, "val_set", None)
        if val_set is None or len(val_set) == 0:
            return
        count = self._validation_images(datamodule, len(val_set))
        # Lightning's bar is on the screen: these phases are lines of it.
        with progress.within(getattr(self.trainer.progress_bar_callback, "progress", None)):
            styled = self._styled_logits(datamodule, count)
            self._final_metrics = self._robustness(styled)
            with progress.bar("calibrating confidence on validation digits", 1) as advance:
                self._calibrate(val_set.images[:count], val_set.labels[:count], styled)
                advance(1)

    def _validation_images(self, datamodule: Any, available: int) -> int:
        """How many validation digits the final scores use: as many as validation itself saw
        (``trainer.limit_val_batches`` makes a quick run quick to finish too)."""
        limit = self.trainer.limit_val_batches
        if isinstance(limit, int) and limit > 0:
            batch = int(getattr(datamodule, "eval_batch_size", available))
            return min(available, limit * batch)
        if isinstance(limit, float) and 0.0 < limit < 1.0:
            return max(1, round(limit * available))
        return available

    def _styled_logits(
        self, datamodule: Any, count: int
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """The net's logits for (at most ``count``) validation digits re-drawn in each of
        people's styles, with their labels; nothing if the data module has no such sets."""
        sets = datamodule.robustness_sets() if hasattr(datamodule, "robustness_sets") else {}
        scored = progress.tracked(
            sets.items(), "scoring validation digits in people's styles", len(sets)
        )
        return {
            style: (self._logits_of(styled.images[:count]), styled.labels[:count].cpu())
            for style, styled in scored
        }

    @staticmethod
    def _robustness(styled: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> dict[str, float]:
        """Accuracy in each style (``val/robust/<style>``) and the mean over styles
        (``val/robust``)."""
        scores = {
            f"val/robust/{style}": float(
                (logits[:, :NUM_CLASSES].argmax(1) == labels).float().mean()
            )
            for style, (logits, labels) in styled.items()
        }
        if scores:
            scores["val/robust"] = sum(scores.values()) / len(scores)
        return scores

    def _calibrate(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        styled: dict[str, tuple[torch.Tensor, torch.Tensor]],
    ) -> None:
        """Fit the temperature on validation digits, choose the "not a digit" threshold (the
        confidence that still answers 99.5% of them, clean and in every one of people's
        styles, so that a real digit in an unusual hand is answered), and write both into
        the best checkpoint."""
        logits = self._logits_of(images)
        labels = labels.to(logits.device)
        temperature = fit_temperature(logits, labels)
        calibrated = (logits / temperature).softmax(dim=1)[:, :NUM_CLASSES]
        everyone = torch.cat([logits, *(styled_logits for styled_logits, _ in styled.values())])
        min_confidence = confidence_threshold(
            (everyone / temperature).softmax(dim=1)[:, :NUM_CLASSES]
        )
        self._final_metrics |= {
            "val/ece_uncalibrated": expected_calibration_error(
                logits.softmax(dim=1)[:, :NUM_CLASSES], labels
            ),
            "val/ece": expected_calibration_error(calibrated, labels),
            "temperature": temperature,
            "min_confidence": min_confidence,
        }
        self.net.temperature = temperature
        # In every checkpoint saved from now on.
        self.hparams.temperature, self.hparams.min_confidence = temperature, min_confidence
        best = getattr(self.trainer.checkpoint_callback, "best_model_path", "")
        if self.trainer.is_global_zero and best:  # the weights they were fitted for; last.ckpt
            # stays as trained, for resuming.
            store_calibration(best, temperature=temperature, min_confidence=min_confidence)

    @torch.inference_mode()
    def _logits_of(self, images: torch.Tensor) -> torch.Tensor:
        was_training = self.training
        self.eval()
        with self.trainer.precision_plugin.forward_context():  # as the test pass computes them
            chunks = [self(chunk.to(self.device)).float() for chunk in images.split(1000)]
        self.train(was_training)
        return torch.cat(chunks).cpu()

    def on_test_epoch_start(self) -> None:
        self._test_chunks = []

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        logits = self._shared_step(batch, "test")
        self._test_chunks.append((logits.float().cpu(), batch[1].cpu()))

    def on_test_epoch_end(self) -> None:
        chunks, self._test_chunks = self._test_chunks, []
        outputs = self.hparams.net.get("num_classes", NUM_CLASSES)
        logits = torch.cat([c[0] for c in chunks]) if chunks else torch.empty(0, outputs)
        labels = torch.cat([c[1] for c in chunks]) if chunks else torch.empty(0, dtype=torch.long)
        world = self.trainer.world_size
        if world > 1:
            # Under DDP rank r scored images r, r + W, r + 2W, ... (UnrepeatedDistributedSampler):
            # gather the shares and interleave them back into the test set's order.
            shares: list[Any] = [None] * world
            torch.distributed.all_gather_object(shares, (logits, labels))
            count = sum(len(part[1]) for part in shares)
            logits, labels = torch.empty(count, outputs), torch.empty(count, dtype=torch.long)
            for rank, (part_logits, part_labels) in enumerate(shares):
                logits[rank::world], labels[rank::world] = part_logits, part_labels
        self.test_logits = logits
        self.test_probabilities = (logits / self.net.temperature).softmax(dim=1)[:, :NUM_CLASSES]
        if self._final_metrics and len(labels):
            self._final_metrics["test/ece_uncalibrated"] = expected_calibration_error(
                logits.softmax(dim=1)[:, :NUM_CLASSES], labels
            )
            self._final_metrics["test/ece"] = expected_calibration_error(
                self.test_probabilities, labels
            )
            # How the "not a digit" threshold fares on real digits it never saw.
            confidence, predicted = self.test_probabilities.max(dim=1)
            answered = confidence >= self._final_metrics.get("min_confidence", 0.0)
            self._final_metrics["test/answered"] = float(answered.float().mean())
            if answered.any():
                right = (predicted[answered] == labels[answered]).float().mean()
                self._final_metrics["test/acc_answered"] = float(right)
        for name, value in self._final_metrics.items():
            self.log(name, value, sync_dist=True)  # equal on every process already

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """Class probabilities, shape (B, 10); the batch may carry labels, which are ignored."""
        images = batch[0] if isinstance(batch, list | tuple) else batch
        return self.net(images)

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        interval = self.hparams.scheduler_interval
        scheduler = self.scheduler_factory(optimizer, **self._schedule_length(interval))
        return {
            "optimizer": optimizer,
            # One name whatever the optimizer ("lr", not lr-Adam and lr-AdamW): runs compare.
            "lr_scheduler": {"scheduler": scheduler, "interval": interval, "name": "lr"},
        }

    def _schedule_length(self, interval: str) -> dict[str, int]:
        """Fill the run length a scheduler needs (OneCycle's total_steps, cosine's T_max) if unset."""
        factory = self.scheduler_factory
        given = factory.keywords if isinstance(factory, partial) else {}
        target = factory.func if isinstance(factory, partial) else factory
        parameters = inspect.signature(target).parameters
        steps = (
            int(self.trainer.estimated_stepping_batches)
            if interval == "step"
            else int(self.trainer.max_epochs)
        )
        lengths = {
            name: max(1, steps)
            for name in ("total_steps", "T_max")
            if name in parameters and name not in given
        }
        if "total_steps" in lengths and "pct_start" in parameters:
            # One-cycle divides by the length of its warm-up, pct_start x total_steps - 1
            # steps: a run that long exactly (4 steps at 0.25) gets a cycle one step longer.
            pct = given.get("pct_start", parameters["pct_start"].default)
            if float(pct * lengths["total_steps"]) - 1 == 0:
                lengths["total_steps"] += 1
        return lengths
