"""Exact spike-time training (snnlib.events.exact): forward, gradients, STE, losses (times in ms)."""

import math

import numba
import pytest
import torch
import torch.nn.functional as F

from snnlib.events.exact import SpikeLayer
from snnlib.events.grid import quantize_times
from snnlib.events.layer import spike_layer
from snnlib.events.reference import simulate_layer
from snnlib.model.crossing import GRAZING_EPS
from snnlib.model.discretization import Discretization as D
from snnlib.model.neuron import NeuronParams, first_crossing
from snnlib.training.losses import first_spike_cross_entropy, spike_count_loss
from snnlib.training.losses import predict_events_by_count as predict_by_count
from snnlib.training.losses import predict_events_by_first_spike as predict_by_first_spike
from snnlib.training.schemes.spiketime import BatsConfig, SpikeTimeNetwork

F64 = torch.float64
TAU_S, TAU = 130.0, 260.0
# a threshold that makes these small random layers spike a few times per neuron
P = NeuronParams(tau_s=TAU_S, theta=0.2 * TAU)
T_MAX = 200.0
# thresholds 52 / 338 (ms units) for the small 6-5-3 test networks: a few spikes per neuron
SMALL_THETAS = (0.052, 0.338)


@pytest.fixture(autouse=True)
def one_numba_thread():
    """Tiny problems: a single thread avoids the parallel launch cost (large on a loaded
    machine); the threaded path is compared with it in test_thread_count_does_not_change_results."""
    n = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(n)


