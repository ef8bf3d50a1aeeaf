"""Integrated event layers (snnlib.events.integrated): compiled forward against the PyTorch reference
(snnlib.events), the adjusted gradient against autograd of the reference and finite
differences, both gradients against BATS's exact gradient as dt -> 0."""

import itertools
import math

import numpy as np
import pytest
import torch

from snnlib.events.grid import delivered_times
from snnlib.events.layer import check_gradient, event_layer, spike_layer
from snnlib.events.reference import simulate_layer
from snnlib.model.discretization import Discretization as D
from snnlib.model.neuron import NeuronParams

F64 = torch.float64
T = 60.0
P = NeuronParams(tau_s=20.0)  # tau = 40 ms: closed form, so BATS's gradient exists


def problem(seed=3, B=3, N_in=10, N_out=5, K_in=2, scale=10.0):
    """Random input times (distinct a.s., off the grid) and weights strong enough that most
    neurons spike several times (resets included)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(B, N_in, K_in, generator=g, dtype=F64) * T
    W = (torch.randn(N_out, N_in, generator=g, dtype=F64) * 0.08 + 0.03) * scale
    return x, W


def weighted_sum(t, w):
    """A loss that weights every spike time (padding excluded)."""
    m = torch.isfinite(t)
    return (torch.where(m, t, torch.zeros_like(t)) * w).sum()


ALL = [D(i, o, 0.7, r, inp) for (i, o), r, inp in itertools.product(
    (("euler", None), ("ps", 2), ("ps", 3), ("ps", 5)), ("snap", "linear", "newton"), ("exact", "grid"))]
# the exact flow stepped on a grid (the spike rule's error alone)
ALL += [D("exact", None, 0.7, r, inp) for r, inp in itertools.product(("snap", "linear"), ("exact", "grid"))]


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("d", ALL, ids=lambda d: d.label)
def test_forward_equals_reference_spike_for_spike(d, reset):
    p = NeuronParams(tau_s=20.0, reset=reset)
    x, W = problem(B=4, N_in=12, N_out=7, K_in=3, scale=12.0)
    x[0, :3, 0] = 0.0  # inputs at t = 0 (the first integration point)
    ref = simulate_layer(x, W, p, t_max=T, max_spikes=5, discretization=d)
    t, c = event_layer(x, W, p, d, t_max=T, max_spikes=5, gradient="adjusted")
    assert torch.equal(c, ref.counts)
    assert int((c >= 3).sum()) >= 5 and int((c == 5).sum()) >= 1  # multi-spike neurons, and the cap
    assert torch.equal(torch.isfinite(t), torch.isfinite(ref.times))
    m = torch.isfinite(ref.times)
    assert (t[m] - ref.times[m]).abs().max().item() <= 1e-9


def test_float32_storage():
    d = D("ps", 3, 1.0, "linear")
    x, W = problem()
    t64, c64 = event_layer(x, W, P, d, t_max=T, max_spikes=4)
    t32, c32 = event_layer(x.float(), W.float(), P, d, t_max=T, max_spikes=4)
    assert t32.dtype == torch.float32 and torch.equal(c32, c64)
    m = torch.isfinite(t64)
    assert (t32.double()[m] - t64[m]).abs().max().item() < 1e-3
    xr, Wr = x.float().requires_grad_(), W.float().requires_grad_()
    t, _ = event_layer(xr, Wr, P, d, t_max=T, max_spikes=4)
    weighted_sum(t, torch.ones_like(t)).backward()
    assert Wr.grad.dtype == torch.float32 and bool(torch.isfinite(Wr.grad).all())


def _grads(d, x, W, gout, gradient="adjusted", p=P, K=4):
    xr, Wr = x.clone().requires_grad_(), W.clone().requires_grad_()
    t, c = event_layer(xr, Wr, p, d, t_max=T, max_spikes=K, gradient=gradient)
    weighted_sum(t, gout).backward()
    return xr.grad, Wr.grad, t, c


@pytest.mark.parametrize("integ,rule", [("ps", "linear"), ("ps", "newton"), ("exact", "linear")])
@pytest.mark.parametrize("inp", ["exact", "grid"])
def test_adjusted_equals_autograd_of_the_reference(integ, rule, inp):
    d = D(integ, 3 if integ == "ps" else None, 0.9, rule, inp)
    x, W = problem()
    gout = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(0), dtype=F64)
    gx, gW, _, c = _grads(d, x, W, gout)
    assert int(c.sum()) > 30
    xa, Wa = x.clone().requires_grad_(), W.clone().requires_grad_()
    weighted_sum(simulate_layer(xa, Wa, P, t_max=T, max_spikes=4, discretization=d).times, gout).backward()
    torch.testing.assert_close(gW, Wa.grad, rtol=1e-9, atol=1e-12 * Wa.grad.abs().max().item())
    if inp == "exact":  # on a grid the reference rounds with ceil: no gradient to compare
        torch.testing.assert_close(gx, xa.grad, rtol=1e-9, atol=1e-12 * xa.grad.abs().max().item())


def _fd(f, base, eps=1e-6):
    """Central differences of ``f`` at every entry of ``base``; NaN where the spike counts
    change between the two sides (the forward is discontinuous there)."""
    out = torch.full_like(base, math.nan)
    flat = out.view(-1)
    for j in range(base.numel()):
        hi, lo = base.clone(), base.clone()
        hi.view(-1)[j] += eps
        lo.view(-1)[j] -= eps
        (lh, ch), (ll, cl) = f(hi), f(lo)
        if torch.equal(ch, cl):
            flat[j] = (lh - ll) / (2 * eps)
    return out


@pytest.mark.parametrize("d", [D("euler", None, 1.3, "linear"), D("ps", 2, 0.9, "newton"),
                               D("ps", 3, 0.9, "linear", "grid"), D("exact", None, 0.9, "linear")],
                         ids=lambda d: d.label)
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_adjusted_equals_finite_differences(d, reset):
    p = NeuronParams(tau_s=20.0, reset=reset)
    x, W = problem(B=2, N_in=6, N_out=4)
    gout = torch.randn(2, 4, 4, generator=torch.Generator().manual_seed(1), dtype=F64)
    gx, gW, _, c = _grads(d, x, W, gout, p=p)
    assert int(c.sum()) > 10

    def run(x_, W_):
        t, cc = event_layer(x_, W_, p, d, t_max=T, max_spikes=4)
        return weighted_sum(t, gout), cc

    fd = _fd(lambda W_: run(x, W_), W)
    ok = torch.isfinite(fd)
    assert ok.float().mean() > 0.9
    torch.testing.assert_close(gW[ok], fd[ok], rtol=1e-5, atol=1e-6 * fd[ok].abs().max().item())
    if d.input == "exact":
        fdx = _fd(lambda x_: run(x_, W), x)
        okx = torch.isfinite(fdx)
        assert okx.float().mean() > 0.9
        torch.testing.assert_close(gx[okx], fdx[okx], rtol=1e-5, atol=1e-6 * fdx[okx].abs().max().item())


def test_coincident_inputs_share_the_derivative_of_their_point():
    """Inputs at one time (off the grid) form one integration point: their gradients add up
    to the derivative of moving them together (central differences of the shift)."""
    d = D("ps", 2, 1.1, "linear")
    x, W = problem(B=1, N_in=6, N_out=4, K_in=1)
    x[0, 1:4, 0] = 7.3  # three coincident inputs
    gout = torch.randn(1, 4, 4, generator=torch.Generator().manual_seed(2), dtype=F64)
    gx, _, _, c = _grads(d, x, W, gout)
    assert int(c.sum()) > 4

    def shifted(e):
        xs = x.clone()
        xs[0, 1:4, 0] += e
        t, cc = event_layer(xs, W, P, d, t_max=T, max_spikes=4)
        return weighted_sum(t, gout), cc

    eps = 1e-6
    (lh, ch), (ll, cl) = shifted(eps), shifted(-eps)
    assert torch.equal(ch, cl)
    assert gx[0, 1:4, 0].sum().item() == pytest.approx(((lh - ll) / (2 * eps)).item(), rel=1e-5)


def _slope(xs, ys):
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


@pytest.mark.parametrize("gradient", ["adjusted", "piggyback"])
def test_gradients_converge_to_the_exact_gradient(gradient):
    """PS(3) + newton: spike times err O(dt^3); both gradients tend to BATS's exact gradient
    (snnlib.events.exact), the error falling at least like dt^2.5 (a fit over 2 .. 0.125 ms)."""
    x, W = problem()
    gout = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(0), dtype=F64)
    xr, Wr = x.clone().requires_grad_(), W.clone().requires_grad_()
    t0 = spike_layer(xr, Wr, P, t_max=T, max_spikes=4)
    weighted_sum(t0, gout).backward()
    dts, errs = [2.0, 1.0, 0.5, 0.25, 0.125], []
    for dt in dts:
        gx, gW, t, c = _grads(D("ps", 3, dt, "newton"), x, W, gout, gradient=gradient)
        assert torch.equal(torch.isfinite(t), torch.isfinite(t0))
        errs.append(max((gW - Wr.grad).abs().max().item() / Wr.grad.abs().max().item(),
                        (gx - xr.grad).abs().max().item() / xr.grad.abs().max().item()))
    assert _slope(dts, errs) > 2.5, errs
    assert errs[-1] < 1e-6, errs


def test_ps1_is_euler_and_exact_is_bats():
    x, W = problem()
    gout = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(0), dtype=F64)
    a = _grads(D("euler", None, 0.8, "newton"), x, W, gout)
    b = _grads(D("ps", 1, 0.8, "newton"), x, W, gout)
    for u, v in zip(a, b):
        assert torch.equal(u, v)
    xr, Wr = x.clone().requires_grad_(), W.clone().requires_grad_()
    t, c = event_layer(xr, Wr, P, D(), t_max=T, max_spikes=4, gradient="exact")
    weighted_sum(t, gout).backward()
    xs, Ws = x.clone().requires_grad_(), W.clone().requires_grad_()
    ts = spike_layer(xs, Ws, P, t_max=T, max_spikes=4)
    weighted_sum(ts, gout).backward()
    assert torch.equal(t, ts) and torch.equal(Wr.grad, Ws.grad) and torch.equal(xr.grad, xs.grad)


def test_snap_time_gradient_is_the_linear_crossing():
    """With snap the state before a neuron's first spike is the same as with linear
    interpolation, so the straight-through gradient of the first spike time equals the
    gradient of the linearly interpolated first crossing."""
    x, W = problem()
    gout = torch.zeros(3, 5, 4, dtype=F64)
    gout[..., 0] = torch.randn(3, 5, generator=torch.Generator().manual_seed(4), dtype=F64)
    gx_s, gW_s, t_s, _ = _grads(D("ps", 2, 1.0, "snap"), x, W, gout)
    gx_l, gW_l, t_l, _ = _grads(D("ps", 2, 1.0, "linear"), x, W, gout)
    assert torch.equal(torch.isfinite(t_s[..., 0]), torch.isfinite(t_l[..., 0]))
    assert (t_s[..., 0] - t_l[..., 0]).nan_to_num(0.0).abs().max() > 0  # snap sits on the grid
    torch.testing.assert_close(gW_s, gW_l, rtol=1e-10, atol=1e-13)
    torch.testing.assert_close(gx_s, gx_l, rtol=1e-10, atol=1e-13)


def test_grid_delivery_and_argument_errors():
    d = D("ps", 2, 0.5, "linear", "grid")
    t = delivered_times(np.array([0.0, 0.2, 0.5, 0.51, 59.9, 60.0, np.inf, -1.0]), d, T)
    np.testing.assert_array_equal(t, [0.0, 0.5, 0.5, 1.0, np.inf, np.inf, np.inf, np.inf])
    x, W = problem()
    with pytest.raises(ValueError, match="piggyback"):
        check_gradient(D(), "adjusted")
    with pytest.raises(ValueError, match="ste"):
        check_gradient(D(input="grid", dt=1.0), "exact")
    with pytest.raises(ValueError, match="grid integrator"):
        event_layer(x, W, P, d, t_max=T, max_spikes=2, gradient="exact")
    with pytest.raises(ValueError, match="tau == 2"):
        event_layer(x, W, NeuronParams(tau_s=20.0, tau=30.0), d, t_max=T, max_spikes=2, gradient="piggyback")
    with pytest.raises(ValueError, match="NaN"):
        event_layer(torch.full_like(x, math.nan), W, P, d, t_max=T, max_spikes=2)
    with pytest.raises(ValueError, match="order"):
        D("ps", None, 1.0, "linear")
    with pytest.raises(ValueError, match="spike_rule"):
        D("euler", dt=1.0)
    with pytest.raises(ValueError, match="no effect"):
        D(dt=1.0)
    # any tau with the adjusted gradient (no closed form needed)
    t, c = event_layer(x, W, NeuronParams(tau_s=20.0, tau=30.0), d, t_max=T, max_spikes=2)
    assert int(c.sum()) > 0


def test_network_backends_agree_and_with_shares_the_weights():
    """Two layers (the hidden layer's spike times are the output layer's inputs, so input-time
    gradients are exercised): the kernels equal autograd through the reference network."""
    from snnlib.events.network import EventNetwork

    x, _ = problem(B=2, N_in=8)
    kw = dict(max_spikes=[4, 4], t_max=T, init=[(-0.2, 0.9), (-0.2, 1.0)], dtype=F64)
    d = D("ps", 3, 0.8, "newton")
    nets = [EventNetwork((8, 6, 3), P, discretization=d, backend=be,
                         generator=torch.Generator().manual_seed(5), **kw) for be in ("numba", "torch")]
    outs = []
    for net in nets:
        out, hidden = net(x)
        weighted_sum(out, torch.ones_like(out)).backward()
        outs.append((out, hidden[0]))
    assert int(outs[0][1].sum()) > 10 and int(torch.isfinite(outs[0][0]).sum()) > 3
    assert torch.equal(outs[0][1], outs[1][1])
    torch.testing.assert_close(outs[0][0], outs[1][0], rtol=0, atol=1e-9)
    for a, b in zip(nets[0].weights, nets[1].weights):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-8, atol=1e-10)
    exact = nets[0].with_(D())
    assert exact.gradient == "exact" and exact.weights[0] is nets[0].weights[0]
    assert nets[0].discretization == d
    with pytest.raises(ValueError, match="piggyback"):
        nets[1].with_(d, "piggyback")


def test_adjusted_training_follows_exact_and_coarse_piggyback_deviates():
    """A tiny 20-16-3 network trained by Adam on jittered class prototypes (first-spike
    cross-entropy): at dt = 0.1 ms with PS(3) + newton the adjusted gradient reproduces the
    exact scheme's loss curve; at dt = 4 ms (Euler, linear) piggyback training does not."""
    from snnlib.events.network import EventNetwork
    from snnlib.training.losses import first_spike_cross_entropy

    g = torch.Generator().manual_seed(0)
    proto = torch.rand(3, 20, generator=g, dtype=F64) * 30
    y = torch.randint(0, 3, (40,), generator=g)
    x = (proto[y] + torch.randn(40, 20, generator=g, dtype=F64) * 2).clamp(min=0)[..., None]
    p = NeuronParams(tau_s=10.0)

    def curve(d, gradient, steps=40):
        net = EventNetwork((20, 16, 3), p, max_spikes=[4, 1], t_max=T, discretization=d, gradient=gradient,
                           init=[(-0.1, 0.3), (-0.1, 0.3)], dtype=F64, generator=torch.Generator().manual_seed(1))
        opt = torch.optim.Adam(net.parameters(), lr=0.005)
        losses = []
        for _ in range(steps):
            loss = first_spike_cross_entropy(net(x)[0], y, 5.0, t_silent=T)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return torch.tensor(losses)

    exact = curve(D(), "exact")
    assert exact[-1] < 0.5 * exact[0]  # it learns
    dev = lambda c: ((c - exact).abs() / exact[0]).max().item()  # noqa: E731
    assert dev(curve(D("ps", 3, 0.1, "newton"), "adjusted")) < 1e-3
    assert dev(curve(D("euler", None, 4.0, "linear"), "piggyback")) > 0.05


