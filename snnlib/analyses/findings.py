"""The findings chapter: every claim of the four source studies, this study's verdict, the numbers
that decide it (read from the committed runs) and the chapter that measures it.

A :class:`Claim` quotes its source and names its chapter; ``decide`` (when a committed run can
decide it) reads the runs and returns a :class:`Verdict` computed from their numbers, never
typed. A claim whose chapter does not exist yet has no ``decide`` and is *not yet tested*. Each
new chapter adds the ``decide`` of the claims it tests.

The run ``findings/<profile>`` (notebook ``findings.ipynb``) stores the table as an
:class:`xarray.Dataset`, so the page is regenerated from ``runs/`` like every other page.
"""

from __future__ import annotations

import dataclasses
import json
import math
import weakref
from typing import Callable, NamedTuple

import numpy as np
import xarray as xr

from snnlib.analyses import direct, transfer
from snnlib.analyses import timebins as tb
from snnlib.config import Config
from snnlib.metrics import mean_ci, mean_diff_ci, prediction_interval
from snnlib.report import dirty_runs_note
from snnlib.store import runs
from snnlib.store.runs import Run
from snnlib.study import plan
from snnlib.study.loading import load_sweep
from snnlib.study.plan import PROFILES
from snnlib.training.driver import summarize as summarize_training

__all__ = ["VERDICTS", "Claim", "Verdict", "CLAIMS", "FindingsConfig", "Config", "assess", "run",
           "provenance", "summarize", "markdown_table", "glue_numbers"]

NAME = "findings"
VERDICTS = ("confirmed", "refuted", "qualified", "not yet tested")
SOURCES = {"000": "Chalakova 2024 (poster)", "001": "Guichard 2024 (poster)",
           "002": "Gusev & Abramov 2023 (slides)", "003": "Nguyen 2023 (survey slides)"}
#: chapters that do not exist yet, by the name the table gives them
PLANNED = {"timebins-mnist-bptt": "time bins and convergence rate", "transfer": "transfer of weights",
           "direct": "direct training of integrated networks",
           "single-spike": "single-spike (time-to-first-spike output) training against multi-spike: convergence"}

Loader = Callable[[str], Run]  # experiment name -> its run of the profile


class Verdict(NamedTuple):
    verdict: str
    numbers: dict  # name -> value, glued as ``<claim id>_<name>``
    evidence: str  # format string over ``numbers``


@dataclasses.dataclass(frozen=True)
class Claim:
    id: str
    source: str  # key of SOURCES
    wording: str  # the source's words
    chapter: str  # an experiment (its run is the chapter) or a key of PLANNED
    decide: Callable[[Loader], Verdict] | None = None


# --------------------------------------------------------------------------------- the deciders
def _pct(v):
    return 100 * float(v)


def _sign_verdict(lo: float, hi: float, positive: str, negative: str, neither: str = "qualified") -> str:
    """``positive`` when the interval [lo, hi] lies above 0, ``negative`` below, else ``neither``."""
    return positive if lo > 0 else negative if hi < 0 else neither


def _interpolation_below_threshold(load: Loader) -> Verdict:
    s = load("single-neuron").summary
    n = {r: s[f"fig1_max_v_minus_theta_euler_{r}"] for r in ("snap", "linear", "newton")}
    ok = n["linear"] <= 1e-9 and n["newton"] <= 1e-9
    return Verdict("confirmed" if ok else "refuted", n,
                   "largest V − θ with forward-Euler: {snap:.3f} snapped to the grid, {linear:.4f} with linear "
                   "and {newton:.4f} with Newton interpolation")


def _split_point_matters(load: Loader) -> Verdict:
    ds = load("single-neuron").results
    end = ds["fig2_V"].isel(time2=-1)
    exact = float(ds["fig2_exact"].isel(time2=-1))
    n = {"spread": float(end.max() - end.min()), "unsplit_minus_exact": float(end.sel(split=-1)) - exact,
         "step_ms": float(ds["time2"].max() - ds["time2"].min())}
    return Verdict("confirmed" if n["spread"] > 1e-9 else "refuted", n,
                   "one PS(5) step of {step_ms:.0f} ms: the end value spans {spread:.3f} over the split "
                   "points; unsplit minus exact: {unsplit_minus_exact:.3f}")


