"""One cache for what is drawn once and used by many runs (styled digits, non-digits, cut
parts): keyed by what it is drawn from, verified when read, written atomically.

A cache file is untrusted: an interrupted write, a full disk or another version may have
left it torn, short, or claiming any shape. Every header is checked against the shape and
type expected before an array is allocated, and the content against a checksum stored with
it; a file that fails is drawn again, with one warning line. A cache folder that cannot be
written only means no cache.
"""

import hashlib
import logging
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType

import numpy as np

from digit_recognizer.files import write_atomically

log = logging.getLogger(__name__)

CACHE_DIR = Path.home() / ".cache" / "digit-recognizer" / "styled"
# Expected (shape, dtype) per array; None in a shape: any length, the same for every None.
Layout = dict[str, tuple[tuple[int | None, ...], np.dtype]]
_CHECKSUM = "__sha256__"


def fingerprint(*parts: bytes | str | ModuleType | np.ndarray) -> str:
    """A short hash of what a drawing depends on: data, settings, and the source files of the
    modules that draw it (a change to any of them draws anew)."""
    key = hashlib.sha256()
    for part in parts:
        if isinstance(part, ModuleType):
            key.update(Path(part.__file__ or "").read_bytes())
        elif isinstance(part, np.ndarray):
            key.update(np.ascontiguousarray(part).tobytes())
        else:
            key.update(part.encode() if isinstance(part, str) else part)
        key.update(b"\0")
    return key.hexdigest()[:16]


def cached(
    cache_dir: Path | None,
    name: str,
    layout: Layout,
    draw: Callable[[], dict[str, np.ndarray]],
) -> dict[str, np.ndarray]:
    """The arrays stored as ``cache_dir/name.npz`` if they are there and sound, else
    ``draw()``'s, stored for next time. ``layout``: what each array must be."""
    path = cache_dir / f"{name}.npz" if cache_dir else None
    if path is not None and path.is_file():
        try:
            return read_verified(path, layout)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            log.warning("Cache file %s is unusable (%s); drawing it again.", path, reason)
    arrays = draw()
    _check(arrays, layout)
    if path is not None:
        store(path, arrays)
    return arrays


def read_verified(path: Path, layout: Layout) -> dict[str, np.ndarray]:
    """The arrays of a cache file, each header checked before its data is read, the content
    against the stored checksum; ValueError (or a zip or OS error) when anything is off."""
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as archive:
        members = {name.removesuffix(".npy") for name in archive.namelist()}
        if members == set(layout):
            raise ValueError("it has no checksum: an older version wrote it")
        if members != {*layout, _CHECKSUM}:
            raise ValueError(f"it holds {sorted(members)}, not {sorted(layout)}")
        for name in [*layout, _CHECKSUM]:
            with archive.open(f"{name}.npy") as member:
                shape, dtype = _header(member)
                wanted = layout.get(name, ((64,), np.dtype(np.uint8)))
                if dtype != wanted[1] or not _fits(shape, wanted[0]):
                    raise ValueError(f"{name} is {dtype}{list(shape)}, not {wanted[1]}{wanted[0]}")
                data = member.read(int(np.prod(shape)) * dtype.itemsize + 1)
                if len(data) != int(np.prod(shape)) * dtype.itemsize:
                    raise ValueError(f"{name} is truncated")
                arrays[name] = np.frombuffer(data, dtype=dtype).reshape(shape).copy()
    stored = bytes(arrays.pop(_CHECKSUM))
    if stored.decode("ascii", "replace") != _checksum(arrays):
        raise ValueError("its content does not match its checksum")
    _check(arrays, layout)
    return arrays


def store(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Save with a checksum, atomically (a reader never sees half a file); a cache that cannot
    be written is one warning, not an error."""
    checksum = np.frombuffer(_checksum(arrays).encode("ascii"), dtype=np.uint8)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda file: np.savez(file, **arrays, **{_CHECKSUM: checksum}))
    except OSError as err:
        log.warning("Could not keep a cache at %s (%s); it will be drawn again.", path, err)


def _header(member: zipfile.ZipExtFile) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(member)
    read = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }.get(version)
    if read is None:
        raise ValueError(f"unknown .npy version {version}")
    shape, fortran_order, dtype = read(member)
    if fortran_order or dtype.hasobject:
        raise ValueError("not a plain array")
    return tuple(int(side) for side in shape), dtype


def _fits(shape: tuple[int, ...], wanted: Iterable[int | None]) -> bool:
    wanted = tuple(wanted)
    return len(shape) == len(wanted) and all(
        w is None or s == w for s, w in zip(shape, wanted, strict=True)
    )


def _check(arrays: dict[str, np.ndarray], layout: Layout) -> None:
    """Every array of ``layout``, of its shape and type, finite, free lengths all equal."""
    if set(arrays) != set(layout):
        raise ValueError(f"holds {sorted(arrays)}, not {sorted(layout)}")
    free: set[int] = set()
    for name, (shape, dtype) in layout.items():
        array = arrays[name]
        if array.dtype != dtype or not _fits(array.shape, shape):
            raise ValueError(f"{name} is {array.dtype}{list(array.shape)}, not {dtype}{shape}")
        free |= {side for side, w in zip(array.shape, shape, strict=True) if w is None}
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ValueError(f"{name} holds values that are not finite")
    if len(free) > 1:
        raise ValueError(f"arrays of different lengths {sorted(free)}")


def _checksum(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
