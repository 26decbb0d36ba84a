"""NumPy files (.npy, and .npz archives of them) read with their headers checked first.

A header states an array's dtype and shape; numpy allocates that much before it reads a
byte of data. So the header is read on its own and believed only when the bytes it
promises are there (the rest of the file, or the archive member's stated size, itself
bounded by how far deflate can honestly expand), the dtype holds plain numbers and
pickles stay off. Every failure is a one-line GenlabError naming the file.
"""

from __future__ import annotations

import lzma
import math
import struct
import tokenize
import zipfile
import zlib
from pathlib import Path
from typing import IO

import numpy as np
from numpy.lib import format as npy_format

from genlab.data.limits import check_fits_in_memory, expansion_limit, gigabytes
from genlab.errors import GenlabError
from genlab.settings import shown

MAX_HEADER_BYTES = 10_000  # numpy's own default bound on a header
DEFLATE_MAX_RATIO = 1032  # deflate cannot expand further; a member that claims more lies about its size
# what a damaged file or archive raises from numpy, zipfile and the decompressors
UNREADABLE = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, struct.error, tokenize.TokenError, SyntaxError, OSError,
              EOFError, ValueError, RuntimeError, NotImplementedError, OverflowError, UnicodeDecodeError)


def read_npy(path: Path) -> np.ndarray:
    """One .npy file, its header checked against the file's length before the data is read."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            dtype, shape = _header(handle, path)
            _check_declared(dtype, shape, size - handle.tell(), path, "the file holds")
            return _read_array(handle, path)
    except GenlabError:
        raise
    except MemoryError:
        raise GenlabError(f"{path}: not enough memory to read it; use a subset of the data") from None
    except UNREADABLE as error:
        raise GenlabError(f"{path}: not a readable NumPy file ({_reason(error)})") from None


def npz_keys(path: Path) -> list[str]:
    """The array names in a .npz archive (its members called NAME.npy)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return [name[:-4] for name in archive.namelist() if name.endswith(".npy")]
    except UNREADABLE as error:
        raise GenlabError(f"{path}: not a readable .npz archive ({_reason(error)}); save it with np.savez") from None


def read_npz_member(path: Path, key: str, text: bool = False) -> np.ndarray:
    """Array `key` of a .npz archive: its header checked against the member's size, and that size against
    how far its compressed bytes can honestly expand. `text`: strings are allowed too (labels)."""
    where = f"{path}[{shown(key)}]"
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(key + ".npy")
            if info.compress_type != zipfile.ZIP_STORED and info.file_size > DEFLATE_MAX_RATIO * info.compress_size + 4096:
                raise GenlabError(f"{where}: the archive claims {info.file_size:,} bytes from {info.compress_size:,} "
                                  "compressed ones, which no compression gives; the file is damaged")
            if info.file_size > expansion_limit(info.compress_size):
                raise GenlabError(f"{where}: {gigabytes(info.compress_size)} compressed expand to "
                                  f"{gigabytes(info.file_size)} (a possible decompression bomb); if the data is "
                                  "genuine, save it uncompressed (np.savez or np.save)")
            with archive.open(info) as member:
                dtype, shape = _header(member, where, "biufUS" if text else "biuf")
                _check_declared(dtype, shape, info.file_size - member.tell(), where, "the archive member holds")
                return _read_array(member, where)
    except GenlabError:
        raise
    except MemoryError:
        raise GenlabError(f"{where}: not enough memory to read it; use a subset of the data") from None
    except UNREADABLE as error:
        raise GenlabError(f"{where}: not a readable array ({_reason(error)}); save it with np.savez") from None


def _header(handle: IO[bytes], where: Path | str, kinds: str = "biuf") -> tuple[np.dtype, tuple[int, ...]]:
    try:
        version = npy_format.read_magic(handle)
    except ValueError:
        raise GenlabError(f"{where}: not a NumPy array file (no .npy header); save it with np.save") from None
    # version 3 differs from 2 only in allowing a UTF-8 header, which a plain numeric dtype never needs
    read = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
    shape, _, dtype = read(handle, max_header_size=MAX_HEADER_BYTES)
    if dtype.hasobject:
        raise GenlabError(f"{where} holds Python objects, which genlab does not unpickle; save a plain numeric "
                          "array (np.save)")
    if dtype.kind not in kinds or dtype.fields is not None or dtype.subdtype is not None:
        raise GenlabError(f"{where}: values of type {_dtype_text(dtype)} are not numbers; save a numeric array")
    if any(side < 0 for side in shape):
        raise GenlabError(f"{where}: the header announces an impossible shape {shape}; the file is damaged")
    return dtype, shape


def _check_declared(dtype: np.dtype, shape: tuple[int, ...], available: int, where: Path | str, holds: str) -> None:
    declared = math.prod(shape) * dtype.itemsize
    if declared > available:
        raise GenlabError(f"{where}: the header announces shape {shape} of {dtype} ({declared:,} bytes) but "
                          f"{holds} {max(available, 0):,}; the file is truncated or damaged")
    check_fits_in_memory(declared, str(where))


def _read_array(handle: IO[bytes], where: Path | str) -> np.ndarray:
    """The data after a header already checked: read from the start again, so numpy sees the whole file."""
    handle.seek(0)
    return npy_format.read_array(handle, allow_pickle=False, max_header_size=MAX_HEADER_BYTES)


def _dtype_text(dtype: np.dtype) -> str:
    text = str(dtype)
    return text if len(text) <= 60 else text[:57] + "..."


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."

