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

Convergence rate (the chapter writes the definitions out): ``CR_q = 1 / n_q``, ``n_q`` the training
samples at which the validation accuracy first reaches ``q`` times the benchmark's final
validation accuracy of the same seed (:func:`snnlib.metrics.samples_to_reach`); a run that never
reaches it has ``CR = 0`` (so ``dCR = -1``: collapse counts). ``dCR = (CR - CR_bench) / CR_bench``
paired by seed, mean with a Student-t interval over seeds (and the percentile bootstrap of
:func:`snnlib.metrics.relative_change` beside it).
Secondary: the rate ``1 / n_c`` of an exponential fit of the validation error
(:func:`snnlib.metrics.fit_exponential_error`).
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
import yaml
from scipy import stats

from snnlib.analyses.transfer import wall_minutes
from snnlib.metrics import curve_exponential_rates, mean_ci, mean_diff_ci, relative_change, samples_to_reach
from snnlib.study.loading import load_sweep

DATASETS = ("mnist", "nmnist")
SCHEMES = ("spiketime", "bptt")
DISCRETIZATIONS = ("seed000", "shared")
QS = (0.9, 0.95)
#: how far (test accuracy points below its benchmark) an arm's accuracy still "holds" (:func:`holds_to`)
HOLD_POINTS = 5.0


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


def rates(curves: xr.Dataset, bench: xr.Dataset, qs=QS) -> xr.Dataset:
    """Per point: ``cr_<q>`` (per training sample; 0 where never reached), ``cr_exp`` (the rate of
    an exponential fit of the validation error, NaN where it fails), ``final_test``,
    ``final_val`` (%), ``spikes`` (hidden spikes per validation sample after the last epoch) and
    the benchmark's ``bench_cr_<q>`` and ``bench_spikes`` (same scheme and seed); where the sweeps
    record it, ``epoch_time`` (s, the median over epochs) and the benchmark's ``bench_epoch_time``."""
    n = curves["samples_seen"].values
    ref = bench["val_accuracy"].isel(epoch=-1, drop=True)

    def cr(a, r, q):
        if not (np.isfinite(r) and np.isfinite(a).any()):
            return math.nan
        n_q = samples_to_reach(n, a, q * r)
        return 0.0 if math.isnan(n_q) else 1.0 / n_q

    out = xr.Dataset({
        "final_test": 100 * curves["test_accuracy"].isel(epoch=-1, drop=True),
        "final_val": 100 * curves["val_accuracy"].isel(epoch=-1, drop=True),
        "spikes": curves["hidden_spikes"].isel(epoch=-1, drop=True),
        "bench_test": 100 * bench["test_accuracy"].isel(epoch=-1, drop=True),
        "bench_spikes": bench["hidden_spikes"].isel(epoch=-1, drop=True),
    })

    out["cr_exp"] = curve_exponential_rates(1 - curves["val_accuracy_curve"])
    out["bench_cr_exp"] = curve_exponential_rates(1 - bench["val_accuracy_curve"])
    for q in qs:
        key = f"cr_{round(100 * q)}"
        out[key] = xr.apply_ufunc(lambda a, r: cr(a, r, q), curves["val_accuracy_curve"], ref,
                                  input_core_dims=[["samples_seen"], []], vectorize=True)
        out[f"bench_{key}"] = xr.apply_ufunc(lambda a, r: cr(a, r, q), bench["val_accuracy_curve"], ref,
                                             input_core_dims=[["samples_seen"], []], vectorize=True)
    if "epoch_time" in curves and "epoch_time" in bench:  # median over epochs: robust to a busy machine
        out["epoch_time"] = curves["epoch_time"].median("epoch")
        out["bench_epoch_time"] = bench["epoch_time"].median("epoch")
    out.attrs.update(curves.attrs)
    return out


