"""A planned sweep's points gathered into one :class:`xarray.Dataset` (what the chapters read).

:func:`load_sweep` reads every complete point of a sweep of the plan (:mod:`snnlib.study.plan`)
along the grid's dims; missing points raise :class:`MissingPointsError` naming them, or are NaN
with ``allow_missing=True``.
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

import xarray as xr
import yaml

from snnlib.config import plain
from snnlib.store.runs import Run, is_complete, load, point_dir, run_dir
from snnlib.store.sweeps import format_value
from snnlib.study import plan
from snnlib.training.driver import summarize as summarize_training

__all__ = ["load_sweep", "sweep_run", "MissingPointsError"]


def _json_scalar(o: Any) -> Any:
    return o.tolist() if hasattr(o, "tolist") else str(o)


class MissingPointsError(FileNotFoundError):
    """Some points of a sweep have no complete run folder; ``missing`` lists their ids."""

    def __init__(self, message: str, missing: list[str]):
        super().__init__(message)
        self.missing = missing


def load_sweep(name: str, profile: str = "quick", *, root: str | os.PathLike | None = None,
               allow_missing: bool = False) -> xr.Dataset:
    """One :class:`xarray.Dataset` of the planned sweep ``name``: every point's results along the
    grid's dims (``seed`` among them), plus each point's own dims (``epoch``, ``samples_seen``, ...).

    A point counts only when its run folder is complete (executed notebook written). Missing points
    raise :class:`MissingPointsError` naming them and the command that makes them; with
    ``allow_missing=True`` they are NaN, listed in ``attrs["missing"]`` and in a warning.
    ``attrs``: ``sweep``, ``profile``, ``grid`` (JSON), ``config`` (YAML of the fields all points
    share), ``points`` (JSON: each point's grid values and varying attributes), ``time_unit``, and
    the results' attributes common to all points, and ``dirty`` (the ids of the points made from a
    modified tree, whose code cannot be recovered: a chapter marks them). A damaged point raises
    :class:`snnlib.store.runs.DamagedRunError` naming its file.
    """

    points = plan.sweep(name).points(profile)
    grid = plan.sweep(name).profiles[profile].grid
    coord = {k: [v if isinstance(v, (int, float, str, bool)) else format_value(v) for v in vs]
             for k, vs in grid.items()}
    # a written point whose files are damaged is not missing: loading it raises, naming the file
    missing = [p.id for p in points if not is_complete(point_dir(name, profile, p.id, root), verified=False)]
    if missing and not allow_missing:
        raise MissingPointsError(
            f"sweep {name}/{profile}: {len(missing)} of {len(points)} points missing: {', '.join(missing)}. "
            f"Make them with `python -m snnlib sweep {name} --profile {profile}` (or `make runs`), or "
            "pass allow_missing=True to load the others.", missing)
    if len(missing) == len(points):
        raise MissingPointsError(f"sweep {name}/{profile}: no point is complete ({len(points)} planned).", missing)
    parts, configs, point_attrs = [], [], {}
    for p in points:
        if p.id in missing:
            continue
        run = load(point_dir(name, profile, p.id, root))
        ds = run.results.expand_dims({k: [coord[k][list(grid[k]).index(v)]] for k, v in p.params.items()})
        parts.append(ds.drop_attrs(deep=False))
        configs.append(run.config)
        point_attrs[p.id] = {"params": {k: plain(v) for k, v in p.params.items()}, "attrs": dict(run.results.attrs),
                             "provenance": {k: run.meta.get(k) for k in ("git_commit", "git_dirty")}}
    out = xr.merge(parts, join="outer", compat="no_conflicts", combine_attrs="drop")
    out = out.reindex({k: coord[k] for k in grid})
    for v in out.data_vars:
        out[v].attrs = dict(parts[0][v].attrs) if v in parts[0] else {}
    for c in out.coords:
        if c in parts[0].coords:
            out[c].attrs = dict(parts[0][c].attrs)
    shared_attrs = {k: v for k, v in point_attrs[next(iter(point_attrs))]["attrs"].items()
                    if k != "config" and all(a["attrs"].get(k) == v for a in point_attrs.values())}
    for a in point_attrs.values():
        a["attrs"] = {k: v for k, v in a["attrs"].items() if k not in shared_attrs and k != "config"}
    shared_cfg = {k: v for k, v in configs[0].items() if all(c.get(k) == v for c in configs) and k not in grid}
    out.attrs.update(shared_attrs)
    dirty = [i for i, a in point_attrs.items() if a["provenance"]["git_dirty"]]
    out.attrs.update(sweep=name, profile=profile, time_unit="ms", missing=missing, dirty=dirty,
                     grid=json.dumps({k: [plain(v) for v in vs] for k, vs in grid.items()}),
                     config=yaml.safe_dump(shared_cfg, sort_keys=True),
                     points=json.dumps(point_attrs, default=_json_scalar))
    if missing:
        warnings.warn(f"sweep {name}/{profile}: points missing (NaN): {', '.join(missing)}", stacklevel=2)
    return out


def sweep_run(name: str, profile: str = "quick") -> Run:
    """A sweep read as one run (for readers that take a :class:`~snnlib.store.runs.Run`): its points'
    results (:func:`load_sweep`), the sweep's base config and, for a training sweep over seeds only,
    the training summary over its seeds (:func:`snnlib.training.driver.summarize`; else empty)."""
    ds = load_sweep(name, profile)
    seeds_only = plan.sweep(name).scheme is not None and set(json.loads(ds.attrs["grid"])) == {"seed"}
    return Run(run_dir(name, profile), yaml.safe_load(ds.attrs.get("config", "{}")) or {}, ds,
               summarize_training(ds) if seeds_only else {}, {})
