"""Memory checks before large allocations: a request the machine cannot hold is a one-line error, not the OOM killer."""

from __future__ import annotations

import math
import os

try:
    import resource
except ImportError:  # Windows: no address-space limits to read
    resource = None

from genlab.errors import GenlabError


def available_memory() -> int:
    """Bytes of memory this process can still use: the smaller of what the system has free and its own limit."""
    limits = []
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    if not limits:
        try:
            limits.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            limits.append(1 << 62)
    if resource is not None:
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            limits.append(max(soft - _address_space_in_use(), 0))
    return min(limits)


def _address_space_in_use() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def check_fits(count: int, shape, what: str, remedy: str, bytes_per_value: int = 4, copies: int = 2) -> None:
    """Refuse `count` items of `shape` when `copies` float32 copies of them would not fit in free memory."""
    needed = count * math.prod(int(d) for d in shape) * bytes_per_value * copies
    free = available_memory()
    if needed > free:
        raise GenlabError(f"{count:,} {what} need about {_gb(needed)} of memory and {_gb(free)} is free; {remedy}")


def _gb(count: int) -> str:
    return f"{count / (1 << 30):.1f} GB" if count >= (1 << 27) else f"{count / (1 << 20):.0f} MB"
