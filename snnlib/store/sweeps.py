"""Sweeps: a base config plus a grid per profile, expanded into points, each an ordinary run.

A point of sweep ``S``, profile ``P`` lives in ``runs/S/P/<point-id>/`` with a readable id made of
the grid values in the grid's order, e.g. ``scheme=bptt,bins=75,seed=1``; the sweep's chapter (an
aggregation notebook, papermill) in ``runs/S/P/notebook.ipynb``. The unit of work is one point
(one grid point and one seed), small enough to spread over many machines.

Ids are stable: they depend only on the grid values (never on their position, the base config or
the code), and a value is written the same way every time (``repr`` of floats, ``x``-joined
tuples, ``none``, ``true``/``false``). Expansion refuses a grid key that the base also sets, empty
value lists, and two points with the same id; :func:`snnlib.pipeline.checks.check_configs`
(which needs the config classes) refuses a config whose normalised values would no longer give the point its id.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from typing import Any, Mapping

from snnlib.config import ConfigError

__all__ = ["Sweep", "SweepProfile", "SweepPoint", "point_id", "format_value"]

_SAFE = re.compile(r"[A-Za-z0-9_.+-]+")


def format_value(value: Any) -> str:
    """The text of one grid value in a point id."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return "x".join(format_value(v) for v in value)
    if isinstance(value, str) and _SAFE.fullmatch(value):
        return value
    raise ConfigError(f"grid value {value!r} cannot name a run folder: use numbers, None, booleans, "
                      "tuples of them or strings of letters, digits and _.+-")


def point_id(params: Mapping[str, Any]) -> str:
    """``k1=v1,k2=v2,...`` in the order of ``params``."""
    for key in params:
        if not _SAFE.fullmatch(key):
            raise ConfigError(f"grid key {key!r} is not a plain name")
    return ",".join(f"{k}={format_value(v)}" for k, v in params.items())


@dataclasses.dataclass(frozen=True)
class SweepProfile:
    """The base config (fields every point shares) and the grid (field -> values) of one profile."""

    base: Mapping[str, Any]
    grid: Mapping[str, tuple]


@dataclasses.dataclass(frozen=True)
class SweepPoint:
    sweep: "Sweep"
    profile: str
    id: str
    params: Mapping[str, Any]
    config: Mapping[str, Any]

    @property
    def key(self) -> str:
        return f"{self.sweep.name}/{self.profile}/{self.id}"

    @property
    def notebook(self) -> str:
        return self.sweep.notebook

    @property
    def reads(self) -> tuple[str, ...]:
        """The run folders the point reads (:attr:`Sweep.point_reads` filled from its config)."""
        return tuple(t.format(**self.config) for t in self.sweep.point_reads)

    @property
    def parameters(self) -> dict[str, Any]:
        """The papermill parameters of the point's notebook (``run_dir`` is added when executed)."""
        out = {"title": f"{self.sweep.title or self.sweep.name}: {self.id}", "config": dict(self.config)}
        if self.sweep.scheme is not None:
            out["scheme"] = self.sweep.scheme
        return out


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A sweep of the plan.

    - ``name``: the experiment folder under ``runs/``; ``notebook``: the point notebook
      (``notebooks/``; parameters ``config``, ``run_dir``, ``title`` and, for a training sweep,
      ``scheme``); ``scheme``: the training scheme whose config class validates the points
      (:data:`snnlib.training.schemes.SCHEMES`), ``None`` for another experiment family.
    - ``profiles``: :class:`SweepProfile` per profile.
    - ``chapter``: the aggregation notebook executed into ``runs/<name>/<profile>/`` (parameters
      ``sweep``, ``profile``, ``title``), ``None`` for none; ``title``: its page title.
    - ``keep_weights``: commit the points' trained weights in their run folders (only for sweeps
      whose weights a later experiment consumes); otherwise they stay in ``$SNNLIB_ARTIFACTS``.
    - ``in_progress``: profiles in which the sweep is still being made, point by point, across
      sessions: its points are executed only when asked for by name (``python -m snnlib sweep
      NAME``), never by ``make runs`` / ``make book``, and its chapter is not in the book yet. The
      points already committed are ordinary complete runs. Remove the profile from this tuple once
      every point is committed.
    - ``experiment``: for a sweep that is not a training sweep, the name of the experiment whose
      config class validates its points (:data:`snnlib.pipeline.checks.EXPERIMENTS`).
    - ``reads``: names of other sweeps whose points the chapter aggregates too (it is made after
      them, and a new point of theirs makes it stale); they have no chapter of their own.
    - ``chapter_title``: the chapter's page title when it is not ``title`` (a chapter that
      aggregates several sweeps).
    - ``point_reads``: the runs each point reads besides its config, as run folders
      (``<experiment>/<run-id>`` or ``<sweep>/<profile>/<point-id>``) with ``{field}`` filled from
      the point's config: e.g. a transfer point's trained network,
      ``"{source}/{source_profile}/seed={seed}"``. A point's results are computed from them, so a
      point whose record says they changed is recomputed (:mod:`snnlib.pipeline.records`).
    - ``chapter_reads``: single runs the chapter reads besides its sweeps' points, as
      ``<experiment>/<run-id>`` with ``{profile}`` filled: e.g. ``"findings/{profile}"`` for a chapter
      that quotes the findings' verdicts (it is made after them and re-made when they change).
    """

    name: str
    notebook: str
    profiles: Mapping[str, SweepProfile]
    scheme: str | None = None
    chapter: str | None = None
    title: str = ""
    keep_weights: bool = False
    in_progress: tuple = ()
    experiment: str | None = None
    reads: tuple = ()
    chapter_title: str = ""
    point_reads: tuple = ()
    chapter_reads: tuple = ()

    def points(self, profile: str) -> list[SweepPoint]:
        """Every point of ``profile``, in grid order (the last grid key varies fastest)."""
        if profile not in self.profiles:
            raise KeyError(f"sweep {self.name!r} has no profile {profile!r}; it has {', '.join(self.profiles)}")
        p = self.profiles[profile]
        both = sorted(set(p.base) & set(p.grid))
        if both:
            raise ConfigError(f"sweep {self.name}/{profile}: {', '.join(both)} set in both the base config and "
                              "the grid (a point's id must name every value that differs between points)")
        if not p.grid:
            raise ConfigError(f"sweep {self.name}/{profile}: empty grid")
        for key, values in p.grid.items():
            if not isinstance(values, (tuple, list)) or not values:
                raise ConfigError(f"sweep {self.name}/{profile}: grid[{key!r}] = {values!r}: expected a "
                                  "non-empty list of values")
        out, seen = [], {}
        for combo in itertools.product(*p.grid.values()):
            params = dict(zip(p.grid, combo))
            pid = point_id(params)
            if pid in seen:
                raise ConfigError(f"sweep {self.name}/{profile}: grid values {seen[pid]} and {params} give the "
                                  f"same point id {pid!r}")
            seen[pid] = params
            out.append(SweepPoint(self, profile, pid, params, {**p.base, **params}))
        return out

    def point(self, profile: str, pid: str) -> SweepPoint:
        for pt in self.points(profile):
            if pt.id == pid:
                return pt
        raise KeyError(f"sweep {self.name}/{profile} has no point {pid!r}")
