"""The findings chapter: every claim of the four sources (and of NIR's users) decided from the committed runs, in one place.

What each claim means, its quantity, test, tolerance and rationale are declared in the claims table
(:mod:`snnlib.study.claims`). This module measures: each claim's *decider* reads the runs and
returns a :class:`Decision`, a tree of tests (:class:`snnlib.inference.Tested`, one per condition:
dataset, step, part of the claim) combined by the claim's mode. :func:`run` decides every claim,
adjusts every p-value of the table by Holm (one family: every test of every claim), and gives each
claim its verdict (:data:`VERDICTS`); then it re-decides everything under the neighbouring targets
and tolerances (:data:`snnlib.study.claims.QS_SENSITIVITY`, :data:`~snnlib.study.claims.TOLERANCE_SCALES`)
and marks a verdict that flips *fragile*.

The run ``findings/<profile>`` (notebook ``findings.ipynb``) stores the table as an
:class:`xarray.Dataset`, so the page is regenerated from ``runs/`` like every other page; the
chapters quote their claims' rows from it (:func:`chapter_markdown`) and never decide on their own.
"""

from __future__ import annotations

import dataclasses
import json
import math
import weakref
from typing import Callable, NamedTuple, Union

import numpy as np
import xarray as xr
import yaml

from snnlib import inference as inf
from snnlib.analyses import direct, transfer
from snnlib.analyses import timebins as tb
from snnlib.analyses import coding, single_spike, surrogate, timing
from snnlib.config import Config
from snnlib.experiments import across_simulators, performance
from snnlib.model.discretization import parse_integration
from snnlib.report import dirty_runs_note
from snnlib.store import runs
from snnlib.store.runs import Run
from snnlib.study import claims as table
from snnlib.study import plan
from snnlib.study.loading import sweep_run
from snnlib.study.plan import PROFILES

__all__ = ["VERDICTS", "SOURCES", "Settings", "Decision", "DECIDERS", "CLAIMS", "FindingsConfig", "Config", "decide",
           "decide_one", "decide_all", "run", "provenance", "summarize", "markdown_table", "chapter_markdown",
           "sensitivity_table", "tolerances_markdown", "tests_frame", "glue_numbers"]

NAME = "findings"
VERDICTS = inf.VERDICTS
SOURCES = table.SOURCES
CLAIMS = table.CLAIMS
#: chapters that do not exist yet, by the name the table gives them
PLANNED = table.PLANNED_CHAPTERS

Loader = Callable[[str], Run]  # experiment name -> its run of the profile
Tree = Union[inf.Tested, tuple]  # a test, or (mode, {label: tree})


@dataclasses.dataclass(frozen=True)
class Settings:
    """What a decision depends on besides the runs: the convergence target's fraction ``q`` and a
    factor on every declared tolerance (the sensitivity appendix varies them)."""

    q: float = table.Q
    scale: float = 1.0

    @property
    def label(self) -> str:
        if (self.q, self.scale) == (table.Q, 1.0):
            return "declared"
        return f"q = {self.q:g}" if self.scale == 1.0 else f"tolerance x {self.scale:g}"


class Decision(NamedTuple):
    tree: Tree
    numbers: dict  # context numbers, glued as ``<claim id>_<name>``
    context: str  # format string over ``numbers``: what was measured, on which setups


class NotDecidable(Exception):
    """A claim's runs exist but cannot decide it yet (a missing point, a single seed)."""


def _pct(v) -> float:
    return 100 * float(v)


def _t(c: table.Declared, s: Settings, rule: str, est: inf.Estimate, name: str = "") -> inf.Tested:
    return inf.judge(name or rule, est, c.rule(rule, s.scale))


def _est(fn, *args, **kw) -> inf.Estimate:
    try:
        return fn(*args, **kw)
    except ValueError as e:  # too few seeds or points for the test
        raise NotDecidable(str(e)) from e


# A run that never reaches the target has n_q = its whole run's samples (:func:`snnlib.analyses.timebins.
# log_rate_ratios`): an upper bound of its rate, so its log rate ratio may be high; a censored benchmark
# makes every log rate ratio of its seed low. The estimates built from them are biased accordingly
# (:meth:`snnlib.inference.Estimate.biased`): evidence the censoring could have made is void.
_CENSORED_WHY = "runs that never reach the target (censored): only the evidence their bias cannot have made counts"


def _paired_lrr(l: xr.Dataset, sign: float = 1.0, **sel) -> inf.Estimate:
    """The paired t of ``sign`` x the per-seed log rate ratios of ``l`` (:func:`snnlib.analyses.timebins.
    log_rate_ratios`) at ``sel``, biased where a run or its benchmark never reached the target."""
    p = l.sel(**sel)
    ran = p["lrr"].notnull()
    high, low = bool((p["censored"] & ran).any()), bool((p["bench_censored"] & ran).any())
    if sign < 0:
        high, low = low, high
    return _est(inf.paired, sign * p["lrr"].values).biased(high, low, _CENSORED_WHY)


def _censored_slopes(long_lrr: tuple, long_censored: tuple, groups: tuple[str, str] = ("spiketime", "bptt")) -> dict:
    """:func:`snnlib.inference.mixed_slopes` of the long-form log rate ratios ``long_lrr`` (values, log
    step, scheme, run), biased by the censored points flagged in ``long_censored`` (the same long form of
    the ``censored`` array): a censored value may be high, so a group's slope may be high where it has a
    censored point above the mean log step of its points and low where it has one below. (A censored
    benchmark shifts every point of its run alike, which the run's own intercept absorbs.) The
    difference (second minus first) may be high where the second's slope may be high or the first's low."""
    est = _est(inf.mixed_slopes, *long_lrr, groups)
    y, x, g = np.asarray(long_lrr[0], float), np.asarray(long_lrr[1], float), np.asarray(long_lrr[2])
    cens = np.asarray(long_censored[0]) > 0
    bias = {}
    for grp in groups:
        ok = (g == grp) & np.isfinite(y) & np.isfinite(x)
        mean = x[ok].mean()
        bias[grp] = (bool((cens & ok & (x > mean)).any()), bool((cens & ok & (x < mean)).any()))  # (high, low)
    (ha, la), (hb, lb) = bias[groups[0]], bias[groups[1]]
    return {f"slope_{groups[0]}": est[f"slope_{groups[0]}"].biased(ha, la, _CENSORED_WHY),
            f"slope_{groups[1]}": est[f"slope_{groups[1]}"].biased(hb, lb, _CENSORED_WHY),
            "difference": est["difference"].biased(hb or la, lb or ha, _CENSORED_WHY)}


# ----------------------------------------------------------------------------- single neuron
def _fig1(load: Loader, c, s) -> Decision:
    sm = load("single-neuron").summary
    n = {r: sm[f"fig1_max_v_minus_theta_euler_{r}"] for r in ("snap", "linear", "newton")}
    tree = ("every", {f"{r} interpolation": _t(c, s, "below", inf.exact(-n[r])) for r in ("linear", "newton")})
    return Decision(tree, n, "largest V − θ with forward-Euler: {snap:.3f} snapped to the grid, {linear:.4f} with "
                    "linear and {newton:.4f} with Newton interpolation")


def _fig2(load: Loader, c, s) -> Decision:
    ds = load("single-neuron").results
    end = ds["fig2_V"].isel(time2=-1)
    exact = float(ds["fig2_exact"].isel(time2=-1))
    n = {"spread": float(end.max() - end.min()), "unsplit_minus_exact": float(end.sel(split=-1)) - exact,
         "step_ms": float(ds["time2"].max() - ds["time2"].min())}
    return Decision(_t(c, s, "differs", inf.exact(n["spread"])), n,
                    "one PS(5) step of {step_ms:.0f} ms: the end value spans {spread:.3f} over the split points; "
                    "unsplit minus exact: {unsplit_minus_exact:.3f}")


def _order(load: Loader, c, s) -> Decision:
    sm = load("single-neuron").summary
    k = max(int(key.rsplit("order", 1)[1]) for key in sm if key.startswith("v_slope_order"))
    rises = {f"order {j} to {j + 1}": _t(c, s, "order rises", inf.exact(sm[f"v_slope_order{j + 1}"]
                                                                           - sm[f"v_slope_order{j}"]))
             for j in range(1, k)}
    spikes = {f"spike times at order {k}, {r}": _t(c, s, "order rises", inf.exact(sm[f"spike_slope_order{k}_{r}"] - (k - 1)))
              for r in ("linear", "newton")}
    n = {"v_slope_1": sm["v_slope_order1"], "v_slope_k": sm[f"v_slope_order{k}"], "k": k,
         "linear_k": sm[f"spike_slope_order{k}_linear"], "newton_k": sm[f"spike_slope_order{k}_newton"]}
    return Decision(("parts", {"V's error order rises": ("every", rises), **spikes}), n,
                    "error order of V: {v_slope_1:.2f} (Euler) to {v_slope_k:.2f} (order {k}); of spike times at order "
                    "{k}: {linear_k:.2f} with linear interpolation, {newton_k:.2f} with Newton")


