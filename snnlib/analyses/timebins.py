"""Seed 000: time bins and convergence rate, spike-time scheme vs BPTT on the same data.

The aggregation behind the chapter ``notebooks/timebins.ipynb`` and the findings' verdicts. Per
dataset (``mnist``, ``nmnist``) it reads four training sweeps of one profile (:mod:`snnlib.study.plan`,
``timebins-<dataset>-*``):

- ``-bptt``: BPTT, ``clock`` = ``skip`` (seed 000's step skipping, the *seed000* discretization)
  or ``exact`` (the exact grid, the *shared* one), ``k`` base bins of 1 ms per step;
- ``-spiketime``: the spike-time scheme with inputs delayed to a grid of step ``dt`` (seed 000);
- ``-spiketime-shared``: the spike-time scheme on the exact grid (the shared model);
- ``-spiketime-exact``: the continuous spike-time network (its benchmark).

Every arm becomes a curve over the number of bins ``window / step``. The benchmark of the
spike-time scheme is the continuous network; that of BPTT the 1 ms base grid (``skip``, ``k = 1``,
the same as Loihi's recurrence at 1 ms), for both discretizations.

Convergence rate (the chapter writes the definitions out; :func:`log_rate_ratios`): ``CR = 1 / n_q``,
``n_q`` the training samples at which the validation accuracy first reaches one absolute target shared
by both schemes, ``q`` (:data:`snnlib.study.claims.Q`) times the lower benchmark's mean final
validation accuracy (:func:`snnlib.metrics.samples_to_reach`); a run that never reaches it enters
with its whole run's samples (censored: its fall is understated). The log rate ratio
``ln(CR / CR_bench)`` is paired by seed; the claims are decided in :mod:`snnlib.analyses.findings`
with the tests of :mod:`snnlib.inference`, never here.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import torch
import xarray as xr
import yaml

from snnlib.analyses.transfer import wall_minutes
from snnlib.clock.stepping import exact_grid_excess, grid_raster
from snnlib.data import encoding, yinyang
from snnlib.metrics import mean_ci, mean_diff_ci, samples_to_reach
from snnlib.model.discretization import grid_capacity, grid_index
from snnlib.store.runs import run_dir
from snnlib.study import claims as claims_table
from snnlib.study import plan
from snnlib.study.loading import load_sweep
from snnlib.training import driver
from snnlib.training.schemes import bptt, spiketime

DATASETS = ("mnist", "nmnist")
SCHEMES = ("spiketime", "bptt")
DISCRETIZATIONS = ("seed000", "shared")
#: how far (validation accuracy points below its benchmark) an arm's accuracy still "holds"
#: (:func:`holds_to`; declared with its rationale in the claims table)
HOLD_POINTS = claims_table.HOLD_POINTS


def sweep_names(dataset: str) -> dict[str, str]:
    return {"bptt": f"timebins-{dataset}-bptt", "spiketime": f"timebins-{dataset}-spiketime",
            "shared": f"timebins-{dataset}-spiketime-shared", "exact": f"timebins-{dataset}-spiketime-exact"}


def wall_hours(profile: str = "quick") -> float:
    """Hours of one core that the complete points of the eight sweeps took (their ``meta.json``)."""
    return sum(wall_minutes(name, profile) for d in DATASETS for name in sweep_names(d).values()) / 60.0


def _config(ds: xr.Dataset) -> dict:
    return yaml.safe_load(ds.attrs["config"])


def window(sweeps: dict[str, xr.Dataset]) -> float:
    """The dataset's window (ms), shared by the schemes (checked)."""
    b = _config(sweeps["bptt"])
    w_bptt = float(b["n_steps"]) * float(b["dt"])
    w_st = float(_config(sweeps["exact"])["t_max"])
    if not math.isclose(w_bptt, w_st):
        raise ValueError(f"the schemes' windows differ: BPTT {w_bptt} ms, spike-time {w_st} ms.")
    return w_bptt


def load(dataset: str, profile: str = "quick", allow_missing: bool = True) -> dict[str, xr.Dataset]:
    """The four sweeps of ``dataset`` (keys ``bptt``, ``spiketime``, ``shared``, ``exact``)."""
    return {k: load_sweep(name, profile, allow_missing=allow_missing) for k, name in sweep_names(dataset).items()}


_CURVES = ("val_accuracy_curve", "val_accuracy", "test_accuracy", "hidden_spikes")
_OPTIONAL = ("epoch_time",)  # carried where every sweep records it


def _vars(ds: xr.Dataset) -> list:
    return list(_CURVES) + [v for v in _OPTIONAL if v in ds]


def arms(sweeps: dict[str, xr.Dataset]) -> tuple[xr.Dataset, xr.Dataset]:
    """``(curves, bench)``: the learning curves of every arm along ``scheme`` x ``discretization``
    x ``bins`` x ``seed``, and each arm's benchmark along ``scheme`` x ``discretization`` x ``seed``."""
    w = window(sweeps)
    b = sweeps["bptt"]
    dt = float(_config(b)["dt"])

    def by_bins(ds, step_dim, step_ms):
        ds = ds[_vars(ds)].assign_coords(bins=(step_dim, [int(round(w / h)) for h in step_ms]))
        return ds.swap_dims({step_dim: "bins"}).drop_vars(step_dim)

    bptt = {d: by_bins(b.sel(clock=c).drop_vars("clock"), "k", [k * dt for k in b["k"].values])
            for d, c in (("seed000", "skip"), ("shared", "exact"))}
    st = {d: by_bins(sweeps[key], "dt", [float(h) for h in sweeps[key]["dt"].values])
          for d, key in (("seed000", "spiketime"), ("shared", "shared"))}
    curves = xr.concat([xr.concat([arm[d] for d in DISCRETIZATIONS], dim="discretization", join="outer")
                        for arm in (st, bptt)], dim="scheme", join="outer")
    curves = curves.assign_coords(scheme=list(SCHEMES), discretization=list(DISCRETIZATIONS))
    base_bins = int(round(w / dt))
    # per arm: the continuous network for both spike-time arms; for BPTT the 1 ms base grid of the
    # same discretization (skip at k = 1 is Loihi's recurrence; the exact grid at 1 ms is the shared
    # model's own base, with its one-step input delay and gain kappa(1 ms))
    st_bench = sweeps["exact"][_vars(sweeps["exact"])]
    bench = xr.concat([xr.concat([st_bench, st_bench], dim="discretization"),
                       xr.concat([bptt[d].sel(bins=base_bins, drop=True) for d in DISCRETIZATIONS], dim="discretization")],
                      dim="scheme", join="outer").assign_coords(scheme=list(SCHEMES), discretization=list(DISCRETIZATIONS))
    curves.attrs.update(window_ms=w, base_bins=base_bins)
    return curves, bench


