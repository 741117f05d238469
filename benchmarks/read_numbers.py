"""Whole numbers: rows of MNIST test digits, composed and photographed, read back.

    python benchmarks/read_numbers.py [count=600] [ckpt=PATH] [mode=auto] [split=test] [seed=7]

Each number has 2 to 8 digits drawn from the 10,000 MNIST test digits, each scaled to its
own height (80-120%), on its own baseline (+/- 10% of the height), with random gaps; in
half of them neighbours overlap by a few pixels. Rows are put on light paper with uneven
light and noise, as PNG or JPEG. A number counts as touching when some neighbours' ink is
connected. Reports exact-number accuracy for separate and touching digits, and per-digit
accuracy where the count of digits read is right. ``split=train`` (another seed) is for tuning
the segmentation's constants, so that the test digits stay unseen by that tuning.
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def compose_number(
    digits: np.ndarray, rng: np.random.Generator, touching: bool
) -> tuple[np.ndarray, bool]:
    """Digits (n, 28, 28), bright on black, side by side at 3x scale: the ink coverage in [0, 1]
    and whether any neighbours' ink ended up connected."""
    scale = 3
    pieces = []
    for digit in digits:
        cols = np.flatnonzero(digit.max(axis=0) > 30)
        crop = digit[:, cols.min() : cols.max() + 1] if len(cols) else digit
        height = int(28 * scale * rng.uniform(0.8, 1.2))
        width = max(1, round(crop.shape[1] * height / 28))
        pieces.append(
            np.asarray(Image.fromarray(crop).resize((width, height), Image.BICUBIC)) / 255.0
        )
    top_margin = 20
    height = max(p.shape[0] for p in pieces) + 2 * top_margin + 30
    width = sum(p.shape[1] for p in pieces) + 40 * len(pieces) + 40
    row = np.zeros((height, width), np.float32)
    labels = np.zeros((height, width), np.int32)
    x = 20
    for index, piece in enumerate(pieces):
        y = top_margin + int(rng.integers(0, 30))
        region = row[y : y + piece.shape[0], x : x + piece.shape[1]]
        np.maximum(region, piece, out=region)
        labels[y : y + piece.shape[0], x : x + piece.shape[1]][piece > 0.3] = index + 1
        step = -int(rng.integers(2, 9)) if touching else int(rng.integers(4, 30))
        x += piece.shape[1] + step
    row = row[:, : x + 40]
    _, count = ndimage.label(row > 0.3, structure=np.ones((3, 3)))
    joined = count < len(digits)
    return row, joined


def photograph(coverage: np.ndarray, rng: np.random.Generator) -> bytes:
    paper, pen = rng.uniform(190, 250), rng.uniform(0, 70)
    width = coverage.shape[1]
    grey = paper + np.linspace(0, rng.uniform(-20, 20), width)[None, :] - (paper - pen) * coverage
    grey += rng.normal(0, rng.uniform(0, 8), size=grey.shape)
    from digit_recognizer.synthetic_uploads import encode_as_photo

    return encode_as_photo(Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8)), rng)


def main(count: int, ckpt: str | None, mode: str, split: str, seed: int) -> None:
    import tempfile

    from digit_recognizer.inference import choose_classifier, load_classifier
    from digit_recognizer.mnist_files import find_raw_dir, load_split
    from digit_recognizer.prediction import predict_files

    classifier = (
        load_classifier(ckpt)
        if ckpt
        else choose_classifier(None, None, f"sqlite:///{ROOT / 'mlruns' / 'mlflow.db'}", "mnist")
    )
    images, labels = load_split(find_raw_dir(ROOT / "data"), split)
    images, labels = images.numpy().reshape(-1, 28, 28), labels.numpy()
    rng = np.random.default_rng(seed)
    truth, joined = [], []
    with tempfile.TemporaryDirectory() as folder:
        files = []
        for index in range(count):
            chosen = rng.choice(len(labels), size=int(rng.integers(2, 9)), replace=False)
            coverage, touched = compose_number(images[chosen], rng, touching=index % 2 == 1)
            path = Path(folder) / f"{index:04d}.png"
            path.write_bytes(photograph(coverage, rng))
            files.append(path)
            truth.append("".join(str(d) for d in labels[chosen]))
            joined.append(touched)
        # Every digit is answered: the threshold is a separate question (not_digits.py).
        results = predict_files(classifier, files, mode=mode, min_confidence=0.0)
    read = [
        "".join(str(p.digit) for p in r.reading.parts) if r.reading and r.reading.parts else ""
        for r in results
    ]
    print(f"model: {classifier.source}")
    for name, wanted in (("separate", False), ("touching", True)):
        picked = [i for i in range(count) if joined[i] == wanted]
        exact = np.mean([read[i] == truth[i] for i in picked]) if picked else float("nan")
        counted = np.mean([len(read[i]) == len(truth[i]) for i in picked]) if picked else 0
        print(
            f"{name:9s} numbers: {len(picked):4d}  exact {exact:.1%}  digit count right {counted:.1%}"
        )
    counted = [i for i in range(count) if len(read[i]) == len(truth[i])]
    per_digit = np.mean([a == b for i in counted for a, b in zip(read[i], truth[i], strict=True)])
    print(
        f"digit count right: {len(counted) / count:.1%}; per-digit accuracy there: {per_digit:.2%}"
    )


if __name__ == "__main__":
    options = dict(arg.split("=", 1) for arg in sys.argv[1:] if "=" in arg)
    main(
        int(options.get("count", 600)),
        options.get("ckpt"),
        options.get("mode", "auto"),
        options.get("split", "test"),
        int(options.get("seed", 7)),
    )