# ------------------------------------------------------------------------------------ time bins
#: per loader and q: each dataset's (finals, log rate ratios); the sweeps are read once
_TIMEBINS: "weakref.WeakKeyDictionary[Loader, dict]" = weakref.WeakKeyDictionary()
_LABEL = {"mnist": "MNIST", "nmnist": "N-MNIST"}


def _timebins(load: Loader, q: float) -> dict:
    cache = _TIMEBINS.setdefault(load, {})
    if "arms" not in cache:
        cache["arms"] = {d: tb.arms({k: load(name).results for k, name in tb.sweep_names(d).items()})
                         for d in tb.DATASETS}
    if q not in cache:
        cache[q] = {d: (tb.finals(*a), tb.log_rate_ratios(*a, q)) for d, a in cache["arms"].items()}
    return cache[q]


def _long(da: xr.DataArray, drop_bins=None) -> tuple:
    """(values, log10 step, scheme, run) of a (scheme, bins, seed) array, for the mixed model."""
    w = float(da.attrs.get("window_ms", np.nan))
    y, x, g, r = [], [], [], []
    for sch in da["scheme"].values:
        for b in da["bins"].values:
            if drop_bins is not None and sch == "bptt" and int(b) == drop_bins:
                continue  # BPTT's benchmark grid: 0 by construction
            for sd in da["seed"].values:
                y.append(float(da.sel(scheme=sch, bins=b, seed=sd)))
                x.append(math.log10(w / float(b)))
                g.append(str(sch))
                r.append(f"{sch}:{sd}")
    return y, x, g, r


def _curves(load: Loader, c, s, disc: str) -> dict:
    """Per dataset, the mixed-model slopes of the log rate ratio and of the final test accuracy."""
    out = {}
    for d, (f, l) in _timebins(load, s.q).items():
        lrr, cens = l["lrr"].sel(discretization=disc), l["censored"].sel(discretization=disc).astype(float)
        acc = f["final_test"].sel(discretization=disc)
        for a in (lrr, cens, acc):
            a.attrs["window_ms"] = f.attrs["window_ms"]
        base = int(f.attrs["base_bins"])
        out[d] = {"rate": _censored_slopes(_long(lrr, base), _long(cens, base)),
                  "accuracy": _est(inf.mixed_slopes, *_long(acc), ("spiketime", "bptt"))}
    return out


def _context_rates(load: Loader, s: Settings, disc: str, scheme: str | None = None) -> tuple[dict, str]:
    """The numbers and sentence that say how the rates of ``disc`` (and ``scheme``, or both) were measured:
    the shared target, how finely the records resolve n_q, and the runs that never reach the target."""
    n, parts = {}, []
    for d, (_, l) in _timebins(load, s.q).items():
        censored = l["censored"].sel(discretization=disc)
        n.update({f"{d}_target": 100 * float(l["target"].sel(discretization=disc)),
                  f"{d}_resolution": l.attrs["resolution"],
                  f"{d}_censored": int((censored if scheme is None else censored.sel(scheme=scheme)).sum())})
        parts.append(f"{_LABEL[d]}: target {{{d}_target:.1f}} % (q = {s.q:g} x the lower benchmark), record spacing "
                     f"{{{d}_resolution:.2f}} x the smallest n_q" + (" (n_q not resolved)" if l.attrs["resolution"] >
                                                                    table.RESOLUTION else "")
                     + f", {{{d}_censored}} runs never reach it (their fall understated)")
    return n, "; ".join(parts)


def _hypothesis(disc: str):
    def decide(load: Loader, c, s) -> Decision:
        cur = _curves(load, c, s, disc)
        tree = ("parts", {_LABEL[d]: ("parts", {
            "spike-time rate falls": _t(c, s, "falls", m["rate"]["slope_spiketime"].flipped()),
            "BPTT rate falls": _t(c, s, "falls", m["rate"]["slope_bptt"].flipped()),
            "falls more for spike-time": _t(c, s, "falls more for spike-time", m["rate"]["difference"])})
            for d, m in cur.items()})
        return Decision(tree, *_context_rates(load, s, disc))
    return decide


def _decrease(load: Loader, c, s) -> Decision:
    cur = _curves(load, c, s, "seed000")
    tree = ("parts", {_LABEL[d]: ("parts", {
        f"{name} accuracy falls": _t(c, s, "accuracy falls", m["accuracy"][f"slope_{sch}"].flipped())
        for sch, name in (("spiketime", "spike-time"), ("bptt", "BPTT"))} | {
        f"{name} rate falls": _t(c, s, "rate falls", m["rate"][f"slope_{sch}"].flipped())
        for sch, name in (("spiketime", "spike-time"), ("bptt", "BPTT"))}) for d, m in cur.items()})
    return Decision(tree, *_context_rates(load, s, "seed000"))


def _bats_baseline(load: Loader, c, s) -> Decision:
    parts, n = {}, {}
    for d, (f, _) in _timebins(load, s.q).items():
        st = f.sel(scheme="spiketime", discretization="seed000")
        sub = {f"{b} bins": _t(c, s, "better", _est(inf.paired, st["final_test"].sel(bins=b).values,
                                                    st["bench_test"].values))
               for b in (75, 150) if b in st["bins"].values}
        if not sub:
            raise NotDecidable(f"{d}: no point at 75 or 150 bins")
        parts[_LABEL[d]] = ("parts", sub)
        n[f"{d}_bench"] = float(st["bench_test"].mean())
    return Decision(("parts", parts), n, "; ".join(f"{_LABEL[d]}: continuous benchmark {{{d}_bench:.2f}} %"
                                                   for d in tb.DATASETS))


def _minimal(disc: str):
    def decide(load: Loader, c, s) -> Decision:
        parts = {}
        for d, (f, l) in _timebins(load, s.q).items():
            parts[_LABEL[d]] = ("every", {
                f"{int(b)} bins": _t(c, s, "minimal", _paired_lrr(l, scheme="spiketime", discretization=disc, bins=b))
                for b in l["bins"].values})
        return Decision(("parts", parts), *_context_rates(load, s, disc, "spiketime"))
    return decide


def _slayer(load: Loader, c, s) -> Decision:
    parts = {}
    for d, (f, l) in _timebins(load, s.q).items():
        arm = {"scheme": "bptt", "discretization": "seed000"}
        small = [b for b in l["bins"].values if b >= 75 and b != int(f.attrs["base_bins"])]
        coarse = int(l["bins"].min())
        parts[_LABEL[d]] = ("parts", {
            "unaffected at 75 bins or more": ("every", {
                f"{int(b)} bins": _t(c, s, "unaffected", _paired_lrr(l, bins=b, **arm)) for b in small}),
            f"collapses at {coarse} bins": _t(c, s, "collapses", _paired_lrr(l, -1.0, bins=coarse, **arm))})
    return Decision(("parts", parts), *_context_rates(load, s, "seed000", "bptt"))


def _latency(load: Loader, c, s) -> Decision:
    """At the fewest bins whose mean validation accuracy holds (:func:`snnlib.analyses.timebins.holds_to`),
    on the shared grid: training time per epoch and hidden spikes against BPTT's 1 ms grid."""
    parts, n = {}, {}
    for d, (f, _) in _timebins(load, s.q).items():
        if "epoch_time" not in f:
            raise NotDecidable(f"{d}: the sweeps record no epoch times")
        b = tb.holds_to(f)["bptt_shared_holds_to"]
        if not math.isfinite(b):
            raise NotDecidable(f"{d}: a point is missing or BPTT holds at no step")
        arm = f.sel(scheme="bptt", discretization="shared")
        at = arm.sel(bins=int(b))
        parts[_LABEL[d]] = ("parts", {
            "training time per epoch": _t(c, s, "cheaper", _est(inf.paired, -np.log(at["epoch_time"] / arm["bench_epoch_time"]).values)),
            "hidden spikes": _t(c, s, "cheaper", _est(inf.paired, -np.log(at["spikes"] / arm["bench_spikes"]).values))})
        n[f"{d}_bins"] = b
    return Decision(("parts", parts), n, "BPTT on the shared grid at the fewest bins whose validation accuracy stays "
                    f"within {table.HOLD_POINTS:g} points of the 1 ms grid's: "
                    + ", ".join(f"{{{d}_bins:.0f}} bins ({_LABEL[d]})" for d in tb.DATASETS))


