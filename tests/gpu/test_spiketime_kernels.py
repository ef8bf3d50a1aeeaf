"""The CUDA spike-time kernels against the CPU (numba) kernels and the torch reference: spike
times, counts, dL/dW and dL/d(input times), on layers where neurons spike several times, reach
their cap, stay silent, and on empty samples."""

import math

import numba
import pytest
import torch
from test_spiketime import (  # the CPU tests' layers (tests/events/ is on sys.path: conftest.py)
    F64,
    T_MAX,
    P,
    random_layer,
)

from snnlib.events.kernels import exact_cuda as spiketime_cuda
from snnlib.events.layer import event_layer


def _layer(x, W, p, t_max, K, backend, in_counts=None):
    """One exact layer on ``backend`` through the door (times, counts)."""
    return event_layer(x, W, p, t_max=t_max, max_spikes=K, backend=backend, in_counts=in_counts)


def grads(x, W, c, K, backend, dev, in_counts=None):
    x = x.to(dev).clone().requires_grad_(True)
    W = W.to(dev).clone().requires_grad_(True)
    out, counts = _layer(x, W, P, T_MAX, K, backend, in_counts)
    fin = torch.isfinite(out)
    (torch.where(fin, out, torch.zeros_like(out)) * c.to(dev)).sum().backward()
    return out.detach().cpu(), counts.cpu(), W.grad.cpu(), x.grad.cpu()


@pytest.fixture(autouse=True)
def one_numba_thread():
    n = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(n)


@pytest.mark.parametrize("seed,K", [(1, 4), (2, 2), (3, 6)])
def test_cuda_equals_cpu_kernels(seed, K, dev):
    x, W = random_layer(seed)
    x[1, :, 1:] = math.inf  # fewer events in one sample
    c = torch.randn(3, 5, K, generator=torch.Generator().manual_seed(seed), dtype=F64)
    o_cpu, n_cpu, gW_cpu, gx_cpu = grads(x, W, c, K, "numba", "cpu")
    o_gpu, n_gpu, gW_gpu, gx_gpu = grads(x, W, c, K, "cuda", dev)
    assert torch.equal(n_cpu, n_gpu)
    assert int(n_cpu.sum()) > 0 and int((n_cpu == K).sum()) > 0  # spikes, and capped neurons
    assert torch.equal(torch.isfinite(o_cpu), torch.isfinite(o_gpu))
    fin = torch.isfinite(o_cpu)
    torch.testing.assert_close(o_gpu[fin], o_cpu[fin], rtol=0, atol=1e-10)
    assert gW_cpu.abs().sum() > 0
    torch.testing.assert_close(gW_gpu, gW_cpu, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(gx_gpu, gx_cpu, rtol=1e-9, atol=1e-10)


def test_cuda_equals_torch_reference(dev):
    """Against autograd through snnlib.events.reference.simulate_layer (code independent of both kernels)."""
    x, W = random_layer(30)
    c = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(30), dtype=F64)
    o, n, gW, gx = grads(x, W, c, 4, "cuda", dev)
    ro, rn, rW, rx = grads(x, W, c, 4, "torch", "cpu")
    assert torch.equal(n, rn)
    fin = torch.isfinite(ro)
    assert torch.equal(torch.isfinite(o), fin)
    torch.testing.assert_close(o[fin], ro[fin], rtol=0, atol=1e-9)
    torch.testing.assert_close(gW, rW, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(gx[torch.isfinite(x)], rx[torch.isfinite(x)], rtol=1e-8, atol=1e-8)


def test_padding_past_the_counts_and_empty_samples(dev):
    """``in_counts`` (a layer's spike counts) hides entries past them, as on the CPU; an empty
    sample and inputs outside [0, t_max) give no spikes and no gradient."""
    x, W = random_layer(7, B=3)
    x[2] = math.inf  # an empty sample
    x[0, 0, 0] = -1.0  # before the window: ignored
    x[0, 1, 0] = T_MAX + 5.0  # after it: ignored
    x, _ = x.sort(-1)
    counts = torch.isfinite(x).sum(-1)
    counts[1, :] = counts[1, :].clamp(max=1)  # pretend the rest of sample 1's rows is padding
    c = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(7), dtype=F64)
    cpu = grads(x, W, c, 4, "numba", "cpu", counts)
    gpu = grads(x, W, c, 4, "cuda", dev, counts.to(dev))
    assert torch.equal(cpu[1], gpu[1]) and int(gpu[1][2].sum()) == 0
    fin = torch.isfinite(cpu[0])
    torch.testing.assert_close(gpu[0][fin], cpu[0][fin], rtol=0, atol=1e-10)
    for a, b in zip(cpu[2:], gpu[2:]):
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-10)
    assert (gpu[3][2] == 0).all()


