"""Process-level settings for per-frame work on large buffers (ROS-free).

:func:`keep_freed_buffers` stops glibc from giving large freed blocks back to the
operating system. By default glibc serves allocations above a (dynamic) threshold
with fresh ``mmap`` pages and trims the heap top on ``free``: every frame's image
copies, depth conversions and the network's activations (megabytes each) then
page-fault again, page by page, on every frame. What it saves in the node is measured
with ``kpfusion-bench-node e2e`` (benchmarks/README.md, "page faults"). The cost is
memory: up to ``trim_threshold`` bytes of freed heap stay with the process for reuse.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

__all__ = ["keep_freed_buffers"]

# <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_buffers(mmap_threshold: int = 64 << 20, trim_threshold: int = 256 << 20) -> str:
    """Ask glibc to keep freed buffers below ``mmap_threshold`` bytes in the heap for reuse.

    Returns what was done, for the log. Does nothing (and says so) where libc is not glibc,
    or where the user set ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` themselves.
    """
    if any(k in os.environ for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")):
        return "malloc thresholds left as set in the environment (MALLOC_*_THRESHOLD_)"
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return "malloc thresholds unchanged (no glibc mallopt)"
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold)) == 1
    ok = (mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)) == 1) and ok
    if not ok:
        return "malloc thresholds unchanged (mallopt refused)"
    return (f"freed buffers up to {mmap_threshold >> 20} MiB are reused, not returned to the OS "
            f"(heap trimmed above {trim_threshold >> 20} MiB free)")
