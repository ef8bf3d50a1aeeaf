"""The continuous CuBa-LIF integrated exactly on a grid of step h (snnlib.clock.stepping): exact at grid
points between spikes, an h-independent synaptic gain (unlike coarsening the Loihi decays), chunk
invariance, and spike times converging at O(h) to the event-driven network (snnlib.events)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from snnlib.clock.network import ClockNetwork
from snnlib.clock.recurrence import CubaDiscrete, cuba_sequence
from snnlib.clock.stepping import clock_sequence, exact_grid_sequence, grid_raster
from snnlib.events.reference import network_forward
from snnlib.model.discretization import ClockDiscretization
from snnlib.model.neuron import NeuronParams, propagate

F64 = torch.float64
P = NeuronParams(tau_s=5.0, tau=10.0, theta=1.0)  # tau = 2 tau_s: the event layer's closed form applies


def _continuous(inputs, t_end, params):
    """(I, V) at t_end of the spike-free flow with inputs ``[(t, w)]`` added to I at t."""
    V, I, t = torch.zeros((), dtype=F64), torch.zeros((), dtype=F64), 0.0
    for ti, w in sorted(inputs) + [(t_end, 0.0)]:
        V, I = propagate(V, I, ti - t, params)
        I, t = I + w, ti
    return I, V


@pytest.mark.parametrize("h", [2.0, 0.5, 0.125])
def test_equals_the_continuous_flow_at_grid_points_without_spikes(h):
    params = NeuronParams(tau_s=5.0, tau=10.0, theta=1e9)
    inputs = [(0.0, 1.0), (4.0, -0.3), (6.0, 0.7)]  # on every grid tested (multiples of 2 ms)
    T = int(round(20.0 / h))
    x = torch.zeros(T, 1, 1, dtype=F64)
    for t, w in inputs:
        x[int(round(t / h)), 0, 0] += w
    _, (I, V) = exact_grid_sequence(x, params, h)
    # the returned state is just after grid point T-1 = (T-1) h, inputs there included
    I_ref, V_ref = _continuous(inputs, (T - 1) * h, params)
    torch.testing.assert_close(I.squeeze(), I_ref, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(V.squeeze(), V_ref, rtol=1e-12, atol=1e-14)


def test_gain_is_independent_of_h_unlike_coarsened_loihi_decays():
    """One input of weight 1 at t = 0, no spikes; V at t = 10 ms. The exact grid gives the continuous
    V(10) = k(10) at every h; the Loihi recurrence with decays exp(-h/tau_s), exp(-h/tau) has unit
    input gain, so its V(10) = sum_{n<=N} beta^(N-n) alpha^n (N = 10/h) ~ k(10) / h: it doubles
    when h halves (to O(h))."""
    params = NeuronParams(tau_s=5.0, tau=10.0, theta=1e9)
    v_exact, v_loihi = [], []
    for h in (1.0, 0.5, 0.25):
        N = int(round(10.0 / h))
        x = torch.zeros(N + 2, 1, 1, dtype=F64)
        x[0] = 1.0
        _, (_, V) = exact_grid_sequence(x[: N + 1], params, h)  # state after point N: t = 10 ms
        v_exact.append(float(V))
        _, (_, v) = cuba_sequence(x[: N + 1], CubaDiscrete.from_neuron(5.0, 10.0, h, theta=1e9))
        v_loihi.append(float(v))
    k10 = float(_continuous([(0.0, 1.0)], 10.0, params)[1])
    assert v_exact == pytest.approx([k10] * 3, rel=1e-12)
    for coarse, fine in zip(v_loihi, v_loihi[1:]):
        assert fine / coarse == pytest.approx(2.0, rel=0.1)  # 1/h scaling, O(h) corrections


def test_chunks_with_state_equal_one_run():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(80, 3, 5, dtype=F64, generator=g) * 0.6
    whole, (I, V) = exact_grid_sequence(x, P, 0.5)
    a, state = exact_grid_sequence(x[:37], P, 0.5)
    b, (I2, V2) = exact_grid_sequence(x[37:], P, 0.5, state=state)
    assert whole.sum() > 10  # spikes and resets happen across the cut
    assert torch.equal(torch.cat([a, b]), whole)
    torch.testing.assert_close((I2, V2), (I, V), rtol=1e-12, atol=1e-12)


def _grid_times(spikes, h):
    return [[torch.nonzero(spikes[:, b, n]).flatten().double() * h for n in range(spikes.shape[2])]
            for b in range(spikes.shape[1])]


def _spike_time_errors(grid, exact_times, t_end):
    """Per spike |t_grid - t_exact|, with every neuron's count checked equal."""
    errs = []
    for b, row in enumerate(grid):
        for n, tg in enumerate(row):
            te = exact_times[b, n]
            te = te[torch.isfinite(te) & (te < t_end)]
            assert len(tg) == len(te), f"sample {b} neuron {n}: {len(tg)} grid spikes vs {len(te)} exact"
            errs.append((tg - te).abs())
    return torch.cat(errs)


