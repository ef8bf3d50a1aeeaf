"""Integrators: Euler / Parker-Sochacki steps, registry, convergence orders (times in ms)."""

import math

import numpy as np
import pytest
import torch

from snnlib.events.reference import simulate_layer
from snnlib.model.discretization import Discretization as D
from snnlib.model.integrators import (
    INTEGRATORS,
    AdaptivePS,
    Exact,
    ParkerSochacki,
    get_integrator,
    poly_derivative,
    poly_eval,
    ps_coefficients,
)
from snnlib.model.neuron import NeuronParams, propagate

F64 = torch.float64


def _states(n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, generator=g, dtype=F64), torch.randn(n, generator=g, dtype=F64) * 0.05


def test_registry_names():
    assert {"exact", "euler", "ps"} <= set(INTEGRATORS)
    assert isinstance(get_integrator("exact"), Exact)
    assert get_integrator("euler") == ParkerSochacki(1, name="euler")
    assert get_integrator("ps", 4).order == 4
    with pytest.raises(ValueError, match="order"):
        get_integrator("ps")
    with pytest.raises(ValueError, match="order"):
        get_integrator("ps", 0)
    with pytest.raises(ValueError, match="unknown integrator"):
        get_integrator("rk4")
    with pytest.raises(TypeError):
        Exact().coefficients(*_states(), NeuronParams())


def test_ps1_is_forward_euler():
    """PS(1) reproduces V + h(-V/tau + I), I - h I/tau_s to rounding."""
    p = NeuronParams(tau_s=20.0, tau=35.0)
    V, I = _states()
    h = 0.7
    for name, order in [("ps", 1), ("euler", None)]:
        Vn, In = get_integrator(name, order).step(V, I, h, p)
        assert torch.allclose(Vn, V + h * (-V / p.tau + I), rtol=1e-15, atol=1e-16)
        assert torch.allclose(In, I - h * I / p.tau_s, rtol=1e-15, atol=1e-16)


def test_ps_coefficients_are_taylor_coefficients():
    """c_j = (d^j/ds^j state)(0) / j!: compare with the derivatives of the exact flow,
    which for a linear ODE are A^j x0 (A the system matrix)."""
    p = NeuronParams(tau_s=20.0, tau=35.0)
    V, I = _states(5)
    c = ps_coefficients(V, I, p, 6)
    A = torch.tensor([[-1 / p.tau, 1.0], [0.0, -1 / p.tau_s]], dtype=F64)
    x = torch.stack([V, I])
    for j in range(7):
        d = torch.linalg.matrix_power(A, j) @ x / math.factorial(j)
        assert torch.allclose(c.cV[:, j], d[0], rtol=1e-13, atol=1e-300)
        assert torch.allclose(c.cI[:, j], d[1], rtol=1e-13, atol=1e-300)


def test_ps_high_order_equals_exact():
    """PS(20) at dt = 5 ms, tau_s = 130: the remainder is about (h/tau_s)^21/21! ~ 1e-49,
    so it equals the exact step to rounding (asserted at 1e-10)."""
    p = NeuronParams(tau_s=130.0)
    V, I = _states()
    Ve, Ie = propagate(V, I, 5.0, p)
    Vp, Ip = get_integrator("ps", 20).step(V, I, 5.0, p)
    assert torch.allclose(Vp, Ve, atol=1e-10, rtol=0) and torch.allclose(Ip, Ie, atol=1e-10, rtol=0)
    assert torch.allclose(Exact().step(V, I, 5.0, p)[0], Ve, rtol=0, atol=0)


def test_ps_error_decreases_with_order_like_the_taylor_remainder():
    """One step: |PS(k) - exact| <= sup|V^(k+1)| h^(k+1)/(k+1)! with sup|V^(j)| <= |x0| max(1/tau_s, 1/tau)^(j-1) 2."""
    p = NeuronParams(tau_s=10.0, tau=20.0)
    V, I = _states()
    h = 2.0
    Ve, _ = propagate(V, I, h, p)
    prev = math.inf
    for k in range(1, 9):
        err = (get_integrator("ps", k).step(V, I, h, p)[0] - Ve).abs().max().item()
        r = 1 / p.tau_s
        bound = 2 * max(V.abs().max().item() * r, I.abs().max().item()) * r ** k * h ** (k + 1) / math.factorial(k + 1)
        assert err <= bound
        assert err < prev
        prev = err


def test_truncated_taylor_step_is_not_a_semigroup_but_exact_is():
    """Phi_a o Phi_b != Phi_{a+b} for PS(5) (seed 001, Fig. 2), while the exact flow composes."""
    p = NeuronParams()
    V, I = torch.tensor([0.2], dtype=F64), torch.tensor([0.02], dtype=F64)
    ps5 = get_integrator("ps", 5)
    h, a = 40.0, 13.0
    one = ps5.step(V, I, h, p)[0]
    two = ps5.step(*ps5.step(V, I, a, p), h - a, p)[0]
    ex1 = Exact().step(V, I, h, p)[0]
    ex2 = Exact().step(*Exact().step(V, I, a, p), h - a, p)[0]
    eps = torch.finfo(F64).eps
    assert (one - two).abs().item() > 1e4 * eps  # a real difference, far above rounding
    assert (ex1 - ex2).abs().item() < 10 * eps


def test_poly_helpers():
    c = torch.tensor([[1.0, -2.0, 0.5, 3.0]], dtype=F64)
    s = torch.tensor([0.3], dtype=F64)
    assert poly_eval(c, s).item() == pytest.approx(np.polyval([3.0, 0.5, -2.0, 1.0], 0.3))
    assert poly_eval(poly_derivative(c), s).item() == pytest.approx(np.polyval([9.0, 1.0, -2.0], 0.3))


