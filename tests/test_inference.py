"""How claims are decided (snnlib.inference): each test against statsmodels / scipy on fixed inputs,
the right verdict on synthetic data with known effects, and the power computation against simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests

from snnlib import inference as inf


@pytest.mark.parametrize("b, c", [(10, 25), (3, 0), (40, 41), (0, 7)])
def test_mcnemar_matches_statsmodels_exact(b, c):
    n = 1000
    e = inf.mcnemar(b, c, n)
    assert e.value == pytest.approx((c - b) / n)
    two_sided = min(1.0, 2 * min(e.p_above(0.0), e.p_below(0.0)))
    table = [[n - b - c - 5, b], [c, 5]]
    assert two_sided == pytest.approx(sm_mcnemar(table, exact=True).pvalue, rel=1e-9)
    assert e.lo <= e.value <= e.hi


def test_mcnemar_without_discordant_samples_still_bounds_the_difference():
    e = inf.mcnemar(0, 0, 6000)
    assert e.value == 0 and -0.001 < e.lo < 0 < e.hi < 0.001  # three in 6,000 at most, roughly
    t = inf.judge("x", e.scaled(100.0), inf.equivalent(1.0))
    assert not t.deterministic and inf.verdict_of(t) == "confirmed"
    assert inf.verdict_of(inf.judge("x", inf.mcnemar(0, 0, 50).scaled(100.0), inf.equivalent(1.0))) == "undecided"


def test_mcnemar_refuses_impossible_counts():
    with pytest.raises(ValueError, match="b \\+ c <= n"):
        inf.mcnemar(600, 500, 1000)


def test_holm_matches_statsmodels_over_both_p_values_of_every_sampled_test():
    rng = np.random.default_rng(3)
    tests = [inf.judge(f"t{i}", inf.paired(rng.normal(mu, 1.0, 5)), inf.greater(0.0, 0.5))
             for i, mu in enumerate((0.0, 0.3, 2.0, -1.0, 4.0))]
    tests.append(inf.judge("exact", inf.exact(3.0), inf.greater(0.0)))  # deterministic: not in the family
    adjusted = inf.holm(tests)
    raw = np.array([[t.p_for, t.p_against] for t in tests[:-1]]).ravel()
    expected = multipletests(raw, method="holm")[1].reshape(-1, 2)
    got = np.array([[t.p_for_adj, t.p_against_adj] for t in adjusted[:-1]])
    np.testing.assert_allclose(got, expected)
    assert adjusted[-1].p_for_adj == 0.0 and adjusted[-1].p_against_adj == 1.0


def test_paired_t_matches_scipy_and_rejects_too_few_pairs():
    from scipy import stats

    a, b = [1.0, 2.0, 3.5, 2.2], [0.5, 1.0, 1.0, 2.0]
    e = inf.paired(a, b)
    res = stats.ttest_rel(a, b, alternative="greater")
    assert e.p_above(0.0) == pytest.approx(res.pvalue)
    lo, hi = stats.ttest_rel(a, b).confidence_interval(1 - 2 * inf.ALPHA)
    assert (e.lo, e.hi) == pytest.approx((lo, hi))
    with pytest.raises(ValueError, match="two or more"):
        inf.paired([1.0, math.nan], [0.0, 1.0])


def test_flipped_and_scaled_estimates_keep_their_p_values():
    e = inf.paired([0.1, 0.3, 0.2, 0.25])
    f = e.flipped()
    assert f.value == -e.value and (f.lo, f.hi) == (-e.hi, -e.lo)
    assert f.p_above(-0.1) == pytest.approx(e.p_below(0.1))
    s = e.scaled(100.0)
    assert s.value == pytest.approx(100 * e.value) and s.p_above(10.0) == pytest.approx(e.p_above(0.1))


@pytest.mark.parametrize("mu, rule, verdict", [
    (2.0, inf.greater(0.0, 0.5), "confirmed"),        # a large effect in the claim's direction
    (-2.0, inf.greater(0.0, 0.5), "refuted"),         # the other sign
    (0.0, inf.greater(0.0, 0.5), "refuted"),          # a known null, enough seeds: smaller than what matters
    (0.25, inf.greater(0.0, 0.5), "holds in part"),   # real, but smaller than what matters
    (0.0, inf.equivalent(0.5), "confirmed"),          # "minimally affects": a confirmed null
    (2.0, inf.equivalent(0.5), "refuted"),
])
def test_synthetic_effects_reach_the_right_verdict(mu, rule, verdict):
    rng = np.random.default_rng(0)
    d = mu + rng.normal(0.0, 0.1, 40)  # 40 seeds, little spread: every question is decided
    assert inf.verdict_of(inf.judge("x", inf.paired(d), rule)) == verdict


def test_a_known_null_with_few_seeds_is_undecided_and_says_what_would_decide_it():
    rng = np.random.default_rng(1)
    t = inf.judge("x", inf.paired(rng.normal(0.0, 1.0, 3)), inf.equivalent(0.5))
    assert inf.verdict_of(t) == "undecided"
    pw = inf.power(t)
    assert pw["detectable"] > 0.5 and pw["n_needed"] > 3


def test_power_matches_simulation_within_ten_percent():
    """A paired t at n seeds with spread sd: a true effect of ``detectable`` is found with 80% power."""
    rng = np.random.default_rng(7)
    n, sd = 6, 1.3
    base = inf.judge("x", inf.paired(rng.normal(0.0, sd, n)), inf.greater(0.0, 1.0))
    detectable = inf.power(base)["detectable"] / base.estimate.se / math.sqrt(n) * sd  # at the true spread
    from scipy import stats

    hits = [stats.ttest_1samp(rng.normal(detectable, sd, n), 0.0, alternative="greater").pvalue < inf.ALPHA
            for _ in range(4000)]
    assert abs(np.mean(hits) - inf.POWER) <= 0.1 * inf.POWER
    # and the sample it names for the tolerance reaches the power
    need = inf.power(inf.judge("x", inf.paired(rng.normal(0.0, sd, 200)), inf.greater(0.0, 1.0)))["n_needed"]
    hits = [stats.ttest_1samp(rng.normal(1.0, sd, int(need)), 0.0, alternative="greater").pvalue < inf.ALPHA
            for _ in range(4000)]
    assert abs(np.mean(hits) - inf.POWER) <= 0.1 * inf.POWER


def _curves(slope_a, slope_b, seeds=4, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    y, x, g, r = [], [], [], []
    for grp, slope in (("a", slope_a), ("b", slope_b)):
        for s in range(seeds):
            off, ds = rng.normal(0, 0.2), rng.normal(0, 0.05)
            for lx in np.log10([1, 2, 5, 10, 20, 50]):
                y.append((slope + ds) * lx + off + rng.normal(0, noise))
                x.append(lx)
                g.append(grp)
                r.append(f"{grp}{s}")
    return y, x, g, r


def test_mixed_model_recovers_a_planted_slope_difference():
    """Over 40 simulated sweeps the 95% interval of the slope difference covers the planted -0.7 about
    95% of the time and always excludes 0; with no planted difference it covers 0 as often."""
    planted = [inf.mixed_slopes(*_curves(-0.1, -0.8, seed=s), ("a", "b")) for s in range(40)]
    assert sum(e["difference"].lo < -0.7 < e["difference"].hi for e in planted) >= 34
    assert all(e["difference"].hi < 0 for e in planted)
    assert sum(e["slope_a"].lo < -0.1 < e["slope_a"].hi for e in planted) >= 34
    assert inf.verdict_of(inf.judge("x", planted[1]["difference"].flipped(), inf.greater(0.0, 0.2))) == "confirmed"
    null = [inf.mixed_slopes(*_curves(-0.3, -0.3, seed=s), ("a", "b"))["difference"] for s in range(40)]
    assert sum(e.lo < 0 < e.hi for e in null) >= 34


def test_each_scheme_slope_is_judged_from_its_own_runs_spread():
    """One scheme's scattered runs (a seed that fails to train) leave the other's slope and its interval
    as they are: each group has its own variances. A model pooling the residual variance of both would
    widen the clean group's interval with the other's spread."""
    y, x, g, r = _curves(-0.1, -0.8, seeds=8, noise=0.05, seed=3)
    rng = np.random.default_rng(7)
    wild = [v + (rng.normal(0, 3.0) if grp == "a" else 0.0) for v, grp in zip(y, g)]
    clean, scattered = inf.mixed_slopes(y, x, g, r, ("a", "b")), inf.mixed_slopes(wild, x, g, r, ("a", "b"))
    assert scattered["slope_b"].value == pytest.approx(clean["slope_b"].value, rel=1e-6)
    assert scattered["slope_b"].se == pytest.approx(clean["slope_b"].se, rel=1e-6)
    assert clean["slope_b"].hi < -0.6  # narrow: the planted -0.8 of runs with little spread
    assert scattered["slope_a"].se > 10 * clean["slope_a"].se
    # the difference's variance is the sum of the two slopes'
    d = scattered["difference"]
    assert d.value == pytest.approx(scattered["slope_b"].value - scattered["slope_a"].value)
    assert d.se == pytest.approx(math.hypot(scattered["slope_a"].se, scattered["slope_b"].se))


def test_runs_on_one_line_give_a_slope_without_spread_that_decides_by_its_value():
    """Every run of a group exactly on one line (a synthetic or deterministic sweep): the fit has no
    residual spread, and the slope decides as a measured value would, without dividing by zero."""
    x = list(np.log10([1, 2, 5, 10])) * 6
    g = ["a"] * 12 + ["b"] * 12
    r = [f"{grp}{i // 4}" for i, grp in enumerate(g)]
    y = [-1.0 * v if grp == "a" else 0.5 * v + 0.01 * np.sin(7 * i) for i, (v, grp) in enumerate(zip(x, g))]
    e = inf.mixed_slopes(y, x, g, r, ("a", "b"))
    assert e["slope_a"].value == pytest.approx(-1.0) and e["slope_a"].se == pytest.approx(0.0, abs=1e-9)
    assert inf.verdict_of(inf.judge("falls", e["slope_a"].flipped(), inf.greater(0.0, 0.5))) == "confirmed"
    assert math.isfinite(e["difference"].lo) and e["difference"].se > 0


def test_a_biased_estimate_decides_only_where_its_bias_cannot_have():
    """An estimate that may be high (built from upper bounds, e.g. censored runs) refutes "above" but
    never confirms it; flipped, it may be low; may it be off both ways, it decides nothing. The sample
    that would decide is sized only towards the verdict its bias leaves open."""
    rng = np.random.default_rng(2)
    big, small = inf.paired(rng.normal(5.0, 1.0, 10)), inf.paired(rng.normal(-5.0, 1.0, 10))
    rule = inf.greater(0.0, 1.0)
    assert inf.verdict_of(inf.judge("x", big, rule)) == "confirmed"
    assert inf.verdict_of(inf.judge("x", big.biased(True, False, "censored"), rule)) == "undecided"
    assert inf.verdict_of(inf.judge("x", small.biased(True, False, "censored"), rule)) == "refuted"
    assert inf.verdict_of(inf.judge("x", small.biased(False, True, "censored"), rule)) == "undecided"
    assert inf.verdict_of(inf.judge("x", big.biased(False, True, "censored"), rule)) == "confirmed"
    flipped = small.biased(False, True, "censored").flipped()  # low becomes high
    assert flipped.may_be_high and not flipped.may_be_low
    assert inf.verdict_of(inf.judge("x", flipped, rule)) == "undecided"
    both = big.biased(True, True, "censored")
    assert inf.verdict_of(inf.judge("x", both, rule)) == "undecided" and "censored" in both.method
    assert math.isnan(inf.distance(inf.judge("x", both, rule)))
    # an equivalence is never shown by a biased estimate
    near = inf.paired(rng.normal(0.0, 0.1, 20))
    assert inf.verdict_of(inf.judge("x", near, inf.equivalent(1.0))) == "confirmed"
    assert inf.verdict_of(inf.judge("x", near.biased(True, False, "censored"), inf.equivalent(1.0))) == "undecided"
    assert big.biased(False, False, "censored") is big


def test_combine_every_and_parts():
    assert inf.combine(["confirmed", "confirmed"], "every") == "confirmed"
    assert inf.combine(["confirmed", "refuted"], "every") == "refuted"
    assert inf.combine(["confirmed", "undecided"], "every") == "undecided"
    assert inf.combine(["confirmed", "refuted"], "parts") == "holds in part"
    assert inf.combine(["confirmed", "undecided"], "parts") == "undecided"
    assert inf.combine(["confirmed", "refuted", "undecided"], "parts") == "holds in part"
    assert inf.combine(["refuted", "refuted"], "parts") == "refuted"
    assert inf.combine(["confirmed", "not yet tested"], "parts") == "not yet tested"


def test_rules_refuse_nonsense():
    with pytest.raises(ValueError):
        inf.Rule("greater", c=1.0, r=0.0)
    with pytest.raises(ValueError):
        inf.equivalent(0.0)
    assert inf.greater(0.0, 0.5).scaled(2.0).r == 1.0 and inf.equivalent(0.5).scaled(0.5).delta == 0.25


def test_the_sample_that_decides_is_sized_for_the_measured_effect():
    big = inf.judge("x", inf.paired([1.6, 1.75, 1.9]), inf.greater(0.0, 0.1))
    assert inf.distance(big) == pytest.approx(1.75)  # far above the claim's boundary: few seeds decide it
    near = inf.judge("x", inf.paired([0.1, 0.2, 0.3]), inf.greater(0.0, 0.5))
    assert inf.distance(near) == pytest.approx(0.3)  # between the bounds: the refuting test leads
    assert inf.distance(inf.judge("x", inf.paired([0.1, 0.2, 0.3]), inf.equivalent(1.0))) == pytest.approx(0.8)
    assert inf.power(big)["n_needed"] < inf.power(near)["n_needed"]


def test_welch_power_uses_the_t_law_of_few_seeds():
    """Three seeds a side: Welch's detectable effect is the one TTestIndPower finds at 80% power, and a
    simulation at that effect rejects about 80% of the time."""
    from scipy import stats

    rng = np.random.default_rng(11)
    sd = 0.5
    t = inf.judge("x", inf.welch(rng.normal(0, sd, 3), rng.normal(0, sd, 3)), inf.greater(0.0, 0.5))
    d = inf.power(t)["detectable"] / t.estimate.sd * sd  # at the true spread
    hits = [stats.ttest_ind(rng.normal(d, sd, 3), rng.normal(0, sd, 3), equal_var=True, alternative="greater").pvalue
            < inf.ALPHA for _ in range(4000)]
    assert abs(np.mean(hits) - inf.POWER) <= 0.1 * inf.POWER
