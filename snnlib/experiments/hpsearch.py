"""Hyper-parameter searches on the validation split only, recorded as runs.

A search trains, for one planned training sweep and profile, every candidate of a small grid of
hyper-parameters on a reduced budget (``epochs``, ``n_train``; one seed) and picks the candidate
with the best validation accuracy (the best over its epochs). The test split is never evaluated
(``n_test = 0``). The run records every candidate's validation accuracy and the choice; the tests
check that the sweep's configuration uses the chosen values, so the book's BPTT runs carry the
record of how their settings were chosen.

**A shared neuron** (``paired``): two schemes that train the same network (the time-bin study's
shared neuron) are searched in one run, each over its own grid of the same size (the same budget),
and both grids list the same neuron candidates (thresholds, in each scheme's units) in the same
order. The neuron chosen is the one whose *worse* scheme does best (``max_n min_s best_s(n)``, each
scheme at its best other settings for that neuron): neither scheme's optimum is imposed on the
other, and neither gets a neuron only it can train. Each scheme then keeps its best settings at
that neuron.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import numpy as np
import torch
import xarray as xr
from tqdm.auto import tqdm

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
      ``evals_per_epoch``: validation records per epoch (``None``: the sweep's; the search scores the
      best of them, so fewer than the sweep's suffice where validation is costly);
    - ``seed``: initial weights and batch order of every candidate; ``n_seeds``: train each candidate
      with the seeds ``seed .. seed + n_seeds - 1`` and score it by the mean of their best validation
      accuracies (a setting that trains some seeds and leaves others at chance is not a good one).
    - ``paired``: ``None``, or ``{"sweep": name, "grid": {...}}``: a second training sweep (the same
      profile) searched in the same run with the same budget (as many candidates); ``shared``:
      ``(field, paired field)``, the grid fields that list the same neuron candidates in both, aligned
      by position (see the module docstring), or several such pairs (e.g. the thresholds and the
      initial-weight scale, which both schemes share): a neuron candidate is then one position in each,
      numbered in the order of the pairs' product.
    - ``min_activity``: ``None``, or an activity floor: only candidates whose trained networks fire at
      least this many hidden spikes per hidden neuron and sample window (mean over seeds, last epoch, on
      the validation split) may be chosen (e.g. a network of several times the usual activity). Every
      candidate is still trained and recorded; a search where none reaches the floor chooses nothing
      and says so (not a search with a paired sweep).
    """

    sweep: str = "bptt-mnist-ttfs"
    profile: str = "quick"
    grid: dict = dataclasses.field(default_factory=lambda: {"lr": [1e-3, 2e-3]})
    epochs: int = 1
    n_train: int | None = None
    evals_per_epoch: int | None = None
    seed: int = 0
    n_seeds: int = 1
    paired: dict | None = None
    shared: tuple | None = None
    min_activity: float | None = None

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
        c("evals_per_epoch", self.evals_per_epoch is None or (
            isinstance(self.evals_per_epoch, int) and not isinstance(self.evals_per_epoch, bool)
            and self.evals_per_epoch >= 1), "None (the sweep's) or an integer >= 1")
        self._check_non_negative_int("seed")
        c("n_seeds", isinstance(self.n_seeds, int) and not isinstance(self.n_seeds, bool) and self.n_seeds >= 1,
          "an integer >= 1")
        c("shared", (self.paired is None) == (self.shared is None), "set together with paired (or neither)")
        c("min_activity", self.min_activity is None or (
            isinstance(self.min_activity, (int, float)) and not isinstance(self.min_activity, bool)
            and math.isfinite(self.min_activity) and self.min_activity > 0 and self.paired is None),
          "None or a positive number of hidden spikes per hidden neuron and window (not with paired)")
        if self.paired is not None:
            ok = isinstance(self.paired, dict) and set(self.paired) == {"sweep", "grid"} and isinstance(
                self.paired["grid"], dict) and self.paired["grid"]
            c("paired", ok, "None or {'sweep': a training sweep, 'grid': {field: [candidates]}}")
            try:
                other = plan.sweep(self.paired["sweep"])
            except KeyError as e:
                c("paired", False, f"a planned sweep ({e.args[0]})")
                return
            c("paired", other.scheme is not None and self.profile in other.profiles,
              f"a training sweep with the profile {self.profile!r}")
            c("paired", len(_combinations(self.paired["grid"])) == len(self.candidates()),
              f"a grid of as many candidates as grid's ({len(self.candidates())}): the same search budget")
            pairs = shared_pairs(self.shared)
            c("shared", bool(pairs) and all(a in self.grid and b in self.paired["grid"]
                                            and len(self.grid[a]) == len(self.paired["grid"][b]) for a, b in pairs),
              "(field of grid, field of paired grid), or a list of such pairs, each listing the same number of "
              "neuron candidates in both grids")
            for cand in _combinations(self.paired["grid"]):
                self.training_config(cand, paired=True)
        for cand in self.candidates():
            self.training_config(cand)  # every candidate is a valid training config

    def base(self, paired: bool = False) -> dict:
        return dict(plan.sweep(self.paired["sweep"] if paired else self.sweep).profiles[self.profile].base)

    def candidates(self) -> list[dict]:
        return _combinations(self.grid)

    def training_config(self, candidate: dict, paired: bool = False, seed: int | None = None):
        cls = driver.scheme_of(plan.sweep(self.paired["sweep"] if paired else self.sweep).scheme).config
        budget = {"epochs": self.epochs, "seed": self.seed if seed is None else seed, "n_test": 0}
        if self.n_train is not None:
            budget["n_train"] = self.n_train
        if self.evals_per_epoch is not None:
            budget["evals_per_epoch"] = self.evals_per_epoch
        return cls.from_dict({**self.base(paired), **candidate, **budget})