def finals(curves: xr.Dataset, bench: xr.Dataset) -> xr.Dataset:
    """Per point, after the last epoch: ``final_test``, ``final_val`` (%), ``spikes`` (hidden spikes
    per validation sample) and the benchmark's (same scheme, discretization and seed) ``bench_test``,
    ``bench_val``, ``bench_spikes``; where recorded, ``epoch_time`` / ``bench_epoch_time`` (s, the
    median over epochs: robust to a busy machine)."""
    last = {"epoch": -1}
    out = xr.Dataset({
        "final_test": 100 * curves["test_accuracy"].isel(last, drop=True),
        "final_val": 100 * curves["val_accuracy"].isel(last, drop=True),
        "spikes": curves["hidden_spikes"].isel(last, drop=True),
        "bench_test": 100 * bench["test_accuracy"].isel(last, drop=True),
        "bench_val": 100 * bench["val_accuracy"].isel(last, drop=True),
        "bench_spikes": bench["hidden_spikes"].isel(last, drop=True),
    })
    if "epoch_time" in curves and "epoch_time" in bench:
        out["epoch_time"] = curves["epoch_time"].median("epoch")
        out["bench_epoch_time"] = bench["epoch_time"].median("epoch")
    out.attrs.update(curves.attrs)
    return out


def log_rate_ratios(curves: xr.Dataset, bench: xr.Dataset, q: float) -> xr.Dataset:
    """The convergence rates behind the claims, against one absolute target per discretization
    shared by both schemes: ``target`` = ``q`` x the lower of the two benchmarks' mean final
    validation accuracy (a fraction). Per point: ``n_q`` (training samples to the first validation
    record at the target, interpolated; :func:`snnlib.metrics.samples_to_reach`), and where it is never
    reached the samples of the whole run (``censored``: the true n_q is larger, so the fall of that
    arm is understated, never overstated); ``bench_n_q`` / ``bench_censored`` of the benchmark (same
    scheme, discretization, seed); ``lrr`` = ln(bench_n_q / n_q), the log rate ratio (negative: slower
    than the benchmark). ``spacing``: samples between validation records; ``resolution``: the spacing
    over the smallest n_q measured (n_q is resolved when it is at most
    :data:`snnlib.study.claims.RESOLUTION`); ``first_record``: points that reach the target at the first
    record, whose n_q is only known to lie below it."""
    n = curves["samples_seen"].values.astype(float)
    target = q * (bench["val_accuracy"].isel(epoch=-1, drop=True).mean("seed").min("scheme"))

    def reach(curve, t):
        return samples_to_reach(n, curve, t) if np.isfinite(curve).any() else math.nan

    def n_q(ds):
        raw = xr.apply_ufunc(reach, ds["val_accuracy_curve"], target, input_core_dims=[["samples_seen"], []],
                             vectorize=True)
        ran = ds["val_accuracy_curve"].notnull().any("samples_seen")
        censored = raw.isnull() & ran
        return raw.where(~censored, n[-1]), censored, raw

    nq, cens, raw = n_q(curves)
    bnq, bcens, braw = n_q(bench)
    out = xr.Dataset({"n_q": nq, "censored": cens, "bench_n_q": bnq, "bench_censored": bcens,
                      "lrr": np.log(bnq / nq), "target": target})
    measured = np.concatenate([raw.values.ravel(), braw.values.ravel()])
    measured = measured[np.isfinite(measured)]
    spacing = float(np.diff(n).max()) if n.size > 1 else math.nan
    out.attrs.update(curves.attrs, q=q, spacing=spacing,
                     resolution=spacing / float(measured.min()) if measured.size else math.nan,
                     first_record=int((raw == n[0]).sum() + (braw == n[0]).sum()))
    return out


def describe(r: xr.Dataset) -> dict:
    """Descriptive numbers for the chapter's prose (``r``: :func:`finals`; means and Student-t 95%
    half-widths ``_ci`` over seeds; the verdicts are the findings run's): ``coarse_bins``,
    ``<scheme>_bench_acc`` (test accuracy of the benchmark of seed 000's discretization) and
    ``<scheme>_<disc>_acc_coarse`` (final test accuracy at the fewest bins)."""
    coarse = int(r["bins"].min())
    out: dict = {"coarse_bins": coarse, "base_bins": int(r.attrs.get("base_bins", r["bins"].max()))}
    for s in SCHEMES:
        out[f"{s}_bench_acc"], out[f"{s}_bench_acc_ci"] = mean_ci(
            r["bench_test"].sel(scheme=s, discretization="seed000").values)
        for disc in DISCRETIZATIONS:
            out[f"{s}_{disc}_acc_coarse"], out[f"{s}_{disc}_acc_coarse_ci"] = mean_ci(
                r["final_test"].sel(scheme=s, discretization=disc, bins=coarse).values)
    return out


def benchmark_gap(r: xr.Dataset) -> dict:
    """The two schemes' benchmarks side by side (``r``: :func:`finals`): final test accuracy of the
    continuous spike-time network minus BPTT's 1 ms grid (seed 000's), ``bench_gap`` and its Welch
    95% half-width ``bench_gap_ci`` (independent networks), and ``bench_gap_reading``: whether the
    interval decides which is higher."""
    acc = {s: r["bench_test"].sel(scheme=s, discretization="seed000").values for s in SCHEMES}
    gap, half = mean_diff_ci(acc["spiketime"], acc["bptt"])
    if not math.isfinite(half):
        reading = "one seed: no interval yet"
    elif gap + half < 0:
        reading = "the spike-time benchmark is significantly lower"
    elif gap - half > 0:
        reading = "the spike-time benchmark is significantly higher"
    else:
        reading = "not significant with these seeds"
    return {"bench_gap": gap, "bench_gap_ci": half, "bench_gap_reading": reading}


def holds_to(r: xr.Dataset, points: float = HOLD_POINTS) -> dict:
    """How far each arm keeps its accuracy (means over seeds; ``r``: :func:`finals` or :func:`finals`),
    chosen on the validation split only: ``<scheme>_<disc>_holds_to``, the fewest bins down to which
    the mean final validation accuracy stays within ``points`` of its benchmark's mean at every bin count from the finest (NaN while a point,
    any seed of any bin count, is missing, or when even the finest falls short), and
    ``holds_points`` = ``points``."""
    out: dict = {"holds_points": points}
    mean, bench = r["final_val"].mean("seed", skipna=False), r["bench_val"].mean("seed", skipna=False)
    for s in SCHEMES:
        for disc in DISCRETIZATIONS:
            acc = mean.sel(scheme=s, discretization=disc).sortby("bins", ascending=False)
            ok = (acc >= float(bench.sel(scheme=s, discretization=disc)) - points).values
            out[f"{s}_{disc}_holds_to"] = _held_to(acc["bins"].values, ok) if np.isfinite(acc.values).all() else math.nan
    return out