def test_spike_times_converge_at_first_order_to_the_event_driven_network():
    """Two layers (30-12-6), weights giving a few spikes per neuron (away from grazing crossings).
    The grid model delays every input by U[0, h) on average h/2 and snaps every crossing to the next
    grid point, on average h/2 later; a hidden spike reaches the next layer on the grid at no extra
    delay. So layer l's spikes are late by about l h on average (the delays add up), the error is
    O(h): halving h halves it (log-log slope 1), also for the largest error (within a factor 2)."""
    g = torch.Generator().manual_seed(3)
    B, t_end = 4, 60.0
    t_in = torch.rand(B, 30, 1, generator=g, dtype=F64) * 40
    W1 = torch.randn(12, 30, generator=g, dtype=F64) * 0.15 + 0.03
    W2 = torch.randn(6, 12, generator=g, dtype=F64) * 0.1
    exact = network_forward(t_in, [W1, W2], P, max_spikes=20, t_max=t_end)
    assert all(int(c.sum()) > 30 for _, c in exact)  # both layers spike: the comparison has content
    hs = [0.25, 0.0625, 1 / 64]
    mean_err, max_err = [], []
    for h in hs:
        T = int(round(t_end / h))
        s1, _ = exact_grid_sequence(grid_raster(t_in, T, h, sparse=False) @ W1.t(), P, h)
        s2, _ = exact_grid_sequence(s1 @ W2.t(), P, h)
        errs = [_spike_time_errors(_grid_times(s, h), ex[0], T * h) for s, ex in zip((s1, s2), exact)]
        for layer, e in enumerate(errs, 1):
            assert float(e.mean()) / h == pytest.approx(layer, rel=0.3)  # about l h; ~30-90 spikes per layer
        mean_err.append(float(torch.cat(errs).mean()))
        max_err.append(float(torch.cat(errs).max()))
    slope = np.polyfit(np.log(hs), np.log(mean_err), 1)[0]
    assert slope == pytest.approx(1.0, abs=0.15)
    assert max_err[-1] / max_err[0] <= 2 * hs[-1] / hs[0]


def test_network_uses_the_grid_for_every_layer_including_the_output():
    g = torch.Generator().manual_seed(5)
    t_in = torch.rand(2, 30, 1, generator=g, dtype=F64) * 40
    d = ClockDiscretization("exact", h=0.125)
    net = ClockNetwork((30, 12, 6), P, discretization=d, generator=g, dtype=F64, weight_scale=0.4)
    T = int(60 / 0.125)
    out, hidden = net(grid_raster(t_in, T, 0.125))
    s1, _ = clock_sequence(grid_raster(t_in, T, 0.125, sparse=False) @ net.weights[0].detach().t(), P, d)
    s2, _ = exact_grid_sequence(s1 @ net.weights[1].detach().t(), P, 0.125)
    assert s1.sum() > 0 and s2.sum() > 0
    assert torch.equal(out, s2) and torch.equal(hidden[0], s1.sum((0, 2)))


def test_grid_raster_delivers_at_the_next_grid_point():
    times = torch.tensor([[[0.0, 0.3, math.inf]], [[1.0, 2.49, 7.0]]], dtype=F64)  # [B=2, N=1, K=3]
    dense = grid_raster(times, 5, 0.5, sparse=False)
    # 0 -> point 0; 0.3 -> 1 (ceil 0.6); 1.0 -> 2 (on the grid); 2.49 -> 5 (past the last point 4); 7 dropped
    assert dense[:, 0, 0].tolist() == [1, 1, 0, 0, 0] and dense[:, 1, 0].tolist() == [0, 0, 1, 0, 0]
    assert torch.equal(grid_raster(times, 5, 0.5).to_dense(F64), dense)


