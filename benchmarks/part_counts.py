"""How many candidate parts real rows of digits offer the reader: the figure that
``reading.lattice.MAX_PARTS`` must stay well above. Usage:

    python benchmarks/part_counts.py [rows=400] [seed=3]

Rows of 1-20 MNIST **training** digits (``mode=number``) and of 1-8 (``mode=auto``), half of
them touching, composed and photographed as ``benchmarks/read_numbers.py`` does them; prints
the largest count, the 99th percentile, and the largest count per digit.
"""

import os
import sys
from pathlib import Path

import numpy as np


def main() -> None:
    from digit_recognizer.data.mnist_files import find_raw_dir, load_split
    from digit_recognizer.errors import ImageRejected
    from digit_recognizer.reading.lattice import MAX_PARTS
    from digit_recognizer.reading.pieces import to_mnist_digits
    from digit_recognizer.synthetic.paper import photograph
    from digit_recognizer.synthetic.rows import compose_row

    options = dict(arg.split("=", 1) for arg in sys.argv[1:] if "=" in arg)
    rows, seed = int(options.get("rows", 400)), int(options.get("seed", 3))
    root = Path(os.environ.get("MNIST_ROOT", Path(__file__).resolve().parents[1] / "data"))
    raw = find_raw_dir(root)
    if raw is None:
        sys.exit(f"error: no MNIST/raw under {root}; set MNIST_ROOT.")
    images, _ = load_split(raw, "train", False)
    digits = images[:20000].numpy().reshape(-1, 28, 28)
    rng = np.random.default_rng(seed)
    print(f"MAX_PARTS = {MAX_PARTS}")
    for mode, most in (("number", 20), ("auto", 8)):
        counts = []
        for index in range(rows):
            n = int(rng.integers(1, most + 1))
            chosen = rng.choice(len(digits), n, replace=False)
            coverage, _, _ = compose_row(digits[chosen], rng, touching=index % 2 == 1)
            try:
                pieces = to_mnist_digits(photograph(coverage, rng), mode)
            except ImageRejected:  # "not a digit" answers included
                continue
            counts.append((sum(len(piece.crops) for piece in pieces), n))
        found = np.array(counts)
        per_digit = found[:, 0] / found[:, 1]
        print(
            f"mode={mode}: {len(found)} rows read; parts max {found[:, 0].max()} "
            f"(a row of {found[found[:, 0].argmax(), 1]} digits), p99 "
            f"{np.percentile(found[:, 0], 99):.0f}; per digit max {per_digit.max():.1f}"
        )


if __name__ == "__main__":
    main()