def _held_to(bins, ok) -> float:
    """The fewest of ``bins`` (finest first) down to which ``ok`` holds at every bin count from the finest;
    NaN where even the finest fails."""
    held = math.nan
    for b, good in zip(bins, ok):
        if not good:
            break
        held = float(b)
    return held


def holds_reading(h: dict) -> str:
    """One sentence on :func:`holds_to`: which scheme keeps its accuracy to coarser steps, in seed
    000's discretization and on the shared model, and what the shared model changes."""
    def limit(s, disc):
        b = h[f"{s}_{disc}_holds_to"]
        return f"{b:.0f} bins" if math.isfinite(b) else "no step (or a missing point)"

    def lead(disc):
        a, b = h[f"spiketime_{disc}_holds_to"], h[f"bptt_{disc}_holds_to"]
        if not (math.isfinite(a) and math.isfinite(b)):
            return None
        return "spike-time" if a < b else "BPTT" if b < a else "neither"

    both = {disc: f"the spike-time scheme down to {limit('spiketime', disc)}, BPTT down to {limit('bptt', disc)}"
            for disc in DISCRETIZATIONS}
    text = f"in seed 000's discretization {both['seed000']}; on the shared model {both['shared']}"
    l0, l1 = lead("seed000"), lead("shared")
    if l0 == "spike-time" and l1 == "BPTT":
        return text + ": the spike-time scheme's lead turns into BPTT's on the shared model"
    if l0 == "spike-time" and l1 == "neither":
        return text + ": the spike-time scheme's lead is gone on the shared model"
    if l0 == "spike-time" and l1 == "spike-time":
        return text + ": the spike-time scheme keeps its lead on the shared model"
    if l0 is None or l1 is None:
        return text
    names = {"spike-time": "the spike-time scheme", "BPTT": "BPTT", "neither": "neither scheme"}
    return text + f": {names[l0]} leads in seed 000's discretization, {names[l1]} on the shared model"


def holds_conclusion(by_dataset: dict) -> str:
    """What :func:`holds_to` of every dataset (``{dataset: holds_to(...)}``) says about seed 000's
    reading: whether the spike-time scheme keeps its accuracy to coarser steps in seed 000's
    discretization than on the shared model, on every dataset."""
    pairs = [(h["spiketime_seed000_holds_to"], h["spiketime_shared_holds_to"]) for h in by_dataset.values()]
    if not pairs or not all(math.isfinite(a) and math.isfinite(b) for a, b in pairs):
        return "A point is missing or an arm holds at no step, so the comparison waits for the sweeps."
    if all(a < b for a, b in pairs):
        return ("On every dataset the spike-time scheme's mean accuracy holds only to finer steps on the shared "
                "model than in seed 000's discretization. The two runs differ in the discretization alone, so in "
                "these means part of the robustness seed 000 credits to exact spike-time gradients comes from the "
                "discretization they ran in: exact threshold crossings between grid points. (Means over seeds.)")
    if all(a >= b for a, b in pairs):
        return ("On no dataset does the spike-time scheme's mean accuracy hold only to finer steps on the shared "
                "model than in seed 000's discretization: in these means its robustness does not come from that "
                "discretization.")
    return ("The spike-time scheme's mean accuracy holds only to finer steps on the shared model on some datasets, "
            "not on all: whether its robustness comes from seed 000's discretization depends on the data.")


def cost_at_holds(r: xr.Dataset, h: dict, scheme: str = "bptt") -> dict:
    """What fewer bins save where accuracy holds: per discretization, at ``h``'s
    ``<scheme>_<disc>_holds_to`` bins (:func:`holds_to`), the training wall time per epoch (the
    median over epochs, validation passes included: a proxy for latency) and the hidden spikes per
    sample as ratios to the benchmark's, paired by seed: the geometric mean over seeds and its
    Student-t 95% interval, taken on the log ratios (``<disc>_time_ratio``, ``_lo``, ``_hi``; the
    same for ``spike``), and ``<disc>_bins``. NaN where the limit, a seed or the timings are missing
    (a ratio of 0, no spikes at all, has no log: NaN too)."""
    out: dict = {}
    for disc in DISCRETIZATIONS:
        b = h[f"{scheme}_{disc}_holds_to"]
        out[f"{disc}_bins"] = b
        for name, var, ref in (("time", "epoch_time", "bench_epoch_time"), ("spike", "spikes", "bench_spikes")):
            keys = [f"{disc}_{name}_ratio{x}" for x in ("", "_lo", "_hi")]
            out.update(dict.fromkeys(keys, math.nan))
            if var not in r or ref not in r or not math.isfinite(b):
                continue
            sel = dict(scheme=scheme, discretization=disc)
            ratio = np.asarray((r[var].sel(**sel, bins=int(b)) / r[ref].sel(**sel)).values, float)
            if not (np.isfinite(ratio).all() and (ratio > 0).all()):
                continue
            m, half = mean_ci(np.log(ratio))
            out.update(zip(keys, (math.exp(m), math.exp(m - half), math.exp(m + half))))
    return out


# ------------------------------------------------------------------ one neuron for both schemes (issue 24)
#: the neurons of the shared-neuron sweeps (:data:`snnlib.study.plan.TB_REGIMES`), slow first
NEURONS = ("slow", "fast")


def neuron_sweep_names(regime: str, dataset: str = "yinyang") -> dict[str, str]:
    """The three sweeps of one neuron: ``bptt``, ``spiketime`` (on the grid) and ``exact`` (continuous)."""
    return {k: f"timebins-{dataset}-{regime}-{k}" for k in ("bptt", "spiketime", "exact")}


def neuron_load(dataset: str = "yinyang", profile: str = "quick", allow_missing: bool = True) -> dict:
    """``{regime: {arm: Dataset}}`` of the shared-neuron sweeps of ``dataset``."""
    return {r: {k: load_sweep(n, profile, allow_missing=allow_missing) for k, n in neuron_sweep_names(r, dataset).items()}
            for r in NEURONS}


def neuron_window(sweeps: dict[str, xr.Dataset]) -> tuple[float, float]:
    """``(window, tau_s)`` in ms of one neuron's sweeps, checked equal across its three arms: the grid
    points run from 0 to ``window`` (BPTT: ``n_steps - 1`` base bins; spike-time: ``t_max``)."""
    b, s, e = (_config(sweeps[k]) for k in ("bptt", "spiketime", "exact"))
    w = (float(b["n_steps"]) - 1) * float(b["dt"])
    if not (math.isclose(w, float(s["t_max"])) and math.isclose(w, float(e["t_max"]))):
        raise ValueError(f"the arms' windows differ: BPTT {w} ms, spike-time {s['t_max']} / {e['t_max']} ms.")
    taus = {float(b["tau_s"]), float(s["tau_s"]), float(e["tau_s"])}
    if len(taus) != 1:
        raise ValueError(f"the arms' neurons differ: tau_s = {sorted(taus)} ms.")
    return w, taus.pop()


