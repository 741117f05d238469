"""The four MNIST IDX files: where they are, fetching them, checking and decoding them.

No Lightning here, so a missing-data mistake is answered before the training stack loads.
Decoding uses torchvision's own IDX reader; the checks around it (md5, size, shape) turn a
bad file into one sentence.
"""

import gzip
import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from digit_recognizer.errors import UserError
from digit_recognizer.files import write_atomically
from digit_recognizer.labels import IMAGE_SIZE, NUM_CLASSES

log = logging.getLogger(__name__)

# File names as torchvision lays them out under <root>/MNIST/raw/, with the md5 of each raw file.
MNIST_MD5: dict[str, str] = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# torchvision's mirrors, tried in order; each serves <name>.gz.
DEFAULT_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
IDX_UBYTE = 0x08


def find_raw_dir(root: str | Path) -> Path | None:
    """The folder under ``root`` holding the IDX files (``MNIST/raw`` as torchvision lays it out)."""
    root = Path(root).expanduser()
    for candidate in (root / "MNIST" / "raw", root / "raw", root):
        if all((candidate / name).is_file() for name in MNIST_MD5):
            return candidate
    return None


def missing_data_message(root: str | Path) -> str:
    names = ", ".join(MNIST_MD5)
    return (
        f"MNIST IDX files not found under {Path(root).expanduser()}/MNIST/raw ({names}); point "
        "data.root (or the MNIST_ROOT environment variable) at a folder holding MNIST/raw/, "
        "or set data.download=true to fetch them."
    )


def ensure_files(root: str | Path, download: bool, mirrors: Sequence[str] | None = None) -> Path:
    """The raw folder under ``root``, downloading the four files into it first if allowed."""
    raw_dir = find_raw_dir(root)
    if raw_dir is not None:
        return raw_dir
    if not download:
        raise UserError(missing_data_message(root))
    return download_files(Path(root).expanduser() / "MNIST" / "raw", mirrors or DEFAULT_MIRRORS)


def download_files(raw_dir: Path, mirrors: Sequence[str], timeout: float = 10.0) -> Path:
    """Fetch each ``<name>.gz`` from the first mirror that serves it, check the md5 of the
    decompressed file, and store it under ``raw_dir``. One sentence if none works."""
    import urllib.error
    import urllib.request

    raw_dir.mkdir(parents=True, exist_ok=True)
    for name, md5 in MNIST_MD5.items():
        target = raw_dir / name
        if target.is_file():
            continue
        reasons = []
        for mirror in mirrors:
            url = f"{mirror.rstrip('/')}/{name}.gz"
            try:
                log.info("Downloading %s", url)
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    raw = gzip.decompress(response.read())
            except (urllib.error.URLError, OSError, EOFError, ValueError) as err:
                reasons.append(f"{url}: {getattr(err, 'reason', None) or err}")
                continue
            if hashlib.md5(raw).hexdigest() != md5:
                reasons.append(f"{url}: md5 mismatch")
                continue
            write_atomically(target, raw)  # two downloads at once never tear a file
            break
        else:
            raise UserError(
                f"Could not download MNIST ({'; '.join(reasons)}); put the four IDX files "
                f"({', '.join(MNIST_MD5)}) into {raw_dir}, or point data.root (or the MNIST_ROOT "
                "environment variable) at a folder holding MNIST/raw/."
            )
    return raw_dir


def read_idx(path: Path, expected_md5: str | None, images: bool) -> torch.Tensor:
    """Decode one IDX file with torchvision after checking its md5 and that its header
    promises exactly the bytes it holds."""
    from torchvision.datasets.mnist import read_image_file, read_label_file

    try:
        raw = path.read_bytes()
    except OSError as err:
        raise UserError(f"Cannot read MNIST file {path}: {err.strerror or err}.") from err
    if expected_md5 is not None and hashlib.md5(raw).hexdigest() != expected_md5:
        raise UserError(
            f"MNIST file {path} is corrupt (md5 mismatch); replace it with a fresh copy "
            "or set data.verify_md5=false for a non-standard IDX file."
        )
    ndim = raw[3] if len(raw) >= 4 else 0
    if raw[:3] != bytes([0, 0, IDX_UBYTE]) or ndim != (3 if images else 1):
        kind = "image" if images else "label"
        raise UserError(f"{path} is not an unsigned-byte IDX {kind} file (bad magic number).")
    header = 4 + 4 * ndim
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + int(torch.tensor(shape).prod()) if len(raw) >= header else -1
    if len(raw) != expected:
        raise UserError(
            f"{path} has {len(raw)} bytes but its header promises {max(expected, header)}; "
            "the file is truncated or corrupt."
        )
    return read_image_file(str(path)) if images else read_label_file(str(path))


def load_split(
    raw_dir: Path, split: str, verify_md5: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 1, 28, 28) uint8 and labels (N,) int64 of the ``train`` or ``test`` split."""
    image_name, label_name = SPLIT_FILES[split]
    image_path, label_path = raw_dir / image_name, raw_dir / label_name
    if not image_path.is_file() or not label_path.is_file():
        raise UserError(f"MNIST {split} files are missing from {raw_dir}.")
    images = read_idx(image_path, MNIST_MD5[image_name] if verify_md5 else None, images=True)
    labels = read_idx(label_path, MNIST_MD5[label_name] if verify_md5 else None, images=False)
    if tuple(images.shape[1:]) != (IMAGE_SIZE, IMAGE_SIZE):
        raise UserError(
            f"{image_path} holds images of shape {tuple(images.shape)}, not N x 28 x 28."
        )
    if len(labels) != len(images):
        raise UserError(
            f"{label_path} holds {len(labels)} labels for {len(images)} images; "
            "the two files do not belong together."
        )
    if len(labels) and int(labels.max()) >= NUM_CLASSES:
        raise UserError(f"{label_path} holds a label above 9; it is not an MNIST label file.")
    return images.unsqueeze(1).contiguous(), labels
