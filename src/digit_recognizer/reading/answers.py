"""Reading files in batches: each file's answer (a digit, a number, "not a digit" and why, or
why it could not be read), as text or JSON, in order, a batch at a time."""

import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from digit_recognizer.errors import NotADigit, UserError
from digit_recognizer.model.checkpoints import Classifier
from digit_recognizer.reading.pieces import Piece, to_mnist_digits
from digit_recognizer.reading.reader import Reading, percent, read_all


@dataclass
class FileAnswer:
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
            mark = "?" if reading.unsure else ""
            line += f"{reading.number}{mark}  (digits: {sure})"
        else:
            (part,) = reading.parts
            top3 = ", ".join(f"{d} {percent(p)}" for d, p in part.top())
            mark = "?" if reading.unsure else ""
            line += f"{part.digit}{mark} ({percent(part.confidence)})  top 3: {top3}"
        if reading.unsure:
            line += f"  unsure: {reading.unsure}"
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
        record["unsure"] = reading.unsure is not None
        if reading.unsure:
            record["doubt"] = reading.unsure
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


Found = list[Piece] | NotADigit


def preprocess_all(
    files: Iterable[Path | bytes], mode: str = "auto", workers: int = min(8, os.cpu_count() or 1)
) -> list[Found | UserError]:
    """Per file (a path or its bytes), in order: its digits with their boxes, why it shows
    none (``NotADigit``), or why it could not be read; PIL releases the GIL, so threads help."""

    def one(source: Path | bytes) -> Found | UserError:
        try:
            return to_mnist_digits(source, mode)
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
) -> list[FileAnswer]:
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
) -> Iterator[list[FileAnswer]]:
    """The files' predictions in order, ``batch_size`` files at a time, so that a caller can
    show (and keep) the answers of a long list as they come: an interrupted run has lost
    at most the batch it was reading."""
    for start in range(0, len(files), batch_size):
        chunk = files[start : start + batch_size]
        found = preprocess_all(chunk, mode)
        results = [FileAnswer(str(path)) for path in chunk]
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
