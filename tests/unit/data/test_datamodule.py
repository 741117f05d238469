import gzip
import http.server
import threading
from functools import partial
from pathlib import Path

import pytest
import torch

from digit_recognizer.data.datamodule import MNISTDataModule
from digit_recognizer.data.mnist_files import MNIST_MD5, read_idx
from digit_recognizer.errors import UserError
from digit_recognizer.training.train import train
from tests.helpers.configs import compose_train, fast_overrides
from tests.helpers.data import make_tiny_mnist, write_idx
from tests.helpers.paths import HAS_REAL_MNIST, SHARED_DATA
from tests.helpers.servers import free_port


def test_read_idx_round_trips_shape_and_values(tmp_path: Path) -> None:
    data = torch.arange(2 * 3 * 4, dtype=torch.uint8).reshape(2, 3, 4)
    assert torch.equal(read_idx(write_idx(tmp_path / "x-idx3-ubyte", data), None, True), data)


def test_datamodule_splits_and_types(tiny_mnist: Path) -> None:
    dm = MNISTDataModule(root=str(tiny_mnist), val_size=100, batch_size=32, verify_md5=False)
    dm.setup()
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (500, 100, 200)
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (32, 1, 28, 28)
    assert images.dtype == torch.uint8 and labels.dtype == torch.int64
    assert int(images.min()) >= 0 and int(images.max()) <= 255
    assert int(labels.min()) >= 0 and int(labels.max()) <= 9


def test_split_is_seeded_and_disjoint(tiny_mnist: Path) -> None:
    def val_images(seed: int) -> torch.Tensor:
        dm = MNISTDataModule(root=str(tiny_mnist), val_size=100, split_seed=seed, verify_md5=False)
        dm.setup("fit")
        return dm.val_set.images

    assert torch.equal(val_images(1), val_images(1))
    assert not torch.equal(val_images(1), val_images(2))
    dm = MNISTDataModule(root=str(tiny_mnist), val_size=100, verify_md5=False)
    dm.setup("fit")
    train_rows = {row.numpy().tobytes() for row in dm.train_set.images}
    assert not any(row.numpy().tobytes() in train_rows for row in dm.val_set.images)


def test_last_batch_is_kept(tiny_mnist: Path) -> None:
    dm = MNISTDataModule(root=str(tiny_mnist), val_size=100, batch_size=64, verify_md5=False)
    dm.setup("fit")
    assert sum(len(labels) for _, labels in dm.train_dataloader()) == 500


def test_missing_files_say_how_to_fix_it(tmp_path: Path) -> None:
    dm = MNISTDataModule(root=str(tmp_path), download=False)
    with pytest.raises(UserError, match=r"data\.root.*MNIST_ROOT.*data\.download=true"):
        dm.setup()


def _corrupt(root: Path, name: str, payload: bytes) -> MNISTDataModule:
    (root / "MNIST" / "raw" / name).write_bytes(payload)
    return MNISTDataModule(root=str(root), val_size=100, verify_md5=False)


def test_wrong_magic_is_reported(tmp_path: Path) -> None:
    dm = _corrupt(make_tiny_mnist(tmp_path), "train-images-idx3-ubyte", b"PK\x03\x04garbage")
    with pytest.raises(UserError, match="bad magic number"):
        dm.setup()


def test_truncated_file_is_reported(tmp_path: Path) -> None:
    root = make_tiny_mnist(tmp_path)
    path = root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    dm = _corrupt(root, path.name, path.read_bytes()[:-100])
    with pytest.raises(UserError, match="truncated or corrupt"):
        dm.setup()


def test_mismatched_label_count_is_reported(tmp_path: Path) -> None:
    root = make_tiny_mnist(tmp_path)
    write_idx(root / "MNIST" / "raw" / "train-labels-idx1-ubyte", torch.zeros(7, dtype=torch.uint8))
    with pytest.raises(UserError, match="do not belong together"):
        MNISTDataModule(root=str(root), val_size=100, verify_md5=False).setup()


def test_md5_mismatch_is_reported(tiny_mnist: Path) -> None:
    # The tiny files are valid IDX but not the official ones, so the official sums reject them.
    with pytest.raises(UserError, match="md5 mismatch"):
        MNISTDataModule(root=str(tiny_mnist), val_size=100, verify_md5=True).setup()


@pytest.mark.parametrize("value", [0, -5, 2.5])
def test_bad_batch_size_is_a_user_error(value: object) -> None:
    with pytest.raises(UserError, match=r"data\.batch_size"):
        MNISTDataModule(batch_size=value)  # type: ignore[arg-type]


@pytest.fixture()
def local_mirror(tmp_path: Path):
    """An HTTP server on 127.0.0.1 serving the four MNIST files as ``<name>.gz``, the way
    torchvision's mirrors do (made from the shared raw copy)."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    for name in MNIST_MD5:
        data = (SHARED_DATA / "MNIST" / "raw" / name).read_bytes()
        (folder / f"{name}.gz").write_bytes(gzip.compress(data, compresslevel=1))
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.mark.skipif(not HAS_REAL_MNIST, reason=f"no MNIST copy at {SHARED_DATA}")
def test_a_fresh_folder_downloads_verifies_and_trains(local_mirror: str, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/"  # tried first, skipped
    root = tmp_path / "fresh"
    overrides = [
        *fast_overrides(tmp_path, root),
        "data.download=true",
        f"data.mirrors=[{dead},{local_mirror}]",
        "data.verify_md5=true",
        "trainer.limit_train_batches=1",
        "trainer.limit_val_batches=1",
        "logger=none",
    ]
    assert train(compose_train(overrides)) is not None
    raw = root / "MNIST" / "raw"
    assert sorted(path.name for path in raw.iterdir()) == sorted(MNIST_MD5)
