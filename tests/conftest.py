from pathlib import Path

import pytest

from tests.helpers.data import make_tiny_mnist


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding small synthetic MNIST IDX files (600 train, 200 test)."""
    return make_tiny_mnist(tmp_path_factory.mktemp("tiny_mnist"))


@pytest.fixture(scope="session")
def trained_store(tiny_mnist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder whose MLflow store holds two finished tiny runs: a good one, a poor one."""
    from digit_recognizer.training.train import train
    from tests.helpers.configs import compose_train, fast_overrides

    workdir = tmp_path_factory.mktemp("trained_store")
    for name, lr in (("good", "5e-3"), ("poor", "1e-6")):
        overrides = [
            *fast_overrides(workdir, tiny_mnist),
            f"paths.output_dir={workdir}/{name}",
            "trainer.max_epochs=2",
            f"model.optimizer.lr={lr}",
            f"logger.run_name={name}",
        ]
        train(compose_train(overrides))
    return workdir


@pytest.fixture(scope="session")
def tiny_checkpoint(trained_store: Path) -> Path:
    return trained_store / "good" / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="session")
def real_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SeedCNN after one epoch on the full 55,000 training images (about 98% accurate), with
    the batch augmentation: a one-epoch fp32 model without it is erratic on shifted digits."""
    from digit_recognizer.training.train import train
    from tests.helpers.configs import compose_train, real_mnist_overrides
    from tests.helpers.paths import HAS_REAL_MNIST, SHARED_DATA

    if not HAS_REAL_MNIST:
        pytest.skip(f"no MNIST copy at {SHARED_DATA}")
    workdir = tmp_path_factory.mktemp("real_model")
    overrides = [
        *real_mnist_overrides(workdir),
        "data.verify_md5=true",
        "data.robust_size=100",  # its robustness is scored in test_upload_quality, on test digits
    ]
    train(compose_train(overrides))
    folder = workdir / "out" / "checkpoints"
    return next(path for path in folder.glob("*.ckpt") if path.name != "last.ckpt")  # the best


@pytest.fixture
def heif_writer() -> None:
    """Lets a test write HEIC files; reading registers the format by itself (images/decode.py)."""
    from pillow_heif import register_heif_opener

    register_heif_opener()