def neuron_arms(by_regime: dict[str, dict[str, xr.Dataset]]) -> tuple[xr.Dataset, xr.Dataset, xr.Dataset]:
    """``(curves, bench, continuous)`` of the shared-neuron sweeps (``by_regime``: :func:`neuron_load`).

    ``curves``: learning curves along ``scheme`` (spike-time, BPTT) x ``neuron`` x ``bins`` x
    ``seed``, with the coordinates ``h_ms`` (``bins``) and ``h_over_tau_s`` (``neuron`` x ``bins``);
    ``bench``: each scheme's own finest grid (the most bins) along ``scheme`` x ``neuron`` x ``seed``;
    ``continuous``: the continuous network along ``neuron`` x ``seed``, on the grid arms' seeds (it may
    have more: it is also another study's benchmark). Same seed, same initial weights in every arm of a
    neuron (the schemes build them by one rule)."""
    cur, ben, cont, taus = [], [], [], []
    for regime in NEURONS:
        sw = by_regime[regime]
        w, tau_s = neuron_window(sw)
        b = sw["bptt"]
        dt = float(_config(b)["dt"])

        def by_bins(ds, step_dim, step_ms):
            ds = ds[_vars(ds)].assign_coords(bins=(step_dim, [int(round(w / h)) for h in step_ms]))
            return ds.swap_dims({step_dim: "bins"}).drop_vars(step_dim)

        arms = [by_bins(sw["spiketime"], "dt", [float(h) for h in sw["spiketime"]["dt"].values]),
                by_bins(b, "k", [k * dt for k in b["k"].values])]
        c = xr.concat(arms, dim="scheme", join="outer").assign_coords(scheme=list(SCHEMES))
        finest = int(c["bins"].max())
        cur.append(c)
        ben.append(c.sel(bins=finest, drop=True))
        ex = sw["exact"][_vars(sw["exact"])]
        cont.append(ex.sel(seed=[sd for sd in ex["seed"].values if sd in set(c["seed"].values)]))  # paired seeds
        taus.append(tau_s)
    curves = xr.concat(cur, dim="neuron", join="outer").assign_coords(neuron=list(NEURONS), tau_s=("neuron", taus))
    h = w / curves["bins"]
    curves = curves.assign_coords(h_ms=h, h_over_tau_s=h / curves["tau_s"])
    bench = xr.concat(ben, dim="neuron", join="outer").assign_coords(neuron=list(NEURONS), tau_s=("neuron", taus))
    continuous = xr.concat(cont, dim="neuron", join="outer").assign_coords(neuron=list(NEURONS), tau_s=("neuron", taus))
    curves.attrs.update(window_ms=w, base_bins=int(curves["bins"].max()))
    return curves, bench, continuous


#: the benchmarks of a shared neuron: each scheme's finest grid and the continuous network
BENCHMARKS = {"spiketime": "the spike-time scheme's finest grid", "bptt": "BPTT's finest grid",
              "continuous": "the continuous network"}


def neuron_benchmarks(bench: xr.Dataset, continuous: xr.Dataset) -> xr.DataArray:
    """Final test accuracy (%) of each neuron's benchmarks (:data:`BENCHMARKS`; ``bench``, ``continuous``:
    :func:`neuron_arms`) along ``benchmark`` x ``neuron`` x ``seed``."""
    last = {"epoch": -1}
    grids = [bench["test_accuracy"].isel(last, drop=True).sel(scheme=s, drop=True) for s in SCHEMES]
    acc = xr.concat(grids + [continuous["test_accuracy"].isel(last, drop=True)], dim="benchmark", join="outer")
    return 100 * acc.assign_coords(benchmark=list(BENCHMARKS))


def benchmarks_below(acc: xr.DataArray, bar: float, needs: tuple[str, ...] = tuple(BENCHMARKS)) -> dict:
    """Per neuron of ``acc`` (:func:`neuron_benchmarks`), ``{benchmark: mean}`` of those benchmarks in
    ``needs`` whose mean final test accuracy over seeds does not reach ``bar`` (a mean that is NaN, no seed
    there, does not reach it). A neuron with an empty dict is judged: the gate of
    :data:`snnlib.study.claims.BENCHMARK_BAR`, shared by the findings and the chapters."""
    means = acc.mean("seed")
    out = {}
    for n in acc["neuron"].values:
        m = {b: float(means.sel(neuron=n, benchmark=b)) for b in needs}
        out[str(n)] = {b: v for b, v in m.items() if not v >= bar}
    return out


def benchmark_table(acc: xr.DataArray, bar: float | None = None) -> pd.DataFrame:
    """One row per neuron and benchmark (``acc``: :func:`neuron_benchmarks`): the mean final test accuracy,
    its Student-t 95% half-width and the seeds, and with ``bar`` whether the mean reaches it (a step of
    that neuron is judged only from benchmarks that do: :data:`snnlib.study.claims.BENCHMARK_BAR`)."""
    rows = []
    below = benchmarks_below(acc, bar) if bar is not None else {}
    for n in acc["neuron"].values:
        for b, name in BENCHMARKS.items():
            v = acc.sel(neuron=n, benchmark=b).values
            v = v[np.isfinite(v)]
            m, h = mean_ci(v) if len(v) else (math.nan, math.nan)
            row = {"neuron": f"tau_s = {float(acc['tau_s'].sel(neuron=n)):g} ms", "benchmark": name,
                   "test accuracy (%)": round(m, 2), "± (95%)": round(h, 2), "seeds": len(v)}
            if bar is not None:
                row[f"reaches {bar:g} %"] = "no" if b in below[str(n)] else "yes"
            rows.append(row)
    return pd.DataFrame(rows).set_index(["neuron", "benchmark"])


def less_affected(r: xr.Dataset, chance: float, learned: float) -> dict:
    """Per neuron, the quantity of ``s000_less_affected_neuron`` (``r``: :func:`finals` of
    :func:`neuron_arms`): the coarsest bin count at which either scheme's mean test accuracy is at
    least ``chance + learned`` points (``<neuron>_bins``), and per seed the spike-time scheme's change
    in test accuracy from its finest grid minus BPTT's there (``<neuron>_diff``: an array over seeds;
    NaN bins and an empty array when neither learns at any bin count)."""
    out: dict = {}
    for regime in r["neuron"].values:
        sub = r.sel(neuron=regime)
        mean = sub["final_test"].mean("seed", skipna=False)
        learns = (mean >= chance + learned).any("scheme")
        ok = [int(b) for b in sub["bins"].values if bool(learns.sel(bins=b))]
        if not ok:
            out[f"{regime}_bins"], out[f"{regime}_diff"] = math.nan, np.array([])
            continue
        b = min(ok)
        drop = sub["final_test"].sel(bins=b) - sub["bench_test"]
        out[f"{regime}_bins"] = b
        out[f"{regime}_diff"] = (drop.sel(scheme="spiketime") - drop.sel(scheme="bptt")).values
    return out