Config = HPSearchConfig


def _combinations(grid: dict) -> list[dict]:
    """Every combination of the grid's values, the last field varying fastest."""
    return [dict(zip(grid, vals)) for vals in itertools.product(*grid.values())]


#: environment variable: how many processes train a search's candidates at once (default 1)
WORKERS = "SNNLIB_SEARCH_WORKERS"


def run(cfg: HPSearchConfig, progress: bool = True, workers: int | None = None) -> xr.Dataset:
    """Train every candidate (validation only) and return their accuracies along ``candidate``
    (with ``paired``: both grids' candidates, the first sweep's first; see :func:`_paired_dataset`).

    ``workers`` (default ``$SNNLIB_SEARCH_WORKERS``, else 1): train that many (candidate, seed) runs at
    once, each in its own single-thread process. Every run is seeded, so the result does not depend on
    it; ``wall_s`` is a candidate's summed training time either way."""
    workers = _workers(workers)
    if cfg.paired is not None:
        return _paired_dataset(cfg, progress, workers)
    return _search(cfg, cfg.candidates(), False, progress, workers)


def _workers(workers: int | None) -> int:
    if workers is None:
        raw = os.environ.get(WORKERS, "1")
        try:
            workers = int(raw)
        except ValueError:
            raise ValueError(f"{WORKERS}={raw!r}: expected a positive integer") from None
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers={workers!r}: expected a positive integer")
    return workers


def _train_one(tcfg, progress: bool) -> tuple[float, float, float, float]:
    """One candidate with one seed: (best validation accuracy, final, hidden spikes, seconds)."""
    t0 = time.perf_counter()
    ds = driver.run(tcfg, progress=progress)
    if not bool(np.isnan(ds["test_accuracy"].values).all()):
        raise RuntimeError("the search evaluated the test split; it must not")
    return (float(ds["val_accuracy"].max()), float(ds["val_accuracy"].isel(epoch=-1)),
            float(ds["hidden_spikes"].isel(epoch=-1)), time.perf_counter() - t0)


