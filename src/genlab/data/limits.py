"""The limits every reader holds input to, so that a hostile or damaged file is refused in
one line before anything sized by its claims is allocated.

A reader trusts a size only once the bytes behind it are there: an array header is checked
against the file's length, a compressed member against how far it may honestly expand, an
image's declared pixel count against a cap, labels against a class count, and a CSV line
against a length. What remains is memory proportional to the data itself.
"""

from __future__ import annotations

import os

from genlab.errors import GenlabError

MAX_CLASSES = 10_000  # labels are class indices 0..K-1 with K at most this
MAX_CSV_LINE_CHARS = 16 << 20  # one CSV record; wider data belongs in a .npy file
MAX_IMAGE_PIXELS = 89_478_485  # Pillow's decompression-bomb threshold (MAX_IMAGE_PIXELS), held as a hard limit
MAX_EXPANSION = 100  # compressed input may grow this many times over when decoded ...
EXPANSION_FLOOR = 1 << 30  # ... or up to this many bytes, whichever is more
MAX_TABLE_INPUTS = 100_000  # a table's encoded width (one-hot categories included)


def expansion_limit(compressed_bytes: int) -> int:
    """The most bytes `compressed_bytes` of input may decode to before it counts as a decompression bomb."""
    return max(EXPANSION_FLOOR, MAX_EXPANSION * compressed_bytes)


def memory_bytes() -> int | None:
    """This machine's physical memory, where the system says (None elsewhere)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_fits_in_memory(nbytes: int, what: str) -> None:
    """Refuse data that could not be held in this machine's memory at all, before trying."""
    total = memory_bytes()
    if total is not None and nbytes > total:
        raise GenlabError(f"{what} needs {gigabytes(nbytes)} of memory, more than this machine's {gigabytes(total)}; "
                          "use a subset of the data")


def gigabytes(nbytes: int) -> str:
    return f"{nbytes / 2**30:,.1f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:,.1f} MiB"
