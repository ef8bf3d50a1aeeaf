"""Findings chapter: every claim quoted, verdicts computed from runs, never typed."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import xarray as xr
import pytest
from conftest import ROOT

from snnlib import inference as inf
from snnlib import metrics
from snnlib.analyses import findings
from snnlib.store import runs
from snnlib.store.runs import Run
from snnlib.study import claims as claims_table
from snnlib.study import plan


def _run(summary=None, results=None):
    return Run(None, {}, results, summary or {}, {"git_commit": "0" * 40})


def _encoding(rate, ttfs, published=(0.9387, 0.9535)):
    """Loader of the two codings' runs with the given per-seed test accuracies, under both setups
    (seed 002's tutorial runs and this study's coding runs, the same network and loss)."""
    def summary(acc, pub):
        m, h = metrics.mean_ci(acc)
        return {"final_test_accuracy_per_seed": acc, "final_test_accuracy": m, "final_test_accuracy_ci95": h,
                "epochs": 2, "final_hidden_spikes_per_seed": [100.0, 110, 120], "final_hidden_spikes": 110.0,
                "published_test_accuracy": pub}
    runs = {f"{setup}-{c}": _run(summary(acc, pub)) for setup in ("coding", "seed002")
            for c, acc, pub in (("rate", rate, published[0]), ("ttfs", ttfs, published[1]))}

    def load(experiment):
        if experiment not in runs:
            raise FileNotFoundError(f"no {experiment} run in this test")
        return runs[experiment]
    return load


CLAIM = {c.id: c for c in findings.CLAIMS}


def _decided(claim_id: str, load):
    """A claim decided alone: a family of its own tests, Holm-adjusted within it (its tree, or None)."""
    return findings.decide_one(claim_id, load)[1]


def _verdict(claim_id: str, load) -> str:
    verdict, tree = findings.decide_one(claim_id, load)
    return verdict if tree is not None else "not yet tested"


def test_every_claim_names_its_source_and_an_existing_or_planned_chapter():
    # a claim may be decided by a sweep still in progress: "not yet tested" until it is complete
    experiments = {r.experiment for r in plan.planned("quick")} | {s.name for s in plan.sweeps("quick", True)}
    assert len(CLAIM) == len(findings.CLAIMS)  # ids are unique
    assert {c.source for c in findings.CLAIMS} == set(findings.SOURCES)  # all four sources and NIR
    for c in findings.CLAIMS:
        if c.id not in findings.DECIDERS:
            assert c.chapter in findings.PLANNED and not c.rules, c.id
        else:
            assert c.chapter in experiments, c.id
            assert c.rules and set(c.rules) == set(c.why) and all(len(w) > 20 for w in c.why.values()), c.id
    assert set(findings.DECIDERS) <= set(CLAIM)
    seeds = {p.name[:3]: p.read_text() for p in (ROOT.parent / "shared" / "seeds").glob("*.txt")} \
        if (ROOT.parent / "shared" / "seeds").is_dir() else {}
    for c in findings.CLAIMS:  # quoted: the source's words (editorial context in [brackets])
        if c.source in seeds:
            def words(text):  # punctuation and the seeds' Markdown emphasis aside
                return " ".join(re.sub(r"</?u>|[^\w\s]", " ", text).split())
            quoted = words(re.sub(r"\[[^\]]*\]", "", c.wording))
            assert len(quoted.split()) >= 6, c.id
            assert " ".join(quoted.split()[:6]) in words(seeds[c.source]), c.id


def _spread(center, n=12, sd=0.002, seed=0):
    return list(center + np.random.default_rng(seed).normal(0.0, sd, n))


@pytest.mark.parametrize("rate, ttfs, ranking, lower", [
    (0.91, 0.96, "confirmed", "refuted"),     # TTFS clearly better
    (0.96, 0.91, "refuted", "confirmed"),     # rate clearly better
])
def test_encoding_verdicts_follow_the_paired_difference(rate, ttfs, ranking, lower):
    load = _encoding(_spread(rate), _spread(ttfs, seed=1))
    ttfs_parts = dict(_decided("s002_ttfs", load)[1])
    assert findings._verdict(ttfs_parts["above rate coding"]) == ranking
    assert _verdict("s003_temporal_accuracy", load) == lower


def test_three_noisy_seeds_leave_a_ranking_undecided_with_the_seeds_that_would_decide():
    load = _encoding([0.93, 0.96, 0.94], [0.94, 0.93, 0.96])
    ds = findings.run(findings.Config(), load)
    assert str(ds["verdict"].sel(claim="s003_temporal_accuracy").values) == "undecided"
    row = ds.where(ds["test_claim"] == "s003_temporal_accuracy", drop=True)
    assert float(row["n_needed"].values[0]) > 3 and float(row["detectable"].values[0]) > 0.5
    assert "would decide" in str(ds["evidence"].sel(claim="s003_temporal_accuracy").values)


def test_seed002_published_numbers_are_judged_by_equivalence_within_a_point():
    # twelve tight runs at the published rate accuracy: reproduced
    load = _encoding(_spread(0.9387), _spread(0.9535, seed=1))
    assert _verdict("s002_rate", load) == "confirmed"
    # far from it: not reproduced
    load = _encoding(_spread(0.97), _spread(0.98, seed=1))
    assert _verdict("s002_rate", load) == "refuted"
    # TTFS above rate, but the published TTFS number not reproduced: the claim holds in part
    assert _verdict("s002_ttfs", load) == "holds in part"


def test_interpolation_claim_is_refuted_when_the_potential_exceeds_threshold():
    summary = {"fig1_max_v_minus_theta_euler_snap": 0.2, "fig1_max_v_minus_theta_euler_linear": 0.01,
               "fig1_max_v_minus_theta_euler_newton": -0.001}

    def load(experiment):
        return _run(summary)
    assert _verdict("s001_fig1", load) == "refuted"
    summary["fig1_max_v_minus_theta_euler_linear"] = -0.002
    assert _verdict("s001_fig1", load) == "confirmed"


def _timing_sweep(real, shuffled):
    """A ``nmnist-timing-*`` sweep's results: final test accuracies per seed on the streams and shuffled."""
    import xarray as xr
    acc = np.array([real, shuffled], float)[:, :, None] * np.array([0.5, 1.0])  # two epochs, the last the final
    return xr.Dataset({"test_accuracy": (("time_shuffle", "seed", "epoch"), acc)},
                      coords={"time_shuffle": [False, True], "seed": np.arange(len(real)), "epoch": [0, 1]})


