"""Completion records of the runs that read other runs: what they read, in which state.

A run that reads other runs (:func:`snnlib.study.plan.reads`: a sweep's chapter, the findings, a
seed 002 page, a transfer point) writes :data:`READS` into its folder when it is made: every run it
read with the SHA-256 of that run's ``meta.json`` (rewritten whenever a run is made or remade, and
holding its git commit and the checksums of its results), and the code it was made from. It is
*current* while those states are the runs' states now, *stale* once one of them was remade (here,
or on another machine and pulled) or the plan makes it read other runs; a stale run is not complete,
so ``make runs`` and :func:`snnlib.pipeline.execution.execute_task` re-make it.

A reader made before these records existed has none (*unrecorded*): it is current unless a run
it reads was made after it (that run's ``meta.json`` ``finished`` later than the reader's notebook
was executed, papermill's ``end_time``), the one evidence such a reader carries. Re-made, it gets a
record; ``python -m snnlib stale`` lists the readers without one, and ``python -m snnlib execute
--remake KEY`` re-makes one.

Light on purpose (no torch): the Makefile asks :func:`to_remake` at every invocation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, NamedTuple

from snnlib.files import atomic_write
from snnlib.paths import runs_root
from snnlib.provenance import code_state
from snnlib.store.runs import NOTEBOOK, sha256_of
from snnlib.study import plan as plan_

__all__ = ["READS", "STALE_SUFFIX", "state", "recorded", "current", "made_after", "write", "Reader", "reader",
           "readers", "to_remake"]

#: a reader's completion record: the runs it read, each with the SHA-256 of its ``meta.json``
READS = "reads.json"

#: a derived run's previous result files, kept beside the recomputed ones (``results.nc.stale``)
STALE_SUFFIX = ".stale"


def run_folder(key: str, root: str | Path | None = None) -> Path:
    """The folder of the run ``key`` (relative to the runs folder)."""
    return runs_root(root).joinpath(*key.split("/"))


def state(keys: Iterable[str], root: str | Path | None = None) -> dict[str, str | None]:
    """The state of the runs ``keys`` (relative to the runs folder): key -> SHA-256 of its
    ``meta.json``, ``None`` for a run that is not there."""
    return {k: sha256_of(run_folder(k, root) / "meta.json") for k in keys}


def recorded(folder: str | Path) -> dict[str, str | None] | None:
    """The states recorded in ``folder``'s :data:`READS`; ``None`` when it has no record. Raises
    ``ValueError`` for a record that cannot be read (a damaged record: the run is re-made)."""
    path = Path(folder) / READS
    if not path.is_file():
        return None
    try:
        reads = json.loads(path.read_text())["reads"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path} cannot be read ({type(err).__name__}: {err})") from None
    if not isinstance(reads, dict):
        raise ValueError(f"{path}: 'reads' is not an object")
    return reads


def current(folder: str | Path, keys: Iterable[str], root: str | Path | None = None) -> bool:
    """Whether the run in ``folder``, which reads ``keys``, was made from their present state: its
    record names exactly them, each in its state now. A run that reads nothing is current; a reader
    without a record (made before records existed) is current unless one of them was made after it
    (:func:`made_after`); a damaged record is not."""
    keys = tuple(keys)
    if not keys:
        return True
    try:
        rec = recorded(folder)
    except ValueError:
        return False
    return not made_after(folder, keys, root) if rec is None else rec == state(keys, root)


def made_after(folder: str | Path, keys: Iterable[str], root: str | Path | None = None) -> tuple[str, ...]:
    """The runs among ``keys`` whose results were written (``meta.json`` ``finished``) after the
    notebook in ``folder`` was executed (papermill's ``end_time``): a reader without a record read
    an older state of them. Empty when the notebook's time is unknown."""
    made = _executed_at(Path(folder))
    return tuple(k for k in keys if _newer(_finished(k, root), made)) if made else ()


def write(folder: str | Path, reads: dict[str, str | None]) -> Path:
    """Write the record of a run made from the states ``reads`` (taken before it ran: a run read that
    lands meanwhile leaves the record stale) and the code it was made from."""
    path = Path(folder) / READS
    atomic_write(path, json.dumps({"reads": reads, **code_state()}, indent=1, sort_keys=True) + "\n")
    return path


class Reader(NamedTuple):
    """A run of a profile that reads other runs, and where its record stands.

    ``status``: ``"current"``; ``"stale"`` (``changed``: the runs whose state is not the recorded one,
    read or no longer read); ``"unrecorded"`` (made before records; ``changed``: the runs it reads
    that were made after it (:func:`made_after`), which make it stale too); ``"damaged"`` (a record
    that cannot be read); ``"not made"``."""

    key: str
    status: str
    reads: tuple[str, ...]
    changed: tuple[str, ...] = ()


def _executed_at(folder: Path) -> str | None:
    """When the notebook in ``folder`` was executed (papermill's end time, ISO 8601, UTC)."""
    try:
        meta = json.loads((folder / NOTEBOOK).read_text()).get("metadata", {})
    except (OSError, ValueError):
        return None
    return meta.get("papermill", {}).get("end_time")


def _finished(key: str, root) -> str | None:
    try:
        return json.loads((run_folder(key, root) / "meta.json").read_text()).get("finished")
    except (OSError, ValueError):
        return None


def _newer(a: str | None, b: str | None) -> bool:
    """``a`` later than ``b`` (ISO 8601 times in UTC, to the second)."""
    return bool(a and b) and a[:19] > b[:19]


def reader(key: str, root: str | Path | None = None) -> Reader:
    """Where the record of the run ``key`` stands (:class:`Reader`)."""
    keys = plan_.reads(key)
    folder = run_folder(key, root)
    if not (folder / NOTEBOOK).is_file():
        return Reader(key, "not made", keys)
    try:
        rec = recorded(folder)
    except ValueError:
        return Reader(key, "damaged", keys)
    if rec is None:
        return Reader(key, "unrecorded", keys, made_after(folder, keys, root))
    now = state(keys, root)
    changed = tuple(k for k in dict.fromkeys([*rec, *now]) if rec.get(k, "absent") != now.get(k, "absent"))
    return Reader(key, "stale" if changed else "current", keys, changed)


def readers(profile: str, root: str | Path | None = None) -> list[Reader]:
    """Every run of ``profile`` (``make runs``' targets) that reads other runs, with its record's status."""
    return [reader(k, root) for k in plan_.targets(profile) if plan_.reads(k)]


def to_remake(profile: str, root: str | Path | None = None) -> list[str]:
    """The runs of ``profile`` whose notebook exists but that ``make runs`` must re-make: readers
    that are not :func:`current`, and readers of a run that is made (its notebook is missing) or
    re-made in the same pass, whether recorded or not. Ordered as :func:`plan.targets`."""
    keys = plan_.targets(profile)
    reads = {k: plan_.reads(k) for k in keys}
    made = {k: (run_folder(k, root) / NOTEBOOK).is_file() for k in keys}
    remake = {k for k in keys if reads[k] and made[k] and not current(run_folder(k, root), reads[k], root)}
    grown = True
    while grown:  # a reader of a run made or re-made in this pass
        grown = False
        for k in keys:
            if k not in remake and made[k] and any(r in remake or not made.get(r, True) for r in reads[k]):
                remake.add(k)
                grown = True
    return [k for k in keys if k in remake]