# ------------------------------------------------------------------------------------- transfer
def _discordant(diff: float, bound: float) -> tuple[int, int]:
    """``(b, c)`` with ``c - b = diff`` and ``b + c`` the largest count <= ``bound`` of the same parity
    (the per-digit discordance is not recorded, only bounded: the bound makes the tests conservative)."""
    diff, m = int(round(diff)), int(round(bound))
    m = max(m, abs(diff))
    if (m - diff) % 2:
        m -= 1 if m - 1 >= abs(diff) else -1
    return (m - diff) // 2, (m + diff) // 2


def _paired_counts(first: xr.Dataset, second: xr.Dataset, diff: float, bound: float) -> tuple[int, int, bool]:
    """``(b, c, exact)``: samples right only under ``first`` and only under ``second`` of two
    simulations of the same weights, summed over the source networks (dim ``seed``). Counted per test
    sample where the points record it (``test_correct``; ``exact`` true), else bounded by the recorded
    agreement (:func:`_discordant`: the largest discordance it allows, a conservative test)."""
    if "test_correct" in first and "test_correct" in second and bool(first["test_correct"].notnull().all()):
        a, z = first["test_correct"].astype(bool), second["test_correct"].astype(bool)
        return int((a & ~z).sum()), int((~a & z).sum()), True
    b, c = _discordant(diff, bound)
    return b, c, False


def _transfer_data(load: Loader, sweep: str = "transfer-mnist"):
    """The MNIST transfer sweep's test split, inputs at their own times, BATS's MNIST network (not the
    thresholded one), and its test digits per simulation."""
    res = load(sweep).results
    ds = transfer.with_drop(res).sel(split="test")
    if "input" in ds.dims:
        ds = ds.sel(input="exact")
    if "source" in ds.dims:
        ds = ds.sel(source=[x for x in map(str, ds["source"].values) if "threshold" not in x][0])
    return ds, int(yaml.safe_load(res.attrs["config"])["n_test"])


def _similar(load: Loader, c, s) -> Decision:
    ds, n_test = _transfer_data(load)
    small_dt = 1.0
    pss = [m for m in map(str, ds["integration"].values) if parse_integration(m)[0] == "ps"]
    cells = {}
    for m in pss:
        for r in ("linear", "newton"):
            for dt in [float(x) for x in ds["dt"].values if x <= small_dt]:
                cell = ds.sel(integration=m, rule=r, dt=dt)
                if bool(cell["accuracy"].isnull().any()):
                    raise NotDecidable("a transfer point is missing")
                diff = float((n_test * (cell["accuracy"] - cell["exact_accuracy"])).sum())
                bound = float((n_test * (1 - cell["agreement"])).sum())
                analytic = xr.Dataset({"test_correct": cell["exact_test_correct"]}) if "exact_test_correct" in cell \
                    else xr.Dataset()
                b, cc, counted = _paired_counts(analytic, cell, diff, bound)
                est = inf.mcnemar(b, cc, n_test * cell.sizes["seed"], strata=cell.sizes["seed"], what="test digits")
                cells[f"{m}, {r}, {dt:g} ms"] = _t(c, s, "similar", est.scaled(100.0))
    n = {"exact_accuracy": 100 * float(ds["exact_accuracy"].mean()), "small_dt": small_dt,
         "h_over_tau": small_dt / 130.0, "n_test": n_test}
    how = ("discordant digits counted per test digit" if "test_correct" in ds else
           "discordant digits bounded by the recorded agreement with the analytic network (conservative)")
    return Decision(("every", cells), n, "the analytic network {exact_accuracy:.2f} % on {n_test:.0f} test digits per "
                    "source network; " + how)


#: the step (h / tau_s) at which the interpolation claim is judged, declared before the high-activity
#: networks' points: one where forward Euler is broken on the usual fast network (its first 15 points: broken
#: from 0.3 under every rule; all 60 points: trusted to 0.01-0.03, broken from 0.1)
INTERPOLATION_STEP = 0.3


def _interpolation(load: Loader, c, s) -> Decision:
    high = load(plan.BREAKDOWN_NETWORKS["fast-high"][0]).results.sel(split="test")
    h = round(INTERPOLATION_STEP * plan.BREAKDOWN_NEURONS["fast-high"][1], 9)
    e = high.sel(integration="euler", dt=h)
    lin, snap = e.sel(rule="linear"), e.sel(rule="snap")
    if bool(e["accuracy"].isnull().any()):
        raise NotDecidable("a breakdown point is missing")
    n_test = int(e.sizes["test_sample"]) * int(e.sizes["seed"])
    if "test_correct" not in e or bool(e["test_correct"].isnull().any()):
        raise NotDecidable("the breakdown points do not record each test point's correctness")
    b, cc, _ = _paired_counts(snap, lin, math.nan, math.nan)
    est = inf.mcnemar(b, cc, n_test, strata=e.sizes["seed"], what="test points")
    n = {"step": INTERPOLATION_STEP, "snap": float(100 * snap["accuracy"].mean()), "linear": float(100 * lin["accuracy"].mean()),
         "analytic": float(100 * e["exact_accuracy"].mean()), "hidden": float(e["exact_hidden_spikes"].mean())}
    return Decision(_t(c, s, "helps", est.scaled(100.0), f"Euler at h / tau_s = {INTERPOLATION_STEP:g}"), n,
                    "the high-activity Yin-Yang networks ({hidden:.0f} hidden spikes per point, analytic "
                    "{analytic:.1f} %) under forward Euler at h / tau_s = {step:g}: snap {snap:.1f} %, linear "
                    "interpolation {linear:.1f} %")


# ---------------------------------------------------------------------------- across simulators
def _importer_cells(load: Loader, c, s, sims: list, max_h: float) -> tuple[dict, dict]:
    """Per (simulator, step <= ``max_h``): the paired per-digit test of its accuracy against the
    analytic network's, pooled over the source networks."""
    ds = load("across-simulators").results
    cells = {}
    for sim in sims:
        for h in [float(x) for x in ds["h"].values if x <= max_h]:
            cells[f"{sim}, {h:g} ms"] = _t(c, s, "keeps accuracy", across_simulators.paired_estimate(ds, sim, h)[0])
    n = {"exact_accuracy": 100 * float(ds["exact_accuracy"].mean()), "n_test": int(ds.sizes["test_sample"]),
         "n_networks": int(ds.sizes["seed"]), "tau_s": float(ds.attrs["tau_s_ms"])}
    return cells, n


def _nir_as_imported(load: Loader, c, s) -> Decision:
    cells, n = _importer_cells(load, c, s, ["snntorch", "norse"], 1.0)
    cells = {k: v for k, v in cells.items() if k.endswith(", 1 ms")}
    if not cells:
        raise NotDecidable("the run has no step of 1 ms")
    return Decision(("every", cells), n, "the exported networks imported as they are, at 1 ms (h / tau_s = 1/"
                    "{tau_s:.0f}); the analytic network {exact_accuracy:.2f} % on {n_test:.0f} test digits per network, "
                    "{n_networks:.0f} networks; discordant digits counted per digit")


def _nir_corrected(load: Loader, c, s) -> Decision:
    cells, n = _importer_cells(load, c, s, ["snntorch+corrected", "norse+corrected"], 1.0)
    return Decision(("every", cells), n, "the importers with their correction at every step up to 1 ms; the analytic "
                    "network {exact_accuracy:.2f} % on {n_test:.0f} test digits per network, {n_networks:.0f} "
                    "networks; discordant digits counted per digit")


# --------------------------------------------------------------------------------------- direct
def _direct_metrics(load: Loader, q: float) -> dict:
    """The deciding study's metrics (direct.DECIDING: the steps where the integration matters)."""
    return direct.metrics({role: load(name).results for role, name in direct.STUDIES[direct.DECIDING].items()}, q)


def _high_order(load: Loader, c, s) -> Decision:
    m = _direct_metrics(load, s.q)
    d, e = m["direct"], m["direct-exact"]
    large = float(d["dt"].max())
    high = [str(x) for x in d["integration"].values][-1]
    big = d.sel(gradient="adjusted", dt=large)
    hi, eu = big.sel(integration=high), big.sel(integration="euler")
    tree = ("parts", {
        "more accurate": _t(c, s, "more accurate", _est(inf.paired, direct.per_seed(hi["final_test"]), direct.per_seed(eu["final_test"]))),
        "sparser": _t(c, s, "sparser", _est(inf.paired, -np.log(direct.per_seed(hi["spikes"]) / direct.per_seed(eu["spikes"])))),
        "faster to converge": _t(c, s, "faster to converge",
                                 _est(inf.paired, -np.log(direct.per_seed(hi["n_q"]) / direct.per_seed(eu["n_q"])))),
        "robust (against the exact scheme)": _t(c, s, "robust", _est(inf.paired, direct.per_seed(hi["final_test"]),
                                                                     direct.per_seed(e["final_test"])))})
    n = {"large_dt": large, "h_over_tau_s": large / direct.tau_s(d), "exact_test": float(e["final_test"].mean()),
         "unreached": int((d["reached"] == 0).sum())}
    return Decision(tree, n, f"{high} vs Euler at {{large_dt:g}} ms (h / tau_s = {{h_over_tau_s:.3g}}), adjusted "
                    "gradient; the exact scheme {exact_test:.2f} %; runs that never reach the target: {unreached}")


