"""The seed notebook as one process: load MNIST, train its Keras CNN, evaluate on the test set.

    python benchmarks/keras_notebook.py DATA_ROOT [EPOCHS]

What a user of the notebook waits for, from the command to the exit: TensorFlow's import,
reading the IDX files, ``model.fit`` (Adam 1e-3, batch 64, fp32; 55,000 training digits as
the pipeline uses) and ``model.evaluate``. Nothing of this project is imported, so neither
PyTorch nor Lightning slows it down. Prints the test accuracy.
"""

import gzip
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import keras


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (plain or .gz) as an array: magic number, dimensions, then uint8 data."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as stream:
        data = stream.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def notebook_model() -> "keras.Model":
    """The notebook's CNN, compiled as it was: Adam 1e-3, cross-entropy on logits, seed 0."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, (3, 3), activation="relu"),
            keras.layers.MaxPooling2D((2, 2)),
            keras.layers.Conv2D(64, (3, 3), activation="relu"),
            keras.layers.MaxPooling2D((2, 2)),
            keras.layers.Conv2D(64, (3, 3), activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def main(root: Path, epochs: int) -> float:
    raw = root / "MNIST" / "raw"
    train_x = read_idx(raw / "train-images-idx3-ubyte")[:55_000, :, :, None] / 255.0
    train_y = read_idx(raw / "train-labels-idx1-ubyte")[:55_000]
    test_x = read_idx(raw / "t10k-images-idx3-ubyte")[:, :, :, None] / 255.0
    test_y = read_idx(raw / "t10k-labels-idx1-ubyte")
    model = notebook_model()
    model.fit(train_x.astype("float32"), train_y, epochs=epochs, batch_size=64, verbose=0)
    _, accuracy = model.evaluate(test_x.astype("float32"), test_y, verbose=0)
    return float(accuracy)


if __name__ == "__main__":
    print(f"test accuracy {main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 3)}")
