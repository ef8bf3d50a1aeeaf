"""Summary statistics of runs: means with confidence intervals over seeds."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["mean_ci"]


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