def _step_costs(load: Loader) -> xr.Dataset:
    """The performance run with the direct-training benchmark (benchmarks/bench_direct.py)."""
    perf = load("performance").results
    if "direct_rounds_s_per_sample" not in perf:
        raise NotDecidable("the performance run has no direct-training benchmark (benchmarks/bench_direct.py)")
    return perf


def _log_cost_ratio(perf: xr.Dataset, d: xr.Dataset, num: dict, den: dict) -> tuple[xr.DataArray, np.ndarray]:
    """Over the cells of ``d`` (the deciding sweep's metrics, dims beyond ``num``/``den``'s fixed
    ones): per cell the benchmark's ln(step cost ``num`` / ``den``) (median over rounds), and the
    per-round ln ratio averaged over the cells (one value per round of the benchmark)."""
    per_cell = xr.zeros_like(d["final_test"].isel(seed=0, drop=True).sel(num), dtype=float)
    free = list(per_cell.dims)  # the two of gradient, integration, dt that num and den leave free
    per_round = []
    for idx in np.ndindex(*per_cell.shape):
        at = {k: per_cell[k].values[i].item() for k, i in zip(free, idx)}
        r = performance.direct_step_log_ratios(perf, performance.direct_label(**at, **num),
                                               performance.direct_label(**at, **den))
        per_round.append(r)
        per_cell.loc[at] = float(np.median(r))
    return per_cell, np.mean(per_round, axis=0)


def _euler_time(load: Loader, c, s) -> Decision:
    perf = _step_costs(load)
    d = _direct_metrics(load, s.q)["direct"]
    high = [str(x) for x in d["integration"].values][-1]
    step, rounds = _log_cost_ratio(perf, d, {"integration": "euler"}, {"integration": high})
    eu, hi = d.sel(integration="euler"), d.sel(integration=high)
    to_target = step + np.log(eu["n_q"] / hi["n_q"])  # ln(Euler's training time to the target / high's), per seed
    tree = ("parts", {"cheaper steps": _t(c, s, "faster", _est(inf.paired, -rounds, what="rounds"), "cheaper steps"),
                      "sooner to the target": _t(c, s, "faster", _est(inf.paired, -direct.per_seed(to_target)),
                                                 "sooner to the target")})
    n = {"step_ratio": float(np.exp(step.mean())), "time_ratio": float(np.exp(direct.per_seed(to_target).mean()))}
    return Decision(tree, n, f"Euler against {high} at the same step and gradient: a training step costs "
                    "{step_ratio:.2f} x (geometric mean over steps and gradients, benchmark in one process); the "
                    "training time to the target (that cost x the samples to it) {time_ratio:.2f} x")


def _piggyback(load: Loader, c, s) -> Decision:
    perf = _step_costs(load)
    d = _direct_metrics(load, s.q)["direct"]
    pig, adj = d.sel(gradient="piggyback"), d.sel(gradient="adjusted")
    step, _ = _log_cost_ratio(perf, d, {"gradient": "piggyback"}, {"gradient": "adjusted"})
    to_target = step + np.log(pig["n_q"] / adj["n_q"])  # ln(piggyback's training time to the target / adjusted's)
    tree = ("parts", {
        "similar accuracy": _t(c, s, "similar accuracy", _est(inf.paired, direct.per_seed(pig["final_test"] - adj["final_test"]))),
        "slower to the target": _t(c, s, "slower", _est(inf.paired, direct.per_seed(to_target)))})
    last = d["cosine"].isel(checkpoint=-1).sel(dt=float(d["dt"].max())) if "cosine" in d else None
    n = {"pig_cosine": float(last.sel(gradient="piggyback").mean()) if last is not None else math.nan,
         "adj_cosine": float(last.sel(gradient="adjusted").mean()) if last is not None else math.nan,
         "large_dt": float(d["dt"].max()), "step_ratio": float(np.exp(step.mean()))}
    return Decision(tree, n, "a piggyback training step costs {step_ratio:.2f} x an adjusted one (benchmark in one "
                    "process); gradient cosine with the exact one at {large_dt:g} ms: {pig_cosine:.3f} (piggyback), "
                    "{adj_cosine:.3f} (adjusted)")


# -------------------------------------------------------------------------- codings, survey
def _accuracies(r: Run) -> np.ndarray:
    return 100 * np.asarray(r.summary["final_test_accuracy_per_seed"], dtype=float)


def _seed002_rate(load: Loader, c, s) -> Decision:
    r = load("seed002-rate")
    pub = _pct(r.summary["published_test_accuracy"])
    n = {"published": pub, "acc": float(_accuracies(r).mean())}
    return Decision(_t(c, s, table.CONSISTENT, _est(inf.paired, _accuracies(r) - pub)), n,
                    "snnTorch's tutorial 5 rerun with snnTorch: {acc:.2f} % against the published {published:.2f} %")


def _seed002_ttfs(load: Loader, c, s) -> Decision:
    rate, ttfs = load("seed002-rate"), load("seed002-ttfs")
    pub = _pct(ttfs.summary["published_test_accuracy"])
    tree = ("parts", {f"{table.CONSISTENT} (95.35 %)": _t(c, s, table.CONSISTENT, _est(inf.paired, _accuracies(ttfs) - pub)),
                      "above rate coding": _t(c, s, "above rate", _est(inf.paired, _accuracies(ttfs), _accuracies(rate)))})
    n = {"published": pub, "acc": float(_accuracies(ttfs).mean()), "rate": float(_accuracies(rate).mean())}
    return Decision(tree, n, "the tutorial's recipe with TTFS input (`spikegen.latency`, the seed gives no options) "
                    "and `ce_temporal_loss`: {acc:.2f} % against rate {rate:.2f} % and the published {published:.2f} %")


def _fewer_spikes(load: Loader, c, s) -> Decision:
    rate, ttfs = load(coding.SWEEPS["rate"]).summary, load(coding.SWEEPS["ttfs"]).summary
    ratio = np.asarray(ttfs["final_hidden_spikes_per_seed"], float) / np.asarray(rate["final_hidden_spikes_per_seed"], float)
    n = {"rate": rate["final_hidden_spikes"], "ttfs": ttfs["final_hidden_spikes"]}
    return Decision(_t(c, s, "fewer", _est(inf.paired, -np.log(ratio))), n,
                    "one Leaky 784-1000-10 network and loss, only the input coding changed (each coding's lr and "
                    "initial scale searched): hidden spikes per digit, rate {rate:.0f}, TTFS {ttfs:.0f}")


def _temporal_accuracy(load: Loader, c, s) -> Decision:
    rate, ttfs = load(coding.SWEEPS["rate"]), load(coding.SWEEPS["ttfs"])
    n = {"rate": float(_accuracies(rate).mean()), "ttfs": float(_accuracies(ttfs).mean()),
         "epochs": rate.summary.get("epochs", math.nan)}
    return Decision(_t(c, s, "lower", _est(inf.paired, _accuracies(rate), _accuracies(ttfs))), n,
                    "one Leaky 784-1000-10 network and loss (cross-entropy on output spike counts), only the input "
                    "coding changed (each coding's lr and initial scale searched), full MNIST, {epochs} epochs: "
                    "rate {rate:.2f} %, TTFS {ttfs:.2f} %")


def _depth_results(load: Loader) -> xr.Dataset:
    """The depth experiment's sweeps, read through ``load`` (:func:`snnlib.analyses.surrogate.combine`)."""
    parts = {(d, scheme): load(surrogate.sweep_name(d, scheme)).results for d in plan.DEPTHS for scheme in surrogate.SCHEMES}
    return surrogate.combine(parts, plan.DEPTHS, parts[(plan.DEPTHS[0], "bptt")]["seed"].values)


def _surrogate(load: Loader, c, s) -> Decision:
    ds = _depth_results(load)
    gap = surrogate.accuracy_gap(ds).sel(depth=1).values
    n = {"bptt": float(np.nanmean(ds["final_test"].sel(depth=1, scheme="bptt"))),
         "exact": float(np.nanmean(ds["final_test"].sel(depth=1, scheme="exact")))}
    return Decision(_t(c, s, "degrades", _est(inf.paired, gap)), n,
                    "5-120-3 on Yin-Yang, one neuron (tau_s = 130 ms), loss and initial weights, only the gradient "
                    "changed: BPTT with a surrogate on the exact grid (h = 1 ms) {bptt:.2f} %, exact spike-time "
                    "gradients {exact:.2f} %")


