"""Atomic file writes: a file appears complete under its final name, or not at all."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from genlab.errors import GenlabError


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a scratch path beside `target`; on success fsync it and rename it into place.

    If the block raises, the scratch file is removed and `target` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, scratch = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    scratch = Path(scratch)
    try:
        yield scratch
        commit(scratch, target)
    finally:
        scratch.unlink(missing_ok=True)


def commit(scratch: Path, target: Path) -> None:
    """Flush `scratch` to disk, then atomically rename it to `target`."""
    with open(scratch, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(scratch, target)
    fsync_directory(target.parent)


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target) as scratch:
        scratch.write_text(text)


def fsync_directory(directory: Path) -> None:
    """Make a rename durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def check_output_path(text: str | os.PathLike, suffixes: Sequence[str]) -> Path:
    """Refuse an output path before any work: a suffix not in `suffixes` ("" = a folder), or a file in the way.

    Missing parent folders are fine: they are created when the output is written.
    """
    path = Path(text)
    if path.suffix.lower() not in suffixes:
        raise GenlabError(f"output '{text}' must end in {', '.join(s or '(a folder)' for s in suffixes)}")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise GenlabError(f"output '{text}': '{parent}' is a file, not a folder")
            break
    return path
