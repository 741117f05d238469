"""Every model config trains a step and round-trips its checkpoint; augmentation is train-only."""

from pathlib import Path

import lightning as L
import mlflow
import pytest
import torch

from digit_recognizer.data.datamodule import MNISTDataModule, random_affine
from digit_recognizer.model.checkpoints import load_classifier
from digit_recognizer.tracking.mlflow_model import log_checkpoint_as_model
from digit_recognizer.training.module import DigitClassifier
from digit_recognizer.training.train import train
from tests.helpers.configs import compose_train, fast_overrides
from tests.helpers.paths import CONFIG_DIR
from tests.helpers.stores import fresh_mlflow_run

MODELS = sorted(path.stem for path in (Path(CONFIG_DIR) / "model").glob("*.yaml"))


@pytest.mark.parametrize("model", MODELS)
def test_model_trains_and_round_trips_through_inference(
    model: str, tiny_mnist: Path, tmp_path: Path
) -> None:
    overrides = [
        *fast_overrides(tmp_path, tiny_mnist),
        f"model={model}",
        "logger=none",
        "trainer.limit_train_batches=2",
        "data.augment=true",
    ]
    assert train(compose_train(overrides)) is not None
    checkpoint = tmp_path / "out" / "checkpoints" / "last.ckpt"
    images = torch.randint(0, 256, (6, 1, 28, 28), dtype=torch.uint8)
    lightning_module = DigitClassifier.load_from_checkpoint(checkpoint, weights_only=True).eval()
    with torch.inference_mode():
        expected = lightning_module(images).softmax(dim=1)
    assert torch.allclose(load_classifier(checkpoint).predict(images), expected, atol=1e-5)

    # Every net also exports to the MLflow model (torch.export) that gets served.
    uri, run_id = fresh_mlflow_run(tmp_path)
    info = log_checkpoint_as_model(uri, run_id, checkpoint, images[:2])
    served = mlflow.pyfunc.load_model(info.model_uri).predict((images.float() / 255).numpy())
    assert torch.allclose(torch.from_numpy(served), expected, atol=1e-5)


def test_augmentation_keeps_shape_range_and_moves_pixels() -> None:
    torch.manual_seed(0)
    images = torch.zeros(16, 1, 28, 28, dtype=torch.uint8)
    images[:, :, 8:20, 12:16] = 255
    augmented = random_affine(images)
    assert augmented.shape == images.shape and augmented.dtype == torch.float32
    assert float(augmented.min()) >= 0 and float(augmented.max()) <= 1
    assert not torch.allclose(augmented, images.float() / 255)
    # Small transforms: most of the ink survives.
    assert float(augmented.sum() / (images.float() / 255).sum()) == pytest.approx(1, abs=0.25)


def test_augmentation_is_applied_to_training_batches_only(tiny_mnist: Path) -> None:
    data = MNISTDataModule(root=str(tiny_mnist), val_size=100, verify_md5=False, augment=True)
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    data.trainer = trainer
    data.setup()
    batch = next(iter(data.train_dataloader()))
    trainer.training = True
    images, labels = data.on_after_batch_transfer(batch, 0)
    assert images.dtype == torch.float32 and images.shape == batch[0].shape
    assert torch.equal(labels, batch[1])
    for stage in ("validating", "testing"):
        setattr(trainer, stage, True)
        unchanged = data.on_after_batch_transfer(batch, 0)
        assert unchanged[0] is batch[0]


def test_no_augmentation_by_default(tiny_mnist: Path) -> None:
    data = MNISTDataModule(root=str(tiny_mnist), val_size=100, verify_md5=False)
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    data.trainer = trainer
    data.setup()
    batch = next(iter(data.train_dataloader()))
    trainer.training = True
    assert data.on_after_batch_transfer(batch, 0)[0] is batch[0]