def _higher_order_more_accurate(load: Loader) -> Verdict:
    s = load("single-neuron").summary
    k = max(int(key.rsplit("order", 1)[1]) for key in s if key.startswith("v_slope_order"))
    n = {"v_slope_1": s["v_slope_order1"], "v_slope_k": s[f"v_slope_order{k}"], "k": k,
         "linear_k": s[f"spike_slope_order{k}_linear"], "newton_k": s[f"spike_slope_order{k}_newton"]}
    v_rises = all(s[f"v_slope_order{j + 1}"] > s[f"v_slope_order{j}"] + 0.5 for j in range(1, k))
    linear_caps = n["linear_k"] < k - 0.5
    verdict = "refuted" if not v_rises else "qualified" if linear_caps else "confirmed"
    return Verdict(verdict, n, "error order of V: {v_slope_1:.2f} (Euler) to {v_slope_k:.2f} (order {k}); "
                   "of spike times at order {k}: {linear_k:.2f} with linear interpolation, {newton_k:.2f} "
                   "with Newton")


def _accuracies(run: Run):
    return np.asarray(run.summary["final_test_accuracy_per_seed"], dtype=float)


def _rate_vs_ttfs(load: Loader, sign: int) -> Verdict:
    """``sign = +1``: the claim is that TTFS is more accurate than rate coding; ``-1``: less."""
    rate, ttfs = load("encoding-rate"), load("encoding-ttfs")
    d, h = mean_diff_ci(_accuracies(ttfs), _accuracies(rate))
    n = {"rate": _pct(rate.summary["final_test_accuracy"]), "rate_ci": _pct(rate.summary["final_test_accuracy_ci95"]),
         "ttfs": _pct(ttfs.summary["final_test_accuracy"]), "ttfs_ci": _pct(ttfs.summary["final_test_accuracy_ci95"]),
         "diff": _pct(d), "diff_ci": _pct(h), "epochs": rate.summary["epochs"]}
    verdict = _sign_verdict(*sorted((sign * (d - h), sign * (d + h))), "confirmed", "refuted")
    return Verdict(verdict, n, "one Leaky 784-1000-10 network, {epochs} epochs, this study's losses: test accuracy "
                   "rate {rate:.2f} ± {rate_ci:.2f} %, TTFS {ttfs:.2f} ± {ttfs_ci:.2f} %; TTFS − rate "
                   "{diff:+.2f} ± {diff_ci:.2f} points")


def _published(run: Run) -> tuple[dict, bool]:
    """A seed-002 run's accuracy against the published single run: numbers, and whether the published
    value lies in the 95% prediction interval of one more run of the recipe."""
    acc = _accuracies(run)
    lo, hi = prediction_interval(acc)
    pub = float(run.summary["published_test_accuracy"])
    n = {"published": _pct(pub), "acc": _pct(run.summary["final_test_accuracy"]),
         "acc_ci": _pct(run.summary["final_test_accuracy_ci95"]), "pi_lo": _pct(lo), "pi_hi": _pct(hi),
         "n_seeds": len(acc)}
    return n, bool(lo <= pub <= hi)


def _where(inside: bool, n: dict) -> str:
    return "inside" if inside else ("below" if n["published"] < n["pi_lo"] else "above")


def _seed002_rate(load: Loader) -> Verdict:
    n, inside = _published(load("seed002-rate"))
    return Verdict("confirmed" if inside else "refuted", n,
                   "snnTorch's tutorial 5 rerun with snnTorch (constant-current input, one epoch, {n_seeds:.0f} "
                   "seeds): test accuracy {acc:.2f} ± {acc_ci:.2f} %; one more run falls in {pi_lo:.2f}–{pi_hi:.2f} % "
                   f"(95% prediction interval): the published {{published:.2f}} % lies {_where(inside, n)} it")


