"""The transfer chapter (seed 001, experiment 1): the numbers behind its claims, from the whole sweep
(the verdicts are decided in :mod:`snnlib.analyses.findings`).

Reads the points of the ``transfer`` sweep (:func:`snnlib.study.loading.load_sweep`; each point is a
run of :mod:`snnlib.experiments.transfer`): the accuracy drop of each integrated network from the
analytic one, the tolerable step, the numbers behind seed 001's claims, and the sweep's cost.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
import yaml
from statsmodels.stats.weightstats import CompareMeans

from snnlib.experiments.transfer import load_point  # a source's own data and encoding (event_gaps)
from snnlib.metrics import mean_ci, mean_ci_along
from snnlib.model.discretization import parse_integration
from snnlib.store.runs import cost_s, is_complete, load, point_dir
from snnlib.study import plan
from snnlib.study.loading import MissingPointsError, load_sweep
from snnlib.training.schemes.spiketime import SpikeTimeConfig

__all__ = ["with_drop", "tolerable_step", "break_points", "breakdown_map", "breakdown_sweeps", "breakdown_tau_s",
           "breakdown_table", "breakdown_summary", "cell_text", "hidden_activity", "activity", "interpolation_gain",
           "gain_difference", "claims", "wall_minutes", "sources", "event_gaps", "as_grid", "reproduces_source"]


# ------------------------------------------------------------------ the chapter (the whole sweep)
def with_drop(ds: xr.Dataset) -> xr.Dataset:
    """The sweep (:func:`snnlib.study.loading.load_sweep`) with ``drop``: accuracy minus the analytic
    network's accuracy, in points (percent), per point, rule, dt and split."""
    rules = [r for r in ("snap", "linear", "newton") if r in ds["rule"].values]
    ds = ds.reindex(rule=rules)  # the book's order (a merged sweep sorts them)
    ds["drop"] = 100.0 * (ds["accuracy"] - ds["exact_accuracy"])
    ds["drop"].attrs.update(units="points", long_name="accuracy - analytic accuracy")
    return ds


def tolerable_step(ds: xr.Dataset, max_drop: float = 1.0, split: str = "val") -> xr.DataArray:
    """Per point and rule, the largest ``dt`` up to which the mean accuracy drop over seeds stays
    within ``max_drop`` points at every step (NaN: not even the smallest step). A chooser: it reads the
    validation split unless told otherwise, never the test split by default."""
    drop = with_drop(ds)["drop"].sel(split=split).mean("seed")
    ok = (drop >= -max_drop).cumprod("dt").astype(bool)  # true until the first step beyond the bound
    dts = xr.DataArray(ds["dt"].values, dims="dt", coords={"dt": ds["dt"]})
    return dts.where(ok).max("dt")


def break_points(drop: xr.DataArray, tolerance: float, x: str = "dt") -> xr.Dataset:
    """Where an integrator stops being trustworthy, from per-seed accuracy drops against the analytic
    network (points; dims ``seed``, ``x`` and any others, e.g. integration and rule): per curve,

    - ``trusted``: the largest ``x`` up to which, at *every* step, the Student-t 95 % interval of the mean
      drop over seeds lies within ``+-tolerance`` (equivalence shown; NaN: not even at the smallest step);
    - ``broken``: the smallest ``x`` at which the interval lies wholly below ``-tolerance`` (a loss
      shown; NaN: never).

    Between the two the sample decides neither. Steps with fewer than two finite seeds decide nothing
    (they end the trusted range)."""
    mu, half = mean_ci_along(drop, "seed")
    within = (mu - half >= -tolerance) & (mu + half <= tolerance)
    within = within & half.notnull()
    ok = within.cumprod(x).astype(bool)  # true until the first step not shown within the tolerance
    xs = xr.DataArray(drop[x].values, dims=x, coords={x: drop[x]})
    below = (mu + half < -tolerance) & half.notnull()
    return xr.Dataset({"trusted": xs.where(ok).max(x), "broken": xs.where(below).min(x)},
                      attrs={"tolerance": tolerance})