def _single_thread() -> None:
    torch.set_num_threads(1)


def _train_all(tcfgs: list, progress: bool, workers: int) -> list[tuple[float, float, float, float]]:
    """:func:`_train_one` of every config, in order; with ``workers > 1`` in a pool of processes (a
    bar over the runs instead of each run's own)."""
    if workers == 1:
        return [_train_one(t, progress) for t in tcfgs]
    out: list = [None] * len(tcfgs)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_single_thread) as pool:
        futures = {pool.submit(_train_one, t, False): i for i, t in enumerate(tcfgs)}
        try:
            for fut in tqdm(as_completed(futures), total=len(futures), desc="search runs", disable=not progress):
                out[futures[fut]] = fut.result()
        except BaseException:  # a failed run fails the search at once: the runs not started are dropped
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return out


def _search(cfg: HPSearchConfig, cands: list, paired: bool, progress: bool, workers: int = 1) -> xr.Dataset:
    """Every candidate with every seed; per candidate the means over seeds (``n_seeds > 1``: and the
    best validation accuracy of each seed, ``best_val_accuracy_per_seed``)."""
    seeds = [cfg.seed + j for j in range(cfg.n_seeds)]
    runs = _train_all([cfg.training_config(c, paired, sd) for c in cands for sd in seeds], progress, workers)
    res = np.array(runs, dtype=float).reshape(len(cands), len(seeds), 4)
    best, final, spikes = res[..., 0], res[..., 1], res[..., 2]
    wall = res[..., 3].sum(1)
    n_hidden = np.array([sum(cfg.training_config(c, paired).hidden) for c in cands], dtype=float)
    data = {"best_val_accuracy": ("candidate", best.mean(1)), "final_val_accuracy": ("candidate", final.mean(1)),
            "hidden_spikes": ("candidate", spikes.mean(1)), "activity": ("candidate", spikes.mean(1) / n_hidden),
            "wall_s": ("candidate", wall)}
    if cfg.n_seeds > 1:
        data["best_val_accuracy_per_seed"] = (("candidate", "search_seed"), best)
    out = xr.Dataset(data, coords={"candidate": np.arange(len(cands)),
                                   **{k: ("candidate", [_plain(c[k]) for c in cands]) for k in cands[0]},
                                   **({"search_seed": seeds} if cfg.n_seeds > 1 else {})})
    out["best_val_accuracy"].attrs["long_name"] = ("best validation accuracy over the epochs" if cfg.n_seeds == 1 else
                                                   f"mean over {cfg.n_seeds} seeds of the best validation accuracy "
                                                   "over the epochs")
    out["activity"].attrs["long_name"] = "hidden spikes per hidden neuron and sample window (last epoch, validation)"
    out.attrs.update(sweep=cfg.sweep, profile=cfg.profile, grid=json.dumps(cfg.grid), epochs=cfg.epochs,
                     n_train="sweep's" if cfg.n_train is None else cfg.n_train, seed=cfg.seed, n_seeds=cfg.n_seeds)
    if cfg.evals_per_epoch is not None:
        out.attrs["evals_per_epoch"] = cfg.evals_per_epoch
    if cfg.min_activity is not None:
        out.attrs["min_activity"] = float(cfg.min_activity)
    return out


def shared_pairs(shared) -> list[tuple[str, str]]:
    """``shared`` as a list of ``(field, paired field)`` pairs (one pair, or several); empty when malformed."""
    if isinstance(shared, (tuple, list)) and len(shared) == 2 and all(isinstance(f, str) for f in shared):
        return [tuple(shared)]
    if isinstance(shared, (tuple, list)) and shared and all(
            isinstance(p, (tuple, list)) and len(p) == 2 and all(isinstance(f, str) for f in p) for p in shared):
        return [tuple(p) for p in shared]
    return []


