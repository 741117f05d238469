from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.servers import served


@pytest.fixture(scope="module")
def server(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """scripts/serve.py as a real uvicorn process on a free loopback port."""
    with served(tmp_path_factory.mktemp("serve"), f"ckpt={tiny_checkpoint}") as url:
        yield url
