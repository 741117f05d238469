"""A yardstick of real handwriting by other writers: scikit-learn's ``load_digits`` (1,797
digits, 8x8, from UCI's optdigits, written by 43 people none of whom wrote MNIST), rendered
as people photograph a small scan, and read through the same path as predict.py.

It is a yardstick only: never training data, never a source for a threshold or a choice of
model, so that its figure stays honest.
"""

from dataclasses import dataclass

import numpy as np
from PIL import Image

from digit_recognizer.errors import NotADigit, UserError
from digit_recognizer.model.checkpoints import Classifier
from digit_recognizer.progress import tracked
from digit_recognizer.reading.answers import preprocess_all
from digit_recognizer.reading.reader import Reading, read_all
from digit_recognizer.synthetic.paper import encode_as_photo, lit_paper


def rendered_digits(seed: int = 0) -> tuple[list[bytes], np.ndarray]:
    """Every ``load_digits`` digit as a photo of a small scan (PNG or JPEG bytes): its 8x8
    cells blown up 6-12 times (smoothly, as a scanner's optics do), dark ink on light,
    unevenly lit paper with a margin and sensor noise; and the labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    photos = []
    for cells in tracked(digits.images, "rendering other writers' digits", len(digits.images)):
        side = 8 * int(rng.integers(6, 13))
        coverage = (
            np.asarray(
                Image.fromarray((cells / 16 * 255).astype(np.uint8)).resize(
                    (side, side), Image.Resampling.BILINEAR
                ),
                dtype=np.float64,
            )
            / 255
        )
        coverage = np.pad(coverage, side // 4)
        grey = lit_paper(coverage, rng)
        photos.append(encode_as_photo(Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8)), rng))
    return photos, digits.target.astype(np.int64)


@dataclass
class Yardstick:
    right: float  # the answer is the written digit
    refused: float  # "not a digit" or no digit found
    unsure: float  # answered, but flagged unsure

    def as_text(self) -> str:
        return (
            f"other writers (scikit-learn load_digits, 1,797 real digits as photos): "
            f"{self.right:.2%} right, {self.refused:.2%} refused, {self.unsure:.2%} unsure"
        )


def read_photos(classifier: Classifier, photos: list[bytes]) -> list[Reading]:
    """What predict.py answers for each photo (mode auto, the checkpoint's own threshold)."""
    found = preprocess_all(photos, "auto")
    for item in found:
        if isinstance(item, UserError) and not isinstance(item, NotADigit):
            raise item  # our own renderings always decode; one that does not is a bug
    return read_all(classifier, found)  # type: ignore[arg-type]


def score_other_writers(classifier: Classifier, seed: int = 0) -> Yardstick:
    """How ``classifier`` reads the rendered ``load_digits`` set, as predict.py would."""
    photos, labels = rendered_digits(seed)
    readings = read_photos(classifier, photos)
    right = np.mean([r.digit == label for r, label in zip(readings, labels, strict=True)])
    refused = np.mean([r.digit is None and r.number is None for r in readings])
    unsure = np.mean([r.unsure is not None for r in readings])
    return Yardstick(float(right), float(refused), float(unsure))
