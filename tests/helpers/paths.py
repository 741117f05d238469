"""Where the project, its configs, the shared MNIST copy and Chromium are."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


CONFIG_DIR = str(ROOT / "conf")


CHROMIUM = Path("/usr/bin/chromium")  # Debian's; .ci/run installs it


SHARED_DATA = Path(os.environ.get("MNIST_ROOT", ROOT.parent / "shared" / "data"))


HAS_REAL_MNIST = (SHARED_DATA / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()
