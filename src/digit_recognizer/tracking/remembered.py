"""The best run's checkpoint, remembered while an embedded store does not change, so that
predict, eval and serve start without importing MLflow (docs/performance.md).

The store's state is its database file's (and journal's) modification time and size, read
before the choice is made: any write since (a run finished, a metric logged) means the
choice is made again. The checkpoint must still be the file it was. What is read back is
untrusted (another version, a torn write): anything unexpected means "not remembered".
"""

import contextlib
import hashlib
import json
from pathlib import Path

from digit_recognizer.files import write_atomically

Choice = tuple[Path, str, str]  # the checkpoint, the description of the run, its id
_MAX_BYTES = 64 * 1024


def store_state(database: Path) -> list[list[int] | None]:
    """What changes whenever the SQLite store is written: its files' times and sizes."""
    return [
        _file_state(database.with_name(database.name + suffix))
        for suffix in ("", "-wal", "-journal")
    ]


def recall(folder: Path, database: Path, key: str, state: list) -> Choice | None:
    """The choice remembered for ``key`` in this store if the store is still in ``state``."""
    path = _record(folder, database, key)
    try:
        if path.stat().st_size > _MAX_BYTES:
            return None
        record = json.loads(path.read_text(encoding="utf-8"))
        checkpoint, description, run_id = record["choice"]
        if record["store"] != state or record["checkpoint"] != _file_state(Path(checkpoint)):
            return None
        if not all(isinstance(part, str) for part in (checkpoint, description, run_id)):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Path(checkpoint), description, run_id


def remember(folder: Path, database: Path, key: str, state: list, choice: Choice) -> None:
    """Keep ``choice`` for ``key``, made when the store was in ``state``; a cache that cannot
    be written only means the next start asks MLflow again."""
    checkpoint, description, run_id = choice
    record = {
        "store": state,
        "checkpoint": _file_state(checkpoint),
        "choice": [str(checkpoint), description, run_id],
    }
    path = _record(folder, database, key)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps(record).encode("utf-8"))


def _record(folder: Path, database: Path, key: str) -> Path:
    name = hashlib.sha256(f"{database.resolve()}\0{key}".encode()).hexdigest()[:24]
    return folder / "choices" / f"{name}.json"


def _file_state(path: Path) -> list[int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_mtime_ns, stat.st_size]