def breakdown_map(sweeps: dict[str, xr.Dataset], tau_s: dict[str, float], tolerance: float,
                  split: str = "test") -> xr.Dataset:
    """The map of where each integrator can be trusted: for every neuron (``sweeps[neuron]``, a transfer
    sweep over ``integration`` and ``seed``, steps ``dt`` in ms, its source's ``tau_s[neuron]``), every
    integration and spike rule, :func:`break_points` of the accuracy drop against the analytic network
    along ``h / tau_s`` (dims ``neuron``, ``integration``, ``rule``; NaN where a rule does not apply,
    e.g. Newton's for the exact flow). The steps differ between neurons; the map is read in
    ``h / tau_s``."""
    parts = []
    for neuron, ds in sweeps.items():
        if "seed" not in ds.dims or "dt" not in ds.dims:
            raise ValueError(f"{neuron}: expected a transfer sweep over seeds (dims seed, dt), got {dict(ds.sizes)}")
        drop = with_drop(ds)["drop"].sel(split=split)
        drop = drop.assign_coords(h_over_tau_s=("dt", ds["dt"].values / float(tau_s[neuron]))).swap_dims(dt="h_over_tau_s")
        bp = break_points(drop.drop_vars("dt"), tolerance, x="h_over_tau_s")
        # Newton's rule has no exact-flow variant (the transfer config's rules_used); a missing point is not "n/a"
        bp["applies"] = ~((bp["integration"] == "exact") & (bp["rule"] == "newton"))
        parts.append(bp.expand_dims(neuron=[neuron]))
    out = xr.concat(parts, "neuron", join="outer")
    out.attrs.update(tolerance=tolerance, split=split)
    return out


def breakdown_tau_s(networks=None) -> dict[str, float]:
    """``tau_s`` (ms) of the breakdown map's networks (:data:`snnlib.study.plan.BREAKDOWN_NETWORKS`)."""
    return {n: float(plan.BREAKDOWN_NETWORKS[n][2]) for n in (plan.BREAKDOWN_NETWORKS if networks is None else networks)}


def breakdown_sweeps(profile: str = "quick", root=None) -> dict[str, xr.Dataset]:
    """The breakdown sweeps that have points, ``{network: sweep}`` (issue 25: one per network of
    :data:`snnlib.study.plan.BREAKDOWN_NETWORKS`; missing points NaN, listed in ``attrs["missing"]``);
    a network whose sweep has no complete point yet is left out."""
    out = {}
    for neuron, (name, _, _) in plan.BREAKDOWN_NETWORKS.items():
        try:
            out[neuron] = load_sweep(name, profile, root=root, allow_missing=True)
        except MissingPointsError:  # with allow_missing, only when no point is complete
            continue
    return out


def hidden_activity(sweep: str, profile: str = "quick", root=None, seeds=None) -> tuple[float, float]:
    """Hidden spikes per hidden neuron and sample window of a training sweep's networks (their final
    epoch, on the validation split the training loop records them on): mean and 95 % half-width over
    seeds (``seeds``: only those)."""
    ds = load_sweep(sweep, profile, root=root, allow_missing=True)
    if seeds is not None:
        ds = ds.sel(seed=list(seeds))
    n_hidden = sum(yaml.safe_load(ds.attrs["config"])["hidden"])
    return _stat(ds["hidden_spikes"].isel(epoch=-1) / n_hidden)


def activity(neuron: str, profile: str = "quick", root=None) -> tuple[float, float]:
    """:func:`hidden_activity` of the networks the breakdown sweep of ``neuron`` simulates (its seeds:
    the source sweep may have more)."""
    name, source, _ = plan.BREAKDOWN_NETWORKS[neuron]
    seeds = plan.sweep(name).profiles[profile].grid.get("seed")
    return hidden_activity(source, profile, root, seeds)


def cell_text(trusted: float, broken: float, applies: bool = True) -> str:
    """One cell of the breakdown map, "trusted / broken" in h / tau_s (-: not shown at any step
    tried, n/a: the rule does not apply); the table and the figure both write it."""
    return "n/a" if not applies else f"{trusted:.3g} / {broken:.3g}".replace("nan", "-")


