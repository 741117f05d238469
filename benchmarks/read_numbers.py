"""Whole numbers: rows of MNIST test digits, composed and photographed, read back.

    python benchmarks/read_numbers.py [count=600] [ckpt=PATH] [mode=auto] [split=test] [seed=7]
                                      [singles=0]

Each number has 2 to 8 digits drawn from the 10,000 MNIST test digits, each scaled to its
own height (80-120%), on its own baseline (+/- 10% of the height), with random gaps; in
half of them neighbours overlap by a few pixels. Rows are put on light paper with uneven
light and noise, as PNG or JPEG. A number counts as touching when some neighbours' ink is
connected. Reports exact-number accuracy for separate and touching digits, and per-digit
accuracy where the count of digits read is right. ``split=val`` (the 5,000 validation digits
training holds out; another seed, e.g. ``seed=1``) is for tuning the segmentation's constants
and the cut parts, so that the test digits stay unseen by that tuning; ``split=train`` reads
digits the model has learnt.
``singles=N``: also read the first N digits of the split re-drawn as single-digit uploads
(``synthetic_uploads.redraw_many``) in ``mode=auto``, and count those read as several digits.
"""

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main(count: int, ckpt: str | None, mode: str, split: str, seed: int, singles: int) -> None:
    import tempfile

    from digit_recognizer.cli.model_choice import choose_classifier
    from digit_recognizer.data.mnist_files import find_raw_dir, load_split
    from digit_recognizer.model.checkpoints import load_classifier
    from digit_recognizer.reading.answers import predict_files
    from digit_recognizer.synthetic.paper import photograph
    from digit_recognizer.synthetic.rows import compose_row

    classifier = (
        load_classifier(ckpt)
        if ckpt
        else choose_classifier(None, None, f"sqlite:///{ROOT / 'mlruns' / 'mlflow.db'}", "mnist")
    )
    if split == "val":
        from digit_recognizer.data.datamodule import MNISTDataModule

        held_out = MNISTDataModule(root=str(ROOT / "data"), download=False)
        held_out.setup("validate")
        images, labels = held_out.val_set.images, held_out.val_set.labels
    else:
        images, labels = load_split(find_raw_dir(ROOT / "data"), split)
    images, labels = images.numpy().reshape(-1, 28, 28), labels.numpy()
    rng = np.random.default_rng(seed)
    truth, joined = [], []
    with tempfile.TemporaryDirectory() as folder:
        files = []
        for index in range(count):
            chosen = rng.choice(len(labels), size=int(rng.integers(2, 9)), replace=False)
            coverage, _, touched = compose_row(images[chosen], rng, touching=index % 2 == 1)
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
    if singles:
        from digit_recognizer.synthetic.uploads import SUFFIXES, redraw_many

        with tempfile.TemporaryDirectory() as folder:
            uploads = []
            for index, (fmt, data) in enumerate(redraw_many(images[:singles], seed=seed)):
                uploads.append(Path(folder) / f"{index:05d}{SUFFIXES[fmt]}")
                uploads[-1].write_bytes(data)
            results = predict_files(classifier, uploads, mode="auto", min_confidence=0.0)
        several = sum(len(r.reading.parts) > 1 for r in results if r.reading)
        right = sum(
            r.reading is not None and r.reading.digit == int(label)
            for r, label in zip(results, labels[:singles], strict=True)
        )
        print(
            f"single digits (mode=auto): {singles}, read as several digits {several}, "
            f"read right {right / singles:.2%}"
        )


if __name__ == "__main__":
    options = dict(arg.split("=", 1) for arg in sys.argv[1:] if "=" in arg)
    if options.get("split", "test") not in ("train", "val", "test"):
        print(f"split must be train, val or test; got {options['split']!r}.", file=sys.stderr)
        sys.exit(2)
    main(
        int(options.get("count", 600)),
        options.get("ckpt"),
        options.get("mode", "auto"),
        options.get("split", "test"),
        int(options.get("seed", 7)),
        int(options.get("singles", 0)),
    )
