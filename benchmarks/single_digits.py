"""Do single digits stay single digits? Reads single-digit images in ``mode=auto`` (what
predict.py does by default) and counts those answered as numbers or refused. Usage:

    python benchmarks/single_digits.py ckpt=PATH [uploads=2000]

Two sets: scikit-learn's 1,797 digits by other writers rendered as photos
(``evaluation.other_writers``), and MNIST test digits re-drawn as uploads
(``synthetic.uploads``). MNIST_ROOT (default ./data) holds MNIST/raw.
"""

import os
import sys
from pathlib import Path


def main() -> None:
    from digit_recognizer.data.mnist_files import find_raw_dir, load_split
    from digit_recognizer.evaluation.other_writers import read_photos, rendered_digits
    from digit_recognizer.model.checkpoints import load_classifier
    from digit_recognizer.synthetic.uploads import redraw_many

    options = dict(arg.split("=", 1) for arg in sys.argv[1:] if "=" in arg)
    if "ckpt" not in options:
        sys.exit(__doc__)
    classifier = load_classifier(options["ckpt"])
    root = Path(os.environ.get("MNIST_ROOT", Path(__file__).resolve().parents[1] / "data"))
    raw = find_raw_dir(root)
    if raw is None:
        sys.exit(f"error: no MNIST/raw under {root}; set MNIST_ROOT.")
    images, _ = load_split(raw, "test", False)
    count = int(options.get("uploads", 2000))
    sets = {
        "other writers (load_digits)": rendered_digits()[0],
        f"MNIST test as uploads ({count})": [
            data for _, data in redraw_many(images[:count].numpy().reshape(-1, 28, 28))
        ],
    }
    for name, photos in sets.items():
        readings = read_photos(classifier, photos)
        numbers = sum(reading.is_number for reading in readings)
        refused = sum(reading.reason is not None for reading in readings)
        print(f"{name}: {numbers} read as numbers, {refused} refused, of {len(readings)}")


if __name__ == "__main__":
    main()