def neuron_numbers(r: xr.Dataset, continuous: xr.Dataset, lrr: xr.Dataset, settings: pd.DataFrame,
                   chance: float, learned: float) -> dict:
    """The numbers a shared-neuron chapter quotes, by the names it glues them under (``r``: :func:`finals`,
    ``continuous``: :func:`neuron_arms`, ``lrr``: :func:`log_rate_ratios`, ``settings``:
    :func:`neuron_settings`): per neuron ``<n>_tau_s``, the range ``<n>_h_min`` / ``<n>_h_max`` of
    h / tau_s, ``<n>_theta``, the convergence target ``<n>_target`` (%), the continuous network's mean and
    95% half-width ``<n>_continuous(_ci)``, per scheme its finest grid ``<n>_<s>_bench(_ci)`` and coarsest
    ``<n>_<s>_coarse(_ci)``, and :func:`less_affected`'s ``<n>_la_bins``, ``<n>_la_diff(_ci)``; and
    ``coarse_bins``, ``bins`` (the bin counts, listed), ``n_seeds``."""
    out: dict = {}
    la = less_affected(r, chance, learned)
    coarse = int(r["bins"].min())
    for n in r["neuron"].values:
        x = r["h_over_tau_s"].sel(neuron=n)
        out[f"{n}_tau_s"] = float(r["tau_s"].sel(neuron=n))
        out[f"{n}_h_min"], out[f"{n}_h_max"] = float(x.min()), float(x.max())
        out[f"{n}_theta"] = settings.query("neuron == @n")["thresholds"].iloc[0]
        out[f"{n}_target"] = 100 * float(lrr["target"].sel(neuron=n))
        # mean_ci: NaN (a seed not there yet) left out, NaN for none
        out[f"{n}_continuous"], out[f"{n}_continuous_ci"] = mean_ci(
            100 * continuous["test_accuracy"].isel(epoch=-1).sel(neuron=n).values)
        for s in SCHEMES:
            for key, v in (("bench", r["bench_test"].sel(scheme=s, neuron=n)),
                           ("coarse", r["final_test"].sel(scheme=s, neuron=n, bins=coarse))):
                out[f"{n}_{s}_{key}"], out[f"{n}_{s}_{key}_ci"] = mean_ci(v.values)
        out[f"{n}_la_bins"] = la[f"{n}_bins"]
        out[f"{n}_la_diff"], out[f"{n}_la_diff_ci"] = mean_ci(la[f"{n}_diff"])
    out["coarse_bins"] = coarse
    out["bins"] = ", ".join(str(int(b)) for b in sorted(r["bins"].values, reverse=True))
    out["n_seeds"] = int(r.sizes["seed"])
    return out


def neuron_settings(by_regime: dict[str, dict[str, xr.Dataset]]) -> pd.DataFrame:
    """What the two schemes share and what each chose, per neuron (the sweeps' configs): one row per
    neuron and scheme: tau_s, tau, thresholds (this project's units), initial weights, learning rate,
    BPTT's surrogate width (in units of each layer's threshold), epochs, batch size."""
    rows = []
    for regime, sw in by_regime.items():
        b, s = _config(sw["bptt"]), _config(sw["spiketime"])
        theta = tuple(float(t) for t in b["theta"])
        if not np.allclose([1000 * float(t) for t in s["theta_bats"]], theta):
            raise ValueError(f"{regime}: the schemes' thresholds differ: {theta} and 1000 x {s['theta_bats']}.")
        for scheme, c in (("spike-time", s), ("BPTT", b)):
            rows.append({"neuron": regime, "scheme": scheme, "tau_s (ms)": float(b["tau_s"]), "tau (ms)": float(b["tau"]),
                         "thresholds": str(theta), "initial weights": f"U(-{float(c['weight_scale']):g}, "
                                                                      f"{float(c['weight_scale']):g})",
                         "learning rate": float(c["lr"]),
                         "surrogate width (x theta)": float(c["surrogate_width"]) if scheme == "BPTT" else math.nan,
                         "epochs": int(c["epochs"]), "batch": int(c["batch_size"])})
    return pd.DataFrame(rows)


def _input_times(cfg, x) -> np.ndarray:
    """The input spike times (ms, flat, silent inputs left out) of the samples ``x`` of a shared-neuron
    config: Yin-Yang's coordinates (:func:`snnlib.data.yinyang.spike_times`), MNIST's first-spike
    times (:func:`snnlib.data.encoding.ttfs`) or N-MNIST's events within the window (every event)."""
    if cfg.dataset == "nmnist":
        window = (cfg.n_steps - 1) * cfg.dt
        t = np.concatenate([np.asarray(x[i][0]["t"], dtype=np.float64) / 1000.0 for i in range(len(x))])
        return t[t < window]
    t = yinyang.spike_times(x, t_late=cfg.t_in) if cfg.dataset == "yinyang" else encoding.ttfs(x, cfg.t_in)
    t = t.numpy().ravel()
    return t[np.isfinite(t)]


def neuron_targets(by_regime: dict[str, dict[str, xr.Dataset]]) -> pd.DataFrame:
    """The count targets of every bin count of the BPTT sweep (the same as the spike-time scheme's, a
    test checks it): bins, h (ms), the output's capacity on the grid (one spike per point, one step of
    delay per layer), the fitted (true, false) targets, and the structural delay: the fraction of the
    test inputs' spikes delivered early enough to reach the output within the window
    (``ceil(t / h) h + depth h <= window``; MNIST: of the pixels that spike; N-MNIST: of the events in the
    window)."""
    rows = []
    sw = next(iter(by_regime.values()))  # the bins and targets of both neurons are the same
    base = _config(sw["bptt"])
    cfg0 = bptt.BPTTConfig.from_dict({**base, "seed": 0})
    times = _input_times(cfg0, bptt.load(cfg0)["test"][0])
    for k in sw["bptt"]["k"].values:
        cfg = bptt.BPTTConfig.from_dict({**base, "k": int(k), "seed": 0})
        h = cfg.dt * cfg.k
        w = (bptt.grid_steps_of(cfg) - 1) * h
        yt, yf = bptt.targets(cfg)
        depth = len(cfg.hidden) + 1
        reach = np.mean(grid_index(times, h) + depth <= grid_index(w, h))  # delivered point + delay within the window
        rows.append({"bins": int(round(w / h)), "h (ms)": h, "capacity": grid_capacity(w, h, depth),
                     "first output spike (ms)": depth * h, "inputs reaching the output (%)": 100 * float(reach),
                     "target true": yt, "target false": yf})
    return pd.DataFrame(rows)


