"""What code made a result: the git commit, whether the tree was modified, and a digest of the training code.

:func:`code_state` is what a run folder's ``meta.json`` and a training checkpoint record. Its
``dirty`` says whether the code (not the results under ``runs/``, which a run is writing) differs
from the commit; a dirty run's code cannot be recovered from the history, so runs made for the book
come from a clean tree (:func:`snnlib.pipeline.execution.execute_task`).

:func:`training_code_digest` is the SHA-256 of the sources that decide what a training computes
(:data:`TRAINING_CODE`: the neuron model, the event and clock simulators, the data, the training
schemes and loop, and the ground modules they use). A checkpoint records it, and resuming from a
checkpoint written by other training code is refused (:func:`snnlib.training.loop.fit`): a change
of the docs, the pipeline or the book does not invalidate a checkpoint, a change of a kernel does,
committed or not.
"""

from __future__ import annotations

import functools
import hashlib
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["TRAINING_CODE", "git", "code_state", "training_code_digest", "describe"]

_PACKAGE = Path(__file__).resolve().parent

#: the parts of the package whose sources decide what a training computes (folders and modules)
TRAINING_CODE = ("model", "events", "clock", "data", "training", "config.py", "device.py", "metrics.py")


def git(*args: str) -> str | None:
    """``git *args`` in the package's checkout: its stdout, or ``None`` outside a checkout."""
    try:
        out = subprocess.run(["git", *args], cwd=_PACKAGE, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def code_state() -> dict[str, Any]:
    """``{"git_commit", "git_dirty", "training_code"}`` of the code running now. ``git_dirty``: the
    tracked files (outside ``runs/``, which runs write) differ from the commit; ``None`` (like the
    commit) outside a git checkout."""
    status = git("status", "--porcelain", "--untracked-files=no", "--", ":(top)", ":(top,exclude)runs")
    return {"git_commit": git("rev-parse", "HEAD"),
            "git_dirty": bool(status) if status is not None else None,
            "training_code": training_code_digest()}


@functools.lru_cache(maxsize=1)
def _digest_cached(stamp: tuple) -> str:
    h = hashlib.sha256()
    for rel, _, _ in stamp:
        h.update(rel.encode() + b"\0" + (_PACKAGE / rel).read_bytes() + b"\0")
    return h.hexdigest()


def training_code_digest() -> str:
    """SHA-256 of the sources in :data:`TRAINING_CODE` (their paths and bytes, in sorted order)."""
    files = []
    for part in TRAINING_CODE:
        p = _PACKAGE / part
        files += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    stamp = tuple((f.relative_to(_PACKAGE).as_posix(), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    return _digest_cached(stamp)


def describe(state: dict[str, Any]) -> str:
    """One phrase for a :func:`code_state`: ``commit 1a2b3c4d`` (``, modified`` when dirty)."""
    commit = state.get("git_commit")
    text = f"commit {commit[:8]}" if commit else "code outside git"
    return text + (" with uncommitted changes" if state.get("git_dirty") else "")