@pytest.mark.parametrize("shuffled, uses", [((0.62, 0.60, 0.64, 0.61, 0.63), "confirmed"),
                                            ((0.909, 0.92, 0.898, 0.916, 0.904), "refuted")])
def test_dynamic_input_is_decided_by_the_time_shuffled_control(shuffled, uses):
    """BPTT learns N-MNIST in both cases; it uses the timing only where shuffling the event times
    costs accuracy (about 30 points), not where the shuffled streams do as well (within half a point)."""
    real = (0.91, 0.92, 0.90, 0.915, 0.905)
    ds = _timing_sweep(real, shuffled)
    load = lambda e: _run(results=ds) if e == "nmnist-timing-bptt" else missing(e)  # noqa: E731

    def missing(e):
        raise FileNotFoundError(e)
    tree = _decided("s003_dynamic", load)
    assert findings._verdict(tree[1]["learns the event streams"]) == "confirmed"
    assert findings._verdict(tree[1]["uses their timing"]) == uses


def test_a_missing_run_or_chapter_is_not_yet_tested(monkeypatch):
    def missing(experiment):
        raise FileNotFoundError(f"No complete results for {experiment}")
    assert _verdict("s001_fig1", missing) == "not yet tested"
    assert _verdict("s000_slayer", missing) == "not yet tested"
    # a claim whose sweep is still being made says so; one whose chapter is only planned names it
    rows = findings.markdown_table(findings.run(findings.Config(), missing)).splitlines()
    from snnlib.study import claims as claims_

    # a claim on the shared-neuron time-bin sweeps, their runs missing
    claim = next(c for c in claims_.CLAIMS if c.id == "s000_hypothesis_neuron")
    words = "[One neuron for both schemes] The convergence rate will decrease"
    row = [r for r in rows if words in r][0]
    assert "not yet tested" in row and "its run is missing" in row
    # its chapter not (yet) in the book: the planned chapter is named instead
    page = findings._page
    monkeypatch.setattr(findings, "_page", lambda name, profile: "" if name == claim.chapter else page(name, profile))
    monkeypatch.setitem(findings.PLANNED, claim.chapter, "a chapter on one neuron for both schemes")
    row = [r for r in findings.markdown_table(findings.run(findings.Config(), missing)).splitlines() if words in r][0]
    assert "not yet tested" in row and "a chapter on one neuron for both schemes (planned)" in row


