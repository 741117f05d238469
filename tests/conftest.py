from pathlib import Path

import pytest

from tests.helpers import make_tiny_mnist


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding small synthetic MNIST IDX files (600 train, 200 test)."""
    return make_tiny_mnist(tmp_path_factory.mktemp("tiny_mnist"))


@pytest.fixture(scope="session")
def trained_store(tiny_mnist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder whose MLflow store holds two finished tiny runs: a good one, a poor one."""
    from digit_recognizer.training import train
    from tests.helpers import compose_train, fast_overrides

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
