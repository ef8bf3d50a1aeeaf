"""Clock-driven CuBa-LIF: equals snnTorch's Synaptic spike for spike; the fused BPTT backward
equals autograd through the unrolled loop; sparse projection and timestep coarsening."""

from __future__ import annotations

import math

import pytest
import torch

from snnlib.clock.network import ClockNetwork
from snnlib.clock.raster import Raster, rebin, sparse_projection
from snnlib.clock.recurrence import CubaDiscrete, _CubaBPTT, cuba_sequence
from snnlib.model.surrogates import get_surrogate, spike


def _snntorch_synaptic(x, p: CubaDiscrete):
    import snntorch as snn

    f64 = dict(dtype=torch.float64)
    lif = snn.Synaptic(alpha=torch.tensor(p.alpha, **f64), beta=torch.tensor(p.beta, **f64),
                       threshold=p.theta, reset_delay=False, reset_mechanism=p.reset)
    syn, mem = lif.init_synaptic()
    out = []
    for t in range(x.shape[0]):
        spk, syn, mem = lif(x[t], syn, mem)
        out.append(spk)
    return torch.stack(out).double()  # snnTorch returns float32 0/1 spikes


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_forward_equals_snntorch_synaptic(reset):
    g = torch.Generator().manual_seed(1)
    p = CubaDiscrete.from_loihi(0.25, 0.03, theta=1.25, reset=reset)  # lava-dl NMNIST recipe decays
    # sparse signed input events (20% of steps), as a layer of spiking inputs would give
    x = (torch.rand(200, 8, 16, dtype=torch.float64, generator=g) < 0.2) * \
        torch.randn(200, 8, 16, dtype=torch.float64, generator=g) * 0.3
    ours, _ = cuba_sequence(x, p)
    theirs = _snntorch_synaptic(x, p)
    assert torch.equal(ours, cuba_sequence(x, p, backend="torch")[0])
    assert ours.sum() > 100  # the comparison is about spikes, so there must be many
    # Precondition: no potential stays above threshold after its reset. There snnTorch's
    # reset_delay=False path subtracts the previous step's reset once more before deciding the
    # spike (a double reset), and the two models part ways by design.
    u = torch.zeros(8, 16, dtype=torch.float64)
    v = torch.zeros_like(u)
    for t in range(200):
        u = p.alpha * u + x[t]
        v = p.beta * v + u
        v = v - p.theta * (v >= p.theta) if reset == "subtract" else v * (v < p.theta)
        assert (v < p.theta).all()
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)


def _unrolled(x, u0, v0, p, sg):
    u, v, out = u0, v0, []
    for t in range(x.shape[0]):
        u = p.alpha * u + x[t]
        v = p.beta * v + u
        s = spike(v - p.theta, sg)
        out.append(s)
        v = v - p.theta * s.detach() if p.reset == "subtract" else v * (1 - s.detach())
    return torch.stack(out), u, v


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("sg", ["slayer", "arctan", "fast_sigmoid"])
def test_fused_backward_equals_autograd_of_the_unrolled_loop(reset, sg):
    g = torch.Generator().manual_seed(2)
    p = CubaDiscrete(0.8, 0.9, 1.0, reset)
    x = (torch.randn(30, 3, 5, dtype=torch.float64, generator=g) * 0.8).requires_grad_()
    u0 = torch.randn(3, 5, dtype=torch.float64, generator=g).requires_grad_()
    v0 = torch.randn(3, 5, dtype=torch.float64, generator=g).requires_grad_()
    w = [torch.randn(s, dtype=torch.float64, generator=g) for s in ((30, 3, 5), (3, 5), (3, 5))]

    def loss(outs):
        return sum((o * wi).sum() for o, wi in zip(outs, w))

    ref = torch.autograd.grad(loss(_unrolled(x, u0, v0, p, get_surrogate(sg))), (x, u0, v0))
    for backend in ("torch", "numba"):
        fused = torch.autograd.grad(loss(_CubaBPTT.apply(x, u0, v0, p, get_surrogate(sg), backend)), (x, u0, v0))
        for a, b in zip(fused, ref):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_numba_and_torch_backends_agree_in_float32():
    g = torch.Generator().manual_seed(7)
    p = CubaDiscrete.from_loihi(0.25, 0.03, theta=1.25)
    x = (torch.rand(100, 16, 32, generator=g) < 0.2) * torch.randn(100, 16, 32, generator=g) * 0.3
    outs = {}
    for backend in ("torch", "numba"):
        xi = x.clone().requires_grad_()
        s, _ = cuba_sequence(xi, p, "slayer", backend=backend)
        (g_x,) = torch.autograd.grad((s * torch.linspace(0, 1, 32)).sum(), xi)
        outs[backend] = (s, g_x)
    assert torch.equal(outs["torch"][0], outs["numba"][0])
    torch.testing.assert_close(outs["torch"][1], outs["numba"][1], rtol=1e-5, atol=1e-6)


