"""Summary statistics of runs: means with confidence intervals over seeds, and the convergence rate
of learning curves (seed 000) with its change relative to a benchmark.

Convergence rate (the definitions the book states; seed 000 leaves them open). Validation accuracy
``a(n)`` is recorded at numbers of training samples ``n_0 < n_1 < ...``:

* primary: ``CR_q = 1 / n_q`` with ``n_q`` the first ``n`` (linear interpolation between records)
  at which ``a(n) >= q A_ref``, ``A_ref`` the benchmark's final validation accuracy, ``q = 0.9``
  (also 0.95): :func:`samples_to_reach`, :func:`convergence_rate`;
* secondary: the rate constant of the fit ``e(n) = e_inf + (e_0 - e_inf) exp(-n / n_c)`` of the
  validation error, ``CR = 1 / n_c``: :func:`fit_exponential_error`;
* change: ``dCR = (CR - CR_bench) / CR_bench`` per seed (paired), mean over seeds with a seeded
  percentile-bootstrap CI over seeds: :func:`relative_change`.
"""

from __future__ import annotations

import math
from typing import Mapping, NamedTuple, Sequence

import numpy as np
import xarray as xr
from scipy import stats
from scipy.optimize import curve_fit

__all__ = ["mean_ci", "mean_diff_ci", "prediction_interval", "wilson_interval", "samples_to_reach", "convergence_rate",
           "ExponentialFit", "ConvergenceFitError", "fit_exponential_error", "RelativeChange", "relative_change",
           "curve_convergence_rates", "curve_exponential_rates"]

def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the two-sided Student-t confidence interval over independent runs
    (seeds). One value gives a NaN half-width: a single run has no spread to report."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return float("nan"), float("nan")
    if len(x) == 1:
        return float(x[0]), float("nan")
    half = stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return float(x.mean()), float(half)


def mean_ci_along(da, dim: str = "seed", level: float = 0.95):
    """:func:`mean_ci` of an ``xarray.DataArray`` along ``dim`` (e.g. the seeds), for every other
    coordinate: ``(mean, half_width)`` as two DataArrays without ``dim``."""
    out = xr.apply_ufunc(lambda v: np.array(mean_ci(v, level)), da, input_core_dims=[[dim]],
                         output_core_dims=[["stat"]], vectorize=True)
    return out.isel(stat=0, drop=True), out.isel(stat=1, drop=True)