def breakdown_table(m: xr.Dataset) -> pd.DataFrame:
    """The map as a table: a row per neuron and integration, a column per rule, each cell
    "trusted / broken" in h / tau_s (-: not shown at any step tried, n/a: the rule does not apply)."""
    rows = {}
    for n in m["neuron"].values:
        for i in m["integration"].values:
            cells = {}
            for r in m["rule"].values:
                c = m.sel(neuron=n, integration=i, rule=r)
                cells[str(r)] = cell_text(float(c["trusted"]), float(c["broken"]), bool(c["applies"]))
            rows[(str(n), str(i))] = cells
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.index.names = ["neuron", "integration"]
    return df


def breakdown_summary(m: xr.Dataset, top: dict[str, float]) -> str:
    """The map (:func:`breakdown_map`) in a line per network (Markdown list): the smallest ``h / tau_s``
    from which forward Euler is broken under some rule, and the largest to which some integration and
    rule is trusted, with which (``top``: each network's largest ``h / tau_s`` tried, named when the
    trust reaches it)."""
    lines = []
    for n in m["neuron"].values:
        c = m.sel(neuron=n)
        euler = float(c["broken"].sel(integration="euler").min())
        t = c["trusted"].where(c["applies"])
        best = float(t.max())
        who = [f"{i} with {r}" for i in t["integration"].values for r in t["rule"].values
               if float(t.sel(integration=i, rule=r)) == best]
        line = f"- **{n}**: " + (f"Euler broken from $h/\\tau_s$ = {euler:g}; " if np.isfinite(euler)
                                 else "Euler broken at no step tried; ")
        if np.isfinite(best):
            at_top = " (the largest step tried)" if np.isclose(best, top[str(n)]) else ""
            more = f" and {len(who) - 4} more" if len(who) > 4 else ""
            line += f"trusted up to {best:g} at best{at_top}: {', '.join(who[:4])}{more}."
        else:
            line += "trusted at no step."
        lines.append(line)
    return "\n".join(lines)


def _gain(ds: xr.Dataset, integration: str, split: str) -> xr.DataArray:
    """Per seed and step, linear interpolation's accuracy minus the snap rule's (points)."""
    a = 100.0 * ds["accuracy"].sel(split=split, integration=integration)
    return a.sel(rule="linear") - a.sel(rule="snap")


def interpolation_gain(sweeps: dict[str, xr.Dataset], tau_s: dict[str, float], integration: str = "euler",
                       split: str = "test") -> pd.DataFrame:
    """What spike-time interpolation buys at each step: linear interpolation's test accuracy minus the
    snap rule's (points; the same networks, integration and step), mean and 95 % half-width over seeds,
    a row per ``h / tau_s`` and a column per network of ``sweeps`` (as ``"mean +- half"``; empty where
    the network has no such step or no point yet)."""
    cols = {}
    for n, ds in sweeps.items():
        if integration not in ds["integration"].values:
            continue
        mu, half = mean_ci_along(_gain(ds, integration, split), "seed")
        cols[n] = {round(float(dt) / float(tau_s[n]), 6): f"{float(m):+.1f} ± {float(h):.1f}"
                   for dt, m, h in zip(ds["dt"].values, mu.values, half.values) if np.isfinite(m)}
    df = pd.DataFrame(cols).sort_index()
    df.index.name = "h / tau_s"
    return df.fillna("")


def gain_difference(sweeps: dict[str, xr.Dataset], tau_s: dict[str, float], a: str, b: str, ratio: float,
                    integration: str = "euler", split: str = "test") -> tuple[float, float, float]:
    """Network ``a``'s interpolation gain (:func:`interpolation_gain`) minus network ``b``'s at
    ``h / tau_s = ratio``: the difference of the mean gains over seeds and its Welch 95 % interval
    (the networks are different ones, so unpaired)."""
    vals = []
    for n in (a, b):
        g = _gain(sweeps[n], integration, split)
        g = g.assign_coords(r=("dt", np.round(g["dt"].values / float(tau_s[n]), 6))).swap_dims(dt="r")
        if round(ratio, 6) not in g["r"].values:
            raise ValueError(f"{n}: no step at h / tau_s = {ratio:g}")
        v = g.sel(r=round(ratio, 6)).values
        vals.append(v[np.isfinite(v)])
    lo, hi = CompareMeans.from_data(*vals).tconfint_diff(usevar="unequal")
    return float(vals[0].mean() - vals[1].mean()), float(lo), float(hi)