def withheld_spikes(path) -> dict:
    """For a trained shared-neuron network (a sweep point's run folder with its weights), on its test
    split: the spikes of hidden and output layers on the exact grid and those the one-spike-per-point
    rule withholds (:func:`snnlib.clock.stepping.exact_grid_excess`), as ``{layer}_spikes`` /
    ``{layer}_withheld`` per sample. Works for either scheme's network (the same forward)."""
    model, cfg = driver.load_model(path)
    if isinstance(cfg, bptt.BPTTConfig):
        h, neurons, steps = cfg.dt * cfg.k, bptt.neurons(cfg), bptt.grid_steps_of(cfg)
    else:
        h, neurons = float(cfg.dt), model.params
        steps = grid_capacity(cfg.window(), h, 1) + 1  # the grid points 0 .. window
    scheme = driver.scheme_of(cfg)
    x, _ = scheme.data(cfg)["test"]
    times = yinyang.spike_times(x, t_late=cfg.t_in)
    cur = grid_raster(times, steps, h, sparse=False)
    out = {}
    for i, (w, p) in enumerate(zip(model.weights, neurons)):
        s, e = exact_grid_excess(cur @ w.detach().double().t(), p, h)
        name = "output" if i == len(model.weights) - 1 else f"hidden{i + 1}" if len(model.weights) > 2 else "hidden"
        out[f"{name}_spikes"] = float(s.sum() / x.shape[0])
        out[f"{name}_withheld"] = float(e.sum() / x.shape[0])
        cur = s
    return out


def silent_outputs(path, split: str = "val") -> int:
    """How many output neurons of a trained network (a sweep point's run folder with its weights) never
    spike on any sample of ``split``: a dead output gets no gradient from BATS's spike-count loss, so
    its class is never learnt (the cause of the runs :func:`at_chance` counts)."""
    model, cfg = driver.load_model(path)
    scheme = driver.scheme_of(cfg)
    x, y = scheme.data(cfg)[split]
    with torch.no_grad():
        out, _ = model(scheme.encoder(cfg, split)(x, np.arange(len(y))))
    counts = torch.isfinite(out).sum(2) if out.dim() == 3 else out.sum(0)  # event [B, C, K] or clock [T, B, C]
    return int((counts.sum(0) == 0).sum())


def dead_outputs_table(profile: str, chance: float, learned: float, dataset: str = "yinyang") -> pd.DataFrame:
    """Every complete point of the shared-neuron sweeps whose final test accuracy stays below
    ``chance + learned`` points, with its :func:`silent_outputs` on the validation split: whether the
    run that did not train is the dead-output case (one row per point; empty: none)."""
    rows = []
    for regime in NEURONS:
        for arm, name in neuron_sweep_names(regime, dataset).items():
            for p in plan.sweep(name).points(profile):
                path = run_dir(name, profile) / p.id
                if not (path / "summary.json").is_file():
                    continue
                acc = 100 * float(json.loads((path / "summary.json").read_text())["final_test_accuracy"])
                if acc < chance + learned:
                    rows.append({"neuron": regime, "arm": arm, "point": p.id, "test accuracy (%)": round(acc, 1),
                                 "silent outputs": silent_outputs(path)})
    return pd.DataFrame(rows, columns=["neuron", "arm", "point", "test accuracy (%)", "silent outputs"])


def silent_loss(cfg: bptt.BPTTConfig) -> float:
    """The count loss of a network whose outputs never spike, with ``cfg``'s targets fitted to its grid
    (:func:`snnlib.training.losses.count_mse` of an empty raster; the same for every label):
    ``(target_true^2 + (C - 1) target_false^2) / 2``. A run whose training loss stays there has silent
    outputs, and BATS's exact spike-time gradient of the count loss is then zero."""
    out = torch.zeros(1, 1, int(bptt.sizes(cfg)[-1]), dtype=torch.float64)  # [T, B, C]: no spike
    return float(bptt.BPTTScheme().loss(cfg)(out, torch.zeros(1, dtype=torch.long)))


def initial_outputs(by_regime: dict[str, dict[str, xr.Dataset]], split: str = "test", batch: int = 50,
                    stuck_rel: float = 1e-3) -> pd.DataFrame:
    """Output activity where training starts, and the runs that never left silence, per neuron and bin
    count of the shared-neuron sweeps (``by_regime``: :func:`neuron_load`).

    The initial network of every seed (the same weights and, tested, the same spikes in both schemes) is
    simulated on ``split`` at every step of the BPTT sweep: the output spikes per sample and the share of
    samples on which no output spikes (means over seeds). Beside it, of the ``seeds`` complete in both arms,
    per scheme those whose training loss stayed within ``stuck_rel`` of :func:`silent_loss` in every epoch:
    outputs silent throughout, where the exact gradient is zero and the surrogate still reaches the
    silent neurons."""
    rows = []
    for regime, sw in by_regime.items():
        base = _config(sw["bptt"])
        seeds = [int(s) for s in sw["bptt"]["seed"].values]
        scheme = bptt.BPTTScheme()
        cfg0 = bptt.BPTTConfig.from_dict({**base, "seed": seeds[0]})
        x, _ = scheme.data(cfg0)[split]
        for k in sw["bptt"]["k"].values:
            spikes, silent = [], []
            for seed in seeds:
                cfg = bptt.BPTTConfig.from_dict({**base, "k": int(k), "seed": seed})
                net = scheme.build(cfg, torch.Generator().manual_seed(seed))
                enc = scheme.encoder(cfg, split)
                counts = []
                with torch.no_grad():
                    for lo in range(0, len(x), batch):
                        out, _ = net(enc(x, np.arange(lo, min(lo + batch, len(x)))))
                        counts.append(out.sum(0).sum(1))  # [T, B, C] -> spikes per sample
                n = torch.cat(counts).double()
                spikes.append(float(n.mean()))
                silent.append(100 * float((n == 0).double().mean()))
            h = float(cfg0.dt) * int(k)
            window = (bptt.grid_steps_of(cfg) - 1) * h
            loss0 = silent_loss(cfg)
            row = {"neuron": regime, "bins": int(round(window / h)), "h / tau_s": round(h / float(base["tau_s"]), 3),
                   "initial output spikes per sample": round(float(np.mean(spikes)), 2),
                   "initial samples with silent outputs (%)": round(float(np.mean(silent)), 1),
                   "silent-output loss": round(loss0, 3)}
            losses = {"spike-time": sw["spiketime"]["train_loss"].sel(dt=h), "BPTT": sw["bptt"]["train_loss"].sel(k=k)}
            done = losses["spike-time"].notnull().all("epoch") & losses["BPTT"].notnull().all("epoch")
            row["seeds"] = int(done.sum())  # complete in both arms
            for arm, loss in losses.items():
                stuck = (np.abs(loss - loss0) <= stuck_rel * loss0).all("epoch") & done
                row[f"{arm} seeds stuck silent"] = int(stuck.sum())
            rows.append(row)
    return pd.DataFrame(rows).set_index(["neuron", "bins"])