@pytest.fixture(scope="module")
def committed():
    return findings.run(findings.Config())


def test_run_on_the_committed_runs_reads_their_numbers(committed):
    ds = committed
    summary = findings.summarize(ds)
    assert summary["n_claims"] == len(findings.CLAIMS)
    assert sum(summary["n_" + v.replace(" ", "_")] for v in findings.VERDICTS) == len(findings.CLAIMS)
    rate = json.loads((ROOT / "runs" / "seed002-rate" / "quick" / "summary.json").read_text())
    assert summary["s002_ttfs_rate"] == pytest.approx(100 * np.mean(rate["final_test_accuracy_per_seed"]))
    assert summary["s002_rate_published"] == pytest.approx(100 * rate["published_test_accuracy"])
    sn = json.loads((ROOT / "runs" / "single-neuron" / "quick" / "summary.json").read_text())
    assert summary["s001_fig1_snap"] == sn["fig1_max_v_minus_theta_euler_snap"]
    for claim in findings.CLAIMS:  # no chapter of the planned ones exists yet
        if claim.id not in findings.DECIDERS:
            assert str(ds["verdict"].sel(claim=claim.id).values) == "not yet tested"
    # Holm over the whole table: every adjusted p-value at least its raw one, the family named
    sampled = np.isfinite(ds["p_for"].values) & (ds["p_for_adj"].values != ds["p_for"].values)
    assert (ds["p_for_adj"].values >= ds["p_for"].values - 1e-12).all() and sampled.any()
    assert ds.attrs["alpha_strictest"] < inf.ALPHA
    # the runs read that were made from a modified tree are named on the page
    dirty = json.loads(ds.attrs["dirty_runs"])
    seed002_dirty = json.loads((ROOT / "runs" / "seed002-rate" / "quick" / "meta.json").read_text())["git_dirty"]
    assert ("seed002-rate/quick" in dirty) == seed002_dirty
    assert all(f"`{d}`" in findings.provenance(ds) for d in dirty)
    for d in dirty:
        assert json.loads((ROOT / "runs" / d / "meta.json").read_text())["git_dirty"] is True
    table = findings.markdown_table(ds).splitlines()
    assert len(table) == 2 + len(findings.CLAIMS)
    in_book = {r.experiment for r in plan.planned("quick")} | {s.name for s in plan.sweeps("quick")}
    assert sum("{doc}`/runs/" in row for row in table) == sum(c.chapter in in_book for c in findings.CLAIMS)
    # the sensitivity appendix: one column per neighbouring setting, fragile where a verdict flips
    assert list(ds["setting"].values) == [s.label for s in findings.SENSITIVITY]
    flips = (ds["sensitivity"] != ds["verdict"]).any("setting") & (ds["verdict"] != "not yet tested")
    assert (flips.values == ds["fragile"].values).all()
    assert findings.sensitivity_table(ds).count("\n") == 2 + len(findings.CLAIMS)


