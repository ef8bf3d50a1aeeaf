"""Findings chapter: every claim quoted, verdicts computed from runs, never typed."""

from __future__ import annotations

import json
import re

import pytest
from conftest import ROOT

from snnlib import metrics
from snnlib.analyses import findings
from snnlib.store.runs import Run
from snnlib.study import plan


def _run(summary=None, results=None):
    return Run(None, {}, results, summary or {}, {"git_commit": "0" * 40})


def _encoding(rate, ttfs, published=(0.9387, 0.9535)):
    """Loader of the two codings' runs with the given per-seed test accuracies, under both setups
    (seed 002's tutorial runs and this study's encoding runs)."""
    def summary(acc, pub):
        m, h = metrics.mean_ci(acc)
        return {"final_test_accuracy_per_seed": acc, "final_test_accuracy": m, "final_test_accuracy_ci95": h,
                "epochs": 2, "final_hidden_spikes_per_seed": [100.0, 110, 120], "final_hidden_spikes": 110.0,
                "published_test_accuracy": pub}
    runs = {f"{setup}-{c}": _run(summary(acc, pub)) for setup in ("encoding", "seed002")
            for c, acc, pub in (("rate", rate, published[0]), ("ttfs", ttfs, published[1]))}
    return lambda experiment: runs[experiment]


CLAIM = {c.id: c for c in findings.CLAIMS}


def test_every_claim_names_its_source_and_an_existing_or_planned_chapter():
    # a claim may be decided by a sweep still in progress: "not yet tested" until it is complete
    experiments = {r.experiment for r in plan.planned("quick")} | {s.name for s in plan.sweeps("quick", True)}
    assert len(CLAIM) == len(findings.CLAIMS)  # ids are unique
    assert {c.source for c in findings.CLAIMS} == set(findings.SOURCES)  # all four sources
    for c in findings.CLAIMS:
        if c.decide is None:
            assert c.chapter in findings.PLANNED, c.id
        else:
            assert c.chapter in experiments, c.id
    seeds = {p.name[:3]: p.read_text() for p in (ROOT.parent / "shared" / "seeds").glob("*.txt")} \
        if (ROOT.parent / "shared" / "seeds").is_dir() else {}
    for c in findings.CLAIMS:  # quoted: the source's words (editorial context in [brackets])
        if c.source in seeds:
            def words(text):  # punctuation and the seeds' Markdown emphasis aside
                return " ".join(re.sub(r"</?u>|[^\w\s]", " ", text).split())
            quoted = words(re.sub(r"\[[^\]]*\]", "", c.wording))
            assert len(quoted.split()) >= 6, c.id
            assert " ".join(quoted.split()[:6]) in words(seeds[c.source]), c.id


@pytest.mark.parametrize("rate, ttfs, ranking, lower", [
    ([0.90, 0.91, 0.92], [0.95, 0.96, 0.97], "confirmed", "refuted"),   # TTFS clearly better
    ([0.95, 0.96, 0.97], [0.90, 0.91, 0.92], "refuted", "confirmed"),  # rate clearly better
    ([0.93, 0.96, 0.94], [0.94, 0.93, 0.96], "qualified", "qualified"),  # no difference resolved
])
def test_encoding_verdicts_follow_the_interval_of_the_difference(rate, ttfs, ranking, lower):
    load = _encoding(rate, ttfs)
    assert findings.assess(CLAIM["s002_ttfs"], load).verdict == ranking
    assert findings.assess(CLAIM["s003_temporal_accuracy"], load).verdict == lower


def test_seed002_published_numbers_are_judged_by_the_prediction_interval_of_one_more_run():
    # rate seeds 0.93-0.95: one more run falls in 0.94 ± t(2) 0.01 sqrt(4/3) = [0.890, 0.990]
    load = _encoding([0.93, 0.94, 0.95], [0.95, 0.96, 0.97], published=(0.9387, 0.9535))
    v = findings.assess(CLAIM["s002_rate"], load)
    assert v.verdict == "confirmed" and v.numbers["pi_lo"] == pytest.approx(89.0, abs=0.05)
    load = _encoding([0.97, 0.971, 0.972], [0.98, 0.981, 0.982], published=(0.9387, 0.9535))
    assert findings.assess(CLAIM["s002_rate"], load).verdict == "refuted"  # far outside a tight spread
    # TTFS above rate, but the published TTFS number is not reproduced: the claim holds only in part
    v = findings.assess(CLAIM["s002_ttfs"], load)
    assert v.verdict == "qualified" and "below" in v.evidence
    # neither part holds: the ranking is not resolved and the published number lies above the interval
    load = _encoding([0.90, 0.93, 0.96], [0.915, 0.92, 0.925], published=(0.9387, 0.9535))
    v = findings.assess(CLAIM["s002_ttfs"], load)
    assert v.verdict == "refuted" and "above" in v.evidence and "not resolved" in v.evidence


def test_interpolation_claim_is_refuted_when_the_potential_exceeds_threshold():
    summary = {"fig1_max_v_minus_theta_euler_snap": 0.2, "fig1_max_v_minus_theta_euler_linear": 0.01,
               "fig1_max_v_minus_theta_euler_newton": -0.001}
    v = findings.assess(CLAIM["s001_fig1"], lambda e: _run(summary))
    assert v.verdict == "refuted" and v.numbers["linear"] == 0.01


def test_a_missing_run_or_chapter_is_not_yet_tested():
    def missing(experiment):
        raise FileNotFoundError(f"No complete results for {experiment}")
    assert findings.assess(CLAIM["s001_fig1"], missing).verdict == "not yet tested"
    assert findings.assess(CLAIM["s000_slayer"], missing).verdict == "not yet tested"
    # a claim whose chapter is only planned names it
    row = [r for r in findings.markdown_table(findings.run(findings.Config(), missing)).splitlines()
           if "Fewer spike" in r][0]
    assert "not yet tested" in row and f"{findings.PLANNED['single-spike']} (planned)" in row


def test_run_on_the_committed_runs_reads_their_numbers():
    ds = findings.run(findings.Config())
    summary = findings.summarize(ds)
    assert summary["n_claims"] == len(findings.CLAIMS)
    assert sum(summary["n_" + v.replace(" ", "_")] for v in findings.VERDICTS) == len(findings.CLAIMS)
    rate = json.loads((ROOT / "runs" / "seed002-rate" / "quick" / "summary.json").read_text())
    assert summary["s002_ttfs_rate"] == pytest.approx(100 * rate["final_test_accuracy"])
    assert summary["s002_rate_published"] == pytest.approx(100 * rate["published_test_accuracy"])
    sn = json.loads((ROOT / "runs" / "single-neuron" / "quick" / "summary.json").read_text())
    assert summary["s001_fig1_snap"] == sn["fig1_max_v_minus_theta_euler_snap"]
    for claim in findings.CLAIMS:  # no chapter of the planned ones exists yet
        if claim.decide is None:
            assert str(ds["verdict"].sel(claim=claim.id).values) == "not yet tested"
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


def test_mean_diff_ci_matches_welch():
    from scipy import stats

    a, b = [1.0, 2.0, 4.0], [0.0, 0.5, 0.7, 0.2]
    d, h = metrics.mean_diff_ci(a, b)
    res = stats.ttest_ind(a, b, equal_var=False)
    lo, hi = res.confidence_interval(0.95)
    assert d == pytest.approx((lo + hi) / 2) and h == pytest.approx((hi - lo) / 2)