def at_chance(r: xr.Dataset, chance: float, learned: float) -> pd.DataFrame:
    """Seeds whose final test accuracy stays below ``chance + learned`` points (a network the scheme
    did not train, e.g. outputs silent from the start: the spike-count loss gives a silent output no
    gradient), per neuron, scheme and bin count (``r``: :func:`finals` of :func:`neuron_arms`);
    counted like every other run in the verdicts. NaN where the arm has no point yet."""
    low = (r["final_test"] < chance + learned).sum("seed").where(r["final_test"].notnull().any("seed"))
    df = low.to_dataframe(name="seeds near chance")["seeds near chance"].unstack("bins")
    return df[sorted(df.columns, reverse=True)]


def withheld_table(profile: str = "quick", dataset: str = "yinyang") -> pd.DataFrame:
    """:func:`withheld_spikes` of every complete point of the shared-neuron grid sweeps at their finest
    and coarsest step: per neuron, scheme and bin count, the mean over seeds of the hidden and output
    spikes per sample and of those the one-spike-per-point rule withholds (``seeds``: how many)."""
    rows = []
    for regime in NEURONS:
        for scheme in SCHEMES:
            s = plan.sweep(neuron_sweep_names(regime, dataset)[scheme])
            points = s.points(profile)
            step = "k" if scheme == "bptt" else "dt"
            ends = {min(p.params[step] for p in points), max(p.params[step] for p in points)}
            for p in points:
                path = run_dir(s.name, profile) / p.id
                if p.params[step] in ends and (path / "summary.json").is_file():
                    h = float(p.config["dt"]) * (p.params["k"] if scheme == "bptt" else 1)
                    window = float(p.config.get("t_max") or (p.config["n_steps"] - 1) * p.config["dt"])
                    rows.append({"neuron": regime, "scheme": scheme, "bins": int(round(window / h)),
                                 **withheld_spikes(path)})
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    out = df.groupby(["neuron", "scheme", "bins"]).mean()
    out.insert(0, "seeds", df.groupby(["neuron", "scheme", "bins"]).size())
    return out.round(2)


def first_design_neurons(sweeps: dict[str, xr.Dataset], bins: int = 25) -> dict:
    """The two neurons of the first design (:func:`load`): BPTT's time constants (``bptt_tau_s``,
    ``bptt_tau``, ms), the spike-time scheme's as its config resolves them (``spiketime_tau_s``,
    ``spiketime_tau``; BATS's where the sweep leaves them unset) and its count targets (``target_true``,
    ``target_false``), ``tau_ratio`` (its tau_s over BPTT's), and the step over each tau_s at ``bins`` bins
    of the window (``bptt_h_bins``, ``spiketime_h_bins``; ``bins``)."""
    b = _config(sweeps["bptt"])
    bc = spiketime.bats_config(spiketime.SpikeTimeConfig.from_dict(_config(sweeps["exact"])))
    h = window(sweeps) / bins
    return {"bptt_tau_s": float(b["tau_s"]), "bptt_tau": float(b["tau"]), "spiketime_tau_s": float(bc.tau_s),
            "spiketime_tau": float(bc.tau), "target_true": bc.target_true, "target_false": bc.target_false,
            "tau_ratio": float(bc.tau_s) / float(b["tau_s"]), "bins": bins,
            "bptt_h_bins": h / float(b["tau_s"]), "spiketime_h_bins": h / float(bc.tau_s)}


def rate_target_reach(sweeps: dict[str, xr.Dataset]) -> dict:
    """Where the first design's BPTT rate target is out of reach under the skip (``loss="rate"``: a neuron
    that fires at most every k-th base bin has rate at most 1 / k): ``true_rate``, ``k_max`` (the largest
    skip that reaches it), ``k_out`` (the smallest that does not) and ``bins_min`` (the fewest bins of the
    window that reach it)."""
    b = _config(sweeps["bptt"])
    if b.get("loss") != "rate":
        raise ValueError(f"the BPTT sweep's loss is {b.get('loss')!r}: no rate target to reach.")
    rate = float(b["true_rate"])
    k_max = math.floor(1 / rate + 1e-9)
    return {"true_rate": rate, "k_max": k_max, "k_out": k_max + 1,
            "bins_min": int(round(window(sweeps) / (k_max * float(b["dt"]))))}


# --- seed 000 as it ran (N-MNIST), its two controls, and the first design's skip arm -------------------------

#: the arms of :func:`asran_finals`: ``{arm: (sweep, selection)}``. Seed 000 as it ran and its controls train
#: lava-dl's 2312-512-512-10 recipe (``clock="seed000"``, ``"loihi"``); the first design's skip arm its
#: 2312-500-10 network under the settings it shared with the spike-time scheme (another network: beside, not paired)
ASRAN_ARMS = {
    "as ran": ("timebins-nmnist-seed000", {"skip_gain": False}),
    "gain restored": ("timebins-nmnist-seed000", {"skip_gain": True}),
    "Loihi coarsened": ("timebins-nmnist-loihi", {}),
    "first design's skip": ("timebins-nmnist-bptt", {"clock": "skip"}),
}
#: the arms paired by seed with seed 000 as it ran (the same network, data and initial weights per seed)
ASRAN_CONTROLS = ("gain restored", "Loihi coarsened")


def asran_load(profile: str = "quick", allow_missing: bool = True) -> dict[str, xr.Dataset]:
    """The three sweeps of :data:`ASRAN_ARMS`, by sweep name."""
    return {name: load_sweep(name, profile, allow_missing=allow_missing)
            for name in dict.fromkeys(s for s, _ in ASRAN_ARMS.values())}