def test_chapters_quote_the_findings_rows(committed):
    md = findings.chapter_markdown(committed, ["s001_similar", "s001_interpolation"])
    for cid in ("s001_similar", "s001_interpolation"):
        assert f"**{committed['verdict'].sel(claim=cid).values}**" in md


def test_the_committed_findings_judged_the_tolerances_declared_now():
    """A declared tolerance may not change while the committed findings judged points with it: a new
    findings run (and a note saying why) must come with the change."""
    run = runs.load("findings", "quick")
    judged = {str(c) for c, v in zip(run.results["claim"].values, run.results["verdict"].values)
              if v != "not yet tested"}
    stored = json.loads(run.results.attrs.get("declarations", "{}"))
    assert judged and set(stored) == judged, "the findings run predates the claims table: re-make it"
    assert claims_table.changed_since(stored, judged) == []


def test_changing_a_declared_tolerance_is_detected(monkeypatch):
    stored = claims_table.digests()
    judged = {"s003_temporal_accuracy", "s001_similar"}
    assert claims_table.changed_since(stored, judged) == []
    c = claims_table.claim("s003_temporal_accuracy")
    widened = dataclasses.replace(c, rules={"lower": inf.greater(0.0, 1.0)})
    monkeypatch.setattr(claims_table, "CLAIMS", tuple(widened if x.id == c.id else x for x in claims_table.CLAIMS))
    assert claims_table.changed_since(stored, judged) == ["s003_temporal_accuracy"]
    monkeypatch.setattr(claims_table, "Q", 0.95)  # a target judged by the convergence claims
    assert "s001_similar" not in claims_table.changed_since(stored, judged)  # it reads no target
    assert "s000_slayer" in claims_table.changed_since(stored, {"s000_slayer"})


@pytest.mark.parametrize("diff, bound", [(3, 10), (-4, 9), (0, 0), (5, 5), (2, 1)])
def test_discordant_digits_are_bounded_by_the_recorded_agreement(diff, bound):
    """Transfer records each simulation's agreement with the analytic network, not per-digit correctness:
    the discordant count is the largest the agreement allows with the parity of the difference (a wider
    null: conservative), never below |difference|."""
    b, c = findings._discordant(diff, bound)
    assert c - b == diff and b >= 0 and c >= 0
    assert abs(diff) <= b + c and b + c in (max(bound, abs(diff)), max(bound, abs(diff)) - 1)


def test_paired_counts_use_the_recorded_digits_and_else_the_bound():
    import xarray as xr

    first = xr.Dataset({"test_correct": (("seed", "test_sample"), np.array([[1, 1, 0, 0], [1, 0, 1, 1]], np.int8))})
    second = xr.Dataset({"test_correct": (("seed", "test_sample"), np.array([[1, 0, 1, 1], [1, 0, 0, 1]], np.int8))})
    # seed 0: right only under the first: digit 1; only under the second: digits 2, 3; seed 1: digit 2, none
    assert findings._paired_counts(first, second, diff=0.0, bound=99.0) == (2, 2, True)
    assert findings._paired_counts(xr.Dataset(), second, diff=1.0, bound=5.0) == (2, 3, False)


def test_mean_diff_ci_matches_welch():
    from scipy import stats

    a, b = [1.0, 2.0, 4.0], [0.0, 0.5, 0.7, 0.2]
    d, h = metrics.mean_diff_ci(a, b)
    res = stats.ttest_ind(a, b, equal_var=False)
    lo, hi = res.confidence_interval(0.95)
    assert d == pytest.approx((lo + hi) / 2) and h == pytest.approx((hi - lo) / 2)


