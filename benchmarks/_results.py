"""Writing benchmark results: one JSON file per benchmark under ``benchmarks/results/`` (``$SNNLIB_BENCH_RESULTS``), with the
machine and time, written atomically (``<name>_quick.json`` for smoke runs, not committed)."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

from snnlib.paths import bench_results_root


def write(name: str, description: str, results: list, quick: bool, **extra) -> Path:
    doc = {
        "benchmark": description,
        "quick": quick,
        "threads": 1,
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count()},
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **extra,
        "results": results,
    }
    path = bench_results_root() / (f"{name}_quick.json" if quick else f"{name}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, path)
    print(f"written {path}")
    return path


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def peak_increase_mib(fn) -> tuple[float, float]:
    """Run ``fn()`` and return (peak resident MiB during it, increase over the resident MiB before).

    The kernel's peak counter (``VmHWM``) is reset through ``/proc/self/clear_refs`` first, so data
    loading and compilation done before the call do not count (Linux only)."""
    before = _status_mib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    fn()
    peak = _status_mib("VmHWM")
    return peak, peak - before