def dcr(r: xr.Dataset, q: float | str = 0.9) -> xr.Dataset:
    """``dCR`` against the arm's benchmark, paired by seed, per scheme x discretization x bins:
    ``mean``, the Student-t 95% interval ``lo`` / ``hi`` over the per-seed values (``lo`` cut at
    -1, the bound of a relative change of a rate that cannot be negative), the percentile
    bootstrap interval ``boot_lo`` / ``boot_hi`` (:func:`snnlib.metrics.relative_change`; with three
    seeds it is the range of the seeds, too narrow to decide on, hence the t-interval for the
    verdicts) and ``n_pairs``; ``q = "exp"``: of the exponential-fit rate (NaN where a fit failed,
    left out)."""
    key = "cr_exp" if q == "exp" else f"cr_{round(100 * q)}"
    dims = [d for d in r[key].dims if d != "seed"]
    stacked = r[key].stack(point=dims)
    bench = r[f"bench_{key}"]
    rows = []
    for p in stacked["point"].values:
        sel = dict(zip(dims, p))
        cr = r[key].sel(sel)
        bc = bench.sel(scheme=sel["scheme"], discretization=sel["discretization"])
        pairs = [(float(cr.sel(seed=s)), float(bc.sel(seed=s))) for s in cr["seed"].values]
        pairs = [(a, b) for a, b in pairs if np.isfinite(a) and np.isfinite(b) and b > 0]
        if not pairs:
            rows.append((math.nan,) * 5 + (0,))
            continue
        d = [(a - b) / b for a, b in pairs]
        mean, half = mean_ci(d)
        rc = relative_change([a for a, _ in pairs], [b for _, b in pairs])
        # CR >= 0, so dCR >= -1: the t-interval is cut there (it reaches below with three seeds)
        rows.append((mean, max(mean - half, -1.0), mean + half, rc.low, rc.high, len(d)))
    names = ("mean", "lo", "hi", "boot_lo", "boot_hi", "n_pairs")
    arr = np.array(rows, dtype=float).reshape([r.sizes[d] for d in dims] + [len(names)])
    coords = {d: r[d].values for d in dims}
    return xr.Dataset({name: (dims, arr[..., i]) for i, name in enumerate(names)}, coords=coords)


def _paired(a: xr.DataArray, b: xr.DataArray) -> tuple[float, float]:
    """Mean and 95% half-width over seeds of ``a - b`` (paired)."""
    return mean_ci(np.asarray((a - b).values, dtype=float).ravel())