def test_float32_layer_is_computed_in_float64(dev):
    x, W = random_layer(11)
    c = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(11), dtype=F64)
    o64 = grads(x, W, c, 4, "cuda", dev)[0]
    o32 = grads(x.float(), W.float(), c.float(), 4, "cuda", dev)[0]
    assert o32.dtype == torch.float32
    fin = torch.isfinite(o64)
    assert torch.equal(torch.isfinite(o32), fin)
    torch.testing.assert_close(o32[fin].double(), o64[fin], rtol=0, atol=1e-3)


def test_sorted_events_are_stable_and_intervals_add_up(dev):
    x = torch.tensor([[[5.0, 9.0], [5.0, math.inf], [1.0, 300.0]]], dtype=F64, device=dev)
    ev_t, ev_src, ev_flat, ev_x, n_ev = spiketime_cuda.sort_events(x, T_MAX, 260.0)
    assert n_ev.tolist() == [4]
    assert ev_t.cpu().tolist() == [[1.0, 5.0, 5.0, 9.0]]
    assert ev_flat.cpu().tolist() == [[4, 0, 2, 1]] and ev_src.cpu().tolist() == [[2, 0, 1, 0]]
    h = -260.0 * torch.log(ev_x.cpu())
    torch.testing.assert_close(h, torch.tensor([[1.0, 4.0, 0.0, 4.0, T_MAX - 9.0]], dtype=F64))


def test_two_layers_with_gradients_through_hidden_spike_times(dev):
    """A hidden layer's output (its counts marking the padding) feeding a second layer: outputs,
    hidden counts and both weight gradients equal the CPU kernels'."""
    x, W1 = random_layer(40, B=3, N_in=6, K_in=2, N_out=5)
    W2 = (torch.rand(3, 5, generator=torch.Generator().manual_seed(41), dtype=F64) * 1.5 - 0.3) * 2.0
    c = torch.arange(1.0, 13.0, dtype=F64).reshape(1, 3, 4)
    res = []
    for backend, d in (("numba", "cpu"), ("cuda", dev)):
        w1, w2 = W1.to(d).clone().requires_grad_(True), W2.to(d).clone().requires_grad_(True)
        h, counts = _layer(x.to(d), w1, P, T_MAX, 4, backend)
        out, _ = _layer(h, w2, P, T_MAX, 4, backend, counts)
        (torch.where(torch.isfinite(out), out, torch.zeros_like(out)) * c.to(d)).sum().backward()
        res.append((out.detach().cpu(), counts.cpu(), w1.grad.cpu(), w2.grad.cpu()))
    (o1, n1, a1, b1), (o2, n2, a2, b2) = res
    assert torch.equal(n1, n2) and int(n1.sum()) > 0 and int(torch.isfinite(o1).sum()) > 0
    fin = torch.isfinite(o1)
    assert torch.equal(torch.isfinite(o2), fin)
    torch.testing.assert_close(o2[fin], o1[fin], rtol=0, atol=1e-9)
    assert a1.abs().sum() > 0 and b1.abs().sum() > 0
    torch.testing.assert_close(a2, a1, rtol=1e-8, atol=1e-9)
    torch.testing.assert_close(b2, b1, rtol=1e-8, atol=1e-9)


def test_several_blocks_per_sample_and_uneven_samples(dev):
    """More neurons than a block holds (the input-time gradient is summed over blocks by atomics)
    and samples with different numbers of input events (padding after the sorted events)."""
    x, W = random_layer(21, B=3, N_in=6, K_in=3, N_out=2 * spiketime_cuda._tpb() + 3)
    x[1, :, 1:] = math.inf
    x[2, :4] = math.inf
    c = torch.randn(3, W.shape[0], 3, generator=torch.Generator().manual_seed(21), dtype=F64)
    cpu = grads(x, W, c, 3, "numba", "cpu")
    gpu = grads(x, W, c, 3, "cuda", dev)
    assert torch.equal(cpu[1], gpu[1]) and int(cpu[1][:, -3:].sum()) > 0  # the last block's neurons spike
    fin = torch.isfinite(cpu[0])
    torch.testing.assert_close(gpu[0][fin], cpu[0][fin], rtol=0, atol=1e-10)
    assert cpu[3].abs().sum() > 0
    for a, b in zip(cpu[2:], gpu[2:]):
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-10)