def neuron_labels(cfg: HPSearchConfig) -> list[str]:
    """One label per neuron candidate of a paired search, in the numbering of its ``neuron``
    coordinate: the first grid's shared values (e.g. ``"[31.2, 104.0]"``, or
    ``"theta [31.2, 104.0], weight_scale 2.0"`` with several shared fields)."""
    fields = [a for a, _ in shared_pairs(cfg.shared)]
    values = itertools.product(*(cfg.grid[f] for f in fields))
    if len(fields) == 1:
        return [str(v[0]) for v in values]
    return [", ".join(f"{f} {x}" for f, x in zip(fields, v)) for v in values]


def shared_text(cfg: HPSearchConfig) -> str:
    """Which fields list the same neurons in both grids, for a page: "`theta` and `theta_bats`"."""
    return "; ".join(f"`{a}` and `{b}`" for a, b in shared_pairs(cfg.shared))


def _neuron_index(cand: dict, grid: dict, fields: list[str]) -> int:
    """The neuron candidate of ``cand``: its position in each shared field, numbered over their product."""
    return int(np.ravel_multi_index(tuple(grid[f].index(cand[f]) for f in fields), tuple(len(grid[f]) for f in fields)))


def _paired_dataset(cfg: HPSearchConfig, progress: bool, workers: int = 1) -> xr.Dataset:
    """Both searches along one ``candidate`` dimension: coordinates ``sweep`` (which), ``neuron``
    (the shared candidate's position) and ``settings`` (the candidate as JSON)."""
    parts = []
    pairs = shared_pairs(cfg.shared)
    for paired, grid, fields in ((False, cfg.grid, [a for a, _ in pairs]), (True, cfg.paired["grid"], [b for _, b in pairs])):
        cands = _combinations(grid)
        ds = _search(cfg, cands, paired, progress, workers)
        ds = ds.drop_vars([k for k in grid])
        ds = ds.assign_coords(
            sweep=("candidate", [cfg.paired["sweep"] if paired else cfg.sweep] * len(cands)),
            neuron=("candidate", [_neuron_index(c, grid, fields) for c in cands]),
            settings=("candidate", [json.dumps(c) for c in cands]))
        parts.append(ds)
    out = xr.concat(parts, "candidate", combine_attrs="override")
    out = out.assign_coords(candidate=np.arange(out.sizes["candidate"]))
    out.attrs.update(paired=json.dumps(cfg.paired), shared=json.dumps(list(cfg.shared)))
    return out


def paired_choice(ds: xr.Dataset) -> dict:
    """The shared neuron and each scheme's settings of a paired search (module docstring):
    ``{"neuron", "scores" (the worse scheme's best per neuron), "chosen", "chosen_paired", "accuracies"
    (each scheme's at its choice)}``."""
    acc = np.nan_to_num(ds["best_val_accuracy"].values, nan=-math.inf)
    sweeps = list(dict.fromkeys(ds["sweep"].values.tolist()))
    neuron = ds["neuron"].values
    n = int(neuron.max()) + 1
    best = np.array([[acc[(ds["sweep"].values == s) & (neuron == i)].max() for i in range(n)] for s in sweeps])
    scores = best.min(0)
    pick = int(np.argmax(scores))
    chosen, accuracies = [], []
    for s in sweeps:
        rows = np.flatnonzero((ds["sweep"].values == s) & (neuron == pick))
        row = rows[int(np.argmax(acc[rows]))]
        chosen.append(json.loads(str(ds["settings"].values[row])))
        accuracies.append(float(acc[row]))
    return {"neuron": pick, "scores": [float(v) for v in scores], "chosen": chosen[0], "chosen_paired": chosen[1],
            "accuracies": accuracies}


def _plain(v: Any):
    return json.dumps(v) if isinstance(v, (list, tuple, dict)) else v


