"""Atomic file writes: a file appears complete under its final name, or not at all.

A write goes to a scratch file beside the target (`.NAME.XXXXXXXX.tmp`), is flushed to
disk and renamed into place. The file gets the permissions the process's umask gives a
new file (not the 0600 of a temporary file), a full disk is a one-line error naming the
path and the space needed, and scratch files a killed process left behind are removed
by `remove_scratch` when the next writer starts.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from genlab.errors import GenlabError

SCRATCH_PATTERN = re.compile(r"^\..+\.[A-Za-z0-9_]+\.tmp$")  # ".<target>.<random>.tmp", as atomic_path names them
NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_umask_lock = threading.Lock()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, size: int | None = None) -> Iterator[Path]:
    """Yield a scratch path beside `target`; on success fsync it and rename it into place.

    If the block raises, the scratch file is removed and `target` is left as it was.
    `size`, when known, is named in the error a full disk gives.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, scratch = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    scratch = Path(scratch)
    try:
        try:
            yield scratch
            os.chmod(scratch, 0o666 & ~current_umask())
            commit(scratch, target)
        except OSError as error:
            if error.errno in NO_SPACE:
                raise no_space_error(target, scratch, size) from None
            raise
        except RuntimeError as error:  # torch and safetensors report a failed write as a RuntimeError
            if _reads_as_no_space(error, scratch):
                raise no_space_error(target, scratch, size) from None
            raise
    finally:
        scratch.unlink(missing_ok=True)


def write_bytes_atomic(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target, size=len(data)) as scratch:
        scratch.write_bytes(data)


def current_umask() -> int:
    """The process's umask: from /proc on Linux, elsewhere by setting it and putting it back (under a lock)."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        with open("/proc/self/status") as status:
            return int(next(line for line in status if line.startswith("Umask:")).split()[1], 8)
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def no_space_error(target: Path, scratch: Path | None = None, needed: int | None = None) -> GenlabError:
    """'no space left to write X: about N MB needed, M MB free; free some space and retry'."""
    if not needed and scratch is not None:
        with contextlib.suppress(OSError):
            needed = scratch.stat().st_size
    try:
        free = shutil.disk_usage(target.parent).free
    except OSError:
        free = None
    need_text = f"at least {_size(needed)} needed" if needed else "more space needed"
    free_text = f", {_size(free)} free" if free is not None else ""
    return GenlabError(f"no space left to write {target}: {need_text}{free_text} (or a file size limit); "
                       "free some space and retry")


def disk_error(error: OSError, path: Path) -> GenlabError:
    """An OSError the file system raised while writing `path`, as one line that says what to do."""
    if error.errno in NO_SPACE:
        return no_space_error(Path(path))
    reason = error.strerror or type(error).__name__
    return GenlabError(f"cannot write {path} ({reason}); check the path and its permissions")


def _reads_as_no_space(error: RuntimeError, scratch: Path) -> bool:
    """Whether a library's RuntimeError is a failed write (torch's zip writer says "unexpected pos")."""
    text = str(error).lower()
    return any(mark in text for mark in ("no space", "file too large", "quota", "unexpected pos", "failed writing"))


def _size(count: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def remove_scratch(directory: str | os.PathLike, older_than: float = 0.0, prefix: str = ".") -> int:
    """Remove scratch files an interrupted write left in `directory` and its subfolders; return how many.

    `older_than` (seconds) spares the scratch files of a write that may still be under way in
    another process (readers such as `genlab eval` write into a run without its lock); `prefix`
    limits the removal to the scratch files of one target (".curves.png.").
    """
    removed, now = 0, time.time()
    root = Path(directory)
    if not root.is_dir():
        return 0
    for path in root.rglob(".*.tmp") if prefix == "." else root.glob(f"{prefix}*.tmp"):
        if not SCRATCH_PATTERN.match(path.name) or not path.is_file() or path.is_symlink():
            continue
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime >= older_than:
                path.unlink()
                removed += 1
    return removed


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
