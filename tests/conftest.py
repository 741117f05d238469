from pathlib import Path

import pytest

from tests.helpers import make_tiny_mnist


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding small synthetic MNIST IDX files (600 train, 200 test)."""
    return make_tiny_mnist(tmp_path_factory.mktemp("tiny_mnist"))
