"""trainer=ddp for real: two CPU processes (gloo) train one model and write one MLflow run."""

from pathlib import Path

import pytest
import torch

from digit_recognizer.data.datamodule import MNISTDataModule
from digit_recognizer.model.checkpoints import load_classifier
from tests.helpers.configs import fast_overrides
from tests.helpers.processes import run_script
from tests.helpers.stores import runs_of

DDP = [
    "trainer=ddp",
    "trainer.accelerator=cpu",
    "trainer.devices=2",
    # fp32 so that the single-process re-evaluation below computes exactly what the ranks did.
    "trainer.precision=32-true",
    "trainer.limit_train_batches=3",
]


def accuracy(checkpoint: Path, images: torch.Tensor, labels: torch.Tensor) -> float:
    predicted = load_classifier(checkpoint).predict(images).argmax(dim=1)
    return (predicted == labels).float().mean().item()


def test_two_process_ddp_training_writes_one_synchronised_run(
    tiny_mnist: Path, tmp_path: Path
) -> None:
    result = run_script(
        "train.py", [*fast_overrides(tmp_path, tiny_mnist, in_process=False), *DDP], tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]

    (run,) = runs_of(tmp_path)  # rank 1 logged nothing of its own
    assert run.info.status == "FINISHED"
    (run_dir,) = (tmp_path / "logs" / "runs").iterdir()  # rank 1 wrote into rank 0's folder
    checkpoints = sorted(path.name for path in (run_dir / "checkpoints").iterdir())
    assert len(checkpoints) == 2 and checkpoints[1] == "last.ckpt", checkpoints
    best = run_dir / "checkpoints" / checkpoints[0]

    data = MNISTDataModule(root=str(tiny_mnist), val_size=100, verify_md5=False)
    data.setup()
    assert data.val_set is not None and data.test_set is not None
    metrics = run.data.metrics
    for split, key in ((data.val_set, "val/acc"), (data.test_set, "test/acc")):
        whole = accuracy(best, split.images, split.labels)
        assert metrics[key] == pytest.approx(whole, abs=1e-6), key
        # Each rank saw every other image; a rank's own score would differ from the whole.
        shares = {accuracy(best, split.images[r::2], split.labels[r::2]) for r in (0, 1)}
        assert shares != {whole}, "the model is too good for this check to tell shares apart"
    assert metrics["perf/train_images_per_sec"] > 0


def test_multirun_refuses_ddp_with_a_hint(tiny_mnist: Path, tmp_path: Path) -> None:
    args = ["-m", *fast_overrides(tmp_path, tiny_mnist, in_process=False), *DDP, "seed=1,2"]
    refused = run_script("train.py", args, tmp_path)
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr and "torchrun" in refused.stderr
    assert runs_of(tmp_path) == []


def test_sync_batchnorm_on_cpu_is_refused_before_training(tiny_mnist: Path, tmp_path: Path) -> None:
    args = [
        *fast_overrides(tmp_path, tiny_mnist, in_process=False),
        *DDP,
        "model=bn_cnn",
        "trainer.sync_batchnorm=true",
    ]
    result = run_script("train.py", args, tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "sync_batchnorm" in result.stderr
    assert runs_of(tmp_path) == []
