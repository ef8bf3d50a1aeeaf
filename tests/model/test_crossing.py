"""Threshold crossings inside a step, reset handling, implicit-function gradient."""

import math

import numpy as np
import pytest
import torch

from snnlib.model.crossing import (
    GRAZING_EPS,
    crossing_linear,
    crossing_newton,
    crossing_snap,
    implicit_gradient,
    locate_crossing,
    safe_slope,
    step_with_spikes,
)
from snnlib.model.integrators import Exact, get_integrator
from snnlib.model.neuron import CubaState, NeuronParams, first_crossing, propagate

F64 = torch.float64


def _t(x):
    return torch.tensor(x, dtype=F64)


def test_snap_and_linear_on_a_linear_polynomial():
    """V(s) = a + b s: linear interpolation is exact, s* = (theta - a)/b; snap gives h."""
    a = _t([0.2, 0.9, 0.5, 1.3])
    b = _t([0.1, 0.02, -0.1, 0.0])
    c = torch.stack([a, b], -1)
    h = 10.0
    lin = crossing_linear(c, h, 1.0)
    assert lin[0].item() == pytest.approx(8.0) and lin[1].item() == pytest.approx(5.0)
    assert math.isinf(lin[2]) and lin[3].item() == 0.0  # never reached / already above
    snap = crossing_snap(c, h, 1.0)
    assert snap.tolist()[:3] == [10.0, 10.0, math.inf] and snap[3].item() == 10.0
    assert torch.isinf(crossing_snap(c, 0.0, 1.0)).all()  # no check on an empty step


def test_newton_finds_the_polynomial_root():
    """Random cubics with a sign change on [0, h]: Newton agrees with numpy's roots."""
    rng = np.random.default_rng(0)
    theta, h = 1.0, 2.0
    cs, roots = [], []
    while len(cs) < 50:
        c = rng.normal(size=4) * np.array([0.3, 1.0, 0.5, 0.2])
        c[0] = theta - abs(c[0]) - 0.01
        f = np.polynomial.Polynomial(c - np.array([theta, 0, 0, 0]))
        r = [z.real for z in f.roots() if abs(z.imag) < 1e-12 and 0 <= z.real <= h]
        if len(r) == 1 and f(h) > 0:  # one simple root in the step
            cs.append(c)
            roots.append(r[0])
    s = crossing_newton(torch.tensor(np.array(cs), dtype=F64), h, theta)
    assert np.allclose(s.numpy(), roots, atol=1e-12)
    assert torch.allclose(locate_crossing("newton", torch.tensor(np.array(cs)), h, theta), s)


def test_newton_safeguard_handles_flat_and_multiple_roots():
    """A triple root (f' = 0 there: plain Newton only converges linearly, and its
    root is only defined to eps^(1/3) ~ 6e-6) and three simple roots (Newton from the
    linear guess would leave the bracket): bisection keeps it in [lo, hi]."""
    theta = 1.0
    r = 0.3  # V - theta = (s - r)^3
    triple = _t([theta - r**3, 3 * r**2, -3 * r, 1.0])
    s = crossing_newton(triple[None], 1.0, theta)
    assert abs(s.item() - r) < 1e-4
    # (s - .2)(s - .5)(s - .8): f(0) < 0 < f(1); any of the three roots is a crossing
    three = np.polynomial.Polynomial.fromroots([0.2, 0.5, 0.8]).coef + np.array([theta, 0, 0, 0])
    s = crossing_newton(torch.tensor(three)[None], 1.0, theta).item()
    assert min(abs(s - z) for z in (0.2, 0.5, 0.8)) < 1e-12


def test_no_crossing_gives_inf_and_above_gives_zero():
    c = _t([[0.2, 0.01, 0.0], [1.5, -0.1, 0.0]])
    for rule in ("linear", "newton"):
        s = locate_crossing(rule, c, 5.0, 1.0)
        assert math.isinf(s[0]) and s[1].item() == 0.0
    with pytest.raises(ValueError, match="unknown spike_rule"):
        locate_crossing("cubic", c, 5.0, 1.0)


def test_implicit_gradient_matches_finite_differences_of_the_closed_form():
    """For the exact crossing V(s*; p) = theta: dV/dV0 = x, dV/dI0 = tau (x - x^2),
    d(V - theta)/dtheta = -1, dV/dt = -theta/tau + I0 x^2 (x = exp(-s*/tau)).
    The IFT gradient equals central differences of first_crossing (O(e^2) ~ 1e-10)."""
    g = torch.Generator().manual_seed(0)
    V0 = torch.rand(50, generator=g, dtype=F64) * 0.5
    I0 = 0.02 + torch.rand(50, generator=g, dtype=F64) * 0.03  # peak >= I0 tau / 4 > 1.3 theta
    p = NeuronParams(theta=1.0)
    s = first_crossing(V0, I0, p)
    assert torch.isfinite(s).all()
    x = torch.exp(-s / p.tau)
    slope = -p.theta / p.tau + I0 * x * x
    grads = {
        "V0": implicit_gradient(x, slope),
        "I0": implicit_gradient(p.tau * (x - x * x), slope),
        "theta": implicit_gradient(-torch.ones_like(x), slope),
    }
    for name, e in (("V0", 1e-6), ("I0", 1e-8), ("theta", 1e-6)):
        if name == "theta":
            fd = (first_crossing(V0, I0, NeuronParams(theta=1 + e)) - first_crossing(V0, I0, NeuronParams(theta=1 - e))) / (2 * e)
        else:
            d = {"V0": (e, 0.0), "I0": (0.0, e)}[name]
            fd = (first_crossing(V0 + d[0], I0 + d[1], p) - first_crossing(V0 - d[0], I0 - d[1], p)) / (2 * e)
        assert torch.allclose(grads[name], fd, rtol=1e-5), name
    # autograd through the closed form is the same implicit-function derivative
    I0r = I0.clone().requires_grad_(True)
    first_crossing(V0, I0r, p).sum().backward()
    assert torch.allclose(I0r.grad, grads["I0"], rtol=1e-9)


