"""Event-driven layers and the single-neuron simulator (times in ms)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snnlib.events.reference import layer_forward, network_forward, simulate_layer, simulate_neuron
from snnlib.model.discretization import Discretization as D
from snnlib.model.neuron import NeuronParams

F64 = torch.float64


# ---------------------------------------------------------------- reference
def _np_propagate(V, I, h, p):
    """Exact flow written out directly (independent of snnlib.model.neuron)."""
    a, b = np.exp(-h / p.tau), np.exp(-h / p.tau_s)
    return V * a + I * p.tau * p.tau_s / (p.tau - p.tau_s) * (a - b), I * b


def fine_grid_reference(times, W, p, t_max, h=0.05):
    """One sample: exact propagator on a fine grid (split at input times); where
    V(t_n+1) >= theta, bisection on [t_n, t_n+1] (60 halvings, ~1e-19 ms) locates the
    crossing, V -= theta there and the rest of the step is propagated."""
    times = np.asarray(times, dtype=float)
    N_out, N_in = W.shape
    ev = [(t, i) for i in range(N_in) for t in times[i] if np.isfinite(t) and t < t_max]
    pts = np.unique(np.concatenate([np.arange(0.0, t_max, h), [t_max], [t for t, _ in ev]]))
    V, I = np.zeros(N_out), np.zeros(N_out)
    spikes = [[] for _ in range(N_out)]
    for a, b in zip(pts[:-1], pts[1:]):
        for t, i in ev:
            if t == a:
                I = I + W[:, i]
        t0 = np.full(N_out, a)
        while True:
            Vb, Ib = _np_propagate(V, I, b - t0, p)
            hit = Vb >= p.theta
            if not hit.any():
                V, I = Vb, Ib
                break
            lo, hi = np.zeros(N_out), b - t0
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                up = _np_propagate(V, I, mid, p)[0] >= p.theta
                hi, lo = np.where(up, mid, hi), np.where(up, lo, mid)
            Vc, Ic = _np_propagate(V, I, hi, p)
            for n in np.flatnonzero(hit):
                spikes[n].append(t0[n] + hi[n])
            V = np.where(hit, Vc - p.theta, V)
            I = np.where(hit, Ic, I)
            t0 = np.where(hit, t0 + hi, t0)
            # the not-hit neurons are finished for this step
            V, I = np.where(hit, V, Vb), np.where(hit, I, Ib)
            t0 = np.where(hit, t0, b)
    return spikes


def test_event_driven_equals_fine_grid_crossings_with_multi_spikes():
    """The closed-form layer reproduces the crossings of an independent fine-grid exact
    simulation, including neurons firing several times between two input events."""
    p = NeuronParams(tau_s=20.0)
    g = torch.Generator().manual_seed(0)
    B, N_in, N_out, K = 2, 6, 5, 30
    x = torch.rand(B, N_in, 2, generator=g, dtype=F64) * 60.0
    x[0, 0, 1] = math.inf  # padding
    W = torch.randn(N_out, N_in, generator=g, dtype=F64) * 0.06 + 0.04
    times, counts = layer_forward(x, W, p, t_max=100.0, max_spikes=K)
    multi_between_inputs = False
    for b in range(B):
        ref = fine_grid_reference(x[b].numpy(), W.numpy(), p, 100.0)
        inputs = np.sort(x[b][torch.isfinite(x[b])].numpy())
        for n in range(N_out):
            assert counts[b, n].item() == len(ref[n])
            got = times[b, n, : counts[b, n]].numpy()
            assert np.allclose(got, ref[n], atol=1e-9, rtol=0)
            for t1, t2 in zip(got[:-1], got[1:]):
                multi_between_inputs |= not np.any((inputs > t1) & (inputs < t2))
    assert counts.max().item() >= 3 and multi_between_inputs
    assert (counts < K).all()  # nothing dropped, so the comparison is complete


# ---------------------------------------------------------------- invariances
CONFIGS = [
    dict(integrator="exact"),
    dict(integrator="exact", input="grid", dt=0.5),
    dict(integrator="euler", dt=0.5, spike_rule="snap"),
    dict(integrator="ps", order=3, dt=0.5, spike_rule="newton"),
    dict(integrator="ps", order=2, dt=0.5, spike_rule="linear", input="grid"),
]


def _problem(seed=1, B=3, N_in=8, N_out=6, T=80.0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(B, N_in, 3, generator=g, dtype=F64) * T
    x[:, :, 2] = math.inf
    W = torch.randn(N_out, N_in, generator=g, dtype=F64) * 0.06 + 0.02
    return x, W


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_chunk_invariance(cfg):
    """[0, T] in one call equals [0, T/2] then [T/2, T] with the state carried
    (inputs exactly at T/2 included: they belong to the second half)."""
    p = NeuronParams(tau_s=20.0)
    x, W = _problem()
    x[0, 0, 0] = 40.0
    full = simulate_layer(x, W, p, t_max=80.0, max_spikes=20, discretization=D(**cfg))
    a = simulate_layer(x, W, p, t_max=40.0, max_spikes=20, discretization=D(**cfg))
    b = simulate_layer(x, W, p, t_max=80.0, max_spikes=20, t0=40.0, state=a.state, discretization=D(**cfg))
    assert full.counts.sum() > 10 and a.counts.sum() > 0 and b.counts.sum() > 0
    assert torch.equal(full.counts, a.counts + b.counts)
    joined = torch.cat([a.times, b.times], -1).sort(-1).values[..., :20]
    assert torch.allclose(joined, full.times, atol=1e-9, rtol=0)
    assert torch.allclose(full.state.V, b.state.V, atol=1e-9) and torch.allclose(full.state.I, b.state.I, atol=1e-12)


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_batch_invariance(cfg):
    """A sample alone gives the same spikes as inside a batch."""
    p = NeuronParams(tau_s=20.0)
    x, W = _problem(B=4)
    tb, cb = layer_forward(x, W, p, t_max=80.0, max_spikes=20, discretization=D(**cfg))
    for b in range(4):
        t1, c1 = layer_forward(x[b : b + 1], W, p, t_max=80.0, max_spikes=20, discretization=D(**cfg))
        assert torch.equal(c1[0], cb[b])
        assert torch.allclose(t1[0], tb[b], atol=1e-12, rtol=0)


def test_grid_input_is_exact_input_rounded_up_to_the_grid():
    """input="grid" delivers an input at ceil(t/dt) dt: the same as input="exact" with
    the times rounded up (grid-aligned times stay put)."""
    p = NeuronParams(tau_s=20.0)
    x, W = _problem()
    x[1, 2, 0] = 7.5  # on the grid
    dt = 0.5
    rounded = torch.ceil(x / dt) * dt
    for cfg in (dict(integrator="ps", order=2, spike_rule="linear"), dict(integrator="exact")):
        a = layer_forward(x, W, p, t_max=80.0, max_spikes=20, discretization=D(**cfg, dt=dt, input="grid"))
        dex = D(**cfg, dt=dt) if cfg["integrator"] != "exact" else D()
        b = layer_forward(rounded, W, p, t_max=80.0, max_spikes=20, discretization=dex)
        assert torch.equal(a[1], b[1]) and torch.allclose(a[0], b[0], atol=1e-12, rtol=0)


def test_max_spikes_drops_the_later_spikes():
    p = NeuronParams(tau_s=20.0)
    x, W = _problem()
    t8, c8 = layer_forward(x, W, p, t_max=80.0, max_spikes=8)
    t2, c2 = layer_forward(x, W, p, t_max=80.0, max_spikes=2)
    assert c8.max() > 2
    assert torch.equal(c2, c8.clamp(max=2))
    assert torch.equal(t2, t8[..., :2])


def test_float32_stays_finite_over_seconds():
    """Relative time: a 5 s window at tau_s = 130 in float32 gives the float64 spikes
    (no overflow of exp(t/tau)); float32 times carry a few roundings of t eps32 = 3e-4 ms."""
    p = NeuronParams()
    g = torch.Generator().manual_seed(2)
    x = torch.rand(2, 20, 4, generator=g, dtype=F64) * 5000.0
    W = torch.rand(4, 20, generator=g, dtype=F64) * 0.1
    t64, c64 = layer_forward(x, W, p, t_max=5000.0, max_spikes=100)
    t32, c32 = layer_forward(x.float(), W.float(), p, t_max=5000.0, max_spikes=100)
    assert t32.dtype == torch.float32 and not torch.isnan(t32).any()
    assert c64.min() > 5 and torch.equal(c32, c64)
    fin = torch.isfinite(t64)
    assert torch.allclose(t32[fin].double(), t64[fin], atol=1e-2, rtol=0)  # measured: 2e-3 ms


def test_network_forward_chains_layers_and_checks_lengths():
    p = NeuronParams(tau_s=20.0)
    x, W1 = _problem(N_out=10)
    W2 = torch.rand(3, 10, dtype=F64) * 0.3
    outs = network_forward(x, [W1, W2], [p, p], t_max=80.0, max_spikes=[20, 5])
    h_t, h_c = layer_forward(x, W1, p, t_max=80.0, max_spikes=20)
    assert torch.equal(outs[0][0], h_t)
    o_t, o_c = layer_forward(h_t, W2, p, t_max=80.0, max_spikes=5)
    assert torch.equal(outs[1][0], o_t) and o_c.sum() > 0
    with pytest.raises(ValueError, match="per layer"):
        network_forward(x, [W1, W2], [p], t_max=80.0, max_spikes=5)


def test_argument_errors():
    x, W = _problem()
    with pytest.raises(ValueError, match=r"tau == 2\*tau_s"):
        layer_forward(x, W, NeuronParams(tau_s=20.0, tau=30.0), t_max=80.0, max_spikes=2)
    with pytest.raises(ValueError, match="closed form"):
        D(spike_rule="newton", dt=1.0)
    with pytest.raises(ValueError, match="dt"):
        D("euler", spike_rule="linear")
    with pytest.raises(ValueError, match="input"):
        D(input="bins")
    with pytest.raises(TypeError, match="Discretization"):
        layer_forward(x, W, NeuronParams(), t_max=80.0, max_spikes=2, discretization="exact")
    # grid integrators work for any tau: no closed form needed
    t, c = layer_forward(x, W * 5, NeuronParams(tau_s=20.0, tau=30.0), t_max=80.0, max_spikes=2,
                         discretization=D("ps", 3, 1.0, "snap"))
    assert c.sum() > 0


# ---------------------------------------------------------------- seed 001 figures
IN_T, IN_W = [5.0, 12.0, 20.0, 33.0, 41.0], [0.08, 0.06, 0.07, 0.05, 0.09]


def test_fig1_interpolation_keeps_v_below_threshold():
    """Seed 001 Fig. 1: with snap the Euler trace overshoots theta inside the step of a
    spike; with linear / Newton interpolation the reset happens at the crossing, so V
    never exceeds theta; the analytic trace never does either."""
    p = NeuronParams(tau_s=20.0)
    ex = simulate_neuron(IN_T, IN_W, p, 100.0, D(), record_dt=0.05)
    assert len(ex.spikes) >= 2 and not torch.isnan(ex.V).any()
    assert ex.V.max() <= p.theta + 1e-12
    snap = simulate_neuron(IN_T, IN_W, p, 100.0, D("euler", dt=2.0, spike_rule="snap"), record_dt=0.05)
    assert snap.V.max() > p.theta + 1e-3
    for rule in ("linear", "newton"):
        tr = simulate_neuron(IN_T, IN_W, p, 100.0, D("euler", dt=2.0, spike_rule=rule), record_dt=0.05)
        assert not torch.isnan(tr.V).any() and len(tr.spikes) == len(ex.spikes)
        assert tr.V.max() <= p.theta + 1e-12


def test_fig2_ps5_depends_on_the_intermediate_integration_point():
    """Seed 001 Fig. 2: no inputs, no spikes; PS(5) with a split at different points
    ends at different V (Phi_a o Phi_b != Phi_{a+b}), while the exact flow does not care."""
    p = NeuronParams(tau_s=130.0, theta=10.0)
    end = {}
    for integ, order in (("ps", 5), ("exact", None)):
        for split in ((), (5.0,), (7.0,)):
            d = D("ps", order, 20.0, "snap") if integ == "ps" else D()
            tr = simulate_neuron([], [], p, 40.0, d, record_dt=1.0, state0=(0.2, 0.05), split_points=split)
            assert len(tr.spikes) == 0
            end[integ, split] = tr.V[-1].item()
            assert all(s in tr.points.tolist() for s in split)
    eps = np.finfo(float).eps
    # (split at 13 would give T(13A) T(7A) = T(7A) T(13A): truncated exponentials commute)
    assert abs(end["ps", (5.0,)] - end["ps", (7.0,)]) > 1e4 * eps
    assert abs(end["ps", ()] - end["ps", (7.0,)]) > 1e4 * eps
    assert abs(end["exact", (5.0,)] - end["exact", (7.0,)]) < 10 * eps
    # yet PS(5) is accurate: one step errs ~ |x0| (h/tau_s)^6/6! ~ 1e-8 here
    assert abs(end["exact", ()] - end["ps", ()]) < 1e-6


# ---------------------------------------------------------------- properties
P = NeuronParams(tau_s=20.0)
inputs = st.lists(
    st.tuples(st.floats(0.0, 60.0), st.floats(-1.0, 1.0)), min_size=1, max_size=8
)
GRID_CFGS = [dict(integrator="exact"), dict(integrator="euler", dt=1.0, spike_rule="linear"),
             dict(integrator="ps", order=3, dt=1.0, spike_rule="snap")]
prop = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _layer(ev, w_scale, cfg, p=P, K=10):
    x = torch.tensor([[[t] for t, _ in ev]], dtype=F64)
    W = torch.tensor([[w * w_scale for _, w in ev]], dtype=F64)
    return layer_forward(x, W, p, t_max=100.0, max_spikes=K, discretization=D(**cfg))


@prop
@given(ev=inputs, frac=st.floats(0.0, 0.999))
def test_property_subthreshold_never_spikes(ev, frac):
    """V(t) = sum_i w_i k(t - t_i) with kernel k >= 0 peaking at tau/4 (x = 1/2), so
    V <= W+ tau/4 with W+ the total positive weight. Scale so W+ tau/4 = frac theta < theta:
    no spike, exactly. Grid methods get half of that (their kernels are within
    O(dt/tau_s) = 5% of k)."""
    pos = sum(max(w, 0.0) for _, w in ev)
    if pos < 1e-12:  # no (or a subnormal) positive weight: the scale below would overflow to inf
        pos = 1.0
    scale = frac * P.theta * 4 / P.tau / pos
    assert _layer(ev, scale, GRID_CFGS[0])[1].sum() == 0
    for cfg in GRID_CFGS[1:]:
        assert _layer(ev, scale / 2, cfg)[1].sum() == 0


@prop
@given(ev=inputs, scale=st.floats(0.0, 1.0))
def test_property_spike_trains_are_sorted_and_padded(ev, scale):
    for cfg in GRID_CFGS:
        t, c = _layer([(tt, abs(w)) for tt, w in ev], scale, cfg, K=6)
        fin = torch.isfinite(t)
        assert torch.equal(fin.sum(-1), c)
        assert torch.equal(fin, torch.arange(6) < c[..., None])  # +inf only after the spikes
        assert (t[..., 1:][fin[..., 1:]] >= t[..., :-1][fin[..., 1:]]).all()
        assert (t[fin] >= 0).all() and (t[fin] <= 100.0).all()


@prop
@given(ev=inputs, which=st.integers(0, 7), extra=st.floats(1e-3, 0.5))
def test_property_raising_a_weight_never_delays_the_first_spike(ev, which, extra):
    """Before the first spike V is a sum of w_i times nonnegative kernels (exact, and
    the Euler / PS(3) kernels for dt << tau_s), so raising a weight raises V pointwise:
    the first crossing cannot move later (linear interpolation is monotone in both
    end values, snap takes the first point above theta)."""
    ev = [(t, abs(w)) for t, w in ev]
    i = which % len(ev)
    up = list(ev)
    up[i] = (ev[i][0], ev[i][1] + extra)
    for cfg in GRID_CFGS:
        t0 = _layer(ev, 0.3, cfg, K=1)[0][0, 0, 0].item()
        t1 = _layer(up, 0.3, cfg, K=1)[0][0, 0, 0].item()
        assert t1 <= t0 + 1e-9


def test_autograd_through_the_exact_layer_gives_spike_time_gradients():
    """The forward is built from differentiable tensor ops (closed form, where-masks), so
    autograd gives d(spike times)/dW of the exact layer; it equals central differences
    (spike counts unchanged by the perturbation; O(e^2) truncation ~ 1e-10 relative)."""
    p = NeuronParams(tau_s=20.0)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 6, 2, generator=g, dtype=F64) * 60
    W = (torch.randn(4, 6, generator=g, dtype=F64) * 0.06 + 0.04).requires_grad_(True)
    t, c = layer_forward(x, W, p, t_max=100.0, max_spikes=10)
    fin = torch.isfinite(t)
    coef = torch.linspace(0.5, 1.5, int(fin.sum()), dtype=F64)
    assert c.sum() > 10
    (grad,) = torch.autograd.grad((t[fin] * coef).sum(), W)
    e = 1e-7
    fd = torch.zeros_like(grad)
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            d = torch.zeros_like(fd)
            d[i, j] = e
            tp, cp = layer_forward(x, W.detach() + d, p, t_max=100.0, max_spikes=10)
            tm, cm = layer_forward(x, W.detach() - d, p, t_max=100.0, max_spikes=10)
            assert torch.equal(cp, c) and torch.equal(cm, c)
            fd[i, j] = ((tp[fin] - tm[fin]) * coef).sum() / (2 * e)
    assert torch.allclose(grad, fd, rtol=1e-6, atol=1e-6 * fd.abs().max().item())