def _seed002_ttfs(load: Loader) -> Verdict:
    rate, ttfs = load("seed002-rate"), load("seed002-ttfs")
    n, inside = _published(ttfs)
    d, h = mean_diff_ci(_accuracies(ttfs), _accuracies(rate))
    n.update(rate=_pct(rate.summary["final_test_accuracy"]), diff=_pct(d), diff_ci=_pct(h))
    ranked = _sign_verdict(d - h, d + h, "confirmed", "refuted", "not resolved")
    # two parts: the number (inside the prediction interval) and the ranking (TTFS above rate)
    holds = (inside, ranked == "confirmed")
    verdict = ("refuted" if ranked == "refuted" or not any(holds) else "confirmed" if all(holds) else "qualified")
    evidence = ("the tutorial's recipe with TTFS input (`spikegen.latency` with tutorial 1's options; the seed "
                "gives none) and `ce_temporal_loss`, {n_seeds:.0f} seeds: TTFS {acc:.2f} ± {acc_ci:.2f} % against "
                f"rate {{rate:.2f}} %, TTFS − rate {{diff:+.2f}} ± {{diff_ci:.2f}} points (ranking {ranked}); the "
                f"published {{published:.2f}} % lies {_where(inside, n)} the 95% prediction interval "
                "{pi_lo:.2f}–{pi_hi:.2f} %")
    try:  # the other setup, for context: this study's encoding runs
        other = _rate_vs_ttfs(load, +1)
        n.update(study_diff=other.numbers["diff"], study_diff_ci=other.numbers["diff_ci"])
        evidence += "; this study's encoding setup gives TTFS − rate {study_diff:+.2f} ± {study_diff_ci:.2f} points"
    except FileNotFoundError:
        pass
    return Verdict(verdict, n, evidence)


def _ttfs_fewer_spikes(load: Loader) -> Verdict:
    rate, ttfs = load("encoding-rate").summary, load("encoding-ttfs").summary
    d, h = mean_diff_ci(rate["final_hidden_spikes_per_seed"], ttfs["final_hidden_spikes_per_seed"])
    n = {"rate": rate["final_hidden_spikes"], "ttfs": ttfs["final_hidden_spikes"], "diff": d, "diff_ci": h}
    return Verdict(_sign_verdict(d - h, d + h, "confirmed", "refuted"), n,
                   "hidden spikes per sample of a trained (not converted) network: rate {rate:.0f}, TTFS "
                   "{ttfs:.0f}; rate − TTFS {diff:.0f} ± {diff_ci:.0f}")


def _surrogate_degrades(load: Loader) -> Verdict:
    bptt, exact = load("bptt-mnist-ttfs"), load("spiketime-mnist")
    d, h = mean_diff_ci(_accuracies(exact), _accuracies(bptt))
    n = {"bptt": _pct(bptt.summary["final_test_accuracy"]), "exact": _pct(exact.summary["final_test_accuracy"]),
         "diff": _pct(d), "diff_ci": _pct(h)}
    return Verdict(_sign_verdict(d - h, d + h, "confirmed", "refuted"), n,
                   "784-800-10 on MNIST (TTFS): BPTT with a surrogate {bptt:.2f} %, exact spike-time gradients "
                   "{exact:.2f} %; exact − surrogate {diff:+.2f} ± {diff_ci:.2f} points")


def _bptt_memory(load: Loader) -> Verdict:
    s = load("performance").summary
    n = {"snntorch": s["snntorch_peak_mib_mnist_ttfs"], "snnlib": s["bptt_peak_mib_mnist_ttfs"],
         "spiketime": s["spiketime_training_peak_mib_spiketime"],
         "snntorch_b50": s["spiketime_training_peak_mib_snntorch"]}
    verdict = "confirmed" if min(n["snntorch"], n["snnlib"]) > n["spiketime"] else "qualified"
    return Verdict(verdict, n, "peak training memory (MiB, 784-800-10, 100 steps): BPTT {snntorch:.0f} in "
                   "snnTorch and {snnlib:.0f} in snnlib (batch 64); exact spike-time step {spiketime:.0f} "
                   "against snnTorch's {snntorch_b50:.0f} (batch 50)")


