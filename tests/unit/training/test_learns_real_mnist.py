"""Learning on the real MNIST files (skipped when no copy is available)."""

from pathlib import Path

import pytest

from digit_recognizer.training.train import train
from tests.helpers.configs import compose_train, fast_overrides
from tests.helpers.paths import HAS_REAL_MNIST, SHARED_DATA

needs_mnist = pytest.mark.skipif(not HAS_REAL_MNIST, reason=f"no MNIST copy at {SHARED_DATA}")


@needs_mnist
def test_one_epoch_on_10k_real_images_reaches_95_percent(tmp_path: Path) -> None:
    overrides = [
        *fast_overrides(tmp_path, SHARED_DATA),
        "data.verify_md5=true",
        "data.val_size=5000",
        "data.batch_size=64",
        "data.eval_batch_size=1000",
        "trainer.limit_train_batches=157",  # 157 x 64 = 10,048 training images
        "logger=none",
    ]
    assert train(compose_train(overrides)) >= 0.95
