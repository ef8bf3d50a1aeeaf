"""One-off migration (issue 27): the committed executed notebooks show their parameters once.

Runs executed from now on are post-processed by :func:`snnlib.pipeline.execution.show_parameters_once`
(the notebook's own ``parameters`` cell, the defaults, tagged ``remove-cell``; papermill's injected
cell tagged ``hide-input``). This applies the same tags to every ``runs/**/notebook.ipynb`` already
committed. Only cell tags change: no source, output or other metadata; ``notebook.ipynb`` is not
among the files a run's ``meta.json`` checksums, so every run still verifies, and no completion
record (``reads.json``, which names the ``meta.json`` of the runs read) goes stale.

It refuses to run unless ``runs/`` equals the commit (``git status runs`` clean), and checks that
each rewritten notebook differs from the committed one in its tags only. Run it once, from the
project root: ``python scripts/show_parameters_once.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from snnlib.pipeline.execution import show_parameters_once
from snnlib.store import runs


def _without_tags(nb: dict) -> dict:
    for c in nb["cells"]:
        c.get("metadata", {}).pop("tags", None)
    return nb


def main() -> int:
    if subprocess.run(["git", "status", "--porcelain", "runs"], capture_output=True, text=True,
                      check=True).stdout.strip():
        print("runs/ differs from the commit (git status runs): commit or restore it first", file=sys.stderr)
        return 1
    changed = 0
    for path in sorted(Path("runs").rglob(runs.NOTEBOOK)):
        before = path.read_bytes()
        show_parameters_once(path)
        after = path.read_bytes()
        if after == before:
            continue
        if _without_tags(json.loads(before)) != _without_tags(json.loads(after)):
            path.write_bytes(before)
            print(f"{path}: more than the tags would change; left as it was", file=sys.stderr)
            return 1
        changed += 1
    print(f"{changed} executed notebooks now show their parameters once")
    return 0


if __name__ == "__main__":
    sys.exit(main())