def _surrogate_depth(load: Loader, c, s) -> Decision:
    ds = _depth_results(load)
    deep = int(max(plan.DEPTHS))
    try:
        cos = surrogate.layer_cosine(ds)
    except ValueError as e:
        raise NotDecidable(str(e)) from e
    n = {"cos1": float(cos.sel(depth=1).mean()), "cos_deep": float(cos.sel(depth=deep).mean()), "deep": deep,
         "gap": float(np.nanmean(surrogate.accuracy_gap(ds).sel(depth=deep)))}
    tree = ("parts", {
        "accumulates through layers": _t(c, s, "accumulates through layers",
                                         _est(inf.welch, cos.sel(depth=1).values, cos.sel(depth=deep).values)),
        "low accuracy": _t(c, s, "low accuracy", _est(inf.paired, surrogate.accuracy_gap(ds).sel(depth=deep).values))})
    return Decision(tree, n, "the surrogate gradient's cosine with the exact one in the first layer: {cos1:.3f} with "
                    "one hidden layer, {cos_deep:.3f} with {deep}; exact minus BPTT accuracy with {deep}: {gap:+.2f} "
                    "points (Yin-Yang, one neuron, only the gradient and the depth changed)")


def _bptt_cost(load: Loader, c, s) -> Decision:
    sm = load("performance").summary
    if "cost_bptt_memory_slope" not in sm:
        raise NotDecidable("the performance run has no cost-against-T benchmark (benchmarks/bench_cost_in_t.py)")
    one = lambda v: inf.exact(v, "one measurement")  # noqa: E731
    ds = load("performance").results
    pairs = lambda q: _est(inf.paired, performance.cost_log_ratios(ds, 150, q), what="repeats")  # noqa: E731
    tree = ("parts", {
        "more memory at 1 ms": _t(c, s, "costlier", pairs("memory")),
        "more time at 1 ms": _t(c, s, "costlier", pairs("time")),
        "memory grows with T": _t(c, s, "grows with T", one(sm["cost_bptt_memory_slope"])),
        "time grows with T": _t(c, s, "grows with T", one(sm["cost_bptt_time_slope"]))})
    n = {k: sm[k] for k in ("cost_memory_ratio_T150", "cost_time_ratio_T150", "cost_bptt_memory_slope",
                            "cost_bptt_time_slope", "cost_spiketime_memory_slope")}
    return Decision(tree, n, "one 784-800-10 network, batch 50, 150 ms: at T = 150 (1 ms) BPTT takes "
                    "{cost_memory_ratio_T150:.2f} x the exact spike-time step's training memory and "
                    "{cost_time_ratio_T150:.2f} x its time; BPTT's memory grows as T^{cost_bptt_memory_slope:.2f}, "
                    "its time as T^{cost_bptt_time_slope:.2f} (spike-time memory: T^{cost_spiketime_memory_slope:.2f})")


def _dynamic(load: Loader, c, s) -> Decision:
    real, shuffled = timing.finals(load(timing.sweep_name("bptt")).results)
    tree = ("parts", {"learns the event streams": _t(c, s, "learns", _est(inf.paired, real - 10.0)),
                      "uses their timing": _t(c, s, "uses the timing", _est(inf.paired, real, shuffled))})
    n = {"acc": float(real.mean()), "shuffled": float(shuffled.mean())}
    return Decision(tree, n, "BPTT (lava-dl's recipe) on the N-MNIST event streams: {acc:.1f} %; on the same "
                    "recordings with their event times shuffled: {shuffled:.1f} % (chance 10 %)")


def _single_spike(load: Loader, c, s) -> Decision:
    r = single_spike.rates(load(single_spike.SWEEP).results, s.q)
    sp, nq = np.log(r["hidden_spikes"]), np.log(r["n_q"])
    tree = ("parts", {
        "fewer spikes": _t(c, s, "fewer spikes", _est(inf.welch, sp.sel(variant="multi").values, sp.sel(variant="single").values)),
        "slower convergence": _t(c, s, "slower", _est(inf.welch, nq.sel(variant="single").values, nq.sel(variant="multi").values))})
    m = r.mean("seed")
    n = {"single_spikes": float(m["hidden_spikes"].sel(variant="single")), "multi_spikes": float(m["hidden_spikes"].sel(variant="multi")),
         "single_nq": float(m["n_q"].sel(variant="single")), "multi_nq": float(m["n_q"].sel(variant="multi")),
         "target": 100 * r.attrs["target"], "censored": int(r["censored"].sum())}
    return Decision(tree, n, "hidden spikes per sample {single_spikes:.0f} (single) and {multi_spikes:.0f} (multi); "
                    "training samples to {target:.1f} % validation accuracy {single_nq:,.0f} and {multi_nq:,.0f} "
                    "({censored} runs never reach it)")


# ------------------------------------------------------------------ time bins, one neuron for both schemes
_NEURON_ARMS: "weakref.WeakKeyDictionary[Loader, dict]" = weakref.WeakKeyDictionary()
#: the datasets of the shared-neuron sweeps, in the order the claims read them: (name, chance accuracy in
#: points: balanced classes)
NEURON_DATASETS = {"yinyang": ("Yin-Yang", 100.0 / 3.0), "mnist": ("MNIST", 10.0), "nmnist": ("N-MNIST", 10.0)}


class _NeuronData(NamedTuple):
    """One dataset's shared-neuron sweeps at one q: finals, log rate ratios against each scheme's finest
    grid, the spike-time scheme's log rate ratios against the continuous network."""
    finals: xr.Dataset
    lrr: xr.Dataset
    lrr_continuous: xr.Dataset


def _neuron(load: Loader, q: float, needs: tuple[str, ...]) -> tuple[dict[str, _NeuronData], list, str]:
    """``(data, judged, note)`` of the shared-neuron sweeps for a claim whose steps are measured from the
    benchmarks ``needs`` (keys of :data:`snnlib.analyses.timebins.BENCHMARKS`): ``data`` per dataset whose sweeps are all there;
    ``judged`` the ``(dataset, neuron, label, key)`` of its neurons where each of those benchmarks reaches
    the dataset's bar (:data:`snnlib.study.claims.BENCHMARK_BAR`: a step is judged only from a trained
    benchmark), in the claims' order (``key`` names the neuron's context numbers); ``note`` the context's
    words on the datasets left out (still being made) and the neurons not judged, braces escaped for the
    context's format. The sweeps are read once per loader. No dataset there: the first one's error;
    no neuron judged: not decidable, saying why."""
    cache = _NEURON_ARMS.setdefault(load, {})
    if "arms" not in cache:
        arms, missing = {}, {}
        for d in NEURON_DATASETS:
            try:
                arms[d] = tb.neuron_arms({r: {k: load(n).results for k, n in tb.neuron_sweep_names(r, d).items()}
                                          for r in tb.NEURONS})
            except FileNotFoundError as e:
                missing[d] = e
        if not arms:
            raise next(iter(missing.values()))
        cache.update(arms=arms, missing=[f"{NEURON_DATASETS[d][0]} left out ({e})" for d, e in missing.items()])
    judged, notes = [], list(cache["missing"])
    for d, (curves, bench, cont) in cache["arms"].items():
        bar = table.BENCHMARK_BAR.get(d, -math.inf)
        below = tb.benchmarks_below(tb.neuron_benchmarks(bench, cont), bar, needs)
        for r in tb.NEURONS:
            label = f"{NEURON_DATASETS[d][0]}, tau_s = {float(curves['tau_s'].sel(neuron=r)):g} ms"
            if below[r]:
                notes.append(f"{label} not judged: "
                             + ", ".join(f"{tb.BENCHMARKS[k]} {m:.1f} %" for k, m in below[r].items())
                             + f", below the benchmark bar of {bar:g} %")
            else:
                judged.append((d, r, label, f"{d}_{r}"))
    if not judged:
        raise NotDecidable("no neuron's benchmarks reach their bar: " + "; ".join(notes))
    if q not in cache:
        out = {}
        for d, (curves, bench, cont) in cache["arms"].items():
            st = curves.sel(scheme=["spiketime"])
            out[d] = _NeuronData(tb.finals(curves, bench), tb.log_rate_ratios(curves, bench, q),
                                 tb.log_rate_ratios(st, cont.expand_dims(scheme=["spiketime"]), q))
        cache[q] = out
    return cache[q], judged, "".join(f"; {n}" for n in notes).replace("{", "{{").replace("}", "}}")


