"""Do single digits stay single digits? Reads single-digit images in ``mode=auto`` (what
predict.py does by default) and counts those answered as numbers or refused. Usage:

    python benchmarks/single_digits.py ckpt=PATH [uploads=2000] [tails=500]

Three sets: scikit-learn's 1,797 digits by other writers rendered as photos
(``evaluation.other_writers``), MNIST test digits re-drawn as uploads
(``synthetic.uploads``), and MNIST test digits whose last stroke runs on in a long tail to
the right (``with_tail``: a stroke 1.5 times the digit's width from the bottom of its ink,
level or rising). MNIST_ROOT (default ./data) holds MNIST/raw.
"""

import io
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def with_tail(digit: np.ndarray, rise: int) -> bytes:
    """A 28x28 MNIST digit drawn dark on light at 112 px, its stroke run on to the right from
    the bottom of its ink, as PNG bytes."""
    photo = Image.fromarray(255 - digit).resize((112, 112), Image.Resampling.BICUBIC)
    canvas = Image.new("L", (330, 160), 255)
    canvas.paste(photo, (20, 20))
    rows, columns = np.nonzero(np.asarray(photo) < 128)
    low = rows >= rows.max() - 8
    start = (20 + int(columns[low].max()) - 4, 20 + int(rows.max()) - 4)
    ImageDraw.Draw(canvas).line([start, (start[0] + 170, start[1] - rise)], fill=0, width=9)
    buffer = io.BytesIO()
    canvas.save(buffer, "PNG")
    return buffer.getvalue()


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
    images, labels = load_split(raw, "test", False)
    digits = images.numpy().reshape(-1, 28, 28)
    count, tails = int(options.get("uploads", 2000)), int(options.get("tails", 500))
    rises = np.random.default_rng(0).integers(0, 25, size=tails)
    sets = {
        "other writers (load_digits)": rendered_digits(),
        f"MNIST test as uploads ({count})": (
            [data for _, data in redraw_many(digits[:count])],
            labels[:count].numpy(),
        ),
        f"MNIST test with a long tail ({tails})": (
            [with_tail(digit, int(rise)) for digit, rise in zip(digits, rises, strict=False)],
            labels[:tails].numpy(),
        ),
    }
    for name, (photos, truth) in sets.items():
        readings = read_photos(classifier, photos)
        numbers = sum(reading.is_number for reading in readings)
        refused = sum(reading.reason is not None for reading in readings)
        right = sum(reading.digit == label for reading, label in zip(readings, truth, strict=True))
        print(
            f"{name}: {numbers} read as numbers, {refused} refused, {right} right, "
            f"of {len(readings)}"
        )


if __name__ == "__main__":
    main()
