"""snnlib.memory.keep_freed_memory: a freed large block stays with the process for reuse."""

import platform
import subprocess
import sys

import pytest

CHILD = r"""
import numpy as np, sys
from snnlib.memory import keep_freed_memory
def rss():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS:")).split()[1]) // 1024
if sys.argv[1] == "keep":
    assert keep_freed_memory() and keep_freed_memory()
before = rss()
a = np.ones(64 << 18)  # 128 MiB, touched
del a
print(rss() - before)
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_freed_large_blocks_stay_with_the_process_only_when_asked():
    kept = int(subprocess.run([sys.executable, "-c", CHILD, "keep"], capture_output=True, text=True,
                              check=True).stdout)
    default = int(subprocess.run([sys.executable, "-c", CHILD, "default"], capture_output=True, text=True,
                                 check=True).stdout)
    assert kept >= 100 and default < 20  # MiB still resident after the free