def _bptt_on_events(load: Loader) -> Verdict:
    r = load("bptt-nmnist").summary
    m, h = mean_ci(r["final_test_accuracy_per_seed"])
    n = {"acc": _pct(m), "acc_ci": _pct(h), "chance": 10.0}
    return Verdict("confirmed" if m - h > 0.1 else "refuted", n,
                   "BPTT on the N-MNIST event streams: test accuracy {acc:.1f} ± {acc_ci:.1f} % (chance {chance:.0f} %)")


#: the time-bin sweeps' rates per loader: six claims read them, and their exponential fits are costly
_TIMEBINS_RATES: "weakref.WeakKeyDictionary[Loader, dict]" = weakref.WeakKeyDictionary()


def _timebins_rates(load: Loader) -> dict:
    """``{dataset: rates}`` of the eight time-bin sweeps (:func:`snnlib.analyses.timebins.rates`),
    computed once per loader; a missing sweep raises (and caches nothing)."""
    if load in _TIMEBINS_RATES:
        return _TIMEBINS_RATES[load]
    out = {d: tb.rates(*tb.arms({k: load(name).results for k, name in tb.sweep_names(d).items()}))
           for d in tb.DATASETS}
    _TIMEBINS_RATES[load] = out
    return out


def _timebins(load: Loader, which: str) -> Verdict:
    """Seed 000's claims from the eight time-bin sweeps (:mod:`snnlib.analyses.timebins`): the
    verdict of each dataset, the same on both or *qualified*."""
    keys = {"hypothesis": ("spiketime_seed000_dcr_coarse", "bptt_seed000_dcr_coarse"),
            "decrease": ("spiketime_seed000_slope", "bptt_seed000_slope"),
            "bats_baseline": ("spiketime_seed000_gain_75", "spiketime_seed000_gain_150"),
            "bats_minimal": ("spiketime_seed000_dcr_worst",),
            "slayer": ("bptt_seed000_dcr_small", "bptt_seed000_acc_coarse", "bptt_bench_acc")}[which]
    numbers, parts, verdicts = {}, [], []
    for d, r in _timebins_rates(load).items():
        c = tb.claims(r)
        verdict, reason = tb.verdicts(c)[which]
        verdicts.append(verdict)
        numbers.update({f"{d}_{k}": c[k] for k in keys if k in c})
        parts.append(f"{d}: {verdict}, " + reason.replace("{", "{{").replace("}", "}}"))
    return Verdict(verdicts[0] if len(set(verdicts)) == 1 else "qualified", numbers, "; ".join(parts))


