"""Convergence rate on learning curves with a known answer: piecewise-linear curves (exact crossing),
exact exponential curves (the fit recovers its parameters), paired relative change and its bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest

from snnlib.metrics import (
    ConvergenceFitError,
    convergence_rate,
    fit_exponential_error,
    relative_change,
    samples_to_reach,
)


def test_piecewise_linear_crossing_is_exact():
    n = [0, 100, 200, 300]
    acc = [0.10, 0.50, 0.80, 0.90]
    # q = 0.9 of a benchmark that ends at 0.9: target 0.81, on the segment (200, 0.80)-(300, 0.90):
    # n = 200 + (0.81 - 0.80) / (0.90 - 0.80) * 100 = 210
    assert samples_to_reach(n, acc, 0.81) == pytest.approx(210.0, rel=1e-12)
    assert convergence_rate(n, acc, reference=0.9, q=0.9) == pytest.approx(1 / 210.0, rel=1e-12)
    # q = 0.95: target 0.855, n = 200 + 0.055 / 0.1 * 100 = 255
    assert convergence_rate(n, acc, reference=0.9, q=0.95) == pytest.approx(1 / 255.0, rel=1e-12)


def test_first_crossing_counts_not_the_last():
    # the curve crosses 0.81 on (0, 0.10)-(100, 0.85), dips below and crosses again later:
    # n = 0 + (0.81 - 0.10) / (0.85 - 0.10) * 100 = 94.666...
    n, acc = [0, 100, 200, 300], [0.10, 0.85, 0.60, 0.90]
    assert samples_to_reach(n, acc, 0.81) == pytest.approx(71 / 0.75, rel=1e-12)


def test_never_reached_is_nan_and_reached_at_first_record_is_that_record():
    n, acc = [50, 100, 150], [0.2, 0.4, 0.5]
    assert math.isnan(samples_to_reach(n, acc, 0.6))
    assert math.isnan(convergence_rate(n, acc, reference=1.0, q=0.9))
    assert samples_to_reach(n, acc, 0.1) == 50.0
    assert convergence_rate([0, 10], [0.95, 0.99], reference=1.0) == math.inf


def test_interpolated_crossing_of_an_exponential_curve_converges_at_second_order():
    """a(n) = a_inf - (a_inf - a0) exp(-n / n_c) reaches the target A at
    n* = -n_c log((a_inf - A) / (a_inf - a0)). Linear interpolation on records spaced h apart
    errs by at most h^2 max|a''| / (8 min a') on the crossing segment, with |a''| / a' = 1 / n_c,
    so the error is below h^2 / (8 n_c) times exp(h / n_c) (the ratio over the segment)."""
    a0, a_inf, n_c, target = 0.1, 0.95, 3000.0, 0.9 * 0.95
    exact = -n_c * math.log((a_inf - target) / (a_inf - a0))
    for h in (500.0, 100.0, 20.0):
        n = np.arange(0, 30000 + h, h)
        got = samples_to_reach(n, a_inf - (a_inf - a0) * np.exp(-n / n_c), target)
        bound = h * h / (8 * n_c) * math.exp(h / n_c)
        assert abs(got - exact) <= bound
        assert got >= exact  # the exponential is concave: the chord lies below, the crossing comes later


@pytest.mark.parametrize("e_inf,e_0,n_c", [(0.02, 0.9, 4000.0), (0.10, 0.5, 800.0), (0.0, 0.3, 12000.0)])
def test_exponential_fit_recovers_an_exact_exponential_curve(e_inf, e_0, n_c):
    n = np.linspace(500, 30000, 40)  # first record after some training: e_0 is extrapolated to n = 0
    err = e_inf + (e_0 - e_inf) * np.exp(-n / n_c)
    fit = fit_exponential_error(n, err)
    assert fit.n_c == pytest.approx(n_c, rel=1e-6)
    assert fit.rate == pytest.approx(1 / n_c, rel=1e-6)
    assert fit.e_inf == pytest.approx(e_inf, abs=1e-8)
    assert fit.e_0 == pytest.approx(e_0, rel=1e-6)
    assert fit.rmse < 1e-8


def test_exponential_fit_with_noise_is_close_and_fails_clearly_when_unidentified():
    rng = np.random.default_rng(0)
    n = np.linspace(0, 20000, 60)
    err = 0.05 + 0.85 * np.exp(-n / 2500.0) + rng.normal(0, 0.005, n.shape)
    fit = fit_exponential_error(n, err)
    assert fit.n_c == pytest.approx(2500.0, rel=0.05)  # noise 0.005 on a drop of 0.85: a few % on n_c
    with pytest.raises(ConvergenceFitError):
        fit_exponential_error(n, np.full(n.shape, 0.3))  # flat: no decay to fit
    with pytest.raises(ConvergenceFitError, match="not resolved"):
        fit_exponential_error(n, 0.9 - 1e-6 * n)  # a straight line: n_c beyond the recorded range
    with pytest.raises(ValueError, match="at least 4"):
        fit_exponential_error([0, 1, 2], [0.9, 0.5, 0.3])
    with pytest.raises(ValueError, match="increasing"):
        fit_exponential_error([0, 2, 1, 3], [0.9, 0.5, 0.3, 0.2])


def test_exponential_fit_of_a_step_fails_clearly_instead_of_overflowing():
    """A recorded run (MNIST, spike-time scheme on a coarse grid) that falls to chance after its
    first record: the fitted decay ends between two records, so n_c is not identified (and the
    extrapolation to n = 0 overflowed before this check)."""
    n = 1250.0 * np.arange(1, 25)
    err = np.array([0.918, 0.893, 0.8925, 0.899] + [0.8995] * 9 + [0.9] + [0.8995] * 7 + [0.9] * 3)
    with pytest.raises(ConvergenceFitError, match="between two records"):
        fit_exponential_error(n, err)
    import xarray as xr

    from snnlib.metrics import curve_exponential_rates

    assert np.isnan(curve_exponential_rates(xr.DataArray(err, dims="samples_seen", coords={"samples_seen": n})))


def test_relative_change_is_paired_by_seed():
    bench = {0: 1e-3, 1: 2e-3, 2: 4e-3}
    # every seed 20% slower than its own benchmark: d = -0.2 exactly, a degenerate interval
    cr = {s: 0.8 * v for s, v in bench.items()}
    r = relative_change(cr, bench)
    assert r.estimate == pytest.approx(-0.2) and r.low == pytest.approx(-0.2) and r.high == pytest.approx(-0.2)
    assert r.n_pairs == 3
    # the same values unpaired (shuffled seeds) would not give a constant change
    shuffled = relative_change([cr[1], cr[2], cr[0]], [bench[0], bench[1], bench[2]])
    assert shuffled.high - shuffled.low > 0.1


def test_relative_change_bootstrap_is_seeded_and_brackets_the_mean():
    rng = np.random.default_rng(1)
    bench = rng.uniform(1e-4, 2e-4, 8)
    cr = bench * (1 + rng.normal(-0.3, 0.1, 8))
    a, b = relative_change(cr, bench, seed=5), relative_change(cr, bench, seed=5)
    assert a == b
    assert a.low < a.estimate < a.high
    assert a.estimate == pytest.approx(np.mean((cr - bench) / bench))
    # NaN (never reached) pairs are left out, and counted
    r = relative_change(np.r_[cr, np.nan], np.r_[bench, 1e-4])
    assert r.n_pairs == 8 and r.estimate == pytest.approx(a.estimate)
    one = relative_change([2.0], [1.0])
    assert one.estimate == 1.0 and math.isnan(one.low)
    with pytest.raises(ValueError, match="pair"):
        relative_change([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="benchmark"):
        relative_change([1.0], [0.0])


def test_rates_of_every_curve_of_a_dataarray():
    import xarray as xr

    from snnlib.metrics import curve_convergence_rates, curve_exponential_rates

    n = np.linspace(0, 20000, 41)
    n_c = np.array([2000.0, 4000.0])  # one curve per seed
    acc = 0.95 - 0.85 * np.exp(-n[None, :] / n_c[:, None])
    da = xr.DataArray(acc, dims=("seed", "samples_seen"), coords={"seed": [0, 1], "samples_seen": n})
    cr = curve_convergence_rates(da, reference=0.95, q=0.9)
    assert cr.dims == ("seed",)
    for s in (0, 1):
        assert float(cr.sel(seed=s)) == convergence_rate(n, acc[s], 0.95, 0.9)
    rates = curve_exponential_rates(1 - da)
    np.testing.assert_allclose(rates.values, 1 / n_c, rtol=1e-6)
    flat = curve_exponential_rates(xr.full_like(da, 0.5))  # no decay: the fit fails, NaN
    assert np.isnan(flat.values).all()
    ref = xr.DataArray([0.95, 2.0], dims="seed", coords={"seed": [0, 1]})  # seed 1 never reaches 1.8
    per_seed = curve_convergence_rates(da, ref)
    assert np.isfinite(per_seed.sel(seed=0)) and np.isnan(per_seed.sel(seed=1))


def test_wilson_interval_matches_statsmodels_formula_values():
    """Reference values of the Wilson 95% interval (Newcombe 1998, Table I: 81 of 263 gives
    0.2553 to 0.3662; 0 of 10 gives 0 to 0.2775)."""
    from snnlib.metrics import wilson_interval

    lo, hi = wilson_interval(81, 263)
    assert (round(lo, 4), round(hi, 4)) == (0.2553, 0.3662)
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and round(hi, 4) == 0.2775
    with pytest.raises(ValueError):
        wilson_interval(11, 10)
