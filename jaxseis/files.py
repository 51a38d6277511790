"""Files written safely: atomic replacement, strict JSON, output locations checked up front.

Every file jaxseis writes (datasets, emulators, travel-time caches, results, catalogues) goes
through :func:`atomic_path`: the content is written to a unique temporary file in the target's
directory, flushed to disk and moved over the target with :func:`os.replace`, which is atomic on
POSIX and Windows. A reader therefore sees the old file or the new one, never a half-written one;
two processes saving the same path leave one complete file; a crash or an interrupt leaves at
most a temporary file, which is removed when Python can run the cleanup and otherwise is named
so that no loader picks it up (a leading dot and a ``.partial`` suffix: ``.NAME.<random>.partial``).

Long jobs call :func:`prepare_output_dir` or :func:`check_writable` **before** the work, so that
an unwritable or already-used output location is reported at once, not after the sampling.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "PARTIAL_SUFFIX",
    "OutputError",
    "atomic_path",
    "check_writable",
    "json_ready",
    "prepare_output_dir",
    "write_json",
    "write_text",
]

PARTIAL_SUFFIX = ".partial"
"""Suffix of the temporary files of :func:`atomic_path` (which also start with a dot)."""


def _file_mode() -> int:
    """The permissions a new file gets from the process umask (``mkstemp`` uses 0600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


class OutputError(OSError):
    """An output location that cannot be used: not writable, a file where a directory is
    needed, or an existing result that would be overwritten."""


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Context manager: a temporary path to write, moved to ``path`` when the block succeeds.

    The temporary file lies in ``path``'s directory (created if needed), so the final
    :func:`os.replace` never crosses file systems. On an exception (``KeyboardInterrupt``
    included) the temporary file is removed and the exception propagates; ``path`` is then
    untouched.

    Example::

        with atomic_path("models/r1.npz") as tmp:
            np.savez_compressed(tmp, **arrays)   # any writer that takes a path

    Writers that add a suffix to the name they are given (NumPy's ``savez`` adds ``.npz``)
    must be given an open file object instead: ``with open(tmp, "wb") as f: np.savez(f, ...)``.
    """
    path = Path(path)
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(
            f"cannot write {path}: {directory} exists and is not a directory"
        ) from None
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        _fsync(tmp)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def json_ready(obj: Any) -> Any:
    """``obj`` with NumPy arrays and scalars, paths and tuples turned into JSON types.

    Raises:
        ValueError: for NaN or infinite numbers (strict JSON has none: write ``None``).
        TypeError: for objects JSON cannot represent.
    """
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_ready(obj.tolist())
    if isinstance(obj, np.generic):
        return json_ready(obj.item())
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"{obj} cannot be written to strict JSON; use None for a missing number")
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as strict JSON (no NaN; see :func:`json_ready`) atomically."""
    text = json.dumps(json_ready(obj), indent=2, allow_nan=False) + "\n"
    return write_text(path, text)


def check_writable(path: str | Path) -> Path:
    """Check, before any long work, that a file can be written at ``path``.

    Creates the parent directory if needed and tries a temporary file in it.

    Raises:
        OutputError: the parent is a file, cannot be created, or is not writable; or ``path``
            is an existing directory.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"cannot write the file {path}: it is an existing directory")
    _probe_directory(path.parent, f"the output file {path}")
    return path


def prepare_output_dir(path: str | Path, *, overwrite: bool = False) -> Path:
    """Create (or accept) an output directory before any long work and check it is writable.

    Args:
        path: the directory.
        overwrite: accept a directory that already holds files (they are replaced file by
            file as the new results are written). Without it, a non-empty directory is refused.

    Raises:
        OutputError: a file or a non-empty directory (without ``overwrite``) at ``path``, a
            parent that is a file, or a location that is not writable.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"the output {path} exists and is not a directory")
    if path.is_dir() and not overwrite and any(path.iterdir()):
        raise OutputError(
            f"the output directory {path} already holds results; choose another directory "
            "or pass --overwrite (overwrite=True)"
        )
    _probe_directory(path, f"the output directory {path}")
    return path


def _probe_directory(directory: Path, what: str) -> None:
    for parent in (directory, *directory.parents):
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"cannot create {what}: {parent} is a file, not a directory")
            break
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".write-test.", suffix=PARTIAL_SUFFIX)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise OutputError(f"cannot write {what}: {err.strerror or err}") from None