def _long_neuron(da: xr.DataArray, drop_finest: bool) -> tuple:
    """(values, log10 h / tau_s, scheme, run) of one neuron's (scheme, bins, seed) array; with
    ``drop_finest`` each scheme's finest grid left out (its benchmark: 0 by construction)."""
    finest = int(da["bins"].max())
    y, x, g, r = [], [], [], []
    for sch in da["scheme"].values:
        for b in da["bins"].values:
            if drop_finest and int(b) == finest:
                continue
            for sd in da["seed"].values:
                y.append(float(da.sel(scheme=sch, bins=b, seed=sd)))
                x.append(math.log10(float(da["h_over_tau_s"].sel(bins=b))))
                g.append(str(sch))
                r.append(f"{sch}:{sd}")
    return y, x, g, r


#: what the claims on the grids measure their steps from: each scheme's finest grid (the convergence
#: target is q x the lower of the two, so BPTT's own claim needs both too)
_BOTH = ("spiketime", "bptt")


def _neuron_slopes(load: Loader, s: Settings) -> dict:
    data, judged, _ = _neuron(load, s.q, _BOTH)
    out = {}
    for d, regime, label, _ in judged:
        f, l = data[d].finals, data[d].lrr
        ratio = l["h_over_tau_s"].sel(neuron=regime)
        lrr = l["lrr"].sel(neuron=regime).assign_coords(h_over_tau_s=ratio)
        cens = l["censored"].sel(neuron=regime).astype(float).assign_coords(h_over_tau_s=ratio)
        acc = f["final_test"].sel(neuron=regime).assign_coords(h_over_tau_s=f["h_over_tau_s"].sel(neuron=regime))
        out[label] = {"rate": _censored_slopes(_long_neuron(lrr, True), _long_neuron(cens, True)),
                      "accuracy": _est(inf.mixed_slopes, *_long_neuron(acc, False), ("spiketime", "bptt"))}
    return out


def _neuron_context(load: Loader, s: Settings) -> tuple[dict, str]:
    data, judged, note = _neuron(load, s.q, _BOTH)
    n, parts = {}, []
    for d, regime, label, key in judged:
        l = data[d].lrr
        n[f"{key}_target"] = 100 * float(l["target"].sel(neuron=regime))
        n[f"{key}_censored"] = int(l["censored"].sel(neuron=regime).sum())
        n[f"{key}_resolution"] = l.attrs["resolution"]
        parts.append(f"{label}: target {{{key}_target:.1f}} % (q = {s.q:g} x the lower of the two finest grids), "
                     f"{{{key}_censored}} runs never reach it, record spacing {{{key}_resolution:.2f}} x the "
                     "smallest n_q")
    return n, "; ".join(parts) + note


def _hypothesis_neuron(load: Loader, c, s) -> Decision:
    tree = ("parts", {label: ("parts", {
        "spike-time rate falls": _t(c, s, "falls", m["rate"]["slope_spiketime"].flipped()),
        "BPTT rate falls": _t(c, s, "falls", m["rate"]["slope_bptt"].flipped()),
        "falls more for spike-time": _t(c, s, "falls more for spike-time", m["rate"]["difference"])})
        for label, m in _neuron_slopes(load, s).items()})
    return Decision(tree, *_neuron_context(load, s))


def _decrease_neuron(load: Loader, c, s) -> Decision:
    names = (("spiketime", "spike-time"), ("bptt", "BPTT"))
    tree = ("parts", {label: ("parts", {
        f"{name} accuracy falls": _t(c, s, "accuracy falls", m["accuracy"][f"slope_{sch}"].flipped())
        for sch, name in names} | {
        f"{name} rate falls": _t(c, s, "rate falls", m["rate"][f"slope_{sch}"].flipped()) for sch, name in names})
        for label, m in _neuron_slopes(load, s).items()})
    return Decision(tree, *_neuron_context(load, s))


def _minimal_neuron(load: Loader, c, s) -> Decision:
    data, judged, note = _neuron(load, s.q, ("continuous",))
    parts, n, text = {}, {}, []
    for d, regime, label, key in judged:
        lc = data[d].lrr_continuous
        parts[label] = ("every", {
            f"{int(b)} bins (h / tau_s = {float(lc['h_over_tau_s'].sel(neuron=regime, bins=b)):.3g})":
                _t(c, s, "minimal", _paired_lrr(lc, scheme="spiketime", neuron=regime, bins=b))
            for b in lc["bins"].values})
        n[f"{key}_target"] = 100 * float(lc["target"].sel(neuron=regime))
        text.append(f"{label}: target {{{key}_target:.1f}} % (q x the continuous network)")
    return Decision(("parts", parts), n, "; ".join(text) + note)


def _slayer_neuron(load: Loader, c, s) -> Decision:
    data, judged, _ = _neuron(load, s.q, _BOTH)  # its target is shared by both schemes
    parts = {}
    for d, regime, label, _ in judged:
        l = data[d].lrr
        arm = {"scheme": "bptt", "neuron": regime}
        ratio = l["h_over_tau_s"].sel(neuron=regime)
        finest, coarse = int(l["bins"].max()), int(l["bins"].min())
        small = [int(b) for b in l["bins"].values if float(ratio.sel(bins=b)) <= 0.1 and int(b) != finest]
        sub = {}
        if small:
            sub["unaffected at h / tau_s <= 0.1"] = ("every", {
                f"{b} bins": _t(c, s, "unaffected", _paired_lrr(l, bins=b, **arm)) for b in small})
        sub[f"collapses at {coarse} bins (h / tau_s = {float(ratio.sel(bins=coarse)):.3g})"] = _t(
            c, s, "collapses", _paired_lrr(l, -1.0, bins=coarse, **arm))
        parts[label] = ("parts", sub)
    return Decision(("parts", parts), *_neuron_context(load, s))


def _noticeable_neuron(load: Loader, c, s) -> Decision:
    data, judged, note = _neuron(load, s.q, _BOTH)
    parts, n, text = {}, {}, []
    less = {d: tb.less_affected(data[d].finals, NEURON_DATASETS[d][1], table.LEARNED) for d in data}
    for d, regime, label, key in judged:
        b = less[d][f"{regime}_bins"]
        if not math.isfinite(b):
            raise NotDecidable(f"{label}: neither scheme learns at any bin count")
        n[f"{key}_bins"] = b
        n[f"{key}_h"] = float(data[d].finals["h_over_tau_s"].sel(neuron=regime, bins=int(b)))
        # less_affected: the spike-time scheme's change minus BPTT's; the claim's quantity is its negative
        parts[label] = _t(c, s, "more noticeable", _est(inf.paired, -less[d][f"{regime}_diff"]))
        text.append(f"{label}: read at {{{key}_bins:.0f}} bins (h / tau_s = {{{key}_h:.3g}})")
    return Decision(("parts", parts), n, "; ".join(text) + note)


DECIDERS: dict[str, Callable[[Loader, table.Declared, Settings], Decision]] = {
    "s000_hypothesis": _hypothesis("seed000"), "s000_decrease": _decrease, "s000_bats_baseline": _bats_baseline,
    "s000_bats_minimal": _minimal("seed000"), "s000_slayer": _slayer,
    "s000_hypothesis_shared": _hypothesis("shared"), "s000_bats_minimal_shared": _minimal("shared"),
    "s000_hypothesis_neuron": _hypothesis_neuron, "s000_decrease_neuron": _decrease_neuron,
    "s000_bats_minimal_neuron": _minimal_neuron, "s000_slayer_neuron": _slayer_neuron,
    "s000_noticeable_neuron": _noticeable_neuron,
    "s001_fig1": _fig1, "s001_fig2": _fig2, "s001_order": _order,
    "s001_similar": _similar, "s001_interpolation": _interpolation,
    "s001_high_order": _high_order, "s001_euler_time": _euler_time, "s001_piggyback": _piggyback,
    "s002_rate": _seed002_rate, "s002_ttfs": _seed002_ttfs,
    "s003_fewer_spikes": _fewer_spikes, "s003_temporal_accuracy": _temporal_accuracy, "s003_surrogate": _surrogate, "s003_surrogate_depth": _surrogate_depth,
    "s003_bptt_cost": _bptt_cost, "s003_dynamic": _dynamic, "s003_single_spike": _single_spike, "s003_latency": _latency,
    "nir_as_imported": _nir_as_imported, "nir_corrected": _nir_corrected,
}


# ------------------------------------------------------------------------------ the machinery
def decide(claim: table.Declared, load: Loader, s: Settings = Settings()) -> Decision | str:
    """The claim's decision (raw p-values), or the reason it is *not yet tested*."""
    fn = DECIDERS.get(claim.id)
    if fn is None:
        return ""  # the chapter column names the planned chapter
    try:
        return fn(load, claim, s)
    except FileNotFoundError as e:  # the deciding run is not in this profile or not made yet
        return f"its run is missing ({str(e).splitlines()[0]})"
    except NotDecidable as e:
        return f"its runs cannot decide it yet ({e})"