def _stat(da: xr.DataArray) -> tuple[float, float]:
    """Mean and 95% Student-t half-width over seeds of a per-seed quantity."""
    return mean_ci(np.asarray(da.values, dtype=float).ravel())


def claims(ds: xr.Dataset, small_dt: float = 1.0, large_dt: float = 5.0) -> dict:
    """The numbers that decide seed 001's transfer claims: test split, inputs split at their
    times, points of accuracy, each a mean over seeds with its 95% half-width (``*_ci``):

    - *similar*: the worst accuracy drop against the analytic network at ``dt <= small_dt`` over
      PS(k >= 2) with an interpolating rule (MNIST), and the worst at ``large_dt``;
    - *interpolation stabilises*: Euler at ``large_dt``: the drop with snap and with linear
      interpolation, their paired difference, and the hidden spikes per sample of each;
    - *high orders robust*: the drop at ``large_dt`` with newton of Euler and of the highest order;
    - *thresholding*: the gain of interpolation (linear minus snap, Euler, ``large_dt``) on MNIST
      and on thresholded MNIST.
    """
    d = with_drop(ds).sel(split="test", input="exact")
    drop = d["drop"]
    srcs = [str(s) for s in ds["source"].values]
    src = [s for s in srcs if "threshold" not in s][0]
    thr = [s for s in srcs if "threshold" in s]
    ints = [str(m) for m in ds["integration"].values]
    pss = [m for m in ints if parse_integration(m)[0] == "ps"]
    top = max(pss, key=lambda m: parse_integration(m)[1])
    m = drop.sel({"source": src})
    small = m.sel({"integration": pss, "rule": ["linear", "newton"]}).where(d["dt"] <= small_dt, drop=True)
    large = m.sel({"integration": pss, "rule": ["linear", "newton"], "dt": large_dt})
    e = m.sel({"integration": "euler", "dt": large_dt})
    hid = d["hidden_spikes"].sel({"source": src, "integration": "euler", "dt": large_dt})
    out = {"small_dt": small_dt, "large_dt": large_dt, "top_integration": top}

    def put(name, da):
        out[name], out[name + "_ci"] = _stat(da)

    out["similar_worst_drop"] = float(small.mean("seed").min())
    # the finest step, PS(k >= 3) + newton, every seed and source: the analytic network reproduced?
    hi = [m for m in pss if parse_integration(m)[1] >= 3]
    fine = with_drop(ds)["drop"].sel({"split": "test", "integration": hi, "rule": "newton"}).isel(dt=0)
    out["fine_dt"] = float(ds["dt"].values[0])
    out["fine_max_abs_diff"] = float(np.abs(fine).max())
    out["large_worst_drop"] = float(large.mean("seed").min())
    put("euler_snap_drop", e.sel(rule="snap"))
    put("euler_linear_drop", e.sel(rule="linear"))
    put("interp_gain_mnist", e.sel(rule="linear") - e.sel(rule="snap"))
    put("euler_snap_hidden", hid.sel(rule="snap"))
    put("euler_linear_hidden", hid.sel(rule="linear"))
    put("exact_hidden", d["exact_hidden_spikes"].sel({"source": src}).mean("integration"))
    put("euler_newton_drop", e.sel(rule="newton"))
    put("top_newton_drop", m.sel({"integration": top, "rule": "newton", "dt": large_dt}))
    put("exact_accuracy", 100.0 * d["exact_accuracy"].sel({"source": src}).mean("integration"))
    if thr:
        t = drop.sel({"source": thr[0], "integration": "euler", "dt": large_dt})
        put("interp_gain_threshold", t.sel(rule="linear") - t.sel(rule="snap"))
        put("exact_accuracy_threshold", 100.0 * d["exact_accuracy"].sel({"source": thr[0]}).mean("integration"))
    return out


def wall_minutes(sweep: str = "transfer", profile: str = "quick") -> float:
    """Minutes of one core that the complete points of the sweep took (their ``meta.json``)."""

    total = 0.0
    for p in plan.sweep(sweep).points(profile):
        d = point_dir(sweep, profile, p.id)
        if is_complete(d):
            total += cost_s(load(d).meta)
    return total / 60.0