def mean_diff_ci(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Difference of means ``mean(a) - mean(b)`` of two independent groups of runs and the
    half-width of its Welch confidence interval (unequal variances, Welch-Satterthwaite degrees of
    freedom). NaN half-width when a group has fewer than two values; zero when neither varies."""
    a, b = (np.asarray(x, dtype=float) for x in (a, b))
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    d = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return d, float("nan")
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se2 = va + vb
    if se2 == 0:
        return d, 0.0
    df = se2 ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return d, float(stats.t.ppf(0.5 + level / 2, df) * math.sqrt(se2))


def prediction_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Student-t interval in which one more independent run of the same recipe falls with
    probability ``level``: ``mean ± t s sqrt(1 + 1/n)`` over the ``n`` runs (for comparing a
    published single run with several seeds). NaN bounds with fewer than two runs."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) * math.sqrt(1 + 1 / len(x))
    return float(x.mean() - half), float(x.mean() + half)


def _curve(n, values, what: str) -> tuple[np.ndarray, np.ndarray]:
    n, v = np.asarray(n, dtype=float).reshape(-1), np.asarray(values, dtype=float).reshape(-1)
    if n.shape != v.shape or len(n) == 0:
        raise ValueError(f"n and {what} must be non-empty 1-d sequences of one length, got {n.shape} and {v.shape}.")
    if not (np.isfinite(n).all() and (n >= 0).all() and (np.diff(n) > 0).all()):
        raise ValueError("n (training samples seen) must be finite, >= 0 and strictly increasing.")
    return n, v


def samples_to_reach(n: Sequence[float], accuracy: Sequence[float], target: float) -> float:
    """``n_q``: the number of training samples at which ``accuracy`` first reaches ``target``.

    ``accuracy[i]`` is recorded after ``n[i]`` samples (``n`` strictly increasing). With ``i`` the
    first record where ``accuracy[i] >= target``, the crossing is interpolated linearly on the
    segment before it::

        n_q = n[i-1] + (target - a[i-1]) / (a[i] - a[i-1]) * (n[i] - n[i-1])

    (``a[i-1] < target <= a[i]``, so the denominator is positive). ``i = 0`` gives ``n[0]`` (nothing
    was recorded before). NaN when the curve never reaches ``target`` (NaN records never do).
    """
    n, a = _curve(n, accuracy, "accuracy")
    if not math.isfinite(target):
        raise ValueError(f"target = {target}: expected a finite accuracy.")
    hit = np.flatnonzero(np.nan_to_num(a, nan=-np.inf) >= target)
    if len(hit) == 0:
        return float("nan")
    i = int(hit[0])
    if i == 0:
        return float(n[0])
    if not math.isfinite(a[i - 1]):  # no value to interpolate from: the crossing is only known at n[i]
        return float(n[i])
    return float(n[i - 1] + (target - a[i - 1]) / (a[i] - a[i - 1]) * (n[i] - n[i - 1]))


def convergence_rate(n: Sequence[float], accuracy: Sequence[float], reference: float, q: float = 0.9) -> float:
    """``CR_q = 1 / n_q`` (per training sample), ``n_q`` = :func:`samples_to_reach` of ``q * reference``.

    ``reference``: the benchmark's final validation accuracy (same units as ``accuracy``). NaN when
    the target is never reached; ``inf`` when it is reached at ``n[0] = 0`` (before training)."""
    if not (0 < q <= 1):
        raise ValueError(f"q = {q}: expected a fraction in (0, 1].")
    if not (math.isfinite(reference) and reference > 0):
        raise ValueError(f"reference = {reference}: expected the benchmark's final accuracy (> 0).")
    n_q = samples_to_reach(n, accuracy, q * reference)
    if math.isnan(n_q):
        return float("nan")
    return math.inf if n_q == 0 else 1.0 / n_q


class ConvergenceFitError(RuntimeError):
    """The exponential learning-curve model could not be fitted (or its rate is not identified)."""


class ExponentialFit(NamedTuple):
    """``e(n) = e_inf + (e_0 - e_inf) exp(-n / n_c)``; ``rate = 1 / n_c`` (per training sample)."""

    e_inf: float
    e_0: float
    n_c: float
    rate: float
    rmse: float


def fit_exponential_error(n: Sequence[float], error: Sequence[float], max_span: float = 10.0,
                          min_spacings: float = 1.0) -> ExponentialFit:
    """Least-squares fit of ``e(n) = e_inf + (e_0 - e_inf) exp(-n / n_c)`` to a validation-error curve
    (``scipy.optimize.curve_fit``, trust-region reflective).

    Parametrised as ``(e_inf, e_0, log(n_c / S))`` with ``S = n[-1] - n[0]`` so the three unknowns
    have comparable scales and ``n_c > 0`` needs no bound. Starting values from the data: ``e_0``
    the first error, ``e_inf`` the last, ``n_c`` where the error has fallen by ``1 - 1/e`` of the
    way (:func:`samples_to_reach` on ``-error``), else ``S / 3``.

    Raises ``ValueError`` for fewer than 4 finite points (3 parameters, one residual degree of
    freedom) and :class:`ConvergenceFitError` when the optimiser fails, the covariance is not finite,
    the fitted curve changes over the records by no more than twice the residual RMS (no decay),
    the standard error of ``log n_c`` exceeds 1 (``n_c`` uncertain by more than a factor ``e``), or
    ``n_c > max_span * S``: a decay so slow is a straight line on the recorded range, and its rate
    is not identified by it; or ``n_c`` under ``min_spacings`` times the finest spacing of the
    records: most of such a decay happens between two records (a step, e.g. a run that collapses to
    chance after its first record), and its rate rests on one pair of points. (``n_0 / n_c > 700``,
    where the value at ``n = 0`` would overflow, fails the same way.)
    """
    n, e = _curve(n, error, "error")
    ok = np.isfinite(e)
    n, e = n[ok], e[ok]
    if len(n) < 4:
        raise ValueError(f"{len(n)} finite points: the 3-parameter exponential needs at least 4.")
    n0, span = n[0], n[-1] - n[0]
    x = (n - n0) / span

    def model(x, e_inf, e_0, log_c):
        # n measured from n[0]: e_0 is the model's value at n[0]; shifted back below
        return e_inf + (e_0 - e_inf) * np.exp(-x * np.exp(-log_c))

    drop = e[0] - e[-1]
    guess_nc = span / 3
    if drop > 0:
        n_e = samples_to_reach(n, -e, -(e[0] - drop * (1 - math.exp(-1))))
        if math.isfinite(n_e) and n_e > n0:
            guess_nc = n_e - n0
    p0 = (e[-1], e[0], math.log(guess_nc / span))
    try:
        p, cov = curve_fit(model, x, e, p0=p0, method="trf", maxfev=20000)
    except (RuntimeError, ValueError) as err:
        raise ConvergenceFitError(f"the exponential fit did not converge: {err}") from err
    if not np.isfinite(cov).all():
        raise ConvergenceFitError("the exponential fit's covariance is not finite: the curve does not "
                                  "determine e_inf, e_0 and n_c (flat or too few distinct points).")
    e_inf, e_at_n0, log_c = (float(v) for v in p)
    n_c = span * math.exp(log_c)
    rmse = float(np.sqrt(np.mean((model(x, *p) - e) ** 2)))
    change = abs(e_at_n0 - e_inf) * -math.expm1(-span / n_c)  # the model's change over the records
    if not change > 2 * rmse:
        raise ConvergenceFitError(f"the fitted curve changes by {change:.3g} over the records, not more than "
                                  f"twice the residual RMS ({rmse:.3g}): there is no decay to take a rate from.")
    if math.sqrt(cov[2, 2]) > 1.0:
        raise ConvergenceFitError(f"n_c = {n_c:.4g} is uncertain by more than a factor e (standard error of "
                                  f"log n_c {math.sqrt(cov[2, 2]):.3g}): the curve does not determine the rate.")
    if n_c > max_span * span:
        raise ConvergenceFitError(f"n_c = {n_c:.4g} samples is over {max_span:g} x the recorded span "
                                  f"({span:.4g}): the decay is not resolved by the curve.")
    step = float(np.min(np.diff(n)))  # the finest spacing of the records
    if n_c < min_spacings * step:
        raise ConvergenceFitError(f"n_c = {n_c:.4g} samples is under {min_spacings:g} x the spacing of the records "
                                  f"({step:.4g}): the decay happens mostly between two records and its rate is "
                                  "not resolved.")
    if n0 / n_c > 700:  # exp would overflow: the curve starts too long after n = 0 to extrapolate back
        raise ConvergenceFitError(f"n_c = {n_c:.4g} samples is under 1/700 of the first record's n ({n0:.4g}): "
                                  "the model's value at n = 0 is out of range.")
    e_0 = e_inf + (e_at_n0 - e_inf) * math.exp(n0 / n_c)  # the model's value at n = 0
    return ExponentialFit(e_inf, e_0, n_c, 1.0 / n_c, rmse)


class RelativeChange(NamedTuple):
    """Mean over seeds of ``dCR = (CR - CR_bench) / CR_bench``, its bootstrap CI ``[low, high]`` and
    the number of seeds (pairs) it rests on."""

    estimate: float
    low: float
    high: float
    n_pairs: int


def relative_change(cr: "Sequence[float] | Mapping", cr_bench: "Sequence[float] | Mapping", level: float = 0.95,
                    n_boot: int = 10000, seed: int = 0) -> RelativeChange:
    """``dCR`` paired by seed: ``d_s = (CR_s - CR_bench,s) / CR_bench,s``; the estimate is the mean
    of ``d_s`` over seeds and the interval the percentile bootstrap over seeds (``n_boot`` resamples
    of the seeds with replacement, ``numpy.random.default_rng(seed)``: reproducible).

    ``cr`` and ``cr_bench``: mappings ``{seed: CR}`` (paired on their common seeds) or sequences
    aligned by position. Pairs with a NaN (target never reached) are left out and ``n_pairs`` says
    how many remain; a caller that counts "never reached" as ``CR = 0`` passes 0 instead
    (``d = -1``). One pair gives a NaN interval.
    """
    if not (0 < level < 1):
        raise ValueError(f"level = {level}: expected a probability in (0, 1).")
    if not (isinstance(n_boot, int) and n_boot >= 100):
        raise ValueError(f"n_boot = {n_boot}: expected an integer >= 100.")
    if isinstance(cr, Mapping) != isinstance(cr_bench, Mapping):
        raise ValueError("give both cr and cr_bench as {seed: CR} mappings, or both as aligned sequences.")
    if isinstance(cr, Mapping):
        seeds = sorted(set(cr) & set(cr_bench))
        a, b = np.array([cr[s] for s in seeds], float), np.array([cr_bench[s] for s in seeds], float)
    else:
        a, b = np.asarray(cr, float).reshape(-1), np.asarray(cr_bench, float).reshape(-1)
        if a.shape != b.shape:
            raise ValueError(f"{len(a)} CR values and {len(b)} benchmark values: pair them one to one.")
    ok = np.isfinite(a) & np.isfinite(b)
    if (b[ok] <= 0).any():
        raise ValueError("a benchmark CR <= 0: the relative change is undefined.")
    d = (a[ok] - b[ok]) / b[ok]
    if len(d) == 0:
        return RelativeChange(float("nan"), float("nan"), float("nan"), 0)
    if len(d) == 1:
        return RelativeChange(float(d[0]), float("nan"), float("nan"), 1)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return RelativeChange(float(d.mean()), float(lo), float(hi), len(d))


def curve_convergence_rates(accuracy, reference, q: float = 0.9, dim: str = "samples_seen"):
    """:func:`convergence_rate` of every learning curve in an ``xarray.DataArray`` of validation
    accuracy along ``dim`` (the training samples seen, a coordinate), over all other dims (``seed``,
    bin count, ...). ``reference``: a number or a DataArray that broadcasts (e.g. the benchmark's
    final accuracy per seed). Returns a DataArray without ``dim`` (NaN: never reached)."""
    n = accuracy[dim].values
    return xr.apply_ufunc(lambda a, ref: convergence_rate(n, a, float(ref), q), accuracy, reference,
                          input_core_dims=[[dim], []], vectorize=True)


def curve_exponential_rates(error, dim: str = "samples_seen"):
    """``1 / n_c`` of :func:`fit_exponential_error` for every curve of validation *error* along ``dim``
    (NaN where the fit fails, :class:`ConvergenceFitError`, or fewer than 4 records are finite)."""
    n = error[dim].values

    def rate(e):
        if np.isfinite(e).sum() < 4:  # a missing run (all NaN) or too few records to fit
            return float("nan")
        try:
            return fit_exponential_error(n, e).rate
        except ConvergenceFitError:
            return float("nan")

    return xr.apply_ufunc(rate, error, input_core_dims=[[dim]], vectorize=True)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (``successes`` of ``n``), e.g. an accuracy
    on ``n`` test samples: ``(p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)``."""
    if not (isinstance(n, (int, np.integer)) and n >= 1 and 0 <= successes <= n):
        raise ValueError(f"need 0 <= successes <= n and n >= 1, got {successes} of {n}")
    z = stats.norm.ppf(0.5 + level / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))