def decide_one(claim_id: str, load: Loader, s: Settings = Settings()) -> tuple[str, Tree | None]:
    """One claim decided alone, its own tests the family (Holm within them): ``(verdict, tree)``, or
    ``(reason, None)`` when it is not yet tested. For a chapter or a test; the findings table adjusts
    over every claim (:func:`decide_all`)."""
    d = decide(table.claim(claim_id), load, s)
    if not isinstance(d, Decision):
        return d or "not yet tested", None
    leaves = _leaves(d.tree)
    tree = _replace(d.tree, {p: t for (p, _), t in zip(leaves, inf.holm([t for _, t in leaves]))})
    return _verdict(tree), tree


def _leaves(tree: Tree, path=()) -> list:
    if isinstance(tree, inf.Tested):
        return [(path, tree)]
    return [x for k, sub in tree[1].items() for x in _leaves(sub, path + (k,))]


def _replace(tree: Tree, new: dict, path=()) -> Tree:
    if isinstance(tree, inf.Tested):
        return new[path]
    return (tree[0], {k: _replace(sub, new, path + (k,)) for k, sub in tree[1].items()})


def _verdict(tree: Tree) -> str:
    if isinstance(tree, inf.Tested):
        return inf.verdict_of(tree)
    return inf.combine([_verdict(sub) for sub in tree[1].values()], tree[0])


def _rescaled(tree: Tree, scale: float) -> Tree:
    return _replace(tree, {p: inf.judge(t.name, t.estimate, t.rule.scaled(scale)) for p, t in _leaves(tree)})


def decide_all(load: Loader, s: Settings = Settings(), base: dict | None = None) -> dict:
    """``{claim id: Decision | reason}`` for every claim, Holm-adjusted over the whole table (one
    family: every sampled test of every claim). ``base``: the declared settings' decisions to reuse
    where ``s`` changes only the tolerance or the claim reads no target."""
    out = {}
    for c in CLAIMS:
        if base is not None and isinstance(base.get(c.id), Decision) and (s.q == table.Q or not c.uses_q):
            out[c.id] = base[c.id]._replace(tree=_rescaled(base[c.id].tree, s.scale)) if s.scale != 1.0 else base[c.id]
        elif base is not None and not isinstance(base.get(c.id), Decision) and (s.q == table.Q or not c.uses_q):
            out[c.id] = base[c.id]
        else:
            out[c.id] = decide(c, load, s)
    flat = [(cid, p, t) for cid, d in out.items() if isinstance(d, Decision) for p, t in _leaves(d.tree)]
    adjusted = inf.holm([t for _, _, t in flat])
    new: dict = {}
    for (cid, p, _), t in zip(flat, adjusted):
        new.setdefault(cid, {})[p] = t
    return {cid: (d._replace(tree=_replace(d.tree, new[cid])) if isinstance(d, Decision) else d)
            for cid, d in out.items()}