def sources(ds: xr.Dataset, profile: str) -> dict[str, xr.Dataset]:
    """The training sweeps whose trained networks the transfer points simulate (the grid's ``source``),
    loaded for ``profile``: a page names their runs too when they were made from a modified tree."""
    names = [str(n) for n in ds["source"].values] if "source" in ds.coords else []
    return {n: load_sweep(n, profile, allow_missing=True) for n in names}


#: the test samples whose input spike times :func:`event_gaps` counts
GAP_INPUTS = 1000


def event_gaps(loaded: dict[str, xr.Dataset], profile: str = "quick", root=None,
               n_inputs: int = GAP_INPUTS) -> pd.DataFrame:
    """Why a network's nominal step can matter little: with inputs at their own times, every spike a
    layer receives ends a step, so the steps actually taken are at most the gaps between the events.
    Per network of ``loaded`` (:func:`breakdown_sweeps`): its ``tau_s``, window, and for each layer the
    events it receives per sample and the mean gap between them (window / events, in ms and in units
    of ``tau_s``): the hidden layer's are the distinct input spike times (the first ``n_inputs`` test
    samples as seed 0's source encodes them), the output layer's the analytic network's hidden spikes
    (mean over seeds)."""
    rows = []
    for n, ds in loaded.items():
        name = plan.BREAKDOWN_NETWORKS[n][1]
        src = load_sweep(name, profile, root=root, allow_missing=True)
        window = SpikeTimeConfig.from_dict(yaml.safe_load(src.attrs["config"])).window()
        _, _, _, sets = load_point(point_dir(name, profile, f"seed={int(src['seed'].values[0])}", root),
                                   {"test": n_inputs}, n_inputs)
        (batch,), _ = sets["test"]  # one batch of n_inputs samples: [sample, input, slot] spike times
        times = batch.reshape(n_inputs, -1).numpy()
        inputs = float(np.mean([len(np.unique(t[np.isfinite(t)])) for t in times]))
        spikes = float(ds["exact_hidden_spikes"].sel(split="test").mean())
        tau = float(plan.BREAKDOWN_NETWORKS[n][2])
        rows.append({"network": n, "tau_s (ms)": tau, "window (ms)": window, "input times / sample": inputs,
                     "input gap (ms)": window / inputs, "input gap / tau_s": window / inputs / tau,
                     "hidden spikes / sample": spikes, "hidden gap (ms)": window / spikes,
                     "hidden gap / tau_s": window / spikes / tau})
    return pd.DataFrame(rows).set_index("network")


def as_grid(ds: xr.Dataset) -> xr.Dataset:
    """A transfer sweep with ``source`` and ``input`` as dims (of length one where the sweep fixes them
    in its base config, e.g. ``transfer-mnist``), as the chapter's figures index them."""
    cfg = yaml.safe_load(ds.attrs["config"])
    for dim in ("source", "input"):
        if dim not in ds.dims:
            ds = ds.expand_dims({dim: [cfg[dim]]})
    return ds


def reproduces_source(ds: xr.Dataset, profile: str = "quick", root=None) -> xr.Dataset:
    """Per seed, the analytic (unchanged) network's test accuracy in the transfer sweep ``ds`` (one
    source; ``exact_accuracy``, %) and the source training run's own at its best-validation epoch
    (``recorded``, % of the same digits only when the sweep used all of them: ``n_test`` equal)."""
    cfg = yaml.safe_load(ds.attrs["config"])
    exact = 100 * ds["exact_accuracy"].sel(split="test", drop=True)
    for d in [d for d in exact.dims if d != "seed"]:
        exact = exact.isel({d: 0}, drop=True)  # the analytic network does not depend on the integration
    recorded = []
    for seed in ds["seed"].values:
        s = load(point_dir(cfg["source"], cfg["source_profile"], f"seed={int(seed)}", root)).summary
        recorded.append(100 * float(s["test_accuracy_at_best_val_per_seed"][0]))
    return xr.Dataset({"exact_accuracy": exact, "recorded": ("seed", recorded)})
