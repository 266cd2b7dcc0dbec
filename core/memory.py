"""Giving large freed buffers back to the operating system at once.

glibc serves big allocations with mmap, but after the first one is freed it raises that threshold (up to 32 MiB)
and serves later ones from its heaps, one per thread that allocated, where freed image buffers stay as part of
the process: with many requests decoding large images on different threads the resident size kept growing
(eight 40-megapixel decodes at once: +2.4 GB with the dynamic threshold, +1.25 GB with a fixed 1 MiB one, in
bench/bench_decode_memory.py). `release_large_buffers()` fixes the threshold, so every buffer of 1 MiB or more
(image planes, numpy arrays) is mapped on its own and unmapped when freed. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number


def release_large_buffers(threshold_bytes: int = 1 << 20) -> bool:
    """Fix glibc's mmap threshold at `threshold_bytes`; True when it took effect."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, int(threshold_bytes)))
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to tune
        return False