def _trained_steps(n_bins: int, k: int, cfg: dict) -> int:
    """Steps of the window that training keeps: seed 000 as it ran skips ``k`` of its ``n_bins`` coarse bins
    (every k-th kept, in training only); Loihi's coarsened recurrence runs each of its bins; the first
    design's skip keeps every k-th of the 1 ms steps, i.e. ``n_bins``."""
    return -(-n_bins // k) if cfg["clock"] == "seed000" else n_bins


def asran_finals(loaded: dict[str, xr.Dataset]) -> xr.Dataset:
    """Per arm (:data:`ASRAN_ARMS`), bin count and seed: ``final_test``, ``final_val`` (%, after the last
    epoch); coordinates ``k`` (the step in base bins), ``h_over_tau_s`` (the step over the synaptic time
    constant the neuron sees: seed 000 applies the decays of one base bin per coarse bin, so its neuron
    sees ``dt / tau_s`` at every bin count, its time constants stretched with the bin; Loihi's coarsened
    recurrence and the skip ``k dt / tau_s``), ``trained_steps`` (the steps of the window training
    keeps, :func:`_trained_steps`) and ``network`` (hidden layers, epochs). The arms share the bin counts
    (checked); seeds an arm lacks are NaN."""
    parts, bins_of = [], {}
    for arm, (name, sel) in ASRAN_ARMS.items():
        ds = loaded[name]
        if sel:
            ds = ds.sel(sel).drop_vars(list(sel))
        cfg = {**_config(loaded[name]), **sel}
        dt, n_steps, tau_s = float(cfg["dt"]), int(cfg["n_steps"]), float(cfg["tau_s"])
        ks = [int(k) for k in ds["k"].values]
        bins = [-(-n_steps // k) for k in ks]
        h = [dt / tau_s if cfg["clock"] == "seed000" else k * dt / tau_s for k in ks]
        out = xr.Dataset({"final_test": 100 * ds["test_accuracy"].isel(epoch=-1, drop=True),
                          "final_val": 100 * ds["val_accuracy"].isel(epoch=-1, drop=True)})
        out = out.assign_coords(bins=("k", bins)).swap_dims({"k": "bins"}).reset_coords("k")
        out = out.assign(k=("bins", ks), h_over_tau_s=("bins", h),
                         trained_steps=("bins", [_trained_steps(b, k, cfg) for b, k in zip(bins, ks)]))
        out.attrs["network"] = f"2312-{'-'.join(str(n) for n in cfg['hidden'])}-10, {cfg['epochs']} epochs"
        bins_of[arm] = bins
        parts.append(out.expand_dims(arm=[arm]))
    if len({tuple(b) for b in bins_of.values()}) != 1:
        raise ValueError(f"the arms' bin counts differ: {bins_of}")
    r = xr.concat(parts, dim="arm", join="outer", combine_attrs="drop")
    r.attrs["networks"] = json.dumps({a: p.attrs["network"] for a, p in zip(ASRAN_ARMS, parts)})
    return r


def asran_table(r: xr.Dataset) -> pd.DataFrame:
    """One row per bin count (finest first): the step, h / tau_s (seed 000's neuron; Loihi's and the skip's),
    the steps training keeps, each arm's mean final test accuracy ± its Student-t 95% half-width over seeds,
    and each control minus seed 000 as it ran, paired by seed (points, mean ± 95% half-width)."""
    rows = []
    for b in sorted(r["bins"].values, reverse=True):
        p = r.sel(bins=b)
        row = {"bins": int(b), "step (ms)": int(p["k"].sel(arm="as ran")),
               "h / tau_s, as ran": float(p["h_over_tau_s"].sel(arm="as ran")),
               "h / tau_s, Loihi and skip": float(p["h_over_tau_s"].sel(arm="Loihi coarsened")),
               "steps trained, as ran": int(p["trained_steps"].sel(arm="as ran"))}
        for arm in r["arm"].values:
            m, h = mean_ci(p["final_test"].sel(arm=arm).values)
            row[f"{arm} (%)"] = f"{m:.1f} ± {h:.1f}"
        base = p["final_test"].sel(arm="as ran").values
        for arm in ASRAN_CONTROLS:
            m, h = mean_ci(p["final_test"].sel(arm=arm).values - base)
            row[f"{arm} − as ran (points)"] = f"{m:+.1f} ± {h:.1f}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("bins")


def asran_numbers(r: xr.Dataset, chance: float, learned: float, points: float = HOLD_POINTS) -> dict:
    """The chapter's numbers on :func:`asran_finals`, per arm (keys with the arm's name in snake case):
    ``<arm>_bench`` (mean test accuracy at the finest bins, the 1 ms base), ``<arm>_coarse`` (at the
    coarsest), ``<arm>_holds_to`` (the fewest bins down to which the mean *validation* accuracy stays
    within ``points`` of the arm's own finest at every bin count from the finest; NaN while one of the
    arm's seeds misses a point), ``<arm>_learns_to`` (the fewest bins down to which the mean test
    accuracy stays at or above ``chance + learned`` with no gap), ``<arm>_min`` and ``<arm>_min_bins``
    (the lowest mean test accuracy over the bin counts, and where); per control of :data:`ASRAN_CONTROLS`
    the largest and smallest mean paired difference from seed 000 as it ran over the bin counts,
    ``<control>_diff_max`` / ``_diff_min`` with their 95% half-widths (``_ci``) and bin counts
    (``_bins``); ``n_seeds`` (seeds of seed 000 as it ran); ``chance``."""
    out: dict = {"chance": chance, "holds_points": points, "learned": learned,
                 "n_seeds": int(r["final_test"].sel(arm="as ran").notnull().any("bins").sum()),
                 "coarse_bins": int(r["bins"].min()), "fine_bins": int(r["bins"].max()),
                 "h_as_ran": float(r["h_over_tau_s"].sel(arm="as ran").max()),
                 "h_loihi_fine": float(r["h_over_tau_s"].sel(arm="Loihi coarsened").min()),
                 "h_loihi_coarse": float(r["h_over_tau_s"].sel(arm="Loihi coarsened").max())}
    for arm in r["arm"].values:
        key = arm.replace("'", "").replace(" ", "_")
        p = r.sel(arm=arm).sortby("bins", ascending=False)
        p = p.sel(seed=p["final_test"].notnull().any("bins"))  # the arm's own seeds (the first design ran fewer)
        test, val = p["final_test"].mean("seed"), p["final_val"].mean("seed", skipna=False)
        out[f"{key}_bench"] = float(test.isel(bins=0))
        out[f"{key}_coarse"] = float(test.isel(bins=-1))
        out[f"{key}_holds_to"] = (_held_to(val["bins"].values, val.values >= float(val.isel(bins=0)) - points)
                                  if np.isfinite(val.values).all() else math.nan)
        out[f"{key}_learns_to"] = _held_to(test["bins"].values, test.values >= chance + learned)
        low = test.fillna(np.inf).argmin("bins")  # the lowest mean, and where (a fall need not be monotone)
        out[f"{key}_min"], out[f"{key}_min_bins"] = float(test.isel(bins=low)), int(test["bins"][low])
    base = r["final_test"].sel(arm="as ran")
    for arm in ASRAN_CONTROLS:  # each control minus seed 000 as it ran, paired by seed: its largest and smallest
        key = arm.replace(" ", "_")
        diff = {int(b): mean_ci((r["final_test"].sel(arm=arm) - base).sel(bins=b).values) for b in r["bins"].values}
        for end, pick in (("max", max), ("min", min)):
            b = pick((b for b in diff if np.isfinite(diff[b][0])), key=lambda b: diff[b][0], default=None)
            out[f"{key}_diff_{end}"], out[f"{key}_diff_{end}_ci"] = diff[b] if b is not None else (math.nan, math.nan)
            out[f"{key}_diff_{end}_bins"] = b if b is not None else math.nan
    return out