def _bptt_fewer_steps(load: Loader) -> Verdict:
    """Survey: fewer BPTT timesteps, lower latency and energy. Read from the time-bin sweeps at the
    coarsest step where BPTT's accuracy holds (:func:`snnlib.analyses.timebins.holds_to`): the
    training wall time per epoch (a proxy for latency: the window is fixed, and validation passes
    are included) and the hidden spikes per sample (synaptic events, the part of the energy that the
    number of steps does not fix), as ratios to the 1 ms grid paired by seed (geometric means, 95%
    intervals on the log ratios). On the shared model, where the number of simulated steps really
    falls; seed 000's step skipping keeps the 1 ms recurrence and is reported beside it. Confirmed
    when both ratios' intervals lie below 1 on every dataset, refuted when none does and one lies
    above 1, else qualified."""
    numbers, parts, falls, rises = {}, [], [], []
    for d, r in _timebins_rates(load).items():
        c = tb.cost_at_holds(r, tb.holds_to(r))
        if not all(math.isfinite(c[f"shared_{q}_ratio{x}"]) for q in ("time", "spike") for x in ("", "_lo", "_hi")):
            raise FileNotFoundError(f"{d}: the timings or a point of the time-bin sweeps are missing")
        numbers.update({f"{d}_{k}": v for k, v in c.items()})
        for q in ("time", "spike"):
            falls.append(c[f"shared_{q}_ratio_hi"] < 1)
            rises.append(c[f"shared_{q}_ratio_lo"] > 1)

        def ratio(disc, q):
            k = f"{d}_{disc}_{q}_ratio"
            return f"{{{k}:.2f}} ({{{k}_lo:.2f}}-{{{k}_hi:.2f}})"

        parts.append(f"{d} at {{{d}_shared_bins:.0f}} bins: training time per epoch {ratio('shared', 'time')} x the "
                     f"1 ms grid's, hidden spikes {ratio('shared', 'spike')} x (seed 000's step skipping at "
                     f"{{{d}_seed000_bins:.0f}} bins: {ratio('seed000', 'time')} x and {ratio('seed000', 'spike')} x)")
    verdict = "confirmed" if all(falls) else "refuted" if not any(falls) and any(rises) else "qualified"
    n = len(tb.DATASETS)
    head = (f"significantly lower on the shared grid: training time on {sum(falls[0::2])} of {n} datasets, spikes "
            f"on {sum(falls[1::2])} of {n}. BPTT on the shared grid, at the coarsest step whose accuracy stays "
            f"within {tb.HOLD_POINTS:g} points of the 1 ms grid's: ")
    return Verdict(verdict, numbers, head.replace("{", "{{").replace("}", "}}") + "; ".join(parts))


def _direct(load: Loader, which: str) -> Verdict:
    """Seed 001's claims on direct training from the three direct sweeps
    (:mod:`snnlib.analyses.direct`)."""
    c = direct.claims(direct.metrics({name: load(name).results for name in direct.SWEEPS}))
    verdict, reason = direct.verdicts(c)[which]
    if which == "piggyback":
        keys = ("pig_minus_adj_test", "pig_minus_adj_test_ci", "pig_over_adj_n_q", "pig_over_adj_epoch",
                "pig_over_adj_time_to_q", "pig_over_adj_time_to_q_lo", "pig_over_adj_time_to_q_hi",
                "large_dt", "pig_cosine_large", "adj_cosine_large")
        text = (": piggyback minus adjusted test accuracy {pig_minus_adj_test:+.2f} ± {pig_minus_adj_test_ci:.2f} "
                "points; piggyback / adjusted: {pig_over_adj_n_q:.2f} x the samples and {pig_over_adj_epoch:.2f} x "
                "the time per epoch, {pig_over_adj_time_to_q:.2f} x ({pig_over_adj_time_to_q_lo:.2f}-"
                "{pig_over_adj_time_to_q_hi:.2f}) the wall time to the target; gradient cosine with the exact one "
                "at {large_dt:g} ms: {pig_cosine_large:.3f} (piggyback), {adj_cosine_large:.3f} (adjusted)")
    elif which == "high_order":
        keys = ("large_dt", "high_minus_euler_test", "high_minus_euler_test_ci", "high_drop_large",
                "high_over_euler_spikes", "high_over_euler_n_q")
        text = (": adjusted at {large_dt:g} ms, highest order minus Euler {high_minus_euler_test:+.2f} ± "
                "{high_minus_euler_test_ci:.2f} points, {high_drop_large:+.2f} against the exact scheme; "
                "{high_over_euler_spikes:.2f} x Euler's hidden spikes, {high_over_euler_n_q:.2f} x its samples "
                "to the target")
    else:
        keys = ("euler_over_high_epoch", "euler_over_high_epoch_lo", "euler_over_high_epoch_hi")
        text = (": Euler's wall time per epoch is {euler_over_high_epoch:.2f} x the highest order's "
                "({euler_over_high_epoch_lo:.2f}-{euler_over_high_epoch_hi:.2f}, both gradients, every step)")
    return Verdict(verdict, {k: c[k] for k in keys}, reason + text)


