"""Predicting files: expand paths, directories and globs; preprocess; batch; report per image."""

import fnmatch
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from digit_recognizer.errors import UserError
from digit_recognizer.inference import Classifier
from digit_recognizer.preprocess import IMAGE_SUFFIXES, to_mnist_array


@dataclass
class Prediction:
    """One input's outcome: a digit with its probabilities, or the reason it failed."""

    file: str
    probabilities: list[float] = field(default_factory=list)
    error: str | None = None
    preview: str | None = None  # where the 28x28 image the model saw is (to be) written
    pixels: np.ndarray | None = field(default=None, repr=False)

    def save_preview(self, folder: Path) -> None:
        if self.preview and self.pixels is not None:
            Image.fromarray(self.pixels).save(folder / Path(self.preview).name)

    @property
    def digit(self) -> int:
        return int(np.argmax(self.probabilities))

    def top(self, k: int = 3) -> list[tuple[int, float]]:
        order = np.argsort(self.probabilities)[::-1][:k]
        return [(int(d), float(self.probabilities[d])) for d in order]

    def as_text(self) -> str:
        if self.error:
            return f"error: {self.error}"
        top3 = ", ".join(f"{d} {percent(p)}" for d, p in self.top())
        line = (
            f"{self.file}: {self.digit} ({percent(self.probabilities[self.digit])})  top 3: {top3}"
        )
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


def percent(probability: float) -> str:
    """Enough digits to tell 99.97% from 99.2%, never a rounded-up "100.0%" (the page's rule)."""
    value = 100 * probability
    if value >= 99.995:
        return ">99.99%"
    return f"{value:.2f}%" if value >= 99 else f"{value:.1f}%"


# Files named by the user: paths, folders and globs, each real file once, never a loop.
MAX_FILES = 10_000
_GLOB_CHARS = "*?["


def expand_inputs(specs: str | Sequence[str]) -> tuple[list[Path], list[Prediction]]:
    """Files named by paths, directories (their images) and globs; and the specs that found none.

    A name that exists is taken as it is, even with glob characters in it (``br[1].png``).
    Folders and globs follow symlinks but visit each real folder and file once, so a link
    back into the tree neither loops nor repeats a file; more than ``MAX_FILES`` is refused.
    """
    files: list[Path] = []
    failures: list[Prediction] = []
    seen: set[str] = set()
    for spec in [specs] if isinstance(specs, str) else [str(item) for item in specs]:
        path = Path(spec).expanduser()
        if path.is_dir():
            found = _images_in(path)
            empty = "directory holds no images"
        elif not path.exists() and any(char in spec for char in _GLOB_CHARS):
            found = _glob(path)
            empty = "no files match this pattern"
        else:
            files.append(path)  # a missing file is reported when it is read
            continue
        if not found:
            failures.append(Prediction(spec, error=f"{spec}: {empty}"))
        for file in found:
            real = os.path.realpath(file)
            if real not in seen:
                seen.add(real)
                files.append(file)
        if len(files) > MAX_FILES:
            raise UserError(
                f"{spec} names more than {MAX_FILES:,} files; predict a smaller folder or pattern."
            )
    return files, failures


def _images_in(folder: Path) -> list[Path]:
    try:
        entries = sorted(folder.iterdir())
    except OSError as err:
        raise UserError(f"Cannot read folder {folder}: {err.strerror or err}.") from err
    return [p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]


def _glob(pattern: Path) -> list[Path]:
    """Files matching ``pattern`` (``*``, ``?``, ``[...]``, ``**`` for any depth), walking
    each real folder once."""
    parts = pattern.parts
    fixed = next(i for i, part in enumerate(parts) if any(c in part for c in _GLOB_CHARS))
    root = Path(*parts[:fixed]) if fixed else Path(".")
    wanted = parts[fixed:]
    deep = "**" in wanted
    found: list[Path] = []
    visited: set[tuple[int, int]] = set()
    for folder, subfolders, names in os.walk(root, followlinks=True):
        try:
            info = os.stat(folder)
        except OSError:
            subfolders[:] = []
            continue
        relative = Path(folder).relative_to(root).parts
        if (info.st_dev, info.st_ino) in visited or (not deep and len(relative) >= len(wanted)):
            subfolders[:] = []
            if (info.st_dev, info.st_ino) in visited:
                continue
        visited.add((info.st_dev, info.st_ino))
        subfolders.sort()
        for name in sorted(names):
            if _matches((*relative, name), wanted):
                found.append(Path(folder) / name)
                if len(found) > MAX_FILES:
                    raise UserError(
                        f"{pattern} matches more than {MAX_FILES:,} files; narrow the pattern."
                    )
    return found


def _matches(parts: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    """Whether a relative path matches a glob split into parts (``**``: any number of folders)."""
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_matches(parts[skip:], pattern[1:]) for skip in range(len(parts) + 1))
    if not parts or (parts[0].startswith(".") and not pattern[0].startswith(".")):
        return False
    return fnmatch.fnmatchcase(parts[0], pattern[0]) and _matches(parts[1:], pattern[1:])


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
        for index in good:
            results[index].pixels = arrays[index]  # type: ignore[assignment]
            results[index].preview = str(preview_dir / f"{index:04d}-{files[index].stem}.png")
    return results


def check_preview_dir(folder: Path) -> Path:
    """``folder``, created if needed, after proving a file can be written in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise UserError(
            f"Cannot write previews into {folder} ({err.strerror or err}); choose another "
            "preview_dir or drop save_preview."
        ) from err
    return folder