@pytest.mark.parametrize("snap, linear, verdict", [(0.70, 0.90, "confirmed"), (0.90, 0.90, "refuted")])
def test_interpolation_is_judged_on_the_high_activity_networks_per_test_point(snap, linear, verdict):
    """Seed 001's "interpolation stabilises networks with high activity": forward Euler simulating the
    high-activity networks at h / tau_s = INTERPOLATION_STEP, linear against snap, paired per test point."""
    rng = np.random.default_rng(0)
    h = round(findings.INTERPOLATION_STEP * plan.BREAKDOWN_NEURONS["fast-high"][1], 9)
    seeds, n = np.arange(10), 1000
    base = rng.random((len(seeds), n))
    correct = np.stack([base < snap, base < linear], axis=1).astype("float32")  # (seed, rule, sample): nested
    ds = xr.Dataset({"test_correct": (("seed", "rule", "test_sample"), correct),
                     "accuracy": (("seed", "rule"), correct.mean(-1)),
                     "exact_accuracy": ("seed", np.full(len(seeds), 0.92)),
                     "exact_hidden_spikes": ("seed", np.full(len(seeds), 560.0))},
                    coords={"seed": seeds, "rule": ["snap", "linear"]})
    ds = ds.expand_dims(integration=["euler"], dt=[h], split=["test"])
    runs = {"transfer-yinyang-fast-high": _run(results=ds)}
    assert _verdict("s001_interpolation", runs.__getitem__) == verdict


@pytest.mark.parametrize("lost, verdict", [(0.0, "confirmed"), (0.05, "refuted")])
def test_similar_is_judged_per_test_digit_on_the_mnist_transfer_sweep(lost, verdict):
    """transfer-mnist (no source or input dims: one source, inputs at their times): every PS(k >= 2)
    cell with an interpolating rule at steps up to 1 ms, per test digit; an integration that loses a
    twentieth of the digits the analytic network gets right at 1 ms is not similar."""
    from types import SimpleNamespace

    n, rng = 4000, np.random.default_rng(0)
    exact = (rng.random((2, n)) < 0.98).astype(np.int8)  # per seed (source network), per test digit
    dts, rules = [0.13, 1.0, 13.0], ["snap", "linear", "newton"]
    correct = np.broadcast_to(exact[None, :, None, None, :], (2, 2, 3, 3, n)).copy()  # integration, seed, rule, dt
    correct[..., 1, : int(lost * n)] = 0  # at 1 ms, the first digits lost (analytic: right on most)
    acc = correct.mean(-1)
    ds = xr.Dataset({"accuracy": (("integration", "seed", "rule", "dt", "split"), np.stack([acc, acc], -1)),
                     "agreement": (("integration", "seed", "rule", "dt", "split"), np.ones(acc.shape + (2,))),
                     "exact_accuracy": (("integration", "seed", "split"), np.broadcast_to(exact.mean(-1)[None, :, None], (2, 2, 2))),
                     "test_correct": (("integration", "seed", "rule", "dt", "test_sample"), correct),
                     "exact_test_correct": (("integration", "seed", "test_sample"), np.broadcast_to(exact, (2, 2, n)))},
                    coords={"integration": ["euler", "ps3"], "seed": [0, 1], "rule": rules, "dt": dts,
                            "split": ["val", "test"]}, attrs={"config": f"n_test: {n}\n"})
    v, tree = findings.decide_one("s001_similar", lambda e: SimpleNamespace(results=ds) if e == "transfer-mnist" else None)
    assert v == verdict
    assert set(tree[1]) == {f"ps3, {r}, {dt:g} ms" for r in ("linear", "newton") for dt in (0.13, 1.0)}


def _lrr_set(values, censored, bench_censored=None):
    """A log_rate_ratios-like dataset of one arm: (bins, seed) values with their censoring flags."""
    dims = ("bins", "seed")
    coords = {"bins": [150, 30, 6], "seed": np.arange(np.shape(values)[1])}
    bc = np.zeros(np.shape(values)[1], bool) if bench_censored is None else np.asarray(bench_censored)
    return xr.Dataset({"lrr": (dims, np.asarray(values, float)), "censored": (dims, np.asarray(censored)),
                       "bench_censored": (("seed",), bc)}, coords=coords)