def test_chunked_run_equals_one_run():
    g = torch.Generator().manual_seed(3)
    p = CubaDiscrete(0.7, 0.95, 1.0)
    x = torch.randn(64, 4, 6, dtype=torch.float64, generator=g)
    whole, (u, v) = cuba_sequence(x, p)
    a, state = cuba_sequence(x[:29], p)
    b, (u2, v2) = cuba_sequence(x[29:], p, state=state)
    assert torch.equal(torch.cat([a, b]), whole) and torch.equal(u, u2) and torch.equal(v, v2)


def test_sparse_projection_equals_dense_matmul_and_its_gradient():
    g = torch.Generator().manual_seed(4)
    raster = (torch.rand(20, 5, 50, generator=g) < 0.05).double()
    w = torch.randn(7, 50, dtype=torch.float64, generator=g, requires_grad=True)
    a, b = sparse_projection(raster, w), raster @ w.t()
    torch.testing.assert_close(a, b)
    ga, = torch.autograd.grad((a.sin()).sum(), w)
    gb, = torch.autograd.grad((b.sin()).sum(), w)
    torch.testing.assert_close(ga, gb)
    with pytest.raises(ValueError, match="binary"):
        sparse_projection(raster * 2, w)


def test_from_neuron_decays_match_the_continuous_current():
    """With no input and no spikes, u decays like I(t) = I0 exp(-t/tau_s) at the grid points."""
    p = CubaDiscrete.from_neuron(tau_s=5.0, tau=10.0, dt=0.5, theta=1e9)
    x = torch.zeros(40, 1, 1, dtype=torch.float64)
    x[0] = 1.0
    _, (u, _) = cuba_sequence(x, p)
    assert math.isclose(float(u), math.exp(-39 * 0.5 / 5.0), rel_tol=1e-12)


def test_k1_rebinning_is_identity_and_count_preserves_total_input():
    g = torch.Generator().manual_seed(5)
    raster = (torch.rand(101, 3, 10, generator=g) < 0.2).float()
    assert rebin(raster, 1) is raster
    for k in (2, 3, 7):
        coarse = rebin(raster, k, "count")
        assert coarse.shape[0] == math.ceil(101 / k)
        torch.testing.assert_close(coarse.sum(0), raster.sum(0))
        or_ = rebin(raster, k, "or")
        assert set(or_.unique().tolist()) <= {0.0, 1.0} and or_.sum() <= raster.sum()


def test_coarsened_current_samples_the_base_run_every_k_steps():
    """Inputs that fall on bin starts: the coarse run's current at coarse step j equals the base
    run's current at base step j k (alpha**k per step); the voltage, integrating the current at
    fewer points, differs: that is the discretization error the timebin sweep measures."""
    p = CubaDiscrete(0.9, 0.97, theta=1e9)
    x = torch.zeros(12, 1, 1, dtype=torch.float64)
    x[0], x[6] = 1.0, 0.5
    _, (u1, v1) = cuba_sequence(x[:10], p)  # base state at step 9, the start of the last coarse bin
    _, (u3, v3) = cuba_sequence(rebin(x, 3, "count"), p.coarsen(3))
    torch.testing.assert_close(u3, u1, rtol=1e-14, atol=0)
    assert not torch.allclose(v3, v1)


def test_network_runs_sparse_and_dense_paths_identically():
    g = torch.Generator().manual_seed(6)
    net = ClockNetwork((30, 20, 4), CubaDiscrete(0.8, 0.9, 0.5), generator=g, dtype=torch.float64)
    raster = (torch.rand(25, 3, 30, generator=g) < 0.04).double()
    sparse = Raster.from_dense(raster)
    assert torch.equal(sparse.to_dense(torch.float64), raster)
    a, ha = net(sparse)
    b, hb = net(raster)
    assert torch.equal(a, b) and torch.equal(ha[0], hb[0])


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="alpha"):
        CubaDiscrete(1.5, 0.5)
    with pytest.raises(ValueError, match="reset"):
        CubaDiscrete(0.5, 0.5, reset="none")
    with pytest.raises(ValueError, match="dt"):
        CubaDiscrete.from_neuron(5.0, 10.0, dt=0.0)
    with pytest.raises(ValueError, match="time-major"):
        cuba_sequence(torch.zeros(3, 4), CubaDiscrete(0.5, 0.5))


def test_sparse_projection_passes_gradcheck():
    from snnlib.clock.raster import _SparseProjection

    g = torch.Generator().manual_seed(8)
    raster = Raster.from_dense((torch.rand(6, 3, 9, generator=g) < 0.3).double())
    rows = raster.t * 3 + raster.b
    w = torch.randn(4, 9, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda w: _SparseProjection.apply(w, rows, raster.n, 18), (w,))