def _transfer(load: Loader, which: str) -> Verdict:
    """Seed 001's transfer claims from the transfer sweep (:mod:`snnlib.analyses.transfer`)."""
    c = transfer.claims(load("transfer").results)
    verdict, reason = transfer.verdicts(c)[which]
    if which == "similar":
        n = {k: c[k] for k in ("small_dt", "large_dt", "similar_worst_drop", "large_worst_drop", "exact_accuracy")}
        return Verdict(verdict, n, reason + ": the worst mean drop of PS(k ≥ 2) with interpolation against the "
                       "analytic network ({exact_accuracy:.2f} %) is {similar_worst_drop:+.2f} points up to "
                       "{small_dt:g} ms and {large_worst_drop:+.2f} at {large_dt:g} ms (MNIST)")
    n = {k: c[k] for k in ("large_dt", "interp_gain_mnist", "interp_gain_mnist_ci", "euler_snap_hidden",
                           "euler_linear_hidden", "exact_hidden")}
    return Verdict(verdict, n, reason + ": Euler at {large_dt:g} ms, linear minus snap {interp_gain_mnist:+.2f} ± "
                   "{interp_gain_mnist_ci:.2f} points; hidden spikes per digit {euler_snap_hidden:.0f} (snap), "
                   "{euler_linear_hidden:.0f} (linear), {exact_hidden:.0f} (analytic)")


# ---------------------------------------------------------------------------------- the claims
CLAIMS: tuple[Claim, ...] = (
    Claim("s000_hypothesis", "000", "The convergence rate will decrease in both models as the timestep size "
          "grows, but it will be more noticeable in spike-based models as they depend on exact spiking times.",
          "timebins-mnist-bptt",
          lambda load: _timebins(load, "hypothesis")),
    Claim("s000_decrease", "000", "The accuracy and convergence rate decrease with timebins. [BATS and SLAYER]",
          "timebins-mnist-bptt",
          lambda load: _timebins(load, "decrease")),
    Claim("s000_bats_baseline", "000", "The model performs better than baseline for timebins 75 and 150 "
          "[BATS].", "timebins-mnist-bptt",
          lambda load: _timebins(load, "bats_baseline")),
    Claim("s000_bats_minimal", "000", "Time-discretization minimally affects the convergence rate of the "
          "spike-based BATS model for any timebin size.", "timebins-mnist-bptt",
          lambda load: _timebins(load, "bats_minimal")),
    Claim("s000_slayer", "000", "The BPTT SLAYER model is unaffected for small timesteps, but appears to "
          "self-destruct for large ones.", "timebins-mnist-bptt",
          lambda load: _timebins(load, "slayer")),
    Claim("s001_fig1", "001", "With interpolation, the potential never goes above the threshold. [Fig. 1]",
          "single-neuron", _interpolation_below_threshold),
    Claim("s001_fig2", "001", "Order 5 integration with Parker-Sochacki for a single neuron. No inputs or "
          "outputs are produced so the integration should have the same result no matter the way it is done. "
          "This does not hold when we change the intermediate integration point. [Fig. 2]",
          "single-neuron", _split_point_matters),
    Claim("s001_order", "001", "Previous work finds increased simulation accuracy with higher order "
          "integrations.", "single-neuron", _higher_order_more_accurate),
    Claim("s001_similar", "001", "Numerically integrated networks perform similarly to their analytical "
          "counterpart.", "transfer", lambda load: _transfer(load, "similar")),
    Claim("s001_interpolation", "001", "Spike time interpolation helps stabilize networks with high activity.",
          "transfer", lambda load: _transfer(load, "interpolation")),
    Claim("s001_high_order", "001", "High order integrations work robustly over large time delta choices. They "
          "find sparser solutions, converge faster and have higher accuracies in general.", "direct",
          lambda load: _direct(load, "high_order")),
    Claim("s001_euler_time", "001", "First order (forward-Euler) integrations benefit from lower training "
          "times.", "direct", lambda load: _direct(load, "euler_time")),
    Claim("s001_piggyback", "001", "Piggybacking backpropagation has un-favourable training times, despite "
          "similar accuracy results.", "direct", lambda load: _direct(load, "piggyback")),
    Claim("s002_rate", "002", "The authors of the tutorial got 93.87% test accuracy (with their rate "
          "encoding).", "seed002-rate", _seed002_rate),
    Claim("s002_ttfs", "002", "We got 95.35% test accuracy (with TTFS encoding). [above the tutorial's rate "
          "coding]", "seed002-ttfs", _seed002_ttfs),
    Claim("s003_fewer_spikes", "003", "[Temporal coding] Reduce the number of spikes compared to rate-coding.",
          "encoding-ttfs", _ttfs_fewer_spikes),
    Claim("s003_temporal_accuracy", "003", "[Temporal coding] Less robust to noise in hardware implementation, lower "
          "accuracy compared to ratecoding.",
          "encoding-ttfs", lambda load: _rate_vs_ttfs(load, -1)),
    Claim("s003_surrogate", "003", "[Spatiotemporal approach] approximate the nondifferentiable spiking "
          "activity with a surrogate gradient: smoothing the spiking activity, degrades the accuracy.",
          "bptt-mnist-ttfs", _surrogate_degrades),
    Claim("s003_bptt_cost", "003", "Cost of BPTT is huge. Require storing all actiavtions [sic] & computing "
          "gradients all timesteps.", "performance", _bptt_memory),
    Claim("s003_dynamic", "003", "Spatiotemporal approaches are compatible with dynamic input data.",
          "bptt-nmnist", _bptt_on_events),
    Claim("s003_single_spike", "003", "[Single-spike approach] Fewer spike => Slow backpropagation => Slow "
          "convergence in loss minimization.", "single-spike"),
    Claim("s003_latency", "003", "BPTT reduce number of timestep => reduce latency & energy.", "timebins-mnist-bptt",
          _bptt_fewer_steps),
)


