"""The CUDA kernels of the integrated layer against the CPU kernels: every integrator, spike rule,
input delivery and reset (forward, spike for spike), and the piggyback gradient."""

import itertools
import math

import pytest
import torch
from test_integrated import F64, P, T, problem  # the CPU tests' problems (tests/events/ is on sys.path: conftest.py)

from snnlib.events.layer import event_layer
from snnlib.model.discretization import Discretization as D
from snnlib.model.neuron import NeuronParams

GRIDS = [D(i, o, 0.7, r, inp) for (i, o), r, inp in itertools.product(
    (("euler", None), ("ps", 2), ("ps", 5)), ("snap", "linear", "newton"), ("exact", "grid"))]
GRIDS += [D("exact", None, 0.7, "linear", "exact")]  # the exact flow stepped on a grid


def run(x, W, p, d, K, gradient, backend, dev, c=None, in_counts=None):
    x = x.to(dev).clone().requires_grad_(c is not None)
    W = W.to(dev).clone().requires_grad_(c is not None)
    t, n = event_layer(x, W, p, d, t_max=T, max_spikes=K, gradient=gradient, backend=backend,
                            in_counts=in_counts)
    if c is None:
        return t.detach().cpu(), n.cpu(), None, None
    (torch.where(torch.isfinite(t), t, torch.zeros_like(t)) * c.to(dev)).sum().backward()
    return t.detach().cpu(), n.cpu(), W.grad.cpu(), x.grad.cpu()


def same_spikes(a, b):
    assert torch.equal(a[1], b[1])
    fin = torch.isfinite(a[0])
    assert torch.equal(torch.isfinite(b[0]), fin)
    torch.testing.assert_close(b[0][fin], a[0][fin], rtol=0, atol=1e-9)


# every discretization with reset by subtraction, a few with reset to zero (the simulator is slow)
CASES = [(d, "subtract") for d in GRIDS] + [(d, "zero") for d in GRIDS[::5]]


@pytest.mark.parametrize("d,reset", CASES, ids=lambda v: v.label if isinstance(v, D) else v)
def test_forward_equals_cpu_kernels(d, reset, dev):
    p = NeuronParams(tau_s=20.0, reset=reset)
    x, W = problem(B=3, N_in=12, N_out=6, K_in=3, scale=12.0)
    x[0, :3, 0] = 0.0  # inputs at t = 0 (the first integration point)
    x[1, 4:6, 0] = x[1, 3, 0]  # coincident inputs share a point
    with torch.no_grad():
        cpu = run(x, W, p, d, 5, "adjusted", "numba", "cpu")
        gpu = run(x, W, p, d, 5, "adjusted", "cuda", dev)
    same_spikes(cpu, gpu)
    assert int((cpu[1] >= 3).sum()) >= 3 and int((cpu[1] == 5).sum()) >= 1  # resets, and the cap


@pytest.mark.parametrize("d", [D("euler", None, 0.7, "linear"), D("ps", 3, 1.3, "newton", "grid"),
                               D("ps", 2, 0.5, "snap")], ids=lambda d: d.label)
def test_piggyback_gradient_equals_cpu_kernels(d, dev):
    x, W = problem(seed=5)
    counts = torch.isfinite(x).sum(-1)
    c = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(5), dtype=F64)
    cpu = run(x, W, P, d, 4, "piggyback", "numba", "cpu", c, counts)
    gpu = run(x, W, P, d, 4, "piggyback", "cuda", dev, c, counts.to(dev))
    same_spikes(cpu, gpu)
    assert cpu[2].abs().sum() > 0 and cpu[3].abs().sum() > 0
    torch.testing.assert_close(gpu[2], cpu[2], rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(gpu[3], cpu[3], rtol=1e-8, atol=1e-10)


# coarse steps: the simulator runs every block-wide sum of the reverse sweep in Python threads
ADJUSTED = [(D("euler", None, 1.5, "linear"), "subtract"), (D("ps", 3, 1.3, "newton", "grid"), "subtract"),
            (D("ps", 2, 1.1, "snap"), "zero"), (D("ps", 5, 1.7, "linear", "grid"), "zero")]


@pytest.mark.parametrize("d,reset", ADJUSTED, ids=lambda v: v.label if isinstance(v, D) else v)
def test_adjusted_gradient_equals_cpu_kernels(d, reset, dev):
    """Weight and input-time gradients, with inputs at t = 0, coincident inputs (one shared point)
    and inputs on grid points."""
    p = NeuronParams(tau_s=20.0, reset=reset)
    x, W = problem(seed=8)
    x[0, :2, 0] = 0.0
    x[1, 4:6, 0] = x[1, 3, 0]
    x[2, 7, 1] = 2 * d.dt  # on the grid
    c = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(8), dtype=F64)
    cpu = run(x, W, p, d, 4, "adjusted", "numba", "cpu", c)
    gpu = run(x, W, p, d, 4, "adjusted", "cuda", dev, c)
    same_spikes(cpu, gpu)
    assert cpu[2].abs().sum() > 0 and cpu[3].abs().sum() > 0
    torch.testing.assert_close(gpu[2], cpu[2], rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(gpu[3], cpu[3], rtol=1e-8, atol=1e-10)


def test_weight_gradient_alone_skips_the_state_record(dev):
    """Inputs that need no gradient (the first layer): only the weight gradient, equal to the CPU's."""
    x, W = problem(seed=9)
    d = D("ps", 2, 0.7, "linear")
    c = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(9), dtype=F64)
    out = []
    for backend, where in (("numba", "cpu"), ("cuda", dev)):
        w = W.to(where).clone().requires_grad_(True)
        t, _ = event_layer(x.to(where), w, P, d, t_max=T, max_spikes=4, gradient="adjusted", backend=backend)
        (torch.where(torch.isfinite(t), t, torch.zeros_like(t)) * c.to(where)).sum().backward()
        out.append(w.grad.cpu())
    assert out[0].abs().sum() > 0
    torch.testing.assert_close(out[1], out[0], rtol=1e-8, atol=1e-10)


def test_adjusted_over_several_blocks_and_uneven_samples(dev):
    """More neurons than a block holds (the sums over neurons cross blocks) and samples with
    different numbers of delivered inputs: the input-time gradient of every input, as on the CPU."""
    from snnlib.events.kernels import exact_cuda as spiketime_cuda

    N = 2 * spiketime_cuda._tpb() + 3
    x, W = problem(seed=12, N_out=N)
    x[1, :, 1] = math.inf
    x[2, :6] = math.inf
    d = D("ps", 2, 1.9, "linear")
    c = torch.randn(3, N, 3, generator=torch.Generator().manual_seed(12), dtype=F64)
    cpu = run(x, W, P, d, 3, "adjusted", "numba", "cpu", c)
    gpu = run(x, W, P, d, 3, "adjusted", "cuda", dev, c)
    same_spikes(cpu, gpu)
    assert int(cpu[1][:, -3:].sum()) > 0 and (cpu[3][1] != 0).any() and (cpu[3][2] != 0).any()
    torch.testing.assert_close(gpu[2], cpu[2], rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(gpu[3], cpu[3], rtol=1e-8, atol=1e-10)