@pytest.mark.parametrize("rule,inp,order", [("snap", "grid", 1.0), ("linear", "exact", 2.0)])
def test_exact_flow_on_a_grid_converges_to_the_closed_form(rule, inp, order):
    """The exact propagator stepped on a grid has no integration error, only the spike rule's
    (and the input rounding's): first spike times err O(h) with snap and grid-delivered inputs
    (seed 000's shared discretized model), O(h^2) with linear interpolation."""
    x, W = problem(B=4, N_in=10, N_out=6, K_in=1)
    ref, c0 = event_layer(x, W, P, D(), t_max=T, max_spikes=1, gradient="exact")
    hs, errs = [0.8, 0.4, 0.2, 0.1, 0.05], []
    for h in hs:
        t, c = event_layer(x, W, P, D("exact", None, h, rule, inp), t_max=T, max_spikes=1)
        assert torch.equal(c, c0) and int(c.sum()) >= 10
        m = torch.isfinite(ref)
        errs.append((t[m] - ref[m]).abs().mean().item())
    assert abs(_slope(hs, errs) - order) < 0.3, errs


@pytest.mark.parametrize("inp", ["exact", "grid"])
def test_compiled_delivery_equals_delivered_times(inp):
    """The kernels' input delivery (compiled, reading any float dtype, only the entries below
    ``row_len``) is :func:`snnlib.events.grid.delivered_times`; NaN counted there only."""
    from snnlib.events.grid import grid_points
    from snnlib.events.kernels import integrated_cpu as ik
    from snnlib.model.discretization import GRID_TOL

    d = D("ps", 2, 0.5, "linear", inp)
    rng = np.random.default_rng(0)
    x = rng.uniform(-2.0, T + 2.0, (3, 7, 4))
    x[0, 0] = [0.0, 0.5, 0.2, 60.0]
    x[1, 2, :2] = [np.inf, -np.inf]
    x[2, 3, 1] = 1.0 - 1e-12  # within the grid tolerance of a grid point
    row_len = rng.integers(0, 5, (3, 7)).astype(np.int64)
    for dtype in (np.float64, np.float32):
        xs = x.astype(dtype)
        want = delivered_times(xs.astype(np.float64), d, T)
        xd = np.full(x.shape, -7.0)
        assert ik.deliver(xs, row_len, T, inp == "grid", 0.5, GRID_TOL, grid_points(T, 0.5), xd) == 0
        m = np.arange(4)[None, None, :] < row_len[..., None]
        np.testing.assert_array_equal(xd[m], want[m])
        assert (xd[~m] == -7.0).all()  # padding untouched
    x[2, 1, 3] = np.nan
    assert ik.deliver(x, np.full((3, 7), 4, np.int64), T, False, 0.5, GRID_TOL, grid_points(T, 0.5), xd) == 1


