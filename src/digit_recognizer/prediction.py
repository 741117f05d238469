"""Predicting files: expand paths, directories and globs; preprocess; batch; report per image."""

import glob
import json
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from digit_recognizer.errors import UserError
from digit_recognizer.inference import Classifier
from digit_recognizer.preprocess import to_mnist_array

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}


@dataclass
class Prediction:
    """One input's outcome: a digit with its probabilities, or the reason it failed."""

    file: str
    probabilities: list[float] = field(default_factory=list)
    error: str | None = None
    preview: str | None = None

    @property
    def digit(self) -> int:
        return int(np.argmax(self.probabilities))

    def top(self, k: int = 3) -> list[tuple[int, float]]:
        order = np.argsort(self.probabilities)[::-1][:k]
        return [(int(d), float(self.probabilities[d])) for d in order]

    def as_text(self) -> str:
        if self.error:
            return f"error: {self.error}"
        top3 = ", ".join(f"{d} {p:.1%}" for d, p in self.top())
        line = f"{self.file}: {self.digit} ({self.probabilities[self.digit]:.1%})  top 3: {top3}"
        return line + (f"  preview: {self.preview}" if self.preview else "")

    def as_json(self) -> str:
        if self.error:
            return json.dumps({"file": self.file, "error": self.error})
        record = {
            "file": self.file,
            "digit": self.digit,
            "confidence": round(self.probabilities[self.digit], 6),
            "top3": [{"digit": d, "probability": round(p, 6)} for d, p in self.top()],
            "probabilities": [round(p, 6) for p in self.probabilities],
        }
        if self.preview:
            record["preview"] = self.preview
        return json.dumps(record)


def expand_inputs(specs: str | Sequence[str]) -> tuple[list[Path], list[Prediction]]:
    """Files named by paths, directories (their images) and globs; and the specs that found none."""
    files: list[Path] = []
    failures: list[Prediction] = []
    for spec in [specs] if isinstance(specs, str) else list(specs):
        spec = str(spec)
        path = Path(spec).expanduser()
        if any(char in spec for char in "*?["):
            matches = sorted(Path(m) for m in glob.glob(str(path), recursive=True))
            found = [m for m in matches if m.is_file()]
            if not found:
                failures.append(Prediction(spec, error=f"{spec}: no files match this pattern"))
            files += found
        elif path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                failures.append(Prediction(spec, error=f"{spec}: directory holds no images"))
            files += found
        else:
            files.append(path)  # a missing file is reported when it is read
    return files, failures


def preprocess_all(
    files: Iterable[Path], workers: int = min(8, os.cpu_count() or 1)
) -> list[np.ndarray | UserError]:
    """28x28 arrays (or the reason each failed), in order; PIL releases the GIL, so threads help."""

    def one(path: Path) -> np.ndarray | UserError:
        try:
            return to_mnist_array(path)
        except UserError as err:
            return err

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, files))


def predict_files(
    classifier: Classifier,
    files: Sequence[Path],
    batch_size: int = 256,
    preview_dir: Path | None = None,
) -> list[Prediction]:
    """Predict every file; failures are reported per file and do not stop the rest."""
    arrays = preprocess_all(files)
    good = [i for i, item in enumerate(arrays) if isinstance(item, np.ndarray)]
    results = [Prediction(str(path)) for path in files]
    for index, item in enumerate(arrays):
        if isinstance(item, UserError):
            results[index].error = str(item)
    if good:
        batch = np.stack([arrays[i] for i in good])
        probabilities = classifier.predict(batch, batch_size=batch_size).tolist()
        for index, probs in zip(good, probabilities, strict=True):
            results[index].probabilities = probs
    if preview_dir is not None:
        preview_dir.mkdir(parents=True, exist_ok=True)
        for index in good:
            target = preview_dir / f"{index:04d}-{files[index].stem}.png"
            Image.fromarray(arrays[index]).save(target)
            results[index].preview = str(target)
    return results