def _fmt(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{x:.3g}"


def _family_alpha(decisions: dict) -> float:
    """The strictest level a test of this table must pass after Holm: ALPHA over the family's size."""
    m = sum(2 for d in decisions.values() if isinstance(d, Decision) for _, t in _leaves(d.tree) if not t.deterministic)
    return inf.ALPHA / max(m, 1)


def _leaf_text(path: tuple, t: inf.Tested, alpha: float) -> str:
    """One test in a line: its estimate with the 95% interval and its verdict; an undecided one with
    the sample that would decide it at the measured effect (p-values and power: :func:`tests_frame`)."""
    e = t.estimate
    v = inf.verdict_of(t)
    where = " / ".join(path) or t.name
    if t.deterministic:
        return f"{where}: {_fmt(e.value)} → {v}"
    text = f"{where}: {e.value:+.3g} [{e.lo:+.3g}, {e.hi:+.3g}] → {v}"
    if v == "undecided":
        pw = inf.power(t, alpha=alpha)
        unit = e.method.split(" over ")[-1].split(" (")[0].split()[-1] if " over " in e.method else "samples"
        text += (f" (about {pw['n_needed']:.0f} {unit} would decide it)" if math.isfinite(pw["n_needed"])
                 else " (censored runs: more of them cannot decide it, runs long enough to reach the target can)"
                 if e.may_be_high or e.may_be_low else f" (more than 5000 {unit} would be needed)")
    return text


def _tree_text(tree: Tree, alpha: float, path=()) -> list[str]:
    """One line per test; a group of more than three tests with one verdict in one line."""
    if isinstance(tree, inf.Tested):
        return [_leaf_text(path, tree, alpha)]
    leaves = _leaves(tree)
    verdicts = {inf.verdict_of(t) for _, t in leaves}
    if len(leaves) > 3 and len(verdicts) == 1 and all(len(p) == 1 for p, _ in leaves):
        ts = [t for _, t in leaves]
        lo, hi = min(t.estimate.lo for t in ts), max(t.estimate.hi for t in ts)
        return [f"{' / '.join(path) + ': ' if path else ''}all {len(ts)} tests ({leaves[0][0][0]} … {leaves[-1][0][0]}) "
                f"{verdicts.pop()}, every interval within [{lo:+.3g}, {hi:+.3g}]"]
    return [x for k, sub in tree[1].items() for x in _tree_text(sub, alpha, path + (k,))]


def _decision_text(d: Decision, alpha: float) -> str:
    return "; ".join(_tree_text(d.tree, alpha))


# ------------------------------------------------------------------------------- run and page
@dataclasses.dataclass(frozen=True)
class FindingsConfig(Config):
    """Fields: ``profile``: whose runs decide the claims (``"quick"`` or ``"full"``)."""

    profile: str = "quick"

    def validate(self) -> None:
        super().validate()

        self._check("profile", self.profile in PROFILES, f"one of {', '.join(PROFILES)}")


Config = FindingsConfig

SENSITIVITY = tuple(Settings(q=q) for q in table.QS_SENSITIVITY) + tuple(Settings(scale=f) for f in
                                                                         table.TOLERANCE_SCALES)


def _page(name: str, profile: str) -> str:
    """The book page that shows the run ``name``: itself, or for a sweep without a chapter of its own the
    first chapter in the book that aggregates it (``name`` unchanged when there is none)."""
    s = next((s for s in plan.SWEEPS if s.name == name), None)
    if s is None or s.chapter is not None:
        return name
    return next((r.name for r in plan.chapters_reading(name, profile) if profile not in r.in_progress), name)


def run(cfg: FindingsConfig, load: Loader | None = None) -> xr.Dataset:
    """The claims table (dim ``claim``), every test (dim ``test``), the sensitivity verdicts (dims
    ``claim`` x ``setting``) and the context numbers (dim ``number``)."""

    run_ids = {r.experiment: r.run_id for r in plan.planned(cfg.profile)}
    sweeps = {s.name for s in plan.sweeps(cfg.profile)}
    run_ids.update({name: cfg.profile for name in sweeps})  # a sweep's chapter: runs/<sweep>/<profile>
    used: dict[str, str] = {}
    dirty: set[str] = set()  # the runs read that were made from a modified tree
    cache: dict[str, Run] = {}

    def default_load(experiment: str) -> Run:
        if experiment in cache:
            return cache[experiment]
        if experiment not in run_ids:
            if any(s.name == experiment and cfg.profile in s.in_progress for s in plan.SWEEPS):
                raise FileNotFoundError(f"the sweep {experiment} is still being made, point by point")
            raise FileNotFoundError(f"no {experiment} run in the {cfg.profile} profile")
        if experiment in sweeps:  # every seed is a point: the sweep's results, summarised over seeds
            r = sweep_run(experiment, cfg.profile)
            ds = r.results
            metas = [p.get("provenance", {}) for p in json.loads(ds.attrs.get("points", "{}")).values()]
            used[experiment] = ",".join(sorted({(m.get("git_commit") or "")[:12] for m in metas} - {""}))
            dirty.update(f"{experiment}/{cfg.profile}/{p}" for p in ds.attrs.get("dirty", []))
        else:
            r = runs.load(experiment, run_ids[experiment])
            used[experiment] = (r.meta.get("git_commit") or "")[:12]
            if r.meta.get("git_dirty"):
                dirty.add(f"{experiment}/{run_ids[experiment]}")
        cache[experiment] = r
        return r

    loader = load or default_load
    base = decide_all(loader, Settings())
    variants = {s.label: decide_all(loader, s, base) for s in SENSITIVITY}
    alpha = _family_alpha(base)

    rows, tests, numbers = [], [], []
    for c in CLAIMS:
        d = base[c.id]
        chapter = (f"runs/{page}/{run_ids[page]}/notebook" if (page := _page(c.chapter, cfg.profile)) in run_ids
                   else "")
        if isinstance(d, Decision):
            verdict, evidence = _verdict(d.tree), d.context.format(**d.numbers) + ". " + _decision_text(d, alpha)
            numbers += [(c.id, k, float(x)) for k, x in d.numbers.items()]
            for p, t in _leaves(d.tree):
                pw = inf.power(t, alpha=alpha)
                tests.append((c.id, " / ".join(p) or t.name, t.estimate.value, t.estimate.lo, t.estimate.hi,
                              t.p_for, t.p_against, t.p_for_adj, t.p_against_adj, inf.verdict_of(t),
                              t.estimate.method, t.rule.describe("{:.3g}"), pw["detectable"], pw["n_needed"]))
        else:
            verdict, evidence = "not yet tested", d
        sens = [(_verdict(v[c.id].tree) if isinstance(v[c.id], Decision) else "not yet tested") for v in variants.values()]
        fragile = verdict != "not yet tested" and any(x != verdict for x in sens)
        rows.append((c.id, c.source, c.wording, verdict, evidence, chapter, PLANNED.get(c.chapter, ""),
                     c.tolerances(), c.quantity, c.test, fragile, *sens))
    cols = list(zip(*rows))
    tcols = list(zip(*tests)) if tests else [[] for _ in range(14)]
    n_claim, n_name, n_value = (list(x) for x in zip(*numbers)) if numbers else ([], [], [])
    judged = [c.id for c, v in zip(CLAIMS, cols[3]) if v != "not yet tested"]
    return xr.Dataset(
        {"source": ("claim", list(cols[1])), "wording": ("claim", list(cols[2])),
         "verdict": ("claim", list(cols[3])), "evidence": ("claim", list(cols[4])),
         "chapter": ("claim", list(cols[5])), "planned_chapter": ("claim", list(cols[6])),
         "tolerance": ("claim", list(cols[7])), "quantity": ("claim", list(cols[8])),
         "test_design": ("claim", list(cols[9])), "fragile": ("claim", np.asarray(cols[10], dtype=bool)),
         "sensitivity": (("claim", "setting"), np.array([list(r[11:]) for r in rows], dtype=object).astype(str)),
         "test_claim": ("test", list(tcols[0])), "test_name": ("test", list(tcols[1])),
         **{k: ("test", np.asarray(tcols[i], dtype=float)) for i, k in enumerate(
             ("estimate", "lo", "hi", "p_for", "p_against", "p_for_adj", "p_against_adj"), start=2)},
         "test_verdict": ("test", list(tcols[9])), "test_method": ("test", list(tcols[10])),
         "test_rule": ("test", list(tcols[11])),
         "detectable": ("test", np.asarray(tcols[12], dtype=float)),
         "n_needed": ("test", np.asarray(tcols[13], dtype=float)),
         "number_claim": ("number", n_claim), "number_name": ("number", n_name),
         "number_value": ("number", np.asarray(n_value, dtype=float))},
        coords={"claim": list(cols[0]), "setting": list(variants)},
        attrs={"title": "Findings", "profile": cfg.profile, "alpha": inf.ALPHA, "power": inf.POWER,
               "alpha_strictest": alpha,
               "q": table.Q, "declared": table.DECLARED,
               "family": "every sampled test of every claim in this table (Holm, two one-sided p-values per test)",
               "declarations": json.dumps({k: v for k, v in table.digests().items() if k in judged}, sort_keys=True),
               "deciding_runs": ", ".join(f"{e}/{run_ids[e]}@{used[e]}" for e in sorted(used)),
               "dirty_runs": json.dumps(sorted(dirty))},
    )


def provenance(ds: xr.Dataset) -> str:
    """A Markdown warning naming the runs read by the findings that were made from a modified tree
    (``attrs["dirty_runs"]``); empty when there are none (or for a table made before it was recorded)."""
    return dirty_runs_note(json.loads(ds.attrs.get("dirty_runs", "[]")))


def summarize(ds: xr.Dataset) -> dict:
    out = {"n_claims": int(ds.sizes["claim"]), "n_tests": int(ds.sizes.get("test", 0)),
           "n_fragile": int(ds["fragile"].sum()) if "fragile" in ds else 0,
           "alpha_strictest": float(ds.attrs.get("alpha_strictest", math.nan)),
           "q": float(ds.attrs.get("q", math.nan)), **table.settings()}
    for v in VERDICTS:
        out["n_" + v.replace(" ", "_")] = int((ds["verdict"] == v).sum())
    for c, k, x in zip(ds["number_claim"].values, ds["number_name"].values, ds["number_value"].values):
        out[f"{c}_{k}"] = float(x)
    return out


def tests_frame(ds: xr.Dataset):
    """Every test of the table as a :class:`pandas.DataFrame` (one row per test, rounded for reading)."""
    cols = {"claim": "test_claim", "test": "test_name", "estimate": "estimate", "lo": "lo", "hi": "hi",
            "p for": "p_for", "p against": "p_against", "Holm p for": "p_for_adj", "Holm p against": "p_against_adj",
            "verdict": "test_verdict", "rule": "test_rule", "detectable": "detectable", "n to decide": "n_needed",
            "method": "test_method"}
    df = ds[list(cols.values())].to_dataframe().rename(columns={v: k for k, v in cols.items()})
    return df.reset_index(drop=True).round({"estimate": 3, "lo": 3, "hi": 3, "detectable": 3}).style.format(
        {k: "{:.2g}" for k in ("p for", "p against", "Holm p for", "Holm p against")}).hide(axis="index")


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _verdict_cell(ds: xr.Dataset, i: int) -> str:
    v = f"**{ds['verdict'].values[i]}**"
    return v + (" (fragile)" if "fragile" in ds and bool(ds["fragile"].values[i]) else "")


def markdown_table(ds: xr.Dataset) -> str:
    """The claims table in MyST Markdown: source, claim (quoted), verdict, what decides it, chapter
    (the tolerances: :func:`tolerances_markdown`; every p-value: :func:`tests_frame`)."""
    lines = ["| source | claim (the source's words) | verdict | what decides it (estimate [95% interval] → verdict) | chapter |",
             "|---|---|---|---|---|"]
    for i in range(ds.sizes["claim"]):
        r = {k: str(ds[k].values[i]) for k in ("source", "wording", "evidence", "chapter", "planned_chapter")}
        chapter = f"{{doc}}`/{r['chapter']}`" if r["chapter"] else f"{r['planned_chapter']} (planned)"
        lines.append(f"| {SOURCES[r['source']]} | “{_cell(r['wording'])}” | {_verdict_cell(ds, i)} | "
                     f"{_cell(r['evidence']) or '–'} | {chapter} |")
    return "\n".join(lines) + "\n"


def tolerances_markdown() -> str:
    """The claims table's declarations as a Markdown table: each claim's quantity and test, and each
    rule with its bound and one-line rationale (declared before the runs that judge them)."""
    lines = ["| claim | quantity (positive supports the claim) | test | rule: bound | rationale |", "|---|---|---|---|---|"]
    for c in CLAIMS:
        for k, rule in c.rules.items():
            lines.append(f"| `{c.id}` | {_cell(c.quantity)} | {_cell(c.test)} | {k}: {rule.describe('{:.3g}')} | "
                         f"{_cell(c.why[k])} |")
    return "\n".join(lines) + "\n"


def chapter_markdown(ds: xr.Dataset, claim_ids) -> str:
    """The rows of the findings table (a findings run's results) for a chapter's claims: each verdict
    with what decides it, as the findings page states it (a chapter quotes, never decides)."""
    index = {c: i for i, c in enumerate(map(str, ds["claim"].values))}
    out = []
    for cid in claim_ids:
        i = index[cid]
        out.append(f"- “{_cell(ds['wording'].values[i])}” {_verdict_cell(ds, i)}. {_cell(ds['evidence'].values[i])}. "
                   f"*Tolerance:* {_cell(ds['tolerance'].values[i])}.")
    return "\n".join(out) + "\n"


def sensitivity_table(ds: xr.Dataset) -> str:
    """The sensitivity appendix: each claim's verdict under the declared settings and the neighbouring
    targets and tolerances; fragile rows (a verdict that flips) marked."""
    settings = [str(s) for s in ds["setting"].values]
    lines = ["| claim | declared | " + " | ".join(settings) + " |", "|---|---|" + "---|" * len(settings)]
    for i, cid in enumerate(map(str, ds["claim"].values)):
        row = [str(x) for x in ds["sensitivity"].values[i]]
        lines.append(f"| `{cid}` | {_verdict_cell(ds, i)} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def glue_numbers(run_: Run) -> None:
    """Glue the run's summary (verdict counts and every context number) for the page's prose."""
    from myst_nb import glue  # optional: myst_nb is there only where the book's notebooks run

    for key, value in run_.summary.items():
        glue(key, value, display=False)
