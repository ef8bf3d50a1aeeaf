"""Seed 001, experiment 2: numerically integrated networks trained directly, piggyback vs adjusted.

The aggregation behind the chapter ``notebooks/direct.ipynb`` (MNIST; the Yin-Yang study's chapter
comes with its points) and the findings' verdicts (decided in
:mod:`snnlib.analyses.findings`). A *study* (:data:`STUDIES`) is a set of training sweeps of one
profile (:mod:`snnlib.study.plan`), each in one role:

- ``direct``: gradient x integration x dt x seed, spike rule ``linear``
  (:mod:`snnlib.training.schemes.integrated`);
- ``direct-newton`` (MNIST only): the same at one dt with Newton's spike rule;
- ``direct-exact``: the exact (analytic) scheme on the same data and settings, the benchmark.

MNIST's study runs at steps where nothing moves (h / tau_s <= 4 / 130); the Yin-Yang study, at the
steps where the fast neuron's transfer breaks (h / tau_s = 0.1 and 1), decides seed 001's claims
(:data:`DECIDING`).

Per point (one seed), from the learning curves and the training probes (:mod:`snnlib.training.probes`):

- ``final_test`` / ``best_test``: test accuracy (%) of the last epoch / of the best-validation epoch;
- ``spikes``: hidden spikes per validation digit after the last epoch;
- ``epoch_cost``: mean training wall time per epoch divided by the time the same process needed,
  at the same moments, for a fixed workload (the exact network's forward and backward pass at the
  seed's initial weights over as many samples as an epoch has); the benchmark's own ``epoch_cost``
  calibrates it, and ``time_ratio`` = ``epoch_cost`` / benchmark's (paired by seed);
- ``n_q``: training samples (interpolated) until the validation accuracy first reaches ``q`` times
  the benchmark's mean final validation accuracy (one absolute target, :func:`target`); a run that never reaches it counts as
  reaching it at the end of its budget (``reached`` is false there: a conservative lower bound);
  ``time_to_q``: ``n_q`` times the cost per sample, relative to the benchmark's ``time_to_q``
  (wall time to reach the target, comparable);
- ``cosine`` (per checkpoint): cosine similarity of the network's gradient with the exact gradient
  of the same weights on a fixed batch.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from snnlib.analyses.transfer import wall_minutes
from snnlib.metrics import mean_ci, samples_to_reach
from snnlib.study import claims as claims_table
from snnlib.study.loading import MissingPointsError, load_sweep
from snnlib.training.schemes.spiketime import SpikeTimeConfig, bats_config

#: each study's sweeps by role (the module doc)
STUDIES = {"mnist": {"direct": "direct", "direct-newton": "direct-newton", "direct-exact": "direct-exact"},
           "yinyang-fast": {"direct": "direct-yinyang-fast", "direct-exact": "timebins-yinyang-fast-exact"}}
#: the study whose sweeps decide seed 001's direct-training claims (where the integration matters)
DECIDING = "yinyang-fast"
#: each study's gradient-quality sweep (:mod:`snnlib.experiments.gradients` at its points' trained weights)
GRADIENT_SWEEPS = {"yinyang-fast": "gradients-yinyang-fast"}
#: MNIST's sweeps (the first study)
SWEEPS = tuple(STUDIES["mnist"].values())
#: the fraction of the benchmark's mean final validation accuracy whose crossing times training
#: (declared, with its rationale, in the claims table)
Q = claims_table.Q


def _study(study: str) -> dict[str, str]:
    if study not in STUDIES:
        raise ValueError(f"study = {study!r}: expected one of {', '.join(STUDIES)}.")
    return STUDIES[study]


def load(profile: str = "quick", allow_missing: bool = True, study: str = "mnist") -> dict[str, xr.Dataset]:
    """The sweeps of ``study`` in ``profile``, by role (``{"direct": dataset, ...}``); a sweep
    without any complete point is left out when ``allow_missing``. ``attrs["missing"]`` of each
    lists its missing points."""
    out = {}
    for role, name in _study(study).items():
        try:
            out[role] = load_sweep(name, profile, allow_missing=allow_missing)
        except MissingPointsError:
            if not allow_missing:
                raise
    if "direct-exact" not in out:
        raise FileNotFoundError(f"{STUDIES[study]['direct-exact']}/{profile}: the benchmark has no complete point yet.")
    return out


def tau_s(ds: xr.Dataset) -> float:
    """The synaptic time constant (ms) of a sweep's networks, from its points' common attributes, or
    (points made before they recorded it) as the spike-time scheme resolves it from the sweep's config
    (:func:`snnlib.training.schemes.spiketime.bats_config`: its ``tau_s``, else its BATS variant's)."""
    if "tau_s_ms" in ds.attrs:
        return float(ds.attrs["tau_s_ms"])
    cfg = yaml.safe_load(ds.attrs.get("config") or "{}") or {}
    if cfg.get("variant") in ("multi", "single"):
        fields = {f.name for f in dataclasses.fields(SpikeTimeConfig)}
        return float(bats_config(SpikeTimeConfig.from_dict({k: v for k, v in cfg.items() if k in fields})).tau_s)
    if cfg.get("tau_s") is not None:
        return float(cfg["tau_s"])
    raise ValueError(f"sweep {ds.attrs.get('sweep')}: its points do not share one tau_s.")


def _n_train(ds: xr.Dataset) -> int:
    """Training samples per epoch, shared by every point (a common result attribute)."""
    if "n_train" not in ds.attrs:
        raise ValueError(f"sweep {ds.attrs.get('sweep')}: its points differ in n_train; their epochs are not comparable.")
    return int(ds.attrs["n_train"])


def target(bench: xr.Dataset, q: float = Q) -> float:
    """The convergence target shared by every point and the benchmark: ``q`` times the benchmark's
    mean (over seeds) final validation accuracy (a fraction)."""
    return q * float(bench["val_accuracy"].isel(epoch=-1).mean("seed"))


def point_metrics(ds: xr.Dataset, bench: xr.Dataset | None = None, q: float = Q,
                  goal: float | None = None) -> xr.Dataset:
    """The per-point quantities of the module doc for a training sweep ``ds`` (grid dims and
    ``seed``); ``bench``: the benchmark sweep (dim ``seed``), ``None`` when ``ds`` is it; ``goal``:
    the absolute target of ``n_q`` (default :func:`target` of the benchmark)."""
    goal = target(ds if bench is None else bench, q) if goal is None else goal
    bench_m = None if bench is None else point_metrics(bench, None, q, goal)
    n_train = _n_train(ds)
    val_best = ds["val_accuracy"].fillna(-1).argmax("epoch")
    def at(da, **index):  # without the scalar coordinate left by isel
        return da.isel(**index).drop_vars(list(index), errors="ignore")

    trained = ds["test_accuracy"].notnull().any("epoch")  # NaN: a missing point
    out = xr.Dataset({
        "final_test": (100 * at(ds["test_accuracy"], epoch=-1)).where(trained),
        "best_test": (100 * at(ds["test_accuracy"], epoch=val_best)).where(trained),
        "final_val": 100 * at(ds["val_accuracy"], epoch=-1),
        "spikes": at(ds["hidden_spikes"], epoch=-1),
        "epoch_s": ds["epoch_time"].mean("epoch"),
        "epoch_cost": ds["epoch_time"].mean("epoch") / (ds["probe_ref_step_s"].median("checkpoint") * n_train),
    })
    n = ds["samples_seen"].values
    out["n_q"] = xr.apply_ufunc(
        lambda a: samples_to_reach(n, a, goal) if np.isfinite(a).any() else math.nan,
        ds["val_accuracy_curve"], input_core_dims=[["samples_seen"]], vectorize=True)
    # a run that never reaches the target counts as reaching it at the end of its budget (a lower
    # bound: conservative), and is flagged; a missing point stays NaN
    out["reached"] = out["n_q"].notnull().where(trained)
    out["n_q"] = out["n_q"].where(out["n_q"].notnull() | ~trained, float(n[-1]))
    out["cost_to_q"] = out["n_q"] * out["epoch_cost"] / n_train  # in epochs of the reference workload
    if "probe_cosine" in ds:
        out["cosine"] = ds["probe_cosine"]
        out["norm_ratio"] = ds["probe_norm_ratio"]
    if bench_m is not None:
        out["time_ratio"] = out["epoch_cost"] / bench_m["epoch_cost"]
        out["time_to_q_ratio"] = out["cost_to_q"] / bench_m["cost_to_q"]
        out["test_drop"] = out["final_test"] - bench_m["final_test"]
    out.attrs.update(q=q, target=goal, n_train=n_train, config=ds.attrs.get("config", ""),
                     **({"tau_s_ms": ds.attrs["tau_s_ms"]} if "tau_s_ms" in ds.attrs else {}))
    return out


def per_seed(da: xr.DataArray) -> np.ndarray:
    """One value per seed: the quantity averaged over every other dim (the unit the tests pair on)."""
    other = [d for d in da.dims if d != "seed"]
    return np.asarray((da.mean(other) if other else da).values, dtype=float).ravel()


def _stat(da: xr.DataArray) -> tuple[float, float]:
    """Mean and 95% half-width over seeds of a quantity averaged over every other dim first."""
    return mean_ci(per_seed(da))


def metrics(sweeps: dict[str, xr.Dataset], q: float = Q) -> dict[str, xr.Dataset]:
    """:func:`point_metrics` of each loaded sweep (``{"direct": ..., "direct-newton": ...,
    "direct-exact": ...}``), against the benchmark."""
    bench = sweeps["direct-exact"]
    return {name: point_metrics(ds, None if name == "direct-exact" else bench, q) for name, ds in sweeps.items()}


def claims(m: dict[str, xr.Dataset]) -> dict:
    """The numbers behind seed 001's claims on direct training (means and 95% half-widths over
    seeds; accuracies in %, ``*_ratio``: relative to the benchmark or between schemes):

    - benchmark: ``exact_test``, ``exact_spikes``, ``exact_n_q``;
    - piggyback vs adjusted, paired by seed and averaged over integrations and steps:
      ``pig_minus_adj_test``, ``pig_over_adj_epoch`` (wall time per epoch) and
      ``pig_over_adj_time_to_q`` (wall time to the target) with their ``_ci``; the worst single
      configuration's accuracy gap ``pig_adj_worst_gap``; gradient cosines at the end of training
      at the largest step (``pig_cosine_large`` / ``adj_cosine_large``);
    - high order vs Euler at the largest step (adjusted): ``high_minus_euler_test``,
      ``high_over_euler_spikes``, ``high_over_euler_n_q``, and the highest order's drop against
      the benchmark ``high_drop_large``;
    - Euler vs the highest order, wall time per epoch, both gradients, every step:
      ``euler_over_high_epoch``.
    """
    d = m["direct"]
    e = m["direct-exact"]
    out: dict = {"q": float(d.attrs["q"]), "n_train": int(d.attrs["n_train"])}
    out["exact_test"], out["exact_test_ci"] = _stat(e["final_test"])
    out["exact_spikes"], out["exact_spikes_ci"] = _stat(e["spikes"])
    out["exact_n_q"], out["exact_n_q_ci"] = _stat(e["n_q"])
    dts = [float(x) for x in d["dt"].values]
    out["small_dt"], out["large_dt"] = min(dts), max(dts)
    orders = [str(x) for x in d["integration"].values]
    high = orders[-1]
    out["high"] = high
    pig, adj = d.sel(gradient="piggyback"), d.sel(gradient="adjusted")

    def put(name, da):
        out[name], out[f"{name}_ci"] = _stat(da)

    put("pig_minus_adj_test", pig["final_test"] - adj["final_test"])
    gap = (pig["final_test"] - adj["final_test"]).mean("seed")
    out["pig_adj_worst_gap"] = float(gap.where(abs(gap) == abs(gap).max()).max()) if gap.notnull().any() else math.nan
    put("pig_over_adj_epoch", np.log(pig["epoch_cost"] / adj["epoch_cost"]))
    put("pig_over_adj_time_to_q", np.log(pig["cost_to_q"] / adj["cost_to_q"]))
    put("pig_over_adj_n_q", np.log(pig["n_q"] / adj["n_q"]))
    for k in ("pig_over_adj_epoch", "pig_over_adj_time_to_q", "pig_over_adj_n_q"):  # geometric means
        lo, hi = out[k] - out[f"{k}_ci"], out[k] + out[f"{k}_ci"]
        out[k], out[f"{k}_lo"], out[f"{k}_hi"] = math.exp(out[k]), math.exp(lo), math.exp(hi)
        del out[f"{k}_ci"]
    last = d["cosine"].isel(checkpoint=-1).sel(dt=out["large_dt"])
    put("pig_cosine_large", last.sel(gradient="piggyback"))
    put("adj_cosine_large", last.sel(gradient="adjusted"))
    small = d["cosine"].isel(checkpoint=-1).sel(dt=out["small_dt"])
    put("pig_cosine_small", small.sel(gradient="piggyback"))
    put("adj_cosine_small", small.sel(gradient="adjusted"))
    big = adj.sel(dt=out["large_dt"])
    hi_, eu = big.sel(integration=high), big.sel(integration="euler")
    put("high_minus_euler_test", hi_["final_test"] - eu["final_test"])
    put("high_drop_large", hi_["test_drop"])
    put("euler_drop_large", eu["test_drop"])
    for k, v in (("high_over_euler_spikes", hi_["spikes"] / eu["spikes"]),
                 ("high_over_euler_n_q", hi_["n_q"] / eu["n_q"]),
                 ("euler_over_high_epoch", d.sel(integration="euler")["epoch_cost"]
                  / d.sel(integration=high)["epoch_cost"])):
        mean, half = _stat(np.log(v))
        out[k], out[f"{k}_lo"], out[f"{k}_hi"] = math.exp(mean), math.exp(mean - half), math.exp(mean + half)
    for name, da in (("pig", pig), ("adj", adj)):
        out[f"{name}_unreached"] = int((da["reached"] == 0).sum())  # runs that never reached the target
    out["runs"] = int(d["reached"].notnull().sum())
    out["high_spikes_large"], out["high_spikes_large_ci"] = _stat(hi_["spikes"])
    out["euler_spikes_large"], out["euler_spikes_large_ci"] = _stat(eu["spikes"])
    return out


def resolution(sweeps: dict[str, xr.Dataset], m: dict[str, xr.Dataset]) -> tuple[float, float]:
    """``(spacing, resolution)``: the training samples between validation records (``sweeps``:
    :func:`load`) and that spacing over the smallest ``n_q`` measured by a run that reached the
    target (``m``: :func:`metrics`). The records resolve ``n_q`` when the resolution is at most
    :data:`snnlib.study.claims.RESOLUTION`; a run at the target by its first record has ``n_q`` =
    the first record's samples, so a resolution of 1 or more says the records cannot place it."""
    spacing = max(float(np.diff(ds["samples_seen"].values).max()) for ds in sweeps.values())
    smallest = min(float(x["n_q"].where(x["reached"] == 1).min()) for x in m.values())
    return spacing, spacing / smallest if smallest > 0 else math.nan


def wall_hours(profile: str = "quick", study: str = "mnist") -> float:
    """Hours of one core that the complete points of the study's sweeps took (their ``meta.json``)."""
    return sum(wall_minutes(name, profile) for name in _study(study).values()) / 60.0


def table(m: dict[str, xr.Dataset], variables=("final_test", "spikes", "time_ratio", "n_q", "time_to_q_ratio")):
    """Every configuration of the three sweeps as a row (gradient, integration, spike rule, dt) with
    ``mean ± half-width`` over seeds of ``variables``."""

    def fmt(da):
        mu, h = mean_ci(np.asarray(da.values, dtype=float))
        if not np.isfinite(mu):
            return "—"
        digits = 0 if abs(mu) >= 100 else 2
        return f"{mu:.{digits}f}" + (f" ± {h:.{digits}f}" if np.isfinite(h) else "")

    rows = []
    e = m["direct-exact"]
    rows.append({"gradient": "exact", "integration": "analytic", "rule": "—", "dt (ms)": "—",
                 **{v: fmt(e[v]) if v in e else "1.00" if "ratio" in v else "—" for v in variables}})
    for name, rule in (("direct", "linear"), ("direct-newton", "newton")):
        if name not in m:
            continue
        d = m[name]
        dts = d["dt"].values if "dt" in d.dims else [yaml.safe_load(d.attrs["config"])["dt"]]
        for g in d["gradient"].values:
            for i in d["integration"].values:
                for dt in dts:
                    sel = {"gradient": g, "integration": i, **({"dt": dt} if "dt" in d.dims else {})}
                    rows.append({"gradient": str(g), "integration": str(i), "rule": rule, "dt (ms)": f"{float(dt):g}",
                                 **{v: fmt(d[v].sel(sel)) for v in variables}})
    return pd.DataFrame(rows)


def mean_over_orders(m: dict[str, xr.Dataset], var: str = "final_test", gradient: str = "adjusted"):
    """The seed's Fig. 5 (top): ``var`` per step averaged over the integrations, as a table of
    ``mean ± half-width`` over seeds of the per-seed average (rows: dt)."""
    d = m["direct"][var].sel(gradient=gradient)
    rows = []
    for dt in d["dt"].values:
        mu, h = _stat(d.sel(dt=dt))
        rows.append({"dt (ms)": f"{float(dt):g}", f"{var} ({gradient}, mean over orders)": f"{mu:.2f} ± {h:.2f}"})
    mu, h = _stat(m["direct-exact"][var])
    rows.append({"dt (ms)": "exact scheme", f"{var} ({gradient}, mean over orders)": f"{mu:.2f} ± {h:.2f}"})
    return pd.DataFrame(rows).set_index("dt (ms)")


def euler_newton_equals_linear(m: dict[str, xr.Dataset]) -> float:
    """Largest |difference| of test accuracy (points) between Euler with Newton's rule and Euler
    with the linear rule at the Newton sweep's step, over gradients and seeds (the two rules are the
    same for Euler, whose step polynomial is the chord): NaN when no pair is complete."""
    if "direct-newton" not in m:
        return math.nan
    n = m["direct-newton"]
    dt = float(yaml.safe_load(n.attrs["config"])["dt"])
    diff = abs(n["final_test"].sel(integration="euler") - m["direct"]["final_test"].sel(integration="euler", dt=dt))
    return float(diff.max()) if bool(diff.notnull().any()) else math.nan


def gradient_quality(profile: str = "quick", study: str = DECIDING) -> xr.Dataset | None:
    """The study's gradient-quality sweep (dims ``trained``, ``integration``, ``dt``, ``seed`` and the
    point's own), its missing points NaN; ``None`` while no point is made."""
    _study(study)
    if study not in GRADIENT_SWEEPS:
        raise ValueError(f"study = {study!r}: no gradient-quality sweep; those with one: {', '.join(GRADIENT_SWEEPS)}")
    try:
        return load_sweep(GRADIENT_SWEEPS[study], profile, allow_missing=True)
    except MissingPointsError:
        return None


def gradient_table(g: xr.Dataset) -> pd.DataFrame:
    """One row per trained network (gradient that trained it, integration, dt): over seeds, the
    cosine of piggyback with adjusted and of each with the continuous network's exact gradient
    (mean ± 95% half-width), and each gradient's median relative error against finite differences
    of the discretized forward (median over seeds of each point's median over valid directions),
    with the fraction of directions where the forward is smooth (no spike appears or vanishes)."""
    rows = []
    for tr in g["trained"].values:
        for i in g["integration"].values:
            for dt in g["dt"].values:
                x = g.sel(trained=tr, integration=i, dt=dt)
                if not bool(x["cosine"].notnull().any()):
                    continue
                row = {"trained by": str(tr), "integration": str(i), "dt (ms)": f"{float(dt):g}",
                       "seeds": int(x["cosine"].sel(pair="piggyback-adjusted").notnull().sum())}
                for pair in x["pair"].values:
                    mu, h = mean_ci(np.asarray(x["cosine"].sel(pair=pair).values, dtype=float))
                    row[f"cos {pair}"] = f"{mu:.3f} ± {h:.3f}" if np.isfinite(h) else f"{mu:.3f}"
                for gr in x["gradient"].values:
                    row[f"FD error {gr}"] = f"{float(x['relative_error'].sel(gradient=gr).median()):.1e}"
                row["smooth directions"] = f"{float(x['valid_fraction'].mean()):.2f}"
                rows.append(row)
    return pd.DataFrame(rows)


def gradient_numbers(g: xr.Dataset) -> dict:
    """The gradient-quality numbers a chapter quotes: the piggyback-adjusted cosine per step
    (``pig_adj_cos_<dt>`` and ``_ci``, over every trained network of that step, per seed averaged),
    adjusted's error against finite differences over every point, the median of the points' medians
    (``adj_fd_median``) and the largest (``adj_fd_worst``), piggyback's median (``pig_fd_median``), and
    the points measured."""
    out: dict = {"points": int(g["cosine"].sel(pair="piggyback-adjusted").notnull().sum())}
    for dt in g["dt"].values:
        mu, h = _stat(g["cosine"].sel(pair="piggyback-adjusted", dt=dt))
        out[f"pig_adj_cos_{float(dt):g}"], out[f"pig_adj_cos_{float(dt):g}_ci"] = mu, h
    err = g["relative_error"]
    out["adj_fd_median"] = float(err.sel(gradient="adjusted").median())
    out["adj_fd_worst"] = float(err.sel(gradient="adjusted").max())
    out["pig_fd_median"] = float(err.sel(gradient="piggyback").median())
    return out