@pytest.mark.parametrize("gradient", ["adjusted", "piggyback"])
def test_float32_storage_is_float64_rounded_once(gradient):
    """float32 inputs and weights are read exactly (as float64) by the kernels, which write the
    spike times and the gradients in float32 once: the float64 computation on the same values,
    rounded."""
    d = D("ps", 3, 1.0, "linear")
    x, W = problem(B=3, N_in=10, N_out=5, K_in=2)
    x32, W32 = x.float(), W.float()
    g = torch.rand(3, 5, 4, generator=torch.Generator().manual_seed(1), dtype=F64)
    x64r, W64r = x32.double().requires_grad_(), W32.double().requires_grad_()
    t64, c64 = event_layer(x64r, W64r, P, d, t_max=T, max_spikes=4, gradient=gradient)
    x32r, W32r = x32.clone().requires_grad_(), W32.clone().requires_grad_()
    t32, c32 = event_layer(x32r, W32r, P, d, t_max=T, max_spikes=4, gradient=gradient)
    # the same output gradient, as the float32 backward sees it
    t32.backward(torch.where(torch.isfinite(t32), g.float(), torch.zeros_like(t32)))
    assert torch.equal(c32, c64) and torch.equal(t32, t64.float())
    m = torch.isfinite(t64)
    t64.backward(torch.where(m, g.float().double(), torch.zeros_like(t64)))
    assert torch.equal(W32r.grad, W64r.grad.float())
    assert torch.equal(x32r.grad, x64r.grad.float())


def test_compiled_helpers():
    """The weight-gradient transpose (rounded once into the storage dtype) and the finite check."""
    from snnlib.events.kernels import integrated_cpu as ik

    rng = np.random.default_rng(1)
    for R, C in [(784, 800), (13, 5), (8, 3), (7, 9), (1, 1)]:
        a = rng.standard_normal((R, C))
        for dtype in (np.float32, np.float64):
            o = np.empty((C, R), dtype)
            ik.transpose_into(a, o)
            np.testing.assert_array_equal(o, a.T.astype(dtype))
        assert ik.all_finite(a.astype(np.float32))
        for bad in (np.nan, np.inf, -np.inf):
            b = a.copy()
            b[R // 2, C - 1] = bad
            assert not ik.all_finite(b)
