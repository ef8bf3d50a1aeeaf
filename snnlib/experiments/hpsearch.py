"""Hyper-parameter searches on the validation split only, recorded as runs.

A search trains, for one planned training sweep and profile, every candidate of a small grid of
hyper-parameters on a reduced budget (``epochs``, ``n_train``; one seed) and picks the candidate
with the best validation accuracy (the best over its epochs). The test split is never evaluated
(``n_test = 0``). The run records every candidate's validation accuracy and the choice; the tests
check that the sweep's configuration uses the chosen values, so the book's BPTT runs carry the
record of how their settings were chosen.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import time
from typing import Any

import numpy as np
import xarray as xr

from snnlib.config import Config
from snnlib.study import plan
from snnlib.training import driver

NAME = "hpsearch"


@dataclasses.dataclass(frozen=True)
class HPSearchConfig(Config):
    """Fields:

    - ``sweep``, ``profile``: the planned training sweep whose base configuration is searched around;
    - ``grid``: ``{field: [candidates]}`` (every combination is trained);
    - ``epochs``, ``n_train``: the reduced budget of each candidate (``n_train = None``: the sweep's);
    - ``seed``: initial weights and batch order of every candidate.
    """

    sweep: str = "bptt-mnist-ttfs"
    profile: str = "quick"
    grid: dict = dataclasses.field(default_factory=lambda: {"lr": [1e-3, 2e-3]})
    epochs: int = 1
    n_train: int | None = None
    seed: int = 0

    def validate(self) -> None:
        super().validate()

        c = self._check
        try:
            s = plan.sweep(self.sweep)
        except KeyError as e:
            c("sweep", False, f"a planned sweep ({e.args[0]})")
            return
        c("sweep", s.scheme is not None, "a training sweep (one with a scheme)")
        c("profile", self.profile in s.profiles, f"one of the sweep's profiles: {', '.join(s.profiles)}")
        c("grid", isinstance(self.grid, dict) and self.grid and all(isinstance(v, (list, tuple)) and v
                                                                     for v in self.grid.values()),
          "a non-empty {field: [candidates]} mapping")
        c("epochs", isinstance(self.epochs, int) and self.epochs >= 1, "an integer >= 1")
        c("n_train", self.n_train is None or (isinstance(self.n_train, int) and self.n_train >= 1),
          "None (the sweep's) or an integer >= 1")
        self._check_non_negative_int("seed")
        for cand in self.candidates():
            self.training_config(cand)  # every candidate is a valid training config

    def base(self) -> dict:
        return dict(plan.sweep(self.sweep).profiles[self.profile].base)

    def candidates(self) -> list[dict]:
        return _combinations(self.grid)

    def training_config(self, candidate: dict):

        cls = driver.scheme_of(plan.sweep(self.sweep).scheme).config
        budget = {"epochs": self.epochs, "seed": self.seed, "n_test": 0}
        if self.n_train is not None:
            budget["n_train"] = self.n_train
        return cls.from_dict({**self.base(), **candidate, **budget})


Config = HPSearchConfig


def _combinations(grid: dict) -> list[dict]:
    """Every combination of the grid's values, the last field varying fastest."""
    return [dict(zip(grid, vals)) for vals in itertools.product(*grid.values())]


def run(cfg: HPSearchConfig, progress: bool = True) -> xr.Dataset:
    """Train every candidate (validation only) and return their accuracies along ``candidate``."""
    cands = cfg.candidates()
    best, final, spikes, wall = (np.full(len(cands), np.nan) for _ in range(4))
    for i, cand in enumerate(cands):
        t0 = time.perf_counter()
        ds = driver.run(cfg.training_config(cand), progress=progress)
        if not bool(np.isnan(ds["test_accuracy"].values).all()):
            raise RuntimeError("the search evaluated the test split; it must not")
        best[i] = float(ds["val_accuracy"].max())
        final[i] = float(ds["val_accuracy"].isel(epoch=-1))
        spikes[i] = float(ds["hidden_spikes"].isel(epoch=-1))
        wall[i] = time.perf_counter() - t0
    out = xr.Dataset(
        {"best_val_accuracy": ("candidate", best), "final_val_accuracy": ("candidate", final),
         "hidden_spikes": ("candidate", spikes), "wall_s": ("candidate", wall)},
        coords={"candidate": np.arange(len(cands)),
                **{k: ("candidate", [_plain(c[k]) for c in cands]) for k in cfg.grid}})
    out["best_val_accuracy"].attrs["long_name"] = "best validation accuracy over the epochs"
    out.attrs.update(sweep=cfg.sweep, profile=cfg.profile, grid=json.dumps(cfg.grid), epochs=cfg.epochs,
                     n_train="sweep's" if cfg.n_train is None else cfg.n_train, seed=cfg.seed)
    return out


def _plain(v: Any):
    return json.dumps(v) if isinstance(v, (list, tuple, dict)) else v


def chosen(ds: xr.Dataset) -> dict:
    """The candidate with the best validation accuracy (the first of equals), ``{field: value}``:
    the candidates are the grid's combinations in :meth:`HPSearchConfig.candidates`' order."""
    cands = _combinations(json.loads(ds.attrs["grid"]))
    return cands[int(np.argmax(np.nan_to_num(ds["best_val_accuracy"].values, nan=-math.inf)))]


def summarize(ds: xr.Dataset) -> dict:
    """The choice and its validation accuracy, and the spread over candidates."""
    acc = ds["best_val_accuracy"].values
    return {"chosen": chosen(ds), "chosen_val_accuracy": float(np.nanmax(acc)),
            "worst_val_accuracy": float(np.nanmin(acc)), "candidates": int(ds.sizes["candidate"]),
            "search_minutes": float(np.nansum(ds["wall_s"].values) / 60)}


def matches_sweep(summary: dict, sweep: str, profile: str) -> dict:
    """``{field: (chosen, in the sweep)}`` for every searched field where the sweep's base
    configuration differs from the choice (empty: the sweep uses the choice)."""
    base = plan.sweep(sweep).profiles[profile].base
    return {k: (v, base.get(k)) for k, v in summary["chosen"].items()
            if json.dumps(_norm(base.get(k))) != json.dumps(_norm(v))}


def _norm(v):
    return list(v) if isinstance(v, tuple) else v


def at_edge(summary: dict, grid: dict) -> list[str]:
    """The numeric fields whose chosen value is the smallest or largest of more than two candidates."""
    out = []
    for k, vals in grid.items():
        nums = [v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(nums) == len(vals) > 2 and summary["chosen"][k] in (min(nums), max(nums)):
            out.append(k)
    return out