def assess(claim: Claim, load: Loader) -> Verdict:
    """The claim's verdict from the runs; *not yet tested* when no chapter or run decides it."""
    if claim.decide is None:
        return Verdict("not yet tested", {}, "")  # the chapter column names the planned chapter
    try:
        v = claim.decide(load)
    except FileNotFoundError as e:  # the deciding run is not in this profile or not made yet
        return Verdict("not yet tested", {}, f"its run is missing ({str(e).splitlines()[0]})")
    if v.verdict not in VERDICTS:
        raise ValueError(f"{claim.id}: verdict {v.verdict!r} is not one of {VERDICTS}")
    return v


# ------------------------------------------------------------------------------- run and page
@dataclasses.dataclass(frozen=True)
class FindingsConfig(Config):
    """Fields: ``profile``: whose runs decide the claims (``"quick"`` or ``"full"``)."""

    profile: str = "quick"

    def validate(self) -> None:
        super().validate()

        self._check("profile", self.profile in PROFILES, f"one of {', '.join(PROFILES)}")


Config = FindingsConfig


def run(cfg: FindingsConfig, load: Loader | None = None) -> xr.Dataset:
    """The claims table (dim ``claim``) and every deciding number (dim ``number``)."""

    run_ids = {r.experiment: r.run_id for r in plan.planned(cfg.profile)}
    sweeps = {s.name for s in plan.sweeps(cfg.profile)}
    run_ids.update({name: cfg.profile for name in sweeps})  # a sweep's chapter: runs/<sweep>/<profile>
    used: dict[str, str] = {}
    dirty: set[str] = set()  # the runs read that were made from a modified tree

    def default_load(experiment: str) -> Run:
        if experiment not in run_ids:
            raise FileNotFoundError(f"no {experiment} run in the {cfg.profile} profile")
        if experiment in sweeps:  # every seed is a point: the sweep's results, summarised over seeds
            ds = load_sweep(experiment, cfg.profile)
            metas = [p.get("provenance", {}) for p in json.loads(ds.attrs.get("points", "{}")).values()]
            # a training sweep over seeds only; else its chapter summarises it
            training = plan.sweep(experiment).scheme is not None and set(json.loads(ds.attrs["grid"])) == {"seed"}
            r = Run(runs.run_dir(experiment, cfg.profile), {}, ds, summarize_training(ds) if training else {}, {})
            used[experiment] = ",".join(sorted({(m.get("git_commit") or "")[:12] for m in metas} - {""}))
            dirty.update(f"{experiment}/{cfg.profile}/{p}" for p in ds.attrs.get("dirty", []))
            return r
        r = runs.load(experiment, run_ids[experiment])
        used[experiment] = (r.meta.get("git_commit") or "")[:12]
        if r.meta.get("git_dirty"):
            dirty.add(f"{experiment}/{run_ids[experiment]}")
        return r

    rows, numbers = [], []
    for c in CLAIMS:
        v = assess(c, load or default_load)
        chapter = (f"runs/{c.chapter}/{run_ids[c.chapter]}/notebook" if c.chapter in run_ids else "")
        evidence = v.evidence.format(**v.numbers)
        rows.append((c.id, c.source, c.wording, v.verdict, evidence, chapter, PLANNED.get(c.chapter, "")))
        numbers += [(c.id, k, float(x)) for k, x in v.numbers.items()]
    cols = list(zip(*rows))
    n_claim, n_name, n_value = (list(x) for x in zip(*numbers)) if numbers else ([], [], [])
    return xr.Dataset(
        {"source": ("claim", list(cols[1])), "wording": ("claim", list(cols[2])),
         "verdict": ("claim", list(cols[3])), "evidence": ("claim", list(cols[4])),
         "chapter": ("claim", list(cols[5])), "planned_chapter": ("claim", list(cols[6])),
         "number_claim": ("number", n_claim), "number_name": ("number", n_name),
         "number_value": ("number", np.asarray(n_value, dtype=float))},
        coords={"claim": list(cols[0])},
        attrs={"title": "Findings", "profile": cfg.profile,
               "deciding_runs": ", ".join(f"{e}/{run_ids[e]}@{used[e]}" for e in sorted(used)),
               "dirty_runs": json.dumps(sorted(dirty))},
    )


