"""How a claim is decided: estimates with one-sided tests, verdicts, Holm over a family, power.

Every claim of the study is decided the same way (the claims table, :mod:`snnlib.study.claims`,
declares each claim's quantity, rule and tolerance before the runs that judge it):

1. an :class:`Estimate` of the claim's quantity, oriented so that *positive supports the claim*,
   from the test that fits the design (all from scipy / statsmodels):

   - :func:`paired` - two settings paired by seed (or a per-seed log ratio): Student t on the
     per-seed differences (``scipy.stats.ttest_1samp``);
   - :func:`welch` - two independent sets of networks: Welch's t (``scipy.stats.ttest_ind``);
   - :func:`mcnemar` - the same weights under two simulations, per test sample: the exact
     conditional binomial test on the discordant samples (exact McNemar; pooled over source
     networks, i.e. stratified by summing the strata's discordant counts);
   - :func:`mixed_slopes` - curves over a step axis: per scheme, a linear mixed model of a per-seed
     quantity on log10(step) with a random intercept and slope per (scheme, seed) run and the scheme's
     own variances (``statsmodels`` ``mixedlm``); the estimate is a slope or a slope difference (a
     whole-curve test);
   - :func:`exact` - a deterministic measurement (numerics, no sampling): no test, the value decides.

2. a :class:`Rule`: ``greater(c, r)`` (the claim: the quantity exceeds ``c``; it is refuted when the
   quantity is shown below ``r``, the smallest value that matters) or ``equivalent(delta)`` (the
   claim: the quantity lies within +-delta, two one-sided tests; refuted when shown outside).
   Each gives two one-sided p-values: ``p_for`` (its null: the claim is false) and ``p_against``
   (its null: the claim holds as much as matters).

3. Holm over the family (every ``p_for`` and ``p_against`` of the findings table;
   ``statsmodels.stats.multitest.multipletests``) at :data:`ALPHA` per one-sided test (the level of a
   two-sided 95% interval), then a verdict per test (:func:`verdict_of`): *confirmed* (only the claim's
   test rejects), *refuted* (only the opposing one), *holds in part* (both: a real effect smaller
   than what matters) or *undecided* (neither). An undecided test states the smallest effect its sample
   could detect with power :data:`POWER` and the sample that would decide it at the measured effect
   (:func:`power`; ``statsmodels`` ``TTestPower`` on the measured spread).

4. Parts combine (:func:`combine`): ``every`` (the claim is about every condition: refuted when one
   part is) or ``parts`` (distinct conditions: a mixture of confirmed and refuted parts *holds in
   part*, the conditions named).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestIndPower, TTestPower

__all__ = ["ALPHA", "POWER", "VERDICTS", "Estimate", "Rule", "greater", "equivalent", "paired", "welch",
           "mcnemar", "mixed_slopes", "exact", "Tested", "judge", "holm", "verdict_of", "combine", "distance", "power"]

#: one-sided level of every test: a claim is confirmed when its two-sided 95% interval (before
#: Holm) lies on the claim's side
ALPHA = 0.025
#: the power at which "the smallest detectable effect" and "the sample that decides" are stated
POWER = 0.8
VERDICTS = ("confirmed", "refuted", "holds in part", "undecided", "not yet tested")


@dataclasses.dataclass(frozen=True)
class Estimate:
    """An estimate of a claim's quantity (positive supports the claim) with its sampling law.

    ``p_above(x)``: the one-sided p-value against the null "quantity <= x"; ``p_below(x)``: against
    "quantity >= x"; ``lo`` / ``hi``: the two-sided ``1 - 2 ALPHA`` interval; ``n``: the sample size
    (seeds, samples, runs), ``sd``: the spread of one unit (NaN where not meaningful); ``method``:
    one line naming the test and the sample."""

    value: float
    lo: float
    hi: float
    n: int
    sd: float
    method: str
    p_above: Callable[[float], float] = dataclasses.field(repr=False, compare=False)
    p_below: Callable[[float], float] = dataclasses.field(repr=False, compare=False)
    se: float = math.nan  # for normal-law estimates: the power computation works on it
    #: the estimate may lie above / below the quantity for a reason no interval covers (censored values,
    #: :meth:`biased`): the evidence that leans that way is void
    may_be_high: bool = False
    may_be_low: bool = False

    def flipped(self) -> "Estimate":
        """The same estimate of minus the quantity (a claim in the other direction)."""
        return dataclasses.replace(self, value=-self.value, lo=-self.hi, hi=-self.lo,
                                   p_above=lambda x, f=self.p_below: f(-x), p_below=lambda x, f=self.p_above: f(-x),
                                   may_be_high=self.may_be_low, may_be_low=self.may_be_high)

    def biased(self, high: bool, low: bool, why: str) -> "Estimate":
        """The estimate of a quantity it may overstate (``high``: e.g. built from censored values that are
        upper bounds of the true ones) or understate (``low``): the evidence for "the quantity is above x"
        of an estimate that may be high is void (its ``p_above`` is 1), and likewise ``p_below`` of one
        that may be low. So a claim is confirmed only by evidence the bias cannot have made, refuted
        only likewise, and neither where the estimate may be off both ways. ``why`` joins ``method``."""
        if not (high or low):
            return self
        return dataclasses.replace(self, method=f"{self.method}; {why}", may_be_high=self.may_be_high or high,
                                   may_be_low=self.may_be_low or low,
                                   p_above=(lambda x: 1.0) if high else self.p_above,
                                   p_below=(lambda x: 1.0) if low else self.p_below)

    def scaled(self, factor: float, offset: float = 0.0) -> "Estimate":
        """The estimate of ``factor * quantity + offset`` (``factor > 0``): e.g. a fraction in points."""
        if not factor > 0:
            raise ValueError(f"scale by a positive factor, not {factor}")
        return dataclasses.replace(self, value=factor * self.value + offset, lo=factor * self.lo + offset,
                                   hi=factor * self.hi + offset, sd=factor * self.sd, se=factor * self.se,
                                   p_above=lambda x, f=self.p_above: f((x - offset) / factor),
                                   p_below=lambda x, f=self.p_below: f((x - offset) / factor))


def _clean(values) -> np.ndarray:
    a = np.asarray(values, dtype=float).ravel()
    return a[np.isfinite(a)]


def paired(a: Sequence[float], b: Sequence[float] = None, what: str = "seeds") -> Estimate:
    """Student t on the paired differences ``a - b`` (``b`` omitted: on ``a`` itself, e.g. per-seed
    log ratios). Pairs with a non-finite member are left out; fewer than two pairs raise."""
    a = np.asarray(a, dtype=float).ravel()
    d = a - (np.asarray(b, dtype=float).ravel() if b is not None else 0.0)
    d = _clean(d)
    if d.size < 2:
        raise ValueError(f"a paired test needs two or more finite pairs, got {d.size}")
    sd = float(np.std(d, ddof=1))
    mean = float(d.mean())
    if sd <= 1e-12 * max(1.0, abs(mean)):  # no spread: the t statistic is undefined; the sample decides exactly
        return exact(mean, f"paired, {d.size} {what} (all equal)", n=d.size)
    res = stats.ttest_1samp(d, 0.0)
    lo, hi = res.confidence_interval(1 - 2 * ALPHA)
    return Estimate(mean, float(lo), float(hi), int(d.size), sd,
                    f"paired t over {d.size} {what}",
                    lambda x: float(stats.ttest_1samp(d, x, alternative="greater").pvalue),
                    lambda x: float(stats.ttest_1samp(d, x, alternative="less").pvalue),
                    se=sd / math.sqrt(d.size))


def welch(a: Sequence[float], b: Sequence[float], what: str = "seeds") -> Estimate:
    """Welch's t on ``mean(a) - mean(b)`` for two independent samples (e.g. two schemes' networks)."""
    a, b = _clean(a), _clean(b)
    if a.size < 2 or b.size < 2:
        raise ValueError(f"Welch's test needs two or more values on each side, got {a.size} and {b.size}")
    res = stats.ttest_ind(a, b, equal_var=False)
    lo, hi = res.confidence_interval(1 - 2 * ALPHA)
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    n = min(a.size, b.size)
    return Estimate(float(a.mean() - b.mean()), float(lo), float(hi), n, se * math.sqrt(n / 2),
                    f"Welch t over {a.size} and {b.size} {what}",
                    lambda x: float(stats.ttest_ind(a - x, b, equal_var=False, alternative="greater").pvalue),
                    lambda x: float(stats.ttest_ind(a - x, b, equal_var=False, alternative="less").pvalue),
                    se=se)


def mcnemar(b: int, c: int, n: int, strata: int = 1, what: str = "test samples") -> Estimate:
    """The same samples under two simulations: accuracy of the second minus the first,
    ``(c - b) / n``, from ``b`` samples right only in the first and ``c`` right only in the second
    (summed over ``strata`` source networks), by the exact conditional binomial test (exact McNemar):
    given ``m = b + c`` discordant samples, ``c ~ Binomial(m, p)`` and the difference is
    ``(2p - 1) m / n``. Its interval maps the Clopper-Pearson interval of ``p``."""
    b, c, n = int(round(b)), int(round(c)), int(n)
    m = b + c
    if n <= 0 or b < 0 or c < 0 or m > n:
        raise ValueError(f"McNemar needs 0 <= b, c and b + c <= n; got b={b}, c={c}, n={n}")
    method = f"exact McNemar over {n} {what}" + (f" ({strata} source networks)" if strata > 1 else "")
    if m == 0:  # no discordant sample: P(none | a discordance rate of |x|) = (1 - |x|)^n bounds |difference|
        u = 1.0 - ALPHA ** (1.0 / n)
        return Estimate(0.0, -u, u, n, 0.0, method + ", no discordant sample",
                        lambda x: 1.0 if x >= 0 else float((1.0 + max(x, -1.0)) ** n),
                        lambda x: 1.0 if x <= 0 else float((1.0 - min(x, 1.0)) ** n),
                        se=u / stats.norm.ppf(1 - ALPHA))

    def p0(x):  # the binomial p at which the difference equals x
        return 0.5 + x * n / (2 * m)

    def p_above(x):
        p = p0(x)
        return 1.0 if p >= 1 else 0.0 if p <= 0 else float(stats.binomtest(c, m, p, "greater").pvalue)

    def p_below(x):
        p = p0(x)
        return 0.0 if p >= 1 else 1.0 if p <= 0 else float(stats.binomtest(c, m, p, "less").pvalue)

    ci = stats.binomtest(c, m).proportion_ci(1 - 2 * ALPHA, method="exact")
    diff = (c - b) / n
    sd = math.sqrt(max(m / n - diff ** 2, 0.0))  # of the per-sample difference in {-1, 0, 1}
    return Estimate(diff, (2 * ci.low - 1) * m / n, (2 * ci.high - 1) * m / n, n, sd, method, p_above, p_below,
                    se=sd / math.sqrt(n))


def _normal(value: float, se: float, n: int, method: str) -> Estimate:
    if se == 0:  # a fit without residual spread (e.g. every run on one line): the value decides, as exact's
        return dataclasses.replace(exact(value, method, n), sd=0.0, se=0.0)
    z = stats.norm.ppf(1 - ALPHA)
    return Estimate(value, value - z * se, value + z * se, n, se * math.sqrt(n), method,
                    lambda x: float(stats.norm.sf((value - x) / se)),
                    lambda x: float(stats.norm.cdf((value - x) / se)), se=se)


def _slope_fit(df: pd.DataFrame) -> tuple[float, float, str]:
    """The fixed slope of ``y ~ x + (1 + x | run)`` over one group's runs (REML), its standard error and
    the random effects used: a random intercept only where the slope variance cannot be fitted, least
    squares with errors clustered by run where no random effect can (e.g. identical runs)."""
    with warnings.catch_warnings():  # a variance estimated at zero is a fit, not an error
        warnings.simplefilter("ignore")
        for random, re_formula in (("intercept and slope", "~x"), ("intercept", None)):
            try:  # each run its own intercept (and slope): the seeds' spread of slopes enters the test
                fit = smf.mixedlm("y ~ x", df, groups=df["run"], re_formula=re_formula).fit(reml=True)
            except (np.linalg.LinAlgError, ValueError):
                continue
            se = float(fit.bse["x"])
            if fit.converged and np.isfinite(se):
                return float(fit.fe_params["x"]), se, f"random {random} per run"
        fit = smf.ols("y ~ x", df).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(df["run"])[0]})
        return float(fit.params["x"]), float(fit.bse["x"]), "least squares, errors clustered by run"


def mixed_slopes(y: Sequence[float], log_step: Sequence[float], group: Sequence, run: Sequence,
                 groups: tuple[str, str]) -> dict[str, Estimate]:
    """A whole-curve test: per group, the linear mixed model ``y ~ log_step + (1 + log_step | run)``
    (statsmodels ``mixedlm``, REML; a random intercept only where the slope variance cannot be fitted,
    least squares with errors clustered by run where no random effect can, said in ``method``), ``run``
    naming a learning-curve series (one seed of one scheme), ``groups`` the two levels of ``group`` (the
    first is the reference). Returns the estimates (Wald z) of ``slope_<g>`` for each group and
    ``difference`` = ``slope_<second> - slope_<first>`` (its variance the sum of the two: the runs of
    the two groups are distinct series). Units of ``y`` per decade of ``log_step`` when it is log10 of
    the step.

    Each group has its own variances (run-to-run spread and residual): one scheme whose seeds scatter
    (a run that fails to train) does not widen the interval of the other's slope, as a model pooling
    the two groups' variances would (``y ~ log_step * group`` with one residual variance is the same
    model only when the two spreads are equal)."""
    df = pd.DataFrame({"y": np.asarray(y, float), "x": np.asarray(log_step, float),
                       "g": [str(v) for v in group], "run": [str(v) for v in run]})
    df = df[np.isfinite(df["y"]) & np.isfinite(df["x"])]
    if set(df["g"]) != set(groups) or df.groupby("g")["x"].nunique().min() < 2:
        raise ValueError(f"a whole-curve test needs two or more steps of each of {groups}")
    fits = {g: _slope_fit(df[df["g"] == g]) for g in groups}
    n_runs = df["run"].nunique()
    model = (f"mixed model per scheme over {len(df)} points of {n_runs} runs ("
             + "; ".join(f"{g}: {fits[g][2]}" for g in groups) + ")")
    (a, se_a, _), (b, se_b, _) = fits[groups[0]], fits[groups[1]]
    return {f"slope_{groups[0]}": _normal(a, se_a, n_runs, model),
            f"slope_{groups[1]}": _normal(b, se_b, n_runs, model),
            "difference": _normal(b - a, math.sqrt(se_a ** 2 + se_b ** 2), n_runs, model)}


def exact(value: float, method: str = "deterministic measurement", n: int = 1) -> Estimate:
    """A value without sampling error (numerics): each one-sided p-value is 0 or 1."""
    return Estimate(float(value), float(value), float(value), n, math.nan, method,
                    lambda x: 0.0 if value > x else 1.0, lambda x: 0.0 if value < x else 1.0)


# ------------------------------------------------------------------------------------ the rules
@dataclasses.dataclass(frozen=True)
class Rule:
    """``kind`` ``"greater"``: the claim is "quantity > ``c``"; refuted when shown below ``r``
    (``r >= c``: the smallest value that matters). ``"equivalent"``: the claim is
    "|quantity| < ``delta``"; refuted when shown outside."""

    kind: str
    c: float = 0.0
    r: float = 0.0
    delta: float = 0.0

    def __post_init__(self):
        if self.kind == "greater" and not self.r >= self.c:
            raise ValueError(f"refute below r = {self.r} needs r >= c = {self.c}")
        if self.kind == "equivalent" and not self.delta > 0:
            raise ValueError(f"an equivalence margin must be positive, not {self.delta}")
        if self.kind not in ("greater", "equivalent"):
            raise ValueError(f"a rule is 'greater' or 'equivalent', not {self.kind!r}")

    def scaled(self, factor: float) -> "Rule":
        """The rule with its tolerance (``r - c`` or ``delta``) times ``factor`` (sensitivity)."""
        if self.kind == "greater":
            return dataclasses.replace(self, r=self.c + factor * (self.r - self.c))
        return dataclasses.replace(self, delta=factor * self.delta)

    @property
    def tolerance(self) -> float:
        return self.r - self.c if self.kind == "greater" else self.delta

    def describe(self, fmt: str = "{:g}") -> str:
        f = fmt.format
        if self.kind == "equivalent":
            return f"within ±{f(self.delta)}"
        return f"above {f(self.c)}" + (f" (matters from {f(self.r)})" if self.r != self.c else "")


def greater(c: float = 0.0, tolerance: float = 0.0) -> Rule:
    return Rule("greater", c=c, r=c + tolerance)


def equivalent(delta: float) -> Rule:
    return Rule("equivalent", delta=delta)


@dataclasses.dataclass(frozen=True)
class Tested:
    """One test of a claim: the estimate, the rule, the two raw p-values; after :func:`holm`, their
    adjusted values and the verdict."""

    name: str
    estimate: Estimate
    rule: Rule
    p_for: float
    p_against: float
    p_for_adj: float = math.nan
    p_against_adj: float = math.nan

    @property
    def deterministic(self) -> bool:
        return not math.isfinite(self.estimate.sd) and math.isnan(self.estimate.se)


def judge(name: str, est: Estimate, rule: Rule) -> Tested:
    """The two one-sided p-values of ``rule`` on ``est``."""
    if rule.kind == "greater":
        p_for, p_against = est.p_above(rule.c), est.p_below(rule.r)
    else:
        p_for = max(est.p_above(-rule.delta), est.p_below(rule.delta))  # two one-sided tests
        p_against = min(1.0, 2 * min(est.p_above(rule.delta), est.p_below(-rule.delta)))
    t = Tested(name, est, rule, float(p_for), float(p_against))
    if t.deterministic:  # no sampling: nothing to adjust
        t = dataclasses.replace(t, p_for_adj=t.p_for, p_against_adj=t.p_against)
    return t


def holm(tests: Sequence[Tested]) -> list[Tested]:
    """Holm's step-down adjustment (``statsmodels`` ``multipletests``) over every ``p_for`` and
    ``p_against`` of the sampled tests (deterministic ones are left as they are)."""
    idx = [i for i, t in enumerate(tests) if not t.deterministic]
    out = list(tests)
    if not idx:
        return out
    p = np.array([[tests[i].p_for, tests[i].p_against] for i in idx]).ravel()
    adj = multipletests(p, alpha=ALPHA, method="holm")[1].reshape(-1, 2)
    for (a_for, a_against), i in zip(adj, idx):
        out[i] = dataclasses.replace(tests[i], p_for_adj=float(a_for), p_against_adj=float(a_against))
    return out


def verdict_of(t: Tested) -> str:
    """The verdict of one test from its Holm-adjusted p-values (raw ones before :func:`holm`)."""
    pf = t.p_for_adj if math.isfinite(t.p_for_adj) else t.p_for
    pa = t.p_against_adj if math.isfinite(t.p_against_adj) else t.p_against
    yes, no = pf < ALPHA, pa < ALPHA
    return "holds in part" if yes and no else "confirmed" if yes else "refuted" if no else "undecided"


def combine(verdicts: Sequence[str], mode: str = "parts") -> str:
    """One verdict from its parts'. ``"every"``: the claim is about every condition (confirmed when all
    are, refuted when one is, else undecided); ``"parts"``: distinct conditions (all alike: that
    verdict; confirmed and refuted parts mixed: *holds in part*; else undecided)."""
    v = [x for x in verdicts if x != "not yet tested"]
    if not v or len(v) < len(verdicts):
        return "not yet tested"
    if mode == "every":
        return ("refuted" if "refuted" in v else "confirmed" if set(v) == {"confirmed"} else
                "holds in part" if "undecided" not in v else "undecided")
    if mode != "parts":
        raise ValueError(f"combine parts by 'every' or 'parts', not {mode!r}")
    if len(set(v)) == 1:
        return v[0]
    if "undecided" in v and not ({"confirmed", "holds in part"} & set(v) and "refuted" in v):
        return "undecided"
    return "holds in part"


def distance(t: Tested) -> float:
    """How far the estimate lies from the boundary of the test it leans to: for ``greater(c, r)`` the
    larger of ``value - c`` (towards confirming) and ``r - value`` (towards refuting); for
    ``equivalent(delta)`` ``| |value| - delta |``. The effect a larger sample must resolve to decide (of a
    biased estimate, only towards the verdict its bias leaves open; NaN where none is)."""
    v, rule, est = t.estimate.value, t.rule, t.estimate
    if rule.kind == "greater":  # a biased estimate (:meth:`Estimate.biased`) leans only where its evidence counts
        ways = ([v - rule.c] if not est.may_be_high else []) + ([rule.r - v] if not est.may_be_low else [])
        return max(ways) if ways else math.nan
    if est.may_be_high or est.may_be_low:  # equivalence is never shown by a biased estimate
        return abs(v) - rule.delta if abs(v) > rule.delta else math.nan
    return abs(abs(v) - rule.delta)


def power(t: Tested, level: float = POWER, alpha: float = ALPHA) -> dict:
    """For a sampled test: ``detectable``, the smallest distance from the rule's boundary that its
    sample detects with probability ``level`` by a one-sided test at ``alpha`` (pass the level a test
    must pass after Holm, e.g. ``ALPHA / family size``, the strictest step), and ``n_needed``, the
    sample (the unit of ``n``: seeds, runs, digits) that would decide the test if the effect is what
    was measured (:func:`distance`), from the measured spread: ``statsmodels`` ``TTestPower`` for a
    paired t, ``TTestIndPower`` for Welch's (per group), the normal law for the others."""
    est, effect = t.estimate, distance(t)
    if t.deterministic or not math.isfinite(est.se) or est.se <= 0:
        return {"detectable": math.nan, "n_needed": math.nan}
    if est.method.startswith(("paired t", "Welch t")):  # Student t: few seeds have heavy tails
        paired_t = est.method.startswith("paired t")
        tp, sd = (TTestPower(), est.se * math.sqrt(est.n)) if paired_t else (TTestIndPower(), est.sd)
        kw = {"alpha": alpha, "alternative": "larger"}
        power_at = (lambda d, n: tp.power(effect_size=d, nobs=n, **kw)) if paired_t else \
            (lambda d, n: tp.power(effect_size=d, nobs1=n, ratio=1.0, **kw))
        ds = np.linspace(0.01, 200.0, 20000)  # effect sizes in units of sd: the smallest at ``level``
        ok = np.flatnonzero(power_at(ds, est.n) >= level)
        detectable = float(ds[ok[0]]) * sd if ok.size else math.inf
        n_needed = math.inf
        if effect > 0:  # the smallest n (per group) whose power reaches ``level``: a scan, robust where a root finder is not
            ns = np.arange(2, 5001)
            ok = np.flatnonzero(power_at(effect / sd, ns) >= level)
            n_needed = float(ns[ok[0]]) if ok.size else math.inf
    else:
        z = stats.norm.ppf(1 - alpha) + stats.norm.ppf(level)
        detectable = z * est.se
        n_needed = max(2, math.ceil(est.n * (detectable / effect) ** 2)) if effect > 0 else math.inf
    return {"detectable": float(detectable), "n_needed": n_needed}
