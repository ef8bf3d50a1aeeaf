"""Summary statistics of runs: means with confidence intervals over seeds."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["mean_ci", "mean_diff_ci", "prediction_interval"]


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the two-sided Student-t confidence interval over independent runs
    (seeds). One value gives a NaN half-width: a single run has no spread to report."""
    from scipy import stats

    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return float("nan"), float("nan")
    if len(x) == 1:
        return float(x[0]), float("nan")
    half = stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return float(x.mean()), float(half)



def mean_diff_ci(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Difference of means ``mean(a) - mean(b)`` of two independent groups of runs and the
    half-width of its Welch confidence interval (unequal variances, Welch-Satterthwaite degrees of
    freedom). NaN half-width when a group has fewer than two values; zero when neither varies."""
    from scipy import stats

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
    from scipy import stats

    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) * math.sqrt(1 + 1 / len(x))
    return float(x.mean() - half), float(x.mean() + half)