def provenance(ds: xr.Dataset) -> str:
    """A Markdown warning naming the runs read by the findings that were made from a modified tree
    (``attrs["dirty_runs"]``); empty when there are none (or for a table made before it was recorded)."""
    return dirty_runs_note(json.loads(ds.attrs.get("dirty_runs", "[]")))


def summarize(ds: xr.Dataset) -> dict:
    out = {"n_claims": int(ds.sizes["claim"])}
    for v in VERDICTS:
        out["n_" + v.replace(" ", "_")] = int((ds["verdict"] == v).sum())
    for c, k, x in zip(ds["number_claim"].values, ds["number_name"].values, ds["number_value"].values):
        out[f"{c}_{k}"] = float(x)
    return out


def markdown_table(ds: xr.Dataset) -> str:
    """The claims table in MyST Markdown: source, claim (quoted), verdict, deciding numbers, chapter."""
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| source | claim (the source's words) | verdict | deciding numbers | chapter |",
             "|---|---|---|---|---|"]
    for i in range(ds.sizes["claim"]):
        r = {k: str(ds[k].values[i]) for k in ("source", "wording", "verdict", "evidence", "chapter", "planned_chapter")}
        chapter = f"{{doc}}`/{r['chapter']}`" if r["chapter"] else f"{r['planned_chapter']} (planned)"
        lines.append(f"| {SOURCES[r['source']]} | “{cell(r['wording'])}” | **{r['verdict']}** | "
                     f"{cell(r['evidence']) or '–'} | {chapter} |")
    return "\n".join(lines) + "\n"


def glue_numbers(run_: Run) -> None:
    """Glue the run's summary (verdict counts and every deciding number) for the page's prose."""
    from myst_nb import glue  # optional: myst_nb is there only where the book's notebooks run

    for key, value in run_.summary.items():
        glue(key, value, display=False)