def test_a_collapse_measured_from_censored_runs_is_confirmed_never_refuted():
    """A run that never reaches the target keeps its whole run's samples as n_q, an upper bound of its
    rate: its log rate ratio may be high. A "collapses" (-lrr) shown large from such runs stands; the
    same runs cannot show that nothing collapses, nor that the step leaves the rate "unaffected"."""
    rng = np.random.default_rng(0)
    fine = rng.normal(0.0, 0.02, 6)
    big = np.vstack([fine, fine - 0.1, np.full(6, -2.0)])
    l = _lrr_set(big, np.vstack([np.zeros((2, 6), bool), np.ones((1, 6), bool)]))
    assert findings._paired_lrr(l, -1.0, bins=6).may_be_low  # -lrr of censored runs may be low: can confirm
    assert inf.verdict_of(inf.judge("c", findings._paired_lrr(l, -1.0, bins=6), inf.greater(0.5, 1.0))) == "confirmed"
    flat = _lrr_set(np.vstack([fine, fine, fine]), np.vstack([np.zeros((2, 6), bool), np.ones((1, 6), bool)]))
    collapse = inf.judge("c", findings._paired_lrr(flat, -1.0, bins=6), inf.greater(0.5, 1.0))
    assert inf.verdict_of(collapse) == "undecided"  # measured ~0, but censored: no evidence against
    assert inf.verdict_of(inf.judge("u", findings._paired_lrr(flat, bins=6), inf.equivalent(0.5))) == "undecided"
    assert inf.verdict_of(inf.judge("u", findings._paired_lrr(flat, bins=30), inf.equivalent(0.5))) == "confirmed"
    # the line of an undecided censored test says what would decide it: not more seeds
    assert "censored runs" in findings._leaf_text(("6 bins",), collapse, inf.ALPHA)


def test_a_slope_flattened_by_censored_coarse_runs_cannot_refute_a_fall():
    """Group a's runs never reach the target at the coarsest step: those values are upper bounds (a
    censored run keeps its whole run's samples) and flatten its slope. Its fall (and the difference a - b)
    may be understated, so neither is refuted by the flat slope, while group b's uncensored fall is judged
    as it is. Censored points on both sides of the mean step leave the slope off either way."""
    rng = np.random.default_rng(1)
    xs = np.log10([5.0, 10.0, 25.0])

    def long(censored_steps):
        y, x, g, r, c = [], [], [], [], []
        for grp in ("a", "b"):
            for sd in range(8):
                for i, lx in enumerate(xs):
                    cens = grp == "a" and i in censored_steps
                    val = -0.13 if cens else (-0.1 if grp == "a" else -2.0) * lx + rng.normal(0, 0.02)
                    y.append(val), x.append(lx), g.append(grp), r.append(f"{grp}{sd}"), c.append(float(cens))
        return (y, x, g, r), (c, x, g, r)

    est = findings._censored_slopes(*long({2}), ("a", "b"))
    assert est["slope_a"].may_be_high and not est["slope_a"].may_be_low
    assert not (est["slope_b"].may_be_high or est["slope_b"].may_be_low)
    falls = inf.greater(0.0, 0.5)
    plain = findings._est(inf.mixed_slopes, *long({2})[0], ("a", "b"))  # the same data taken at face value
    assert inf.verdict_of(inf.judge("a", plain["slope_a"].flipped(), falls)) in ("refuted", "holds in part")
    biased = inf.judge("a", est["slope_a"].flipped(), falls)
    assert biased.p_against == 1.0 and inf.verdict_of(biased) in ("confirmed", "undecided")
    assert inf.verdict_of(inf.judge("b", est["slope_b"].flipped(), falls)) == "confirmed"
    more = est["difference"].flipped()  # slope_a - slope_b: "falls more for b" may be high, as a's fall may be low
    assert more.may_be_high and inf.judge("d", more, falls).p_for == 1.0
    both = findings._censored_slopes(*long({0, 2}), ("a", "b"))["slope_a"]
    assert both.may_be_high and both.may_be_low