def test_grazing_guard_clamps_keeping_sign():
    dVdt = _t([0.5, -0.5, 1e-9, -1e-9, 0.0])
    out = safe_slope(dVdt)
    assert out.tolist() == [0.5, -0.5, GRAZING_EPS, -GRAZING_EPS, GRAZING_EPS]
    g = implicit_gradient(torch.ones(5, dtype=F64), dVdt)
    assert torch.isfinite(g).all()
    assert g[0].item() == -2.0 and g[1].item() == 2.0  # untouched away from grazing
    assert g.abs().max().item() == pytest.approx(1 / GRAZING_EPS)  # |dt*/dp| <= |dV/dp| / eps


def test_euler_linear_step_resets_at_the_crossing_and_integrates_the_rest():
    """Euler's step polynomial is linear, so linear interpolation puts V(s*) = theta
    exactly; then V = 0 (subtract) and the remaining h - s* is an Euler step from (0, I(s*))."""
    p = NeuronParams(tau_s=20.0, tau=40.0)
    V, I, h = _t([0.9]), _t([0.3]), 2.0
    slope = -V / p.tau + I
    s_star = (p.theta - V) / slope
    I_star = I - s_star * I / p.tau_s
    rest = h - s_star
    V_end = 0.0 + rest * (0.0 / p.tau * -1 + I_star)
    I_end = I_star - rest * I_star / p.tau_s
    (Vn, In), rounds = step_with_spikes(CubaState(V, I), h, p, get_integrator("euler"), "linear")
    assert len(rounds) == 1 and rounds[0][0].item()
    assert rounds[0][1].item() == pytest.approx(s_star.item(), rel=1e-14)
    assert Vn.item() == pytest.approx(V_end.item(), rel=1e-14) and In.item() == pytest.approx(I_end.item(), rel=1e-14)


@pytest.mark.parametrize("rule", ["linear", "newton"])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_interpolated_steps_never_end_above_threshold(rule, reset):
    """With strong currents a step holds several crossings; each is reset where it
    happens and the rest re-integrated, so V(h) < theta, offsets increase, and
    spikes are emitted until the end value is below threshold."""
    p = NeuronParams(tau_s=20.0, tau=40.0, reset=reset)
    g = torch.Generator().manual_seed(1)
    V = torch.rand(200, generator=g, dtype=F64) * 0.99
    I = torch.rand(200, generator=g, dtype=F64) * 3.0
    (Vn, _), rounds = step_with_spikes(CubaState(V, I), 2.0, p, get_integrator("ps", 3), rule)
    assert len(rounds) >= 3  # multi-spike steps are exercised
    assert (Vn < p.theta).all()
    offs = torch.stack([torch.where(hit, off, torch.full_like(off, math.nan)) for hit, off in rounds])
    for col in offs.T:
        col = col[~torch.isnan(col)]
        assert (col[1:] > col[:-1]).all() and (col >= 0).all() and (col <= 2.0).all()


def test_budget_silences_a_neuron():
    p = NeuronParams(tau_s=20.0, tau=40.0)
    st = CubaState(_t([0.5, 0.5]), _t([3.0, 3.0]))
    (Vn, _), rounds = step_with_spikes(st, 2.0, p, get_integrator("ps", 2), "newton", budget=torch.tensor([0, 1]))
    spikes = sum(hit.long() for hit, _ in rounds)
    assert spikes.tolist() == [0, 1]
    assert Vn[0].item() > p.theta  # silenced: integrates on without reset


def test_exact_rule_chains_closed_form_crossings():
    """Several exact crossings in one long step: each offset is the closed-form crossing
    from the (0, I(s*)) state of the previous one."""
    p = NeuronParams(tau_s=10.0)
    V, I = _t([0.0]), _t([0.5])
    (Vn, In), rounds = step_with_spikes(CubaState(V, I), 30.0, p, Exact(), "exact")
    assert len(rounds) >= 3
    t, v, i = 0.0, V, I
    for hit, off in rounds:
        s = first_crossing(v, i, p).item()
        t += s
        assert off.item() == pytest.approx(t, rel=1e-12)
        _, i = propagate(v, i, s, p)
        v = torch.zeros_like(v)
    Ve, Ie = propagate(v, i, 30.0 - t, p)
    assert Vn.item() == pytest.approx(Ve.item(), rel=1e-12) and In.item() == pytest.approx(Ie.item(), rel=1e-12)
    with pytest.raises(ValueError, match="closed form"):
        step_with_spikes(CubaState(V, I), 1.0, p, Exact(), "newton")
