"""Writing benchmark results: one JSON file per benchmark under ``benchmarks/results/``, with the
machine and time, written atomically (``<name>_quick.json`` for smoke runs, not committed)."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


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
    path = RESULTS / (f"{name}_quick.json" if quick else f"{name}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, path)
    print(f"written {path}")
    return path