def claims(r: xr.Dataset, q: float = 0.9, small_bins: int = 75, tolerance: float = 0.2) -> dict:
    """The numbers behind seed 000's claims for one dataset (``r``: :func:`rates`):

    - ``<scheme>_<disc>_dcr_coarse`` (+ ``_lo``, ``_hi``): dCR at the fewest bins;
      ``<scheme>_<disc>_dcr_worst``: the most negative mean dCR over the bins;
      ``<scheme>_<disc>_dcr_small``: the worst mean dCR at ``small_bins`` bins or more;
    - ``<scheme>_<disc>_acc_coarse``: final test accuracy (%) at the fewest bins, and the
      benchmark's ``<scheme>_bench_acc``; ``<scheme>_<disc>_slope``: the mean over seeds of the
      rank correlation of final accuracy with the number of bins (positive: fewer bins, lower);
    - ``spiketime_<disc>_gain_<b>`` (+ ``_ci``): final test accuracy minus the continuous
      benchmark's at ``b`` = 75 and 150 bins (paired by seed);
    - ``tolerance``: the |dCR| that counts as "minimal".
    """
    d = dcr(r, q)
    out: dict = {"q": q, "tolerance": tolerance, "small_bins": small_bins, "coarse_bins": int(r["bins"].min()),
                 "base_bins": int(r.attrs.get("base_bins", r["bins"].max()))}
    for s in SCHEMES:
        out[f"{s}_bench_acc"], out[f"{s}_bench_acc_ci"] = mean_ci(
            r["bench_test"].sel(scheme=s, discretization="seed000").values)
        for disc in DISCRETIZATIONS:
            key = f"{s}_{disc}"
            dd = d.sel(scheme=s, discretization=disc)
            coarse = dd.sel(bins=int(r["bins"].min()))
            out[f"{key}_dcr_coarse"] = float(coarse["mean"])
            out[f"{key}_dcr_coarse_lo"], out[f"{key}_dcr_coarse_hi"] = float(coarse["lo"]), float(coarse["hi"])
            # over every bin count (NaN while one is missing: "for any timebin size" needs them all)
            whole = bool(dd["mean"].notnull().all())
            out[f"{key}_dcr_worst"] = float(dd["mean"].min()) if whole else math.nan
            out[f"{key}_dcr_lo_min"] = float(dd["lo"].min()) if whole else math.nan  # some interval reaches below
            out[f"{key}_dcr_hi_max"] = float(dd["hi"].max()) if whole else math.nan  # ... above
            out[f"{key}_dcr_hi_min"] = float(dd["hi"].min()) if whole else math.nan  # one lies wholly below
            out[f"{key}_dcr_lo_max"] = float(dd["lo"].max()) if whole else math.nan  # ... wholly above
            # small steps: bins >= small_bins, without BPTT's own benchmark grid (its dCR is 0 by definition)
            keep = dd["bins"] >= small_bins
            if s == "bptt":
                keep = keep & (dd["bins"] != out["base_bins"])
            small = dd.where(keep, drop=True)
            full = bool(small.sizes["bins"]) and bool(small["mean"].notnull().all())
            out[f"{key}_dcr_small"] = float(small["mean"].min()) if full else math.nan
            out[f"{key}_dcr_small_lo"] = float(small["lo"].min()) if full else math.nan
            out[f"{key}_dcr_small_hi"] = float(small["hi"].max()) if full else math.nan
            out[f"{key}_dcr_small_hi_min"] = float(small["hi"].min()) if full else math.nan
            acc = r["final_test"].sel(scheme=s, discretization=disc)
            out[f"{key}_acc_coarse"], out[f"{key}_acc_coarse_ci"] = mean_ci(
                acc.sel(bins=int(r["bins"].min())).values)
            rho = [stats.spearmanr(acc["bins"].values, acc.sel(seed=sd).values, nan_policy="omit").statistic
                   for sd in acc["seed"].values if np.isfinite(acc.sel(seed=sd).values).sum() > 2]
            out[f"{key}_slope"], out[f"{key}_slope_ci"] = mean_ci(rho)
            if s == "spiketime":
                for b in (75, 150):
                    if b in r["bins"].values:
                        bench = r["bench_test"].sel(scheme=s, discretization=disc)
                        out[f"{key}_gain_{b}"], out[f"{key}_gain_{b}_ci"] = _paired(acc.sel(bins=b), bench)
    return out


def benchmark_gap(r: xr.Dataset) -> dict:
    """The two schemes' benchmarks side by side (``r``: :func:`rates`): final test accuracy of the
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
    """How far each arm keeps its accuracy (means over seeds, descriptive; ``r``: :func:`rates`):
    ``<scheme>_<disc>_holds_to``, the fewest bins down to which the mean final test accuracy stays
    within ``points`` of its benchmark's mean at every bin count from the finest (NaN while a point,
    any seed of any bin count, is missing, or when even the finest falls short), and
    ``holds_points`` = ``points``."""
    out: dict = {"holds_points": points}
    mean, bench = r["final_test"].mean("seed", skipna=False), r["bench_test"].mean("seed", skipna=False)
    for s in SCHEMES:
        for disc in DISCRETIZATIONS:
            acc = mean.sel(scheme=s, discretization=disc).sortby("bins", ascending=False)
            ok = (acc >= float(bench.sel(scheme=s, discretization=disc)) - points).values
            held = math.nan
            if np.isfinite(acc.values).all():
                for b, good in zip(acc["bins"].values, ok):
                    if not good:
                        break
                    held = float(b)
            out[f"{s}_{disc}_holds_to"] = held
    return out


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


def _below(mean: float, hi: float, bound: float = 0.0) -> bool:
    """The interval's upper end ``hi`` lies below ``bound``."""
    return bool(np.isfinite(hi) and hi < bound)