def eligible(ds: xr.Dataset) -> np.ndarray:
    """Which candidates may be chosen: all, or (an activity floor, ``min_activity``) those whose
    networks reach it."""
    if "min_activity" not in ds.attrs:
        return np.ones(ds.sizes["candidate"], dtype=bool)
    return np.nan_to_num(ds["activity"].values, nan=-math.inf) >= float(ds.attrs["min_activity"])


def _chosen_index(ds: xr.Dataset) -> int | None:
    acc = np.where(eligible(ds), np.nan_to_num(ds["best_val_accuracy"].values, nan=-math.inf), -math.inf)
    return int(np.argmax(acc)) if np.isfinite(acc).any() else None


def chosen(ds: xr.Dataset) -> dict | None:
    """The eligible candidate (:func:`eligible`) with the best validation accuracy (the first of
    equals), ``{field: value}``; ``None`` when no candidate is eligible. The candidates are the grid's
    combinations in :meth:`HPSearchConfig.candidates`' order."""
    i = _chosen_index(ds)
    return None if i is None else _combinations(json.loads(ds.attrs["grid"]))[i]


def summarize(ds: xr.Dataset) -> dict:
    """The choice and its validation accuracy, and the spread over candidates (paired: the choice of
    :func:`paired_choice`, each scheme's validation accuracy there, and the paired sweep's choice)."""
    acc = ds["best_val_accuracy"].values
    common = {"worst_val_accuracy": float(np.nanmin(acc)), "candidates": int(ds.sizes["candidate"]),
              "search_minutes": float(np.nansum(ds["wall_s"].values) / 60)}
    if "paired" in ds.attrs:
        pc = paired_choice(ds)
        return {"chosen": pc["chosen"], "chosen_paired": pc["chosen_paired"],
                "paired_sweep": json.loads(ds.attrs["paired"])["sweep"], "neuron": pc["neuron"],
                "neuron_scores": pc["scores"], "chosen_val_accuracy": pc["accuracies"][0],
                "chosen_paired_val_accuracy": pc["accuracies"][1], **common}
    i = _chosen_index(ds)
    out = {"chosen": chosen(ds), "chosen_val_accuracy": math.nan if i is None else float(acc[i]), **common}
    if "min_activity" in ds.attrs:
        out.update(min_activity=float(ds.attrs["min_activity"]), eligible=int(eligible(ds).sum()),
                   chosen_activity=math.nan if i is None else float(ds["activity"].values[i]))
    return out


def matches_sweep(summary: dict, sweep: str, profile: str) -> dict:
    """``{field: (chosen, in the sweep)}`` for every searched field where the sweep's base
    configuration differs from the choice (empty: the sweep uses the choice); a paired search's
    second sweep too (its fields as ``"<sweep>.<field>"``). A search that chose nothing (no candidate
    reached its activity floor) raises: no sweep can use its choice."""
    if summary["chosen"] is None:
        raise ValueError(f"the search for {sweep} chose nothing: no candidate reached its activity floor of "
                         f"{summary.get('min_activity')} hidden spikes per neuron and window.")
    out = _differs(summary["chosen"], sweep, profile)
    if "chosen_paired" in summary:
        other = summary["paired_sweep"]
        out.update({f"{other}.{k}": v for k, v in _differs(summary["chosen_paired"], other, profile).items()})
    return out


def _differs(chosen: dict, sweep: str, profile: str) -> dict:
    base = plan.sweep(sweep).profiles[profile].base
    return {k: (v, base.get(k)) for k, v in chosen.items() if json.dumps(_norm(base.get(k))) != json.dumps(_norm(v))}


def _norm(v):
    return list(v) if isinstance(v, tuple) else v


def at_edge(summary: dict, grid: dict) -> list[str]:
    """The numeric fields whose chosen value is the smallest or largest of more than two candidates
    (none when nothing was chosen)."""
    out = []
    if summary["chosen"] is None:
        return out
    for k, vals in grid.items():
        nums = [v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(nums) == len(vals) > 2 and summary["chosen"][k] in (min(nums), max(nums)):
            out.append(k)
    return out
