"""The process's memory allocator: keep freed memory for reuse (no torch, no numpy: the command
line imports it before anything heavy)."""

from __future__ import annotations

import ctypes
import platform

__all__ = ["keep_freed_memory"]


_KEPT = False


def keep_freed_memory() -> bool:
    """Let this process keep the memory it frees for reuse, instead of handing it back to the system
    (glibc's ``mallopt``: large blocks from the heap rather than their own mappings, and no trimming).

    A training step allocates and frees the same large arrays at every step (states, spike rasters,
    gradients, kernel buffers). Handed back, they return as fresh pages that the kernel faults in and
    zeroes at every step: measured on one thread, 12 of the 55 ms of an MNIST BPTT step (784-800-10,
    batch 64, T = 100) interleaved with snnTorch's steps, whose large frees return memory in between.
    The price: the process's resident memory stays at its peak. Called where training starts
    (:func:`snnlib.training.loop.fit`, packed training, the command line) and by the benchmarks, for
    every implementation they time. Linux with glibc only (elsewhere nothing is changed and it returns
    False); calling it again changes nothing."""
    global _KEPT
    if _KEPT:
        return True
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    _KEPT = bool(libc.mallopt(M_MMAP_THRESHOLD, 1 << 30)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
    return _KEPT
