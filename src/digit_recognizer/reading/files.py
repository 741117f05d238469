"""The files a user names: paths, folders (their images) and globs, each real file once,
never a loop, at most ``MAX_FILES``."""

import fnmatch
import os
from collections.abc import Sequence
from pathlib import Path

from digit_recognizer.errors import UserError
from digit_recognizer.images.decode import IMAGE_SUFFIXES

# Files named by the user: paths, folders and globs, each real file once, never a loop.
MAX_FILES = 10_000
_GLOB_CHARS = "*?["


def expand_inputs(specs: str | Sequence[str]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files named by paths, directories (their images) and globs; and, for each spec that
    found none, the spec and why (``"photos/: directory holds no images"``).

    A name that exists is taken as it is, even with glob characters in it (``br[1].png``).
    Folders and globs follow symlinks but visit each real folder and file once, so a link
    back into the tree neither loops nor repeats a file; more than ``MAX_FILES`` is refused.
    """
    files: list[Path] = []
    failures: list[tuple[str, str]] = []
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
            failures.append((spec, f"{spec}: no such file"))
            continue
        else:
            files.append(path)  # a file that vanishes before it is read is reported then
            continue
        if not found:
            failures.append((spec, f"{spec}: {empty}"))
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
