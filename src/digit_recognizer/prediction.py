"""Predicting files: expand paths, directories and globs; preprocess; batch; report per image."""

import fnmatch
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from digit_recognizer.errors import UserError
from digit_recognizer.inference import Classifier
from digit_recognizer.preprocess import IMAGE_SUFFIXES, NotADigit, Piece, to_mnist_digits
from digit_recognizer.reading import Reading, percent, read_all

__all__ = ["Prediction", "expand_inputs", "percent", "predict_files", "predict_in_batches"]


@dataclass
class Prediction:
    """One input's outcome: what it says (a digit, a number, or not a digit and why), or the
    reason it could not be read."""

    file: str
    reading: Reading | None = None
    error: str | None = None
    preview: str | None = None  # where the image the model saw is (to be) written

    def save_preview(self, folder: Path) -> None:
        pixels = self.reading.preview() if self.reading else None
        if self.preview and pixels is not None:
            Image.fromarray(pixels).save(folder / Path(self.preview).name)

    def as_text(self) -> str:
        if self.error or self.reading is None:
            return f"error: {self.error}"
        reading, line = self.reading, f"{self.file}: "
        if reading.reason:
            line += reading.reason
        elif reading.is_number:
            sure = ", ".join(f"{p.digit} {percent(p.confidence)}" for p in reading.parts)
            line += f"{reading.number}  (digits: {sure})"
        else:
            (part,) = reading.parts
            top3 = ", ".join(f"{d} {percent(p)}" for d, p in part.top())
            line += f"{part.digit} ({percent(part.confidence)})  top 3: {top3}"
        return line + (f"  preview: {self.preview}" if self.preview else "")

    def as_json(self) -> str:
        if self.error or self.reading is None:
            return json.dumps({"file": self.file, "error": self.error})
        reading = self.reading
        record: dict = {"file": self.file, "digit": reading.digit}
        if reading.is_number:
            record["number"] = reading.number
        if reading.reason:
            record["reason"] = reading.reason
        if len(reading.parts) == 1 and not reading.is_number:
            (part,) = reading.parts
            record |= {
                "confidence": round(part.confidence, 6),
                "top3": [{"digit": d, "probability": round(p, 6)} for d, p in part.top()],
                "probabilities": [round(p, 6) for p in part.probabilities],
            }
        if reading.is_number:
            record["digits"] = [part.as_dict() for part in reading.parts]
        if self.preview:
            record["preview"] = self.preview
        return json.dumps(record)


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
        elif not path.exists():
            failures.append(Prediction(spec, error=f"{spec}: no such file"))
            continue
        else:
            files.append(path)  # a file that vanishes before it is read is reported then
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


Found = list[Piece] | NotADigit


def preprocess_all(
    files: Iterable[Path], mode: str = "auto", workers: int = min(8, os.cpu_count() or 1)
) -> list[Found | UserError]:
    """Per file, in order: its digits with their boxes, why it shows none (``NotADigit``), or
    why it could not be read; PIL releases the GIL, so threads help."""

    def one(path: Path) -> Found | UserError:
        try:
            return to_mnist_digits(path, mode)
        except NotADigit as refusal:
            return refusal
        except UserError as err:
            return err

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        return list(pool.map(one, files))
    finally:  # interrupted: the files not started yet are dropped, not read first
        pool.shutdown(wait=True, cancel_futures=True)


def predict_files(
    classifier: Classifier,
    files: Sequence[Path],
    batch_size: int = 256,
    preview_dir: Path | None = None,
    mode: str = "auto",
    min_confidence: float | None = None,
) -> list[Prediction]:
    """Read every file; failures are reported per file and do not stop the rest."""
    batches = predict_in_batches(classifier, files, batch_size, preview_dir, mode, min_confidence)
    return [result for batch in batches for result in batch]


def predict_in_batches(
    classifier: Classifier,
    files: Sequence[Path],
    batch_size: int = 256,
    preview_dir: Path | None = None,
    mode: str = "auto",
    min_confidence: float | None = None,
) -> Iterator[list[Prediction]]:
    """The files' predictions in order, ``batch_size`` files at a time, so that a caller can
    show (and keep) the answers of a long list as they come: an interrupted run has lost
    at most the batch it was reading."""
    for start in range(0, len(files), batch_size):
        chunk = files[start : start + batch_size]
        found = preprocess_all(chunk, mode)
        results = [Prediction(str(path)) for path in chunk]
        readable = [i for i, item in enumerate(found) if isinstance(item, list | NotADigit)]
        readings = read_all(
            classifier,
            [found[i] for i in readable],  # type: ignore[misc]
            min_confidence,
            batch_size,
        )
        for index, item in enumerate(found):
            if not isinstance(item, list | NotADigit):
                results[index].error = str(item)
        for index, reading in zip(readable, readings, strict=True):
            results[index].reading = reading
            if preview_dir is not None and reading.parts:
                name = f"{start + index:04d}-{chunk[index].stem}.png"
                results[index].preview = str(preview_dir / name)
        yield results


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