def random_layer(seed, B=3, N_in=6, K_in=3, N_out=5, scale=2.0, p_silent=0.3):
    """Sorted, +inf padded input trains in [0, 100) ms and U(-scale/2, scale) weights: strong
    enough that neurons spike several times (resets) and some reach the cap."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(B, N_in, K_in, generator=g, dtype=F64) * 100.0
    x[torch.rand(B, N_in, K_in, generator=g) < p_silent] = math.inf
    x, _ = x.sort(-1)
    W = (torch.rand(N_out, N_in, generator=g, dtype=F64) * 1.5 - 0.5) * scale
    return x, W


def masked(t):
    return torch.where(torch.isfinite(t), t, torch.zeros_like(t))


# ------------------------------------------------------------------ forward
def test_forward_equals_event_simulation_spike_for_spike():
    seen = torch.zeros(3, dtype=torch.bool)  # resets (>= 2 spikes), the cap K, silent neurons
    for seed, K in [(0, 4), (1, 4), (2, 2), (3, 8), (4, 3)]:
        x, W = random_layer(seed)
        out = spike_layer(x, W, P, t_max=T_MAX, max_spikes=K, backend="numba")
        ref = simulate_layer(x, W, P, t_max=T_MAX, max_spikes=K, discretization=D())
        n = torch.isfinite(out).sum(-1)
        assert torch.equal(n, ref.counts)
        assert torch.equal(torch.isfinite(out), torch.isfinite(ref.times))
        torch.testing.assert_close(masked(out), masked(ref.times), rtol=0, atol=1e-9)
        seen |= torch.stack([(n >= 2).any(), (n == K).any(), (n == 0).any()])
    assert seen.all()


def test_forward_with_concentrated_and_coincident_inputs():
    """All 60 input spikes within 1 ms, a third of them at the same instant: one bucket of the
    event sort holds them all (its merge-sort path) and coincident inputs act together, as in
    snnlib.events (which merges them into one integration point)."""
    g = torch.Generator().manual_seed(9)
    x = torch.rand(2, 60, 1, generator=g, dtype=F64) * 1e-3
    x[:, ::3] = 5e-4
    W = torch.rand(4, 60, generator=g, dtype=F64) * 0.6 - 0.2
    out = spike_layer(x, W, P, t_max=T_MAX, max_spikes=5, backend="numba")
    ref = simulate_layer(x, W, P, t_max=T_MAX, max_spikes=5)
    assert torch.equal(torch.isfinite(out), torch.isfinite(ref.times)) and int(ref.counts.sum()) >= 4
    torch.testing.assert_close(masked(out), masked(ref.times), rtol=0, atol=1e-9)


def test_input_rows_need_not_be_sorted():
    """A layer sees its inputs as a set of events: permuting the padded slots of each input
    train permutes the input-time gradients the same way and changes nothing else."""
    x, W = random_layer(8)
    perm = torch.tensor([2, 0, 1])
    c = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(8), dtype=F64)
    gx, gW, out = _grads(x, W, c, 4)
    px, pW, pout = _grads(x[..., perm], W, c, 4)
    assert torch.equal(out, pout) and torch.equal(gW, pW) and torch.equal(gx[..., perm], px)
    empty = spike_layer(x[:0], W, P, t_max=T_MAX, max_spikes=4)
    assert empty.shape == (0, 5, 4)


def test_spike_train_of_one_input_is_the_closed_form():
    """One input spike of weight w at t0: the first spike is t0 + first_crossing(0, w); after the
    reset V = 0 and I has decayed by x^2 (tau_s = tau/2), so spike k+1 is t_k +
    first_crossing(0, I(t_k)) -- the formulas of snnlib.model.neuron reused spike by spike."""
    t0, w = 10.0, 2.5
    out = spike_layer(torch.tensor([[[t0]]], dtype=F64), torch.tensor([[w]], dtype=F64), P,
                      t_max=1e4, max_spikes=10, backend="numba")[0, 0]
    t, I, expected = t0, torch.tensor(w, dtype=F64), []
    while True:
        s = float(first_crossing(torch.tensor(0.0, dtype=F64), I, P))
        if not math.isfinite(s):
            break
        t += s
        I = I * math.exp(-s / TAU_S)
        expected.append(t)
    assert len(expected) >= 3  # several spikes, so the reset is exercised
    n = int(torch.isfinite(out).sum())
    assert n == len(expected)
    torch.testing.assert_close(out[:n], torch.tensor(expected, dtype=F64), rtol=1e-13, atol=1e-10)


def test_thresholds_map_bats_units():
    """BATS (time in s) fires a neuron with one input of weight w at 0 where
    exp(t/tau) = 2a / (b + sqrt(b^2 - 4 a c)) with a = b = w and c = theta_BATS / tau[s]
    (compute_spike_times.cu, c = theta/tau in LIFLayer.py). With the same weight and
    theta_ours = 1000 theta_BATS our layer (time in ms) fires at the same time, 1000 t[s]."""
    cfg = BatsConfig()
    tau_sec = cfg.tau / 1000.0
    w = 30.0  # > 4 c = 4 * 1.3 / 0.26 for both layers, so both neurons fire
    for theta_b, p in zip(cfg.theta_bats, cfg.params()):
        c = theta_b / tau_sec
        t_bats_s = tau_sec * math.log(2 * w / (w + math.sqrt(w * w - 4 * w * c)))
        out = spike_layer(torch.zeros(1, 1, 1, dtype=F64), torch.tensor([[w]], dtype=F64), p,
                          t_max=1e4, max_spikes=1, backend="numba")
        assert float(out[0, 0, 0]) == pytest.approx(1000.0 * t_bats_s, rel=1e-12)


def test_float32_inputs_are_computed_in_float64():
    """The kernels compute in float64 whatever the storage: float32 inputs give the float64
    result on the same (float32-representable) values, rounded once."""
    x, W = random_layer(5)
    x32, W32 = x.float(), W.float()
    out32 = spike_layer(x32, W32, P, t_max=T_MAX, max_spikes=4, backend="numba")
    out64 = spike_layer(x32.double(), W32.double(), P, t_max=T_MAX, max_spikes=4, backend="numba")
    assert out32.dtype == torch.float32
    assert torch.equal(out32, out64.float())


# ---------------------------------------------------------------- gradients
def _grads(x, W, c, K, backend="numba"):
    x = x.clone().requires_grad_()
    W = W.clone().requires_grad_()
    out = spike_layer(x, W, P, t_max=T_MAX, max_spikes=K, backend=backend)
    (masked(out) * c).sum().backward()
    return x.grad, W.grad, out.detach()


def _finite_differences(x, W, c, K, h=1e-6):
    """Central differences of L = sum c * t over the spikes of ONE sample; entries whose
    perturbation changes the spike count are NaN (L is discontinuous there)."""
    def f(x_, W_):
        out = spike_layer(x_, W_, P, t_max=T_MAX, max_spikes=K, backend="numba")
        return float((masked(out) * c).sum()), torch.isfinite(out).sum()

    _, n0 = f(x, W)
    res = []
    for arr, other_first in ((W, False), (x, True)):
        g = torch.full_like(arr, math.nan)
        for idx in range(arr.numel()):
            if not math.isfinite(float(arr.view(-1)[idx])):
                g.view(-1)[idx] = 0.0  # padding
                continue
            vals = []
            for sgn in (1, -1):
                a = arr.clone()
                a.view(-1)[idx] += sgn * h
                vals.append(f(a, W) if other_first else f(x, a))
            if all(int(n) == int(n0) for _, n in vals):
                g.view(-1)[idx] = (vals[0][0] - vals[1][0]) / (2 * h)
        res.append(g)
    return res[1], res[0]


@pytest.mark.parametrize("seed,K", [(10, 1), (11, 1), (12, 5), (13, 5)])
def test_gradients_equal_finite_differences(seed, K):
    x, W = random_layer(seed, B=2, N_in=5, K_in=2, N_out=4)
    c = torch.randn(2, 4, K, generator=torch.Generator().manual_seed(seed), dtype=F64)
    checked = multi = 0
    for b in range(2):
        xb, cb = x[b : b + 1], c[b : b + 1]
        gx, gW, out = _grads(xb, W, cb, K)
        fx, fW = _finite_differences(xb, W, cb, K)
        ok_x, ok_W = torch.isfinite(fx), torch.isfinite(fW)
        torch.testing.assert_close(gx[ok_x], fx[ok_x], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(gW[ok_W], fW[ok_W], rtol=1e-5, atol=1e-6)
        checked += int(ok_x.sum() + ok_W.sum())
        multi += int((torch.isfinite(out).sum(-1) >= 2).sum())
    assert checked >= 20
    if K > 1:
        assert multi >= 1  # gradients through resets were compared


def test_reset_coupling_is_in_the_gradient():
    """One input of weight w at t0 makes a neuron fire 3 times. The implicit-function gradient of
    spike k *without* the dependence on earlier spikes, -(dV/dw)/(dV/dt) with dV/dw = tau (x - x^2),
    x = exp(-(t_k - t0)/tau) and dV/dt = w x^2 - theta/tau, matches finite differences for the
    first spike only; ours matches them for all three (BATS's recurrent error propagation)."""
    t0, w, K = 10.0, 2.5, 3
    x = torch.tensor([[[t0]]], dtype=F64)
    W = torch.tensor([[w]], dtype=F64)
    h = 1e-6
    t_p = spike_layer(x, W + h, P, t_max=1e4, max_spikes=K)[0, 0]
    t_m = spike_layer(x, W - h, P, t_max=1e4, max_spikes=K)[0, 0]
    fd = (t_p - t_m) / (2 * h)
    t = spike_layer(x, W, P, t_max=1e4, max_spikes=K)[0, 0]
    xk = torch.exp(-(t - t0) / TAU)
    naive = -TAU * (xk - xk**2) / (w * xk**2 - P.theta / TAU)
    ours = []
    for k in range(K):
        Wg = W.clone().requires_grad_()
        spike_layer(x, Wg, P, t_max=1e4, max_spikes=K)[0, 0, k].backward()
        ours.append(float(Wg.grad))
    torch.testing.assert_close(torch.tensor(ours, dtype=F64), fd, rtol=1e-6, atol=1e-6)
    assert float(naive[0]) == pytest.approx(float(fd[0]), rel=1e-6)
    # without the coupling the later spikes are off by percents, 1e4 times our tolerance
    assert (((naive[1:] - fd[1:]) / fd[1:]).abs() > 1e-2).all()


def test_gradcheck_custom_function():
    """torch.autograd.gradcheck on the numba Function (float64), at a point away from
    discontinuities: every +-1e-6 perturbation of every input keeps the spike counts."""
    g = torch.Generator().manual_seed(21)
    x = (torch.rand(2, 4, 2, generator=g, dtype=F64) * 80.0).sort(-1).values
    W = torch.rand(3, 4, generator=g, dtype=F64) * 2.0 - 0.3
    K = 3

    def f(x_, W_):
        out, _ = SpikeLayer.apply(x_, W_, P.theta, P.tau, T_MAX, K)
        return masked(out)

    n0 = torch.isfinite(SpikeLayer.apply(x, W, P.theta, P.tau, T_MAX, K)[0])
    assert 3 <= int(n0.sum()) and (n0.sum(-1) >= 2).any()
    for arr in (x, W):
        for idx in range(arr.numel()):
            for sgn in (1, -1):
                a = arr.clone()
                a.view(-1)[idx] += sgn * 1e-6
                xx, WW = (a, W) if arr is x else (x, a)
                assert torch.equal(torch.isfinite(SpikeLayer.apply(xx, WW, P.theta, P.tau, T_MAX, K)[0]), n0)
    assert torch.autograd.gradcheck(f, (x.requires_grad_(), W.requires_grad_()), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_thread_count_does_not_change_results():
    """Samples run in parallel and dW is summed over per-thread chunks: with 2 threads the
    results equal the 1-thread ones (up to the order of the final sum)."""
    x, W = random_layer(33, B=4)
    c = torch.randn(4, 5, 4, generator=torch.Generator().manual_seed(3), dtype=F64)
    one = _grads(x, W, c, 4)
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    two = _grads(x, W, c, 4)
    assert torch.equal(one[2], two[2]) and torch.equal(one[0], two[0])
    torch.testing.assert_close(one[1], two[1], rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize("seed", [30, 31])
def test_numba_equals_torch_reference(seed):
    """The numba kernels against autograd through snnlib.events.reference.simulate_layer (independent
    code): spike times, dL/dW and dL/d(input times)."""
    x, W = random_layer(seed, B=3, N_in=6, K_in=3, N_out=5)
    c = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(seed), dtype=F64)
    gx, gW, out = _grads(x, W, c, 4, "numba")
    rx, rW, ref = _grads(x, W, c, 4, "torch")
    assert torch.equal(torch.isfinite(out), torch.isfinite(ref))
    torch.testing.assert_close(masked(out), masked(ref), rtol=0, atol=1e-9)
    torch.testing.assert_close(gW, rW, rtol=1e-8, atol=1e-8)
    fin = torch.isfinite(x)
    torch.testing.assert_close(gx[fin], rx[fin], rtol=1e-8, atol=1e-8)
    assert (gx[~fin] == 0).all()


def test_network_numba_equals_torch_reference():
    """Two layers (gradients flow into the hidden spike times): outputs, hidden counts and all
    weight gradients agree between the backends."""
    cfg = BatsConfig(sizes=(6, 5, 3), max_spikes=(4, 4), init_low=(-0.5, -0.5), init_high=(2.0, 1.5), theta_bats=SMALL_THETAS)
    nets = [SpikeTimeNetwork(cfg, backend=be, dtype=F64, generator=torch.Generator().manual_seed(4))
            for be in ("numba", "torch")]
    x, _ = random_layer(40, B=3, N_in=6, K_in=2)
    res = []
    for net in nets:
        out, hidden = net(x)
        (masked(out) * torch.arange(1.0, 13.0, dtype=F64).reshape(1, 3, 4)).sum().backward()
        res.append((out.detach(), hidden[0], [w.grad for w in net.weights]))
    (o1, h1, g1), (o2, h2, g2) = res
    assert torch.equal(h1, h2) and int(h1.sum()) > 0 and int(torch.isfinite(o1).sum()) > 0
    torch.testing.assert_close(masked(o1), masked(o2), rtol=0, atol=1e-9)
    for a, b in zip(g1, g2):
        assert a.abs().sum() > 0
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-7)


# ------------------------------------------------ silent, empty, grazing
def test_empty_inputs_and_silent_neurons_have_zero_gradients():
    x, W = random_layer(50)
    x[1] = math.inf  # an empty sample
    W[0] = -1.0  # a neuron that never fires
    gx, gW, out = _grads(x, W, torch.ones(3, 5, 4, dtype=F64), 4)
    assert torch.isinf(out[1]).all() and torch.isinf(out[:, 0]).all()
    assert torch.isfinite(gW).all() and torch.isfinite(gx).all()
    assert (gW[0] == 0).all() and (gx[1] == 0).all()
    x_all = torch.full((2, 6, 3), math.inf, dtype=F64)
    gx, gW, out = _grads(x_all, W, torch.ones(2, 5, 4, dtype=F64), 4)
    assert torch.isinf(out).all() and (gW == 0).all() and (gx == 0).all()


def test_grazing_crossing_gives_the_guarded_gradient():
    """w = 1 at t0 and theta = w tau / 4 (the peak of w tau (x - x^2), at x = 1/2): V touches
    theta with dV/dt = w x^2 - theta/tau = 0. The spike is at t0 + tau ln 2, and dt/dw =
    -(dV/dw) / max(dV/dt, GRAZING_EPS) = -tau (x - x^2) / GRAZING_EPS: large but finite."""
    p = NeuronParams(tau_s=TAU_S, theta=TAU / 4)
    x = torch.tensor([[[10.0]]], dtype=F64, requires_grad=True)
    W = torch.tensor([[1.0]], dtype=F64, requires_grad=True)
    out = spike_layer(x, W, p, t_max=T_MAX, max_spikes=2, backend="numba")
    assert float(out[0, 0, 0].detach()) == pytest.approx(10.0 + TAU * math.log(2), rel=1e-12)
    out[0, 0, 0].backward()
    assert torch.isfinite(W.grad).all() and torch.isfinite(x.grad).all()
    assert float(W.grad) == pytest.approx(-TAU * 0.25 / GRAZING_EPS, rel=1e-9)


# ------------------------------------------------------------ STE (dt)
def test_discretized_network_is_the_exact_network_on_grid_times():
    """dt = 5 ms: each layer sees ceil(t/dt) dt. (1) The first layer equals
    snnlib.events.reference.simulate_layer(input="grid") (its own grid rounding); (2) the network equals
    quantize -> layer -> quantize -> layer done by hand; (3) the backward is straight through:
    the gradients w.r.t. the raw input times equal those w.r.t. the rounded ones."""
    dt = 5.0
    cfg = BatsConfig(sizes=(6, 5, 3), max_spikes=(4, 4), init_low=(-0.5, -0.5), init_high=(2.0, 1.5), theta_bats=SMALL_THETAS)
    net = SpikeTimeNetwork(cfg, dt=dt, dtype=F64, generator=torch.Generator().manual_seed(7))
    x, _ = random_layer(60, B=3, N_in=6, K_in=2)
    W1, W2 = [w.detach() for w in net.weights]
    p1, p2 = cfg.params()
    grid = simulate_layer(x, W1, p1, t_max=cfg.t_max, max_spikes=4, discretization=D(input="grid", dt=dt))
    h = spike_layer(quantize_times(x, dt), W1, p1, t_max=cfg.t_max, max_spikes=4)
    assert torch.equal(torch.isfinite(h), torch.isfinite(grid.times)) and int(grid.counts.sum()) > 0
    torch.testing.assert_close(masked(h), masked(grid.times), rtol=0, atol=1e-9)

    xr = x.clone().requires_grad_()
    out, _ = net(xr)
    xq = quantize_times(x, dt).detach().requires_grad_()
    manual = spike_layer(quantize_times(spike_layer(xq, W1, p1, t_max=cfg.t_max, max_spikes=4), dt),
                         W2, p2, t_max=cfg.t_max, max_spikes=4)
    assert torch.equal(out.detach(), manual.detach()) and int(torch.isfinite(out).sum()) > 0
    c = torch.arange(1.0, 13.0, dtype=F64).reshape(1, 3, 4)
    (masked(out) * c).sum().backward()
    (masked(manual) * c).sum().backward()
    assert xr.grad.abs().sum() > 0
    torch.testing.assert_close(xr.grad, xq.grad, rtol=0, atol=0)


def test_quantize_times_rounds_up_and_passes_gradients():
    t = torch.tensor([0.0, 0.5, 1.0, 2.0000000001, 7.3, math.inf], dtype=F64, requires_grad=True)
    q = quantize_times(t, 1.0)
    assert q.tolist() == [0.0, 1.0, 1.0, 2.0, 8.0, math.inf]  # on-grid times stay put
    q.backward(torch.arange(6.0, dtype=F64))
    assert t.grad.tolist() == list(range(6))
    with pytest.raises(ValueError):
        quantize_times(t, 0.0)


# ---------------------------------------------------------------- losses
def test_spike_count_loss_value_and_gradient():
    """L = mean_b 1/2 sum_c (n - y)^2 and dL/dt = (y - n)/B on every emitted spike, 0 on padding
    (BATS's errors = targets - counts, batch-averaged)."""
    inf = math.inf
    t = torch.tensor([[[1.0, 2.0, inf], [inf, inf, inf]],
                      [[3.0, inf, inf], [4.0, 5.0, 6.0]]], dtype=F64, requires_grad=True)
    labels = torch.tensor([0, 1])
    L = spike_count_loss(t, labels, target_true=4, target_false=1)
    n = torch.tensor([[2.0, 0.0], [1.0, 3.0]], dtype=F64)
    y = torch.tensor([[4.0, 1.0], [1.0, 4.0]], dtype=F64)
    assert float(L.detach()) == pytest.approx(float(0.5 * ((n - y) ** 2).sum(1).mean()))
    L.backward()
    expected = ((y - n) / 2).unsqueeze(-1) * torch.isfinite(t)
    assert torch.equal(t.grad, expected)


def test_first_spike_cross_entropy_value_and_gradient():
    """CE of softmax(-t_first/tau_loss): dL/dt_first = (softmax - onehot) (-1/tau_loss) / B;
    later spikes get no gradient; a silent output counts as t_silent, without gradient."""
    inf, tau_loss = math.inf, 5.0
    t = torch.tensor([[[3.0, 9.0], [1.0, inf], [inf, inf]],
                      [[2.0, inf], [4.0, 5.0], [6.0, inf]]], dtype=F64, requires_grad=True)
    labels = torch.tensor([0, 2])
    L = first_spike_cross_entropy(t, labels, tau_loss=tau_loss, t_silent=50.0)
    first = torch.tensor([[3.0, 1.0, 50.0], [2.0, 4.0, 6.0]], dtype=F64)
    assert float(L.detach()) == pytest.approx(float(F.cross_entropy(-first / tau_loss, labels)))
    L.backward()
    sm = torch.softmax(-first / tau_loss, 1)
    expected = (sm - F.one_hot(labels, 3)) * (-1.0 / tau_loss) / 2
    expected[0, 2] = 0.0  # silent
    torch.testing.assert_close(t.grad[..., 0], expected)
    assert (t.grad[..., 1] == 0).all()


def test_predictions_and_their_ties():
    inf = math.inf
    t = torch.tensor([[[5.0, 6.0], [4.0, 7.0], [1.0, inf]],      # counts 2, 2, 1: tie -> earliest (1)
                      [[inf, inf], [inf, inf], [inf, inf]],      # all silent -> 0
                      [[2.0, inf], [2.0, 3.0], [9.0, inf]]])     # first-spike tie 0/1 -> more spikes (1)
    assert predict_by_count(t).tolist() == [1, 0, 1]
    assert predict_by_first_spike(t).tolist() == [2, 0, 1]


# ----------------------------------------------------------------- errors
def test_clear_errors():
    x, W = random_layer(70)
    with pytest.raises(ValueError, match="tau == 2"):
        spike_layer(x, W, NeuronParams(tau_s=130.0, tau=200.0, theta=52.0), t_max=T_MAX, max_spikes=2)
    for backend in ("numba", "torch"):
        Wb = W.clone()
        Wb[0, 0] = math.nan
        with pytest.raises(ValueError, match="weights"):
            spike_layer(x, Wb, P, t_max=T_MAX, max_spikes=2, backend=backend)
        xb = x.clone()
        xb[0, 0, 0] = math.nan
        with pytest.raises(ValueError, match="NaN"):
            spike_layer(xb, W, P, t_max=T_MAX, max_spikes=2, backend=backend)
    with pytest.raises(ValueError, match="N_in"):
        spike_layer(x[:, :4], W, P, t_max=T_MAX, max_spikes=2)
    with pytest.raises(ValueError, match="N_in"):
        spike_layer(x[0], W, P, t_max=T_MAX, max_spikes=2)
    with pytest.raises(ValueError, match="max_spikes"):
        spike_layer(x, W, P, t_max=T_MAX, max_spikes=0)
    with pytest.raises(ValueError, match="backend"):
        spike_layer(x, W, P, t_max=T_MAX, max_spikes=2, backend="gpu")
    with pytest.raises(ValueError, match="backend='cuda' needs CUDA tensors"):
        spike_layer(x, W, P, t_max=T_MAX, max_spikes=2, backend="cuda")
    with pytest.raises(ValueError, match="per layer"):
        BatsConfig(sizes=(4, 3, 2), max_spikes=(1,))


def test_network_defaults_follow_bats():
    """784-800-10, thresholds 1000 * (0.2, 1.3), K = 30 / 30, U(-1, 1) weights; hidden counts
    are the per-sample sums of the hidden layer's spike counts."""
    net = SpikeTimeNetwork(generator=torch.Generator().manual_seed(0))
    assert [tuple(w.shape) for w in net.weights] == [(800, 784), (10, 800)]
    assert [p.theta for p in net.params] == pytest.approx([200.0, 1300.0])
    assert all(-1 <= float(w.detach().min()) < -0.99 and 0.99 < float(w.detach().max()) <= 1 for w in net.weights)
    single = BatsConfig.single_spike()
    assert single.max_spikes == (1, 1) and single.theta_bats == (0.7, 2.0) and single.init_low == (0.0, 0.0)
    small = SpikeTimeNetwork(BatsConfig(sizes=(6, 5, 3), max_spikes=(4, 4), init_high=(2.0, 1.5), theta_bats=SMALL_THETAS),
                             dtype=F64, generator=torch.Generator().manual_seed(1))
    x, _ = random_layer(80, B=3, N_in=6, K_in=2)
    out, hidden = small(x)
    h = spike_layer(x, small.weights[0], small.params[0], t_max=200.0, max_spikes=4)
    assert out.shape == (3, 3, 4) and torch.equal(hidden[0], torch.isfinite(h).sum((1, 2)))