def test_adaptive_ps_meets_its_tolerance():
    """Stewart & Bair's adaptive order: last term below tol, so the step is within a few tol of exact."""
    p = NeuronParams()
    V, I = _states()
    for tol in (1e-6, 1e-12):
        integ = get_integrator("ps-adaptive", tol=tol)
        assert isinstance(integ, AdaptivePS)
        c = integ.coefficients(V, I, p, 5.0)
        last = torch.maximum(c.cV[:, -1].abs(), c.cI[:, -1].abs()) * 5.0 ** (c.cV.shape[-1] - 1)
        assert (last < tol).all()
        Ve = propagate(V, I, 5.0, p)[0]
        assert (integ.step(V, I, 5.0, p)[0] - Ve).abs().max().item() < 10 * tol


def _slope(dts, errs):
    return np.polyfit(np.log(dts), np.log(errs), 1)[0]


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_end_of_window_voltage_converges_with_order_k(order):
    """Sub-threshold neuron (theta out of reach), random inputs split into steps
    (input="exact"): the global error of V(t_max) is O(dt^k), so the log-log slope is k.
    dts 1..8 ms are << tau_s = 130 (asymptotic) and PS(5) at 1 ms still errs ~1e-13,
    above float64 rounding of |V| ~ 1 (1e-16). Inputs are sparse (6 in 200 ms) so
    the steps have length ~dt, not the inter-input gap."""
    p = NeuronParams(theta=1e6)
    g = torch.Generator().manual_seed(1)
    T = 200.0
    x = torch.rand(4, 6, 1, generator=g, dtype=F64) * T
    W = torch.randn(8, 6, generator=g, dtype=F64) * 0.02
    ref = simulate_layer(x, W, p, t_max=T, max_spikes=1).state.V
    dts = [1.0, 2.0, 4.0, 8.0]
    errs = []
    for dt in dts:
        V = simulate_layer(x, W, p, t_max=T, max_spikes=1, discretization=D("ps", order, dt, "snap")).state.V
        errs.append((V - ref).abs().max().item())
    assert abs(_slope(dts, errs) - order) < 0.15, errs
    if order == 1:  # "euler" is PS(1)
        V = simulate_layer(x, W, p, t_max=T, max_spikes=1, discretization=D("euler", dt=2.0, spike_rule="snap")).state.V
        assert (V - ref).abs().max().item() == pytest.approx(errs[1], rel=1e-12)


# spike-time orders: snap puts the spike on the step end (error ~ dt/2 on average: O(dt));
# linear interpolation adds an O(dt^2) interpolation error to the O(dt^k) integration error;
# Newton on the step polynomial leaves only the integration error O(dt^k).
SPIKE_CASES = [("snap", k, 1) for k in (1, 3)] + [("linear", k, min(k, 2)) for k in (1, 2, 3)] + [
    ("newton", k, k) for k in (1, 2, 3, 4, 5)
]


@pytest.fixture(scope="module")
def spiking_problem():
    """16 samples x 16 neurons, 4 inputs each in [0, 20] ms, first spikes in 20-45 ms."""
    p = NeuronParams()
    g = torch.Generator().manual_seed(3)
    x = torch.rand(16, 4, 1, generator=g, dtype=F64) * 20.0
    W = (torch.rand(16, 4, generator=g, dtype=F64) + 0.5) * 0.012
    ref = simulate_layer(x, W, p, t_max=50.0, max_spikes=1)
    assert torch.isfinite(ref.times).all()
    return p, x, W, ref.times


@pytest.mark.parametrize("rule, order, expected", SPIKE_CASES)
def test_first_spike_time_converges_at_the_theoretical_order(spiking_problem, rule, order, expected):
    """Mean |t_spike - t_exact| over 256 neurons vs dt in 0.5..4 ms: slope 1 for snap,
    min(k, 2) for linear, k for newton. The mean over many neurons averages the
    uniform grid phase of snap errors; PS(5) + newton at 0.5 ms errs ~6e-14, still
    above rounding of t ~ 30 ms (7e-15)."""
    p, x, W, ref = spiking_problem
    dts = [0.5, 1.0, 2.0, 4.0]
    errs = []
    for dt in dts:
        t = simulate_layer(x, W, p, t_max=50.0, max_spikes=1, discretization=D("ps", order, dt, rule)).times
        assert torch.isfinite(t).all()
        errs.append((t - ref).abs().mean().item())
    assert abs(_slope(dts, errs) - expected) < 0.15, errs
    if rule == "snap" and order > 1:
        # integration error (~1e-4 ms for PS(3)) << dt: snapped spikes are late by less than
        # one step. (Euler's O(dt) voltage error can make its spikes early.)
        assert ((t - ref) >= -1e-3).all() and ((t - ref) < dts[-1]).all()


def test_single_neuron_experiment_reports_the_theoretical_slopes():
    """fit_slope recovers an exact power law (ignoring a zero error), and a tiny
    convergence run of the experiment module reports slopes at the theoretical orders."""
    from snnlib.experiments.single_neuron import convergence, fit_slope

    dts = np.array([0.5, 1.0, 2.0, 4.0])
    assert fit_slope(dts, 3e-3 * dts**2.5) == pytest.approx(2.5)
    assert fit_slope(dts, [0.0, 1.0, 2.0, 4.0]) == pytest.approx(1.0)
    assert math.isnan(fit_slope([1.0], [1.0]))
    ds = convergence(orders=(1, 3), rules=("snap", "newton"), t_max=200.0)
    assert ds["dt"].attrs["units"] == "ms" and ds.attrs["time_unit"] == "ms"
    assert np.allclose(ds.v_slope.values, [1, 3], atol=0.15)
    assert np.allclose(ds.spike_slope.values, ds.expected_spike_slope.values, atol=0.15)
