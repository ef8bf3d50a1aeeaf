"""CuBa-LIF neuron: parameters, exact propagator, closed-form spike time (times in ms)."""

import math

import pytest
import torch
from scipy.integrate import solve_ivp

from snnlib.model.neuron import (
    CubaState,
    NeuronParams,
    apply_reset,
    check_closed_form,
    closed_form_v,
    first_crossing,
    propagate,
    propagator_kernel,
    vector_field,
    zero_state,
)

F64 = torch.float64


def test_params_defaults_follow_bats():
    p = NeuronParams()
    assert (p.tau_s, p.tau, p.theta, p.reset) == (130.0, 260.0, 1.0, "subtract")
    assert p.has_closed_form
    assert NeuronParams(tau_s=10.0).tau == 20.0  # tau=None means 2 tau_s


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(tau_s=0.0), "tau_s"),
        (dict(tau_s=-1.0), "tau_s"),
        (dict(tau_s=math.inf), "tau_s"),
        (dict(tau_s=math.nan), "tau_s"),
        (dict(tau=-5.0), "tau"),
        (dict(tau=math.inf), "tau"),
        (dict(theta=0.0), "theta"),
        (dict(theta=-1.0), "theta"),
        (dict(theta="a"), "theta"),
        (dict(reset="hard"), "reset"),
    ],
)
def test_params_reject_bad_values_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=rf"^{field} "):
        NeuronParams(**kwargs)


def test_params_are_frozen():
    with pytest.raises(AttributeError):
        NeuronParams().theta = 2.0


@pytest.mark.parametrize("tau_s, tau", [(130.0, 260.0), (5.0, 20.0), (20.0, 5.0), (7.0, 7.0)])
def test_propagate_solves_the_ode(tau_s, tau):
    """Independent check: the exact step equals a tight RK45 solution of the ODE,
    including the tau == tau_s limit h exp(-h/tau)."""
    p = NeuronParams(tau_s=tau_s, tau=tau)
    V0, I0, h = 0.3, 0.05, 37.0

    def rhs(t, y):
        return [-y[0] / tau + y[1], -y[1] / tau_s]

    sol = solve_ivp(rhs, (0.0, h), [V0, I0], rtol=1e-12, atol=1e-14)
    V, I = propagate(torch.tensor(V0, dtype=F64), torch.tensor(I0, dtype=F64), h, p)
    assert V.item() == pytest.approx(sol.y[0, -1], rel=1e-9)
    assert I.item() == pytest.approx(sol.y[1, -1], rel=1e-9)


def test_kernel_is_continuous_at_tau_equal_tau_s():
    """The expm1 form has no cancellation: tau = tau_s (1 +- 1e-9) agrees with the
    limit h exp(-h/tau) to O(1e-9) relative, not to O(1e-7) lost digits."""
    h = torch.tensor([0.5, 10.0, 300.0], dtype=F64)
    lim = propagator_kernel(h, NeuronParams(tau_s=50.0, tau=50.0))
    assert torch.allclose(lim, h * torch.exp(-h / 50.0), rtol=1e-15)
    for tau in (50.0 * (1 + 1e-9), 50.0 * (1 - 1e-9)):
        assert torch.allclose(propagator_kernel(h, NeuronParams(tau_s=50.0, tau=tau)), lim, rtol=1e-8)


def test_propagate_is_a_semigroup_and_matches_vector_field():
    p = NeuronParams(tau_s=30.0, tau=45.0)
    g = torch.Generator().manual_seed(0)
    V, I = torch.randn(100, generator=g, dtype=F64), torch.randn(100, generator=g, dtype=F64)
    a, b = 3.7, 11.2
    V2, I2 = propagate(*propagate(V, I, a, p), b, p)
    V1, I1 = propagate(V, I, a + b, p)
    assert torch.allclose(V1, V2, rtol=1e-13, atol=1e-15) and torch.allclose(I1, I2, rtol=1e-13, atol=1e-15)
    # d/dh propagate at h = 0 is the vector field (central difference, O(eps^2) = 1e-10 error)
    e = 1e-5
    Vp, Ip = propagate(V, I, e, p)
    Vm, Im = propagate(V, I, -e, p)
    dV, dI = vector_field(V, I, p)
    assert torch.allclose((Vp - Vm) / (2 * e), dV, atol=1e-9)
    assert torch.allclose((Ip - Im) / (2 * e), dI, atol=1e-9)


def test_closed_form_v_equals_exact_step_at_random_times():
    """V0 x + I0 tau (x - x^2) with x = exp(-s/tau) is the exact flow when tau = 2 tau_s."""
    p = NeuronParams(tau_s=130.0)
    g = torch.Generator().manual_seed(1)
    V0, I0 = torch.randn(500, generator=g, dtype=F64), torch.randn(500, generator=g, dtype=F64) * 0.02
    s = torch.rand(500, generator=g, dtype=F64) * 2000.0
    assert torch.allclose(closed_form_v(V0, I0, s, p), propagate(V0, I0, s, p)[0], rtol=1e-12, atol=1e-14)


def _dense_v(V0, I0, p, s_max, n=30_001):
    s = torch.linspace(0, s_max, n, dtype=F64)
    return s, closed_form_v(V0[:, None], I0[:, None], s[None, :], p)


