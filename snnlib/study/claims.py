"""The claims table: every claim of the four sources (and two of NIR's users), how this study decides it, declared in advance.

One row per claim: the source's words, the chapter that tests it, the quantity (oriented so that a
positive value supports the claim), the test that fits the design, the rule with its tolerance (the
smallest effect that matters) and one line of rationale for that tolerance. The findings run
(:mod:`snnlib.analyses.findings`) decides every row from the committed runs with
:mod:`snnlib.inference`; chapters quote the same rows.

Tolerances are declared before the runs that judge them. :func:`digest` fingerprints what a row
declares (quantity, test, rules, combination, and the shared settings it uses); the findings run
stores the digest of every row it judged, and a test fails when a row changes while the committed
findings judged it. Changing a tolerance therefore means re-deciding in the open: a new findings
run, and the note of the change.

Units: accuracies in points (percent); a convergence rate ``CR_q = 1 / n_q`` (``n_q``: training
samples to the first validation record at or above the target); a *log rate ratio* is
``ln(CR / CR_benchmark) = ln(n_q,benchmark / n_q)``; steps as ``log10`` (a slope is per decade of
step); costs as natural-log ratios.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math

from snnlib.inference import POWER, Rule, equivalent, greater

__all__ = ["DECLARED", "PLANNED_CHAPTERS", "Q", "QS_SENSITIVITY", "TOLERANCE_SCALES", "HOLD_POINTS", "RESOLUTION", "SOURCES",
           "Declared", "CLAIMS", "settings", "claim", "digest", "digests", "changed_since"]

#: the date these declarations were made: before the runs of issues 24-26 that decide them
DECLARED = "2026-12-06"
#: the convergence target's fraction of the lower benchmark's final validation accuracy (both
#: schemes of a comparison share the one absolute target)
Q = 0.9
Q_RATIONALE = ("90 %: high enough that reaching it means the network has learned most of what it will, low "
               "enough that every benchmark reaches it within its first epoch; the study's first declared target")
#: the sensitivity appendix: neighbouring targets and tolerances (x 0.5 and x 2)
QS_SENSITIVITY = (0.85, 0.95)
TOLERANCE_SCALES = (0.5, 2.0)
#: accuracy that still "holds" (points below the benchmark, validation split): where the cost of fewer
#: steps is read
HOLD_POINTS = 5.0
HOLD_RATIONALE = ("five points: the loss a user of a coarser grid would still accept for its savings; a "
                  "descriptive limit (it chooses where costs are read, on validation only)")
#: the largest spacing of validation records, relative to the smallest n_q measured, that resolves n_q
RESOLUTION = 0.25

#: chapters that claims of the table wait for and that are not in the plan yet, by the name the table
#: gives them (the intro's "planned" list and the findings' chapter column name them)
PLANNED_CHAPTERS: dict[str, str] = {}

SOURCES = {"000": "Chalakova 2024 (poster)", "001": "Guichard 2024 (poster)",
           "002": "Gusev & Abramov 2023 (slides)", "003": "Nguyen 2023 (survey slides)",
           "nir": "NIR (Pedersen et al. 2024) and its importers"}

# ------------------------------------------------------------------ the tolerances, with reasons
RATE = math.log(1.25)
RATE_WHY = ("a quarter more or fewer training samples to the target (|ln ratio| < ln 1.25): smaller changes "
            "than this are within the spread of n_q between seeds of one setting")
SLOPE = math.log(1.25)
SLOPE_WHY = ("ln 1.25 per decade of step: the 'minimal' rate change (a quarter) across the tenfold range of steps "
             "seed 000 tried")
COLLAPSE = math.log(2.0)
COLLAPSE_WHY = "a collapse ('self-destructs') is at least a halving of the convergence rate"
ACC = 0.5
ACC_WHY = ("half a point of test accuracy: below it a difference is within the binomial noise of a 2,000-10,000 "
           "digit test split (0.1-0.3 points at 98 %) and no reader would call it better or worse")
ACC_SLOPE = 1.0
ACC_SLOPE_WHY = "one point of accuracy per tenfold step: a decrease a reader of the accuracy curve would see"
SIMILAR = 1.0
SIMILAR_WHY = ("one point of accuracy: 'similar' in seed 001's sense; smaller than the smallest difference the "
               "sources report as a finding (seed 002's 1.5 points between codings)")
COST = math.log(1.1)
COST_WHY = "ten per cent in time, memory or spikes: below it, run-to-run variation of this machine's timings"
GROWTH = 0.5
GROWTH_WHY = ("a slope of 0.5 of ln cost on ln T: cost growing at least as the square root of the steps, half of "
              "what storing every step gives (1); a cost that does not grow with T stays near 0")
ALIGN = 0.05
ALIGN_WHY = ("five hundredths of the cosine between two gradients (e.g. 0.90 to 0.85, 26 to 32 degrees): a smaller "
             "change leaves the descent direction within a few degrees of where it was, too little to carry an "
             "error through layers")
PUBLISHED = 1.0
PUBLISHED_WHY = ("one point from the published single run: a rerun of the same recipe that lands within a point "
                 "reproduces it (the published number has no interval)")
#: the name of a published number's test: what its verdict says (a single published run is not confirmed by
#: reruns, only found consistent with them, or not)
CONSISTENT = "consistent with the published number"
LEARNED = 10.0
LEARNED_WHY = "ten points above chance: a network this close to chance has not learned the task"
#: issue 24: the mean final test accuracy (%) every benchmark of a shared neuron (each scheme's finest grid,
#: the continuous network) must reach before any step of that neuron is judged, per dataset (none: no bar)
BENCHMARK_BAR = {"mnist": 97.5}
BENCHMARK_BAR_WHY = ("MNIST: BATS reports about 98 % for 784-800-10; a benchmark below 97.5 % is under-trained, and a "
                     "step's effect measured from it is the training's, not the step's")
NUMERIC = 1e-9
NUMERIC_WHY = "floating-point resolution: the numerics are deterministic, so any value above it is real"
ORDER = 0.5
ORDER_WHY = "half an order of convergence: the error slopes of orders k and k + 1 differ by one"


@dataclasses.dataclass(frozen=True)
class Declared:
    """One row of the claims table. ``rules``: each test's rule by name (a claim may test several
    parts), ``why``: each rule's one-line rationale; ``mode``: how parts combine
    (:func:`snnlib.inference.combine`); ``uses_q``: its tests read convergence targets."""

    id: str
    source: str
    wording: str
    chapter: str
    quantity: str
    test: str
    rules: dict
    why: dict
    mode: str = "parts"
    uses_q: bool = False

    def rule(self, name: str, scale: float = 1.0) -> Rule:
        return self.rules[name].scaled(scale)

    def tolerances(self) -> str:
        """One line per rule: its name, bound and rationale (for the page)."""
        return "; ".join(f"{k}: {self.rules[k].describe('{:.3g}')} ({self.why[k]})" for k in self.rules)


_TB = "timebins-mnist-bptt"
_AS = "across-simulators"
_SPLIT = "per dataset (MNIST, N-MNIST)"
_TBN = "timebins-yinyang-slow-bptt"  # the chapter of the shared-neuron sweeps
_DY = "direct-yinyang-fast"  # direct training where the integration matters (MNIST's steps move nothing)
_DY_WHERE = ("Yin-Yang, tau_s = 5 ms, trained directly at h / tau_s = 0.1 and 1 (where the network's transfer "
             "breaks), ten seeds, against its continuous network")
_NEURON_SPLIT = ("per dataset and neuron (Yin-Yang and MNIST, each at tau_s = 130 and 5 ms; a dataset whose "
                 "sweeps are still being made is left out and named)")

CLAIMS: tuple[Declared, ...] = (
    Declared("s000_hypothesis", "000", "The convergence rate will decrease in both models as the timestep size "
             "grows, but it will be more noticeable in spike-based models as they depend on exact spiking times.",
             _TB, "minus the slope of the log rate ratio on log10(step) of each scheme (seed 000's discretization), "
             "and BPTT's slope minus the spike-time scheme's (positive: the spike-time rate falls more)",
             f"whole-curve mixed model, {_SPLIT}",
             {"falls": greater(0.0, SLOPE), "falls more for spike-time": greater(0.0, SLOPE)},
             {"falls": SLOPE_WHY, "falls more for spike-time": SLOPE_WHY}, uses_q=True),
    Declared("s000_decrease", "000", "The accuracy and convergence rate decrease with timebins. [BATS and SLAYER]",
             _TB, "minus the slope on log10(step) of the final test accuracy (points) and of the log rate ratio, "
             "each scheme", f"whole-curve mixed model, {_SPLIT}",
             {"accuracy falls": greater(0.0, ACC_SLOPE), "rate falls": greater(0.0, SLOPE)},
             {"accuracy falls": ACC_SLOPE_WHY, "rate falls": SLOPE_WHY}, uses_q=True),
    Declared("s000_bats_baseline", "000", "The model performs better than baseline for timebins 75 and 150 "
             "[BATS].", _TB, "test accuracy at 75 and 150 bins minus the continuous benchmark's (points)",
             f"paired t over seeds, {_SPLIT}", {"better": greater(0.0, ACC)}, {"better": ACC_WHY}),
    Declared("s000_bats_minimal", "000", "Time-discretization minimally affects the convergence rate of the "
             "spike-based BATS model for any timebin size.", _TB,
             "the spike-time scheme's log rate ratio at each bin count (seed 000's discretization)",
             f"paired t over seeds (two one-sided tests), every bin count, {_SPLIT}",
             {"minimal": equivalent(RATE)}, {"minimal": RATE_WHY}, mode="every", uses_q=True),
    Declared("s000_slayer", "000", "The BPTT SLAYER model is unaffected for small timesteps, but appears to "
             "self-destruct for large ones.", _TB,
             "BPTT's log rate ratio at every step of 75 bins or more (its 1 ms benchmark aside), and minus it at "
             "the coarsest step", f"paired t over seeds, {_SPLIT}",
             {"unaffected": equivalent(RATE), "collapses": greater(COLLAPSE)},
             {"unaffected": RATE_WHY, "collapses": COLLAPSE_WHY}, uses_q=True),
    Declared("s000_hypothesis_shared", "000", "[On the shared model: both schemes on one exact grid] The "
             "convergence rate will decrease in both models as the timestep size grows, but it will be more "
             "noticeable in spike-based models as they depend on exact spiking times.", _TB,
             "as for the hypothesis, on the shared model (the same CuBa-LIF grid for both schemes)",
             f"whole-curve mixed model, {_SPLIT}",
             {"falls": greater(0.0, SLOPE), "falls more for spike-time": greater(0.0, SLOPE)},
             {"falls": SLOPE_WHY, "falls more for spike-time": SLOPE_WHY}, uses_q=True),
    Declared("s000_bats_minimal_shared", "000", "[On the shared model] Time-discretization minimally affects the "
             "convergence rate of the spike-based BATS model for any timebin size.", _TB,
             "the spike-time scheme's log rate ratio at each bin count on the shared model",
             f"paired t over seeds (two one-sided tests), every bin count, {_SPLIT}",
             {"minimal": equivalent(RATE)}, {"minimal": RATE_WHY}, mode="every", uses_q=True),
    # issue 24: one neuron for both schemes (the same CuBa-LIF, thresholds, initial weights, count loss with
    # targets reachable at every step; only the gradient differs), steps as h / tau_s in two neurons;
    # declared before the sweeps timebins-yinyang-* ran (their searches, on validation only, had run)
    Declared("s000_hypothesis_neuron", "000", "[One neuron for both schemes] The convergence rate will decrease in "
             "both models as the timestep size grows, but it will be more noticeable in spike-based models as they "
             "depend on exact spiking times.", _TBN,
             "minus the slope of the log rate ratio (against the scheme's own 1 ms grid) on log10(h / tau_s), each "
             "scheme, and BPTT's slope minus the spike-time scheme's", f"whole-curve mixed model, {_NEURON_SPLIT}",
             {"falls": greater(0.0, SLOPE), "falls more for spike-time": greater(0.0, SLOPE)},
             {"falls": SLOPE_WHY, "falls more for spike-time": SLOPE_WHY}, uses_q=True),
    Declared("s000_decrease_neuron", "000", "[One neuron for both schemes] The accuracy and convergence rate "
             "decrease with timebins. [BATS and SLAYER]", _TBN,
             "minus the slope on log10(h / tau_s) of the final test accuracy (points) and of the log rate ratio, each "
             "scheme", f"whole-curve mixed model, {_NEURON_SPLIT}",
             {"accuracy falls": greater(0.0, ACC_SLOPE), "rate falls": greater(0.0, SLOPE)},
             {"accuracy falls": ACC_SLOPE_WHY, "rate falls": SLOPE_WHY}, uses_q=True),
    Declared("s000_bats_minimal_neuron", "000", "[One neuron for both schemes] Time-discretization minimally "
             "affects the convergence rate of the spike-based BATS model for any timebin size.", _TBN,
             "the spike-time scheme's log rate ratio at each bin count (against the continuous network)",
             f"paired t over seeds (two one-sided tests), every bin count, {_NEURON_SPLIT}",
             {"minimal": equivalent(RATE)}, {"minimal": RATE_WHY}, mode="every", uses_q=True),
    Declared("s000_slayer_neuron", "000", "[One neuron for both schemes] The BPTT SLAYER model is unaffected for "
             "small timesteps, but appears to self-destruct for large ones.", _TBN,
             "BPTT's log rate ratio (against its 1 ms grid) at every step with h / tau_s <= 0.1, and minus it at "
             "the coarsest step", f"paired t over seeds, {_NEURON_SPLIT}",
             {"unaffected": equivalent(RATE), "collapses": greater(COLLAPSE)},
             {"unaffected": RATE_WHY, "collapses": COLLAPSE_WHY}, uses_q=True),
    Declared("s000_noticeable_neuron", "000", "[The hypothesis read on accuracy, one neuron for both schemes] "
             "... it will be more noticeable in spike-based models as they depend on exact spiking times.", _TBN,
             "at the coarsest step where either scheme still learns (mean test accuracy >= chance + 10 points): BPTT's "
             "change in test accuracy from its 1 ms grid minus the spike-time scheme's (points; positive: the "
             "spike-time scheme loses more; the same initial weights per seed)", f"paired t over seeds, {_NEURON_SPLIT}",
             {"more noticeable": greater(0.0, ACC)}, {"more noticeable": ACC_WHY}),
    Declared("s001_fig1", "001", "With interpolation, the potential never goes above the threshold. [Fig. 1]",
             "single-neuron", "minus the largest V - theta with linear and Newton interpolation (forward-Euler)",
             "deterministic", {"below": greater(-NUMERIC)}, {"below": NUMERIC_WHY}, mode="every"),
    Declared("s001_fig2", "001", "Order 5 integration with Parker-Sochacki for a single neuron. No inputs or "
             "outputs are produced so the integration should have the same result no matter the way it is done. "
             "This does not hold when we change the intermediate integration point. [Fig. 2]",
             "single-neuron", "the spread of the end value over the split points of one PS(5) step",
             "deterministic", {"differs": greater(NUMERIC)}, {"differs": NUMERIC_WHY}),
    Declared("s001_order", "001", "Previous work finds increased simulation accuracy with higher order "
             "integrations.", "single-neuron",
             "the rise of V's error order from each order to the next, and the spike-time error order at the "
             "highest order minus (k - 1/2), per spike rule", "deterministic",
             {"order rises": greater(ORDER)}, {"order rises": ORDER_WHY}),
    Declared("s001_similar", "001", "Numerically integrated networks perform similarly to their analytical "
             "counterpart.", "transfer-mnist",
             "integrated minus analytic test accuracy (points) on all 10,000 MNIST test digits, PS(k >= 2) with "
             "interpolation, at every step up to the seed's regime (h / tau_s <= 1/130, dt <= 1 ms with tau_s = 130 ms)",
             "exact McNemar per test digit, pooled over source networks (two one-sided tests), every cell",
             {"similar": equivalent(SIMILAR)}, {"similar": SIMILAR_WHY}, mode="every"),
    Declared("s001_interpolation", "001", "Spike time interpolation helps stabilize networks with high activity.",
             "transfer-yinyang-fast", "forward Euler simulating the high-activity networks (Yin-Yang, tau_s = 5 ms, "
             "hidden threshold 0.6 of the usual fast network's, at least 4 hidden spikes per neuron and window) at "
             "h / tau_s = 0.3, where Euler breaks on the usual fast network: linear-interpolation minus snap test "
             "accuracy (points)", "exact McNemar per test point, pooled over the ten networks",
             {"helps": greater(0.0, ACC)}, {"helps": ACC_WHY}),
    Declared("s001_high_order", "001", "High order integrations work robustly over large time delta choices. They "
             "find sparser solutions, converge faster and have higher accuracies in general.", _DY,
             f"{_DY_WHERE}: at the largest step (adjusted gradient), PS(5) vs Euler: accuracy (points), minus ln of "
             "the hidden-spike and n_q ratios; PS(5) minus the exact benchmark's accuracy",
             "paired t over seeds", {"more accurate": greater(0.0, ACC), "sparser": greater(0.0, COST),
                                     "faster to converge": greater(0.0, RATE), "robust": equivalent(SIMILAR)},
             {"more accurate": ACC_WHY, "sparser": COST_WHY, "faster to converge": RATE_WHY, "robust": SIMILAR_WHY},
             uses_q=True),
    Declared("s001_euler_time", "001", "First order (forward-Euler) integrations benefit from lower training "
             "times.", _DY, f"{_DY_WHERE}: minus ln(Euler's training-step cost / PS(5)'s at the same step and "
             "gradient), from the interleaved benchmark in one process (benchmarks/bench_direct.py, the benchmark's "
             "trained weights), averaged over steps and gradients; and minus ln(Euler's training time to the target / "
             "PS(5)'s), that cost ratio times the ratio of samples to the target, per seed",
             "paired t over the benchmark's rounds (cheaper steps) and over seeds (sooner to the target)",
             {"faster": greater(0.0, COST)}, {"faster": COST_WHY}, uses_q=True),
    Declared("s001_piggyback", "001", "Piggybacking backpropagation has un-favourable training times, despite "
             "similar accuracy results.", _DY,
             f"{_DY_WHERE}: piggyback minus adjusted test accuracy (points); ln(piggyback / adjusted training time to "
             "the target: the training-step cost ratio from the interleaved benchmark (benchmarks/bench_direct.py) "
             "times the ratio of samples to the target), per seed over integrations and steps", "paired t over seeds",
             {"similar accuracy": equivalent(SIMILAR), "slower": greater(0.0, COST)},
             {"similar accuracy": SIMILAR_WHY, "slower": COST_WHY}, uses_q=True),
    Declared("s002_rate", "002", "The authors of the tutorial got 93.87% test accuracy (with their rate "
             "encoding).", "seed002-rate", "the recipe's test accuracy minus the published 93.87 % (points)",
             "one-sample t over seeds (two one-sided tests)", {CONSISTENT: equivalent(PUBLISHED)},
             {CONSISTENT: PUBLISHED_WHY}),
    Declared("s002_ttfs", "002", "We got 95.35% test accuracy (with TTFS encoding). [above the tutorial's rate "
             "coding]", "seed002-ttfs", "the TTFS recipe's test accuracy minus the published 95.35 %; TTFS minus "
             "rate test accuracy (points)", "one-sample and paired t over seeds",
             {CONSISTENT: equivalent(PUBLISHED), "above rate": greater(0.0, ACC)},
             {CONSISTENT: PUBLISHED_WHY, "above rate": ACC_WHY}),
    Declared("s003_fewer_spikes", "003", "[Temporal coding] Reduce the number of spikes compared to rate-coding.",
             "coding-ttfs", "minus ln(TTFS / rate hidden spikes per sample), the same network and loss, only the "
             "coding changed", "paired t over seeds",
             {"fewer": greater(0.0, COST)}, {"fewer": COST_WHY}),
    Declared("s003_temporal_accuracy", "003", "[Temporal coding] Less robust to noise in hardware implementation, "
             "lower accuracy compared to ratecoding.", "coding-ttfs", "rate minus TTFS test accuracy (points), the same "
             "network and loss, only the coding changed",
             "paired t over seeds", {"lower": greater(0.0, ACC)}, {"lower": ACC_WHY}),
    Declared("s003_surrogate", "003", "[Spatiotemporal approach] approximate the nondifferentiable spiking "
             "activity with a surrogate gradient: smoothing the spiking activity, degrades the accuracy.",
             "surrogate-depth1-bptt", "exact spike-time minus BPTT (surrogate) test accuracy (points): one neuron, "
             "network (5-120-3, Yin-Yang) and loss, only the gradient changed",
             "paired t over seeds (the same initial weights in both)", {"degrades": greater(0.0, ACC)},
             {"degrades": ACC_WHY}),
    Declared("s003_surrogate_depth", "003", "Use approximate derivative for spiking activities. Not accurate => "
             "accumulate through layers => low accuracy.", "surrogate-depth1-bptt",
             "the cosine of BPTT's surrogate gradient with the exact gradient of the same network in its first "
             "layer (averaged over training) with 1 minus with 3 hidden layers; exact minus BPTT test accuracy "
             "(points) with 3 hidden layers",
             "Welch t over seeds (independent networks) for the cosines; paired t over seeds for the accuracy",
             {"accumulates through layers": greater(0.0, ALIGN), "low accuracy": greater(0.0, ACC)},
             {"accumulates through layers": ALIGN_WHY, "low accuracy": ACC_WHY}),
    Declared("s003_bptt_cost", "003", "Cost of BPTT is huge. Require storing all actiavtions [sic] & computing "
             "gradients all timesteps.", "performance",
             "one network (784-800-10, BATS's neuron, batch 50, 150 ms) trained by BPTT on T steps and by exact "
             "spike-time gradients: ln(BPTT's training peak memory and time per sample / the spike-time step's) "
             "at the 1 ms step (T = 150), and the slopes of ln BPTT's memory and time on ln T (T = 25 to 600)",
             "paired t over the repeats (each runs the two back to back) for the ratios; the slopes deterministic",
             {"costlier": greater(0.0, COST), "grows with T": greater(0.0, GROWTH)},
             {"costlier": COST_WHY, "grows with T": GROWTH_WHY}),
    Declared("s003_dynamic", "003", "Spatiotemporal approaches are compatible with dynamic input data.",
             "nmnist-timing-bptt", "BPTT's N-MNIST test accuracy on the event streams minus chance, and minus its "
             "accuracy on the same recordings with their event times shuffled within each recording (points)",
             "one-sample and paired t over seeds (the same initial weights with and without the shuffle)",
             {"learns": greater(0.0, LEARNED), "uses the timing": greater(0.0, ACC)},
             {"learns": LEARNED_WHY, "uses the timing": ACC_WHY}),
    Declared("s003_single_spike", "003", "[Single-spike approach] Fewer spike => Slow backpropagation => Slow "
             "convergence in loss minimization.", "single-spike",
             "BATS's single-spike against its multi-spike recipe (784-800-10, full MNIST): ln(multi / single) of the "
             "hidden spikes per sample, and ln(single / multi) of the training samples to one shared target (q x the "
             "lower mean final validation accuracy)", "Welch t over seeds (independent networks)",
             {"fewer spikes": greater(0.0, COST), "slower": greater(0.0, RATE)},
             {"fewer spikes": COST_WHY, "slower": RATE_WHY}, uses_q=True),
    Declared("s003_latency", "003", "BPTT reduce number of timestep => reduce latency & energy.", _TB,
             "on the shared grid, at the fewest bins whose validation accuracy holds: minus ln of the training time "
             "per epoch and of the hidden spikes, against the 1 ms grid", f"paired t over seeds, {_SPLIT}",
             {"cheaper": greater(0.0, COST)}, {"cheaper": COST_WHY}, uses_q=False),
    Declared("nir_as_imported", "nir", "[What a user of NIR expects] A CuBa-LIF network exported to NIR keeps its "
             "accuracy when another library's NIR importer runs it.", _AS,
             "importer (as imported) minus analytic test accuracy (points) at h = 1 ms (h / tau_s = 1/130, "
             "tau_s = 130 ms), each importer", "exact McNemar per test digit, pooled over the source networks "
             "(two one-sided tests), every importer",
             {"keeps accuracy": equivalent(SIMILAR)}, {"keeps accuracy": SIMILAR_WHY}, mode="every"),
    Declared("nir_corrected", "nir", "[This study] With its one documented correction (an input spike counted as a "
             "delta of area 1), an importer's own discretization keeps the analytic accuracy at the steps users "
             "choose.", _AS, "corrected importer minus analytic test accuracy (points), every importer at every "
             "step up to 1 ms (h / tau_s <= 1/130)", "exact McNemar per test digit, pooled over the source networks "
             "(two one-sided tests), every cell",
             {"keeps accuracy": equivalent(SIMILAR)}, {"keeps accuracy": SIMILAR_WHY}, mode="every"),
)


def settings() -> dict:
    """The shared declarations as the pages quote them (glued, never typed): the target fraction's
    sensitivity neighbours, the tolerance factors, the "minimal" rate factor, the resolution limit and
    the power at which undecided verdicts are sized."""
    return {"q_sensitivity": " and ".join(f"{q:g}" for q in QS_SENSITIVITY),
            "q_sensitivity_pct": " and ".join(f"{100 * q:g} %" for q in QS_SENSITIVITY),
            "tolerance_scales": " and ".join(f"{f:g}" for f in TOLERANCE_SCALES),
            "rate_factor": math.exp(RATE), "resolution_limit": RESOLUTION, "power_pct": 100 * POWER}


def claim(claim_id: str) -> Declared:
    for c in CLAIMS:
        if c.id == claim_id:
            return c
    raise KeyError(f"no claim {claim_id!r} in the claims table")


def digest(c: Declared) -> str:
    """A fingerprint of what the row declares: quantity, test, rules, combination and (where its tests
    read convergence targets) the target fraction and resolution."""
    body = {"quantity": c.quantity, "test": c.test, "mode": c.mode,
            "rules": {k: dataclasses.asdict(r) for k, r in sorted(c.rules.items())}}
    if c.uses_q:
        body.update(q=Q, resolution=RESOLUTION)
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def digests() -> dict[str, str]:
    return {c.id: digest(c) for c in CLAIMS}


def changed_since(stored: dict[str, str], judged: set[str]) -> list[str]:
    """The rows judged by a findings run (``judged``) whose declaration differs from the digest that
    run stored: each would have changed a tolerance after seeing the points it judges."""
    now = digests()
    return sorted(k for k in judged if k in now and stored.get(k) != now[k])
