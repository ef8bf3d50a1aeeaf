"""One-off migration (issue 22): bring the committed run folders under ``runs/`` to the integrity rules.

For every run folder with a ``meta.json`` (a run with results; a chapter folder has none):

1. ``summary.json`` is rewritten as strict JSON (a bare ``NaN`` becomes ``null``; every other value
   and the formatting are unchanged, so the file's numbers read back identically);
2. a sweep point's executed notebook (``runs/<sweep>/<profile>/<point-id>/notebook.ipynb``) loses
   its outputs (the chapters are what a reader sees; the figures were two thirds of the bytes);
3. ``meta.json`` records the SHA-256 of ``config.yaml``, ``results.nc``, ``summary.json`` and, where
   present, ``run.log`` and ``weights.npz`` (``checksums``).

It refuses to run unless ``runs/`` equals the commit (``git status runs`` clean): the checksums then
record the committed bytes, which git's own object hashes vouch for. Run it once, from the project
root: ``python scripts/record_run_checksums.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from snnlib.files import atomic_write
from snnlib.pipeline.execution import RUN_LOG, strip_outputs
from snnlib.store import runs
from snnlib.training.driver import WEIGHTS


def main() -> int:
    root = Path("runs")
    if subprocess.run(["git", "status", "--porcelain", "--", "runs"], capture_output=True, text=True).stdout.strip():
        print("runs/ has uncommitted changes: commit or restore them first", file=sys.stderr)
        return 1
    n = stripped = 0
    for meta_file in sorted(root.rglob("meta.json")):
        folder = meta_file.parent
        summary = folder / "summary.json"
        atomic_write(summary, runs._json(json.loads(summary.read_text())))
        if len(folder.relative_to(root).parts) == 3 and (folder / runs.NOTEBOOK).is_file():
            stripped += strip_outputs(folder / runs.NOTEBOOK) > 0
        names = [f for f in (*runs.RESULT_FILES, RUN_LOG, WEIGHTS) if (folder / f).is_file()]
        meta = json.loads(meta_file.read_text())
        meta["checksums"] = {}
        atomic_write(meta_file, runs._json(meta))
        runs.record_checksums(folder, names)
        runs.verify(folder)
        n += 1
    print(f"{n} run folders: checksums recorded; {stripped} point notebooks stripped of their outputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