def test_first_crossing_is_the_earliest_root():
    """For random states, V(s*) = theta, and V < theta on a dense grid before s*;
    where +inf is returned, V stays below theta on the whole dense grid."""
    p = NeuronParams(theta=1.0)
    g = torch.Generator().manual_seed(2)
    V0 = torch.rand(300, generator=g, dtype=F64) * 1.5 - 0.5
    V0 = torch.clamp(V0, max=0.999)
    I0 = (torch.rand(300, generator=g, dtype=F64) - 0.3) * 0.05
    s = first_crossing(V0, I0, p)
    fin = torch.isfinite(s)
    assert 50 < int(fin.sum()) < 290  # both cases are exercised
    assert torch.allclose(closed_form_v(V0[fin], I0[fin], s[fin], p), torch.ones_like(s[fin]), atol=1e-12)
    grid, V = _dense_v(V0, I0, p, 3000.0)
    before = grid[None, :] < s[:, None] - 1e-6
    assert (V[before] < p.theta).all()
    assert (V[~fin].max(dim=1).values < p.theta).all()


def test_first_crossing_special_cases():
    p = NeuronParams(theta=1.0)
    tau = p.tau
    # a = I0 tau = 0 and a < 0: V only decays (or is pushed down): no crossing
    s = first_crossing(torch.tensor([0.5, 0.5, -0.2], dtype=F64), torch.tensor([0.0, -0.01, 0.0], dtype=F64), p)
    assert torch.isinf(s).all()
    # from rest the peak is I0 tau / 4 at x = 1/2; I0 = 4 theta / tau grazes: D = 0, s = tau ln 2
    graze = torch.tensor([4.0 / tau], dtype=F64)
    assert first_crossing(torch.zeros(1, dtype=F64), graze, p).item() == pytest.approx(tau * math.log(2), rel=1e-6)
    # a peak just below theta: D < 0, no crossing (and no NaN)
    below = first_crossing(torch.zeros(1, dtype=F64), graze * (1 - 1e-6), p)
    assert torch.isinf(below).all()
    # V0 >= theta (only by rounding) fires at once
    assert first_crossing(torch.tensor([1.0], dtype=F64), torch.tensor([0.0], dtype=F64), p).item() == 0.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_first_crossing_grazing_is_finite_and_nan_free_with_gradients(dtype):
    """Near-grazing states give finite s or +inf, never NaN, also in the gradient."""
    p = NeuronParams()
    I0 = (4.0 / p.tau) * (1 + torch.linspace(-1e-3, 1e-3, 101, dtype=dtype))
    I0.requires_grad_(True)
    s = first_crossing(torch.zeros_like(I0), I0, p)
    assert not torch.isnan(s).any()
    fin = torch.isfinite(s)
    assert (s[fin] <= p.tau * math.log(2) * (1 + 1e-3)).all()
    s[fin].sum().backward()
    assert not torch.isnan(I0.grad).any()


def test_first_crossing_float32_long_relative_times():
    """Relative time keeps float32 exact: a state anchored after seconds of decay
    (x = exp(-s/tau) in (0, 1]) matches float64; no overflow anywhere."""
    p = NeuronParams()
    g = torch.Generator().manual_seed(3)
    V0 = torch.rand(1000, generator=g, dtype=F64) * 0.9
    I0 = torch.rand(1000, generator=g, dtype=F64) * 0.03
    s64 = first_crossing(V0, I0, p)
    s32 = first_crossing(V0.float(), I0.float(), p)
    assert not torch.isnan(s32).any()
    both = torch.isfinite(s64) & torch.isfinite(s32)
    # float32: s = -tau log x carries ~ tau * eps32 / |d log x| error; allow 1e-3 ms
    # (crossings close to grazing amplify it; skip the few with tiny slope)
    slope = -p.theta / p.tau + I0 * torch.exp(-2 * s64.clamp(max=1e4) / p.tau)
    ok = both & (slope > 1e-3)
    assert int(ok.sum()) > 300
    assert torch.allclose(s32[ok].double(), s64[ok], atol=1e-3)
    assert (torch.isfinite(s64) == torch.isfinite(s32))[slope.abs() > 1e-3].all()


def test_closed_form_outside_domain_raises():
    p = NeuronParams(tau_s=130.0, tau=200.0)
    with pytest.raises(ValueError, match=r"tau == 2\*tau_s"):
        first_crossing(torch.zeros(1), torch.ones(1), p)
    with pytest.raises(ValueError, match=r"tau == 2\*tau_s"):
        closed_form_v(torch.zeros(1), torch.ones(1), 1.0, p)
    with pytest.raises(ValueError, match=r"tau == 2\*tau_s"):
        check_closed_form(p)


def test_dtype_and_device_follow_inputs():
    p = NeuronParams()
    st = zero_state((2, 3), dtype=torch.float32)
    V, I = propagate(st.V + 0.1, st.I + 0.01, 5.0, p)
    assert V.dtype == I.dtype == torch.float32
    assert first_crossing(V, I, p).dtype == torch.float32


def test_reset_modes():
    V = torch.tensor([1.2, 0.5], dtype=F64)
    spk = torch.tensor([True, False])
    assert apply_reset(V, spk, NeuronParams(reset="subtract")).tolist() == pytest.approx([0.2, 0.5])
    assert apply_reset(V, spk, NeuronParams(reset="zero")).tolist() == [0.0, 0.5]
    assert isinstance(CubaState(V, V), tuple)
