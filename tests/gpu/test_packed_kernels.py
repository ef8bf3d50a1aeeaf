"""The CUDA spike-time kernels with a run axis (packed runs, snnlib.training.packed): each packed run's
times, counts and gradients equal the same run's CUDA layer alone, and a few packed training steps of a
small two-layer network equal the runs trained alone on the CUDA kernels. Small problems: the
simulator is slow."""

import math

import torch
from test_spiketime import F64, T_MAX, P  # the CPU tests' layer settings (tests/events/ is on sys.path)

from snnlib.events.layer import event_layer
from snnlib.events.network import EventNetwork, PackedEventNetwork
from snnlib.model.neuron import NeuronParams
from snnlib.training.losses import spike_count_loss


def _grads(x, W, c, dev, in_counts=None):
    x = x.to(dev).clone().requires_grad_(True)
    W = W.to(dev).clone().requires_grad_(True)
    out, counts = event_layer(x, W, P, t_max=T_MAX, max_spikes=3, backend="cuda",
                              in_counts=None if in_counts is None else in_counts.to(dev))
    (torch.where(torch.isfinite(out), out, torch.zeros_like(out)) * c.to(dev)).sum().backward()
    return out.detach().cpu(), counts.cpu(), W.grad.cpu(), x.grad.cpu()


def test_packed_cuda_layer_equals_separate_cuda_layers(dev):
    R, B = 3, 2
    g = torch.Generator().manual_seed(5)
    x = torch.rand(R, B, 6, 2, generator=g, dtype=F64) * 100.0
    x[torch.rand(R, B, 6, 2, generator=g) < 0.3] = math.inf
    x = x.sort(-1).values
    W = (torch.rand(R, 5, 6, generator=g, dtype=F64) * 1.5 - 0.5) * 2.0
    c = torch.randn(R, B, 5, 3, generator=g, dtype=F64)
    rows = torch.full((R, B, 6), 2, dtype=torch.int64)
    rows[1, 0] = 1  # entries past a count are padding, per run and sample
    packed = _grads(x, W, c, dev, rows)
    assert int(packed[1].sum()) > 0 and packed[2].abs().sum() > 0
    for r in range(R):
        alone = _grads(x[r], W[r], c[r], dev, rows[r])
        for p, a in zip(packed, alone):
            assert torch.equal(p[r], a)


def test_packed_cuda_training_steps_equal_separate_runs(dev):
    """Two Adam steps of a 6-5-3 network, R = 2 seeds, packed vs alone on the CUDA kernels."""
    params = [NeuronParams(tau_s=130.0, theta=52.0), NeuronParams(tau_s=130.0, theta=100.0)]

    def net(seed):
        return EventNetwork((6, 5, 3), params, max_spikes=[3, 3], t_max=T_MAX, init=(-0.5, 1.5), backend="cuda",
                            dtype=F64, generator=torch.Generator().manual_seed(seed)).to(dev)

    g = torch.Generator().manual_seed(9)
    xs = torch.rand(2, 2, 2, 6, 1, generator=g, dtype=F64) * 100.0  # [step, run, B, N_in, 1]
    ys = torch.randint(0, 3, (2, 2, 2), generator=g)
    alone = []
    for r, seed in enumerate((0, 1)):
        n = net(seed)
        opt = torch.optim.Adam(n.parameters(), lr=0.05)
        losses = []
        for step in range(2):
            opt.zero_grad()
            loss = spike_count_loss(n(xs[step, r].to(dev))[0], ys[step, r].to(dev), 2, 0)
            loss.backward()
            opt.step()
            losses.append(loss.detach().cpu())
        alone.append((n, losses))
    packed = PackedEventNetwork([net(0), net(1)])
    opts = [torch.optim.Adam(n.parameters(), lr=0.05) for n in packed.runs]
    for step in range(2):
        for o in opts:
            o.zero_grad()
        outs = packed(xs[step].to(dev))[0].unbind(0)
        losses = [spike_count_loss(outs[r], ys[step, r].to(dev), 2, 0) for r in range(2)]
        torch.autograd.backward(losses)
        for o in opts:
            o.step()
        for r in range(2):
            assert torch.equal(losses[r].detach().cpu(), alone[r][1][step])
    for r in range(2):
        for wp, wa in zip(packed.runs[r].weights, alone[r][0].weights):
            assert torch.equal(wp.detach().cpu(), wa.detach().cpu())
        for wp, w0 in zip(packed.runs[r].weights, net(r).weights):
            assert not torch.equal(wp.detach().cpu(), w0.detach().cpu())  # it trained