def test_labels_name_the_discretization():
    assert ClockDiscretization().label == "loihi"
    assert ClockDiscretization("skip", k=10).label == "skip-k10"
    assert ClockDiscretization("skip", k=3, skip_backward="cpu").label == "skip-k3-cpu"
    assert ClockDiscretization("exact", h=2.0).label == "exact-h2"


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="h > 0"):
        ClockDiscretization("exact")
    with pytest.raises(ValueError, match="scheme"):
        ClockDiscretization("euler")
    with pytest.raises(ValueError, match="takes no k"):
        ClockDiscretization("exact", k=3, h=1.0)
    with pytest.raises(ValueError, match="takes none"):
        ClockDiscretization("skip", k=3, h=1.0)
    with pytest.raises(TypeError, match="NeuronParams"):
        ClockNetwork((4, 2), CubaDiscrete(0.5, 0.5), discretization=ClockDiscretization("exact", h=1.0))
    with pytest.raises(TypeError, match="CubaDiscrete"):
        clock_sequence(torch.zeros(3, 1, 2), P, ClockDiscretization("skip", k=2))


def test_encoders_deliver_on_the_grid_with_ceil_rounding():
    import numpy as np

    from snnlib.data import encoding

    images = np.array([[[0, 255, 128, 51]]], dtype=np.uint8)  # t = 100 (1 - p/255): silent, 0, 49.8.., 80
    h = 2.0
    got = encoding.ttfs_raster(images, 60, h, rounding="ceil")
    ref = grid_raster(encoding.ttfs(images), 60, h)
    assert torch.equal(got.to_dense(F64), ref.to_dense(F64))
    floor = encoding.ttfs_raster(images, 60, h)
    # 0 ms is on the grid either way; 49.8 ms: bin 24 (floor) vs point 25 (ceil); 80 ms on the grid: 40
    assert sorted(floor.t.tolist()) == [0, 24, 40] and sorted(got.t.tolist()) == [0, 25, 40]
    ev = np.array([(1, 2, 1500, 1), (1, 2, 2000, 0), (0, 0, 0, 0)],
                  dtype=[("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])  # t in µs
    ceil = encoding.events_raster([ev], 5, 1.0, rounding="ceil")
    flo = encoding.events_raster([ev], 5, 1.0)
    assert sorted(ceil.t.tolist()) == [0, 2, 2] and sorted(flo.t.tolist()) == [0, 1, 2]
    with pytest.raises(ValueError, match="rounding"):
        encoding.events_raster([ev], 5, 1.0, rounding="round")


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_backward_equals_autograd_of_the_unrolled_grid_recurrence(reset):
    """The surrogate gradient through the exact grid (one-step delay, gain k(h), carried state) equals
    autograd through the recurrence written out per grid point, reset detached as in the clock layer."""
    from snnlib.model.neuron import propagator_kernel
    from snnlib.model.surrogates import spike

    params = NeuronParams(tau_s=5.0, tau=10.0, theta=1.0, reset=reset)
    h = 0.5
    a, b, kh = math.exp(-h / 5.0), math.exp(-h / 10.0), float(propagator_kernel(torch.tensor(h, dtype=F64), params))
    g = torch.Generator().manual_seed(6)
    x = (torch.randn(40, 2, 3, dtype=F64, generator=g) * 0.8).requires_grad_()
    i0 = torch.randn(2, 3, dtype=F64, generator=g).requires_grad_()
    v0 = (torch.rand(2, 3, dtype=F64, generator=g) * 0.5).requires_grad_()
    w = torch.randn(40, 2, 3, dtype=F64, generator=g)
    s, (I, V) = exact_grid_sequence(x, params, h, "slayer", (i0, v0))
    ours = torch.autograd.grad((s * w).sum() + I.sum() + 2 * V.sum(), (x, i0, v0))
    Ir, Vr, out = i0, v0, []
    for j in range(40):
        Vr = b * Vr + kh * Ir  # V_j^- from the state just after point j-1
        Ir = a * Ir + x[j]  # I_j^+ (inputs of point j after its check)
        sj = spike(Vr - 1.0, "slayer")
        out.append(sj)
        Vr = Vr - sj.detach() if reset == "subtract" else Vr * (1 - sj.detach())
    ref = torch.autograd.grad((torch.stack(out) * w).sum() + Ir.sum() + 2 * Vr.sum(), (x, i0, v0))
    assert torch.equal(s, torch.stack(out).detach()) and s.sum() > 5
    for o, r in zip(ours, ref):
        torch.testing.assert_close(o, r, rtol=1e-10, atol=1e-10)
