"""Any user image -> a 28x28 MNIST-style digit (bright ink on black, centred by mass).

The steps follow how MNIST itself was made: the digit's ink is cropped, scaled so its longer
side is 20 px with the aspect kept, and placed in a 28x28 frame with its centre of mass at
the centre.
"""

from pathlib import Path

import numpy as np
from PIL import Image

from digit_recognizer.errors import ImageRejected
from digit_recognizer.images.decode import load_image, to_grayscale
from digit_recognizer.images.ink import ink_map, isolate_digit

DIGIT_BOX = 20
FRAME = 28


def center_in_frame(digit: np.ndarray) -> np.ndarray:
    """Scale the longer side to 20 px (aspect kept) and centre the mass in a 28x28 uint8 frame."""
    height, width = digit.shape
    scale = DIGIT_BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = Image.fromarray((digit * 255).astype(np.uint8)).resize(size, Image.Resampling.LANCZOS)
    small = np.asarray(image, dtype=np.float32)
    total = small.sum()
    rows, cols = np.indices(small.shape)
    center_row = (rows * small).sum() / total if total else small.shape[0] / 2
    center_col = (cols * small).sum() / total if total else small.shape[1] / 2
    top = int(np.rint(FRAME / 2 - center_row))
    left = int(np.rint(FRAME / 2 - center_col))
    top = min(max(top, 0), FRAME - small.shape[0])
    left = min(max(left, 0), FRAME - small.shape[1])
    frame = np.zeros((FRAME, FRAME), dtype=np.float32)
    frame[top : top + small.shape[0], left : left + small.shape[1]] = small
    return np.clip(frame, 0, 255).astype(np.uint8)


def to_mnist_array(source: str | Path | bytes | Image.Image) -> np.ndarray:
    """The full path: file, bytes or PIL image -> 28x28 uint8 MNIST-style digit."""
    name = "upload" if isinstance(source, bytes | Image.Image) else str(source)
    image = source if isinstance(source, Image.Image) else load_image(source)
    try:
        grey = to_grayscale(image)
    except ImageRejected as err:
        raise ImageRejected(f"{name}: {err}") from None
    return center_in_frame(isolate_digit(ink_map(grey), name))


def naive_resize(source: str | Path | bytes | Image.Image) -> np.ndarray:
    """The seed notebook's preprocessing, kept for comparison: greyscale, resize to 28x28."""
    image = source if isinstance(source, Image.Image) else load_image(source)
    grey = image.convert("L").resize((FRAME, FRAME))
    return np.asarray(grey, dtype=np.uint8)
