"""Sparse projection of hidden spike rasters: equal to the dense matmul in values and in the gradients
(weights and spikes), alone and inside a network; the compiled nonzero kernel equals torch.nonzero."""

from __future__ import annotations

import pytest
import torch

from snnlib.clock import kernels as K
from snnlib.clock import raster
from snnlib.clock.network import ClockNetwork
from snnlib.clock.raster import Raster, spike_projection
from snnlib.clock.recurrence import CubaDiscrete

F64 = torch.float64


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_binary_nonzero_kernel_equals_torch_nonzero(dtype):
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(37, 53, generator=g) < 0.07).to(dtype)
    rows, cols = K.binary_nonzero(x.numpy())
    ref = x.nonzero(as_tuple=True)
    assert torch.equal(torch.from_numpy(rows), ref[0]) and torch.equal(torch.from_numpy(cols), ref[1])
    empty = K.binary_nonzero(torch.zeros(4, 5, dtype=dtype).numpy())
    assert len(empty[0]) == 0 and len(empty[1]) == 0


def test_spike_projection_equals_dense_matmul_values_and_gradients():
    g = torch.Generator().manual_seed(1)
    s = (torch.rand(20, 4, 30, generator=g) < 0.1).double().requires_grad_()
    w = torch.randn(9, 30, dtype=F64, generator=g, requires_grad=True)
    up = torch.randn(20, 4, 9, dtype=F64, generator=g)
    a, b = spike_projection(s, w), s @ w.t()
    torch.testing.assert_close(a, b, rtol=1e-14, atol=1e-14)
    ga = torch.autograd.grad((a * up).sum(), (s, w))
    gb = torch.autograd.grad((b * up).sum(), (s, w))
    for x, y in zip(ga, gb):
        torch.testing.assert_close(x, y, rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError, match="spikes must be"):
        spike_projection(s[..., :5], w)


def test_spike_projection_passes_gradcheck_in_the_weights():
    g = torch.Generator().manual_seed(2)
    s = (torch.rand(5, 3, 8, generator=g) < 0.3).double()
    w = torch.randn(4, 8, dtype=F64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda w: spike_projection(s, w), (w,))


@pytest.mark.parametrize("sizes", [(40, 30, 20, 5), (40, 25, 6)])
def test_network_sparse_hidden_path_equals_dense_path(sizes):
    """Same weights, same input: identical output spikes and hidden counts, and the same weight
    gradients (up to summation order) through every layer."""
    g = torch.Generator().manual_seed(3)
    p = CubaDiscrete(0.8, 0.95, 0.4)
    nets = [ClockNetwork(sizes, p, generator=torch.Generator().manual_seed(4), dtype=F64, sparse_hidden=sh)
            for sh in (True, False)]
    raster = Raster.from_dense((torch.rand(60, 3, sizes[0], generator=g) < 0.08).double())
    target = torch.randn(60, 3, sizes[-1], dtype=F64, generator=g)
    outs, grads = [], []
    for net in nets:
        out, hidden = net(raster)
        outs.append((out, hidden))
        grads.append(torch.autograd.grad((out * target).sum(),
                                         list(net.parameters())))
    assert all(h.sum() > 0 for h in outs[0][1]) and outs[0][0].sum() > 0  # the hidden layers spike
    assert torch.equal(outs[0][0], outs[1][0])
    assert all(torch.equal(a, b) for a, b in zip(outs[0][1], outs[1][1]))
    for a, b in zip(*grads):
        assert a.abs().sum() > 0
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_dense_binary_input_takes_the_sparse_path_and_counts_the_dense_one(monkeypatch):
    import snnlib.clock.network as C

    calls = []
    monkeypatch.setattr(C, "spike_projection",
                        lambda s, w, nz=None: calls.append(s.shape[2]) or raster.spike_projection(s, w, nz))
    g = torch.Generator().manual_seed(7)
    p = CubaDiscrete(0.8, 0.95, 0.4)
    nets = [ClockNetwork((30, 12, 4), p, generator=torch.Generator().manual_seed(8), dtype=F64, sparse_hidden=sh)
            for sh in (True, False)]
    binary = (torch.rand(40, 2, 30, generator=g) < 0.1).double()
    counts = binary * torch.randint(1, 3, binary.shape, generator=g).double()  # event counts: not binary
    for x in (binary, counts):
        outs = []
        for net in nets:
            out, _ = net(x)
            outs.append((out, *torch.autograd.grad(out.sum() + (out * torch.arange(4.0, dtype=F64)).sum(),
                                                   list(net.parameters()))))
        # sparse net: the input (30, if binary) and the hidden layer (12) projected from the spikes
        assert calls == ([30, 12] if x is binary else [12])
        calls.clear()
        assert outs[0][0].sum() > 0 and torch.equal(outs[0][0], outs[1][0])
        for a, b in zip(outs[0][1:], outs[1][1:]):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