def verdicts(c: dict) -> dict:
    """``{claim: (verdict, reason)}`` for one dataset's :func:`claims`, on the seed 000
    discretization (the reproduction); the chapter shows the shared model beside it.

    Every decision rests on Student-t 95% intervals over seeds, never on a mean alone: a claim is
    *confirmed* when the intervals show it, *refuted* when they rule it out, and *qualified* when they
    do neither (with three seeds, often) or when it holds in part; a claim whose deciding numbers are
    not all there (a missing point, a single seed: no interval) is *not yet tested*."""
    tol = c["tolerance"]
    st, bp = "spiketime_seed000", "bptt_seed000"
    need = {
        "hypothesis": (f"{st}_dcr_coarse_lo", f"{st}_dcr_coarse_hi", f"{bp}_dcr_coarse_lo", f"{bp}_dcr_coarse_hi"),
        "decrease": (f"{st}_slope_ci", f"{bp}_slope_ci", f"{st}_dcr_coarse_lo", f"{st}_dcr_coarse_hi",
                     f"{bp}_dcr_coarse_lo", f"{bp}_dcr_coarse_hi"),
        "bats_baseline": (f"{st}_gain_75_ci", f"{st}_gain_150_ci"),
        "bats_minimal": (f"{st}_dcr_worst", f"{st}_dcr_lo_min", f"{st}_dcr_hi_max", f"{st}_dcr_hi_min", f"{st}_dcr_lo_max"),
        "slayer": (f"{bp}_dcr_small_lo", f"{bp}_dcr_small_hi", f"{bp}_dcr_small_hi_min", f"{bp}_dcr_coarse_hi",
                   f"{bp}_acc_coarse_ci", "bptt_bench_acc"),
    }
    out = {}
    at = f"at {c['coarse_bins']} bins"
    half = {k: c[f"{k}_dcr_coarse_hi"] - c[f"{k}_dcr_coarse"] for k in (st, bp)}  # the t half-width (lo is cut at -1)
    st_down = _below(c[f"{st}_dcr_coarse"], c[f"{st}_dcr_coarse_hi"])
    bp_down = _below(c[f"{bp}_dcr_coarse"], c[f"{bp}_dcr_coarse_hi"])
    st_flat = c[f"{st}_dcr_coarse_lo"] > -tol  # the spike-time rate falls by less than the tolerance
    # the hypothesis (which the seed rejected): both rates fall as the step grows, the spike-time
    # scheme's more. The gap's interval combines the two schemes' (independent networks, so unpaired).
    gap = c[f"{st}_dcr_coarse"] - c[f"{bp}_dcr_coarse"]  # negative: the spike-time rate falls more
    gap_half = math.hypot(half[st], half[bp])
    falls = f"rates {at}: spike-time {'falls' if st_down else 'does not fall'} significantly, BPTT " \
            f"{'falls' if bp_down else 'does not fall'} significantly; spike-time minus BPTT dCR {gap:+.2f} ± {gap_half:.2f}"
    if st_down and bp_down and gap + gap_half < 0:
        out["hypothesis"] = ("confirmed", falls)
    elif gap - gap_half > 0 or st_flat:
        out["hypothesis"] = ("refuted", falls + ("; the spike-time rate falls less than BPTT's" if gap - gap_half > 0
                                                 else f"; the spike-time rate falls by less than {tol:g}"))
    else:
        out["hypothesis"] = ("qualified", falls + "; the intervals decide neither way")
    # accuracy and rate both fall with fewer bins, for both schemes
    acc_falls = {k: bool(np.isfinite(c[f"{k}_slope_ci"]) and c[f"{k}_slope"] - c[f"{k}_slope_ci"] > 0) for k in (st, bp)}
    acc_flat = {k: bool(np.isfinite(c[f"{k}_slope_ci"]) and c[f"{k}_slope"] + c[f"{k}_slope_ci"] <= 0) for k in (st, bp)}
    rate_flat = {k: c[f"{k}_dcr_coarse_lo"] > -tol for k in (st, bp)}
    n = sum(acc_falls.values()) + st_down + bp_down
    none = all(acc_flat[k] and rate_flat[k] for k in (st, bp))
    out["decrease"] = ("confirmed" if n == 4 else "refuted" if n == 0 and none else "qualified",
                       f"accuracy falls significantly with fewer bins: spike-time {'yes' if acc_falls[st] else 'no'}, "
                       f"BPTT {'yes' if acc_falls[bp] else 'no'}; rate falls significantly {at}: spike-time "
                       f"{'yes' if st_down else 'no'}, BPTT {'yes' if bp_down else 'no'}")
    gains = [(b, c[f"{st}_gain_{b}"], c[f"{st}_gain_{b}_ci"]) for b in (75, 150) if f"{st}_gain_{b}" in c]
    above = [b for b, g, h in gains if g - h > 0]  # significantly better
    below = [b for b, g, h in gains if g + h < 0]  # significantly worse
    out["bats_baseline"] = ("confirmed" if gains and len(above) == len(gains) else
                            "refuted" if gains and len(below) == len(gains) else "qualified",
                            "test accuracy minus the continuous benchmark's: "
                            + "; ".join(f"{g:+.2f} ± {h:.2f} points at {b} bins" for b, g, h in gains)
                            + (f"; significantly better at {', '.join(map(str, above))}" if above else "")
                            + (f"; significantly worse at {', '.join(map(str, below))}" if below else "")
                            + ("" if above or below else "; no significant difference"))
    # minimal: every bin count's dCR interval within ±tol; refuted: one lies wholly outside
    inside = c[f"{st}_dcr_lo_min"] >= -tol and c[f"{st}_dcr_hi_max"] <= tol
    outside = c[f"{st}_dcr_hi_min"] < -tol or c[f"{st}_dcr_lo_max"] > tol
    out["bats_minimal"] = ("confirmed" if inside else "refuted" if outside else "qualified",
                           f"the spike-time scheme's worst mean dCR is {c[f'{st}_dcr_worst']:+.2f}; "
                           + ("every bin count's interval lies within" if inside else
                              "at some bin count the interval lies wholly outside" if outside else
                              "no interval lies wholly outside, but not all lie within")
                           + f" ±{tol:g}")
    # SLAYER: unaffected at small steps (every interval at >= 75 bins, base grid aside, within ±tol;
    # "no" if one lies wholly below -tol), and a collapse at the coarsest step (dCR significantly below
    # -0.5, or accuracy significantly below half the benchmark's)
    small = ("yes" if c[f"{bp}_dcr_small_lo"] >= -tol and c[f"{bp}_dcr_small_hi"] <= tol else
             "no" if c[f"{bp}_dcr_small_hi_min"] < -tol else "undecided")
    collapse = bool(c[f"{bp}_dcr_coarse_hi"] < -0.5
                    or c[f"{bp}_acc_coarse"] + c[f"{bp}_acc_coarse_ci"] < 0.5 * c["bptt_bench_acc"])
    out["slayer"] = ("confirmed" if small == "yes" and collapse else
                     "refuted" if small == "no" and not collapse else "qualified",
                     f"BPTT's rate within ±{tol:g} of its benchmark's at every step of {c['small_bins']} bins or more: {small}; "
                     f"collapses {at}: {'yes' if collapse else 'no'}")
    for claim, keys in need.items():
        gone = [k for k in keys if not np.isfinite(c.get(k, math.nan))]
        if gone:
            out[claim] = ("not yet tested", f"its numbers are not all there yet ({', '.join(gone)})")
    return out
