"""The clock kernels' fast paths against their references: the vectorised exp of the SLAYER surrogate
against the exact exponential, the blocked BPTT backward against the torch path of ``_CubaBPTT``
(several kernel blocks, every surrogate and reset), the spike indices the forward emits against
``binary_nonzero``, and the dense/sparse choice of ``spike_projection`` (equal either way)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnlib.clock import kernels as K
from snnlib.clock import raster
from snnlib.clock.network import ClockNetwork
from snnlib.clock.recurrence import CubaDiscrete, cuba_sequence
from snnlib.clock.raster import dense_threshold, spike_projection

F64 = torch.float64


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_neg_is_within_two_ulp_of_the_exponential(dtype):
    """Max error <= 2 ulp of the exact value (float32: measured 1.19 ulp, the float64 exp as exact;
    float64: 1.0 ulp against numpy's exp, itself within an ulp), over a dense grid of the surrogate's
    arguments (x <= 0) down to the underflow; subnormal results within one subnormal step, 0 below."""
    lo = 110.0 if dtype == np.float32 else 750.0
    x = -np.concatenate([np.linspace(0, lo, 1_000_001), np.geomspace(1e-30, 1.0, 2001)]).astype(dtype)
    out = np.empty_like(x)
    K.exp_neg_array(x, out)
    exact = np.exp(x.astype(np.float64))
    fi = np.finfo(dtype)
    normal = exact >= fi.tiny
    ulp = np.spacing(exact[normal].astype(dtype)).astype(np.float64)
    assert (np.abs(out[normal] - exact[normal]) / ulp).max() <= 2.0
    assert (np.abs(out[~normal] - exact[~normal]) <= fi.smallest_subnormal).all()
    assert (out[x < np.log(fi.smallest_subnormal) - 1] == 0).all() and out[0] == 1.0
    assert out.dtype == dtype


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("sg", ["slayer", "arctan", "fast_sigmoid"])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_blocked_backward_equals_the_torch_path(dtype, sg, reset):
    """4 x 2500 columns: three kernel blocks (K.CHUNK = 4096), the last one partial. float64: to 1e-12.
    float32: the kernel computes in float32 (the surrogate's exp within an ulp) and the reverse-time
    filters accumulate the rounding in another order than torch's, so a few of 400000 entries differ
    by ~1e-6 of the largest gradient, past rtol 1e-5 / atol 1e-6 (the float32 path of the old kernel
    and torch's float32 path are as far from the float64 truth, 1.5e-6 of the largest gradient);
    asserted: no farther from the float64 run than torch's float32 path, and equal to that path to
    rtol 1e-5, atol 1e-6 of the largest gradient."""
    g = torch.Generator().manual_seed(5)
    p = CubaDiscrete.from_loihi(0.25, 0.03, theta=1.0, reset=reset)
    x = ((torch.rand(40, 4, 2500, generator=g) < 0.3) * torch.randn(40, 4, 2500, generator=g) * 0.6).to(dtype)
    w = torch.randn(40, 4, 2500, generator=g).to(dtype)
    outs = {}
    for backend in ("torch", "numba"):
        xi = x.clone().requires_grad_()
        s, (u, v) = cuba_sequence(xi, p, sg, backend=backend)
        outs[backend] = (s, u, v, *torch.autograd.grad((s * w).sum() + u.sum() + 0.5 * v.sum(), xi))
    assert outs["torch"][0].sum() > 100
    for a, b in zip(outs["numba"][:3], outs["torch"][:3]):
        assert torch.equal(a, b)
    if dtype == F64:
        torch.testing.assert_close(outs["numba"][3], outs["torch"][3], rtol=1e-12, atol=1e-12)
        return
    # float32: both paths against the float64 truth; the kernel no worse than torch's float32 path
    xi = x.double().requires_grad_()
    s, (u, v) = cuba_sequence(xi, p, sg, backend="torch")
    (truth,) = torch.autograd.grad((s * w.double()).sum() + u.sum() + 0.5 * v.sum(), xi)
    err = {k: float((o[3].double() - truth).abs().max()) for k, o in outs.items()}
    scale = float(truth.abs().max())
    assert err["numba"] <= 1.5 * err["torch"] + 1e-7 * scale
    torch.testing.assert_close(outs["numba"][3], outs["torch"][3], rtol=1e-5, atol=1e-6 * scale)


@pytest.mark.parametrize("shape", [(7, 3, 5000), (30, 16, 80), (3, 1, 1), (20, 9, 4097), (5, 2, 3)])
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_forward_emits_the_indices_binary_nonzero_finds(shape, dtype):
    g = torch.Generator().manual_seed(6)
    x = (torch.randn(*shape, generator=g) * 0.8).to(dtype)
    p = CubaDiscrete(0.8, 0.9, 1.0)
    nz = []
    s, _ = cuba_sequence(x, p, nonzero=nz)
    rows, cols = K.binary_nonzero(s.reshape(-1, shape[2]).numpy())
    assert len(nz) == 1 and torch.equal(nz[0][0], torch.from_numpy(rows)) and torch.equal(nz[0][1], torch.from_numpy(cols))
    assert torch.equal(s, cuba_sequence(x, p)[0])  # emitting changes nothing else
    empty = []
    cuba_sequence(torch.zeros(4, 2, 3, dtype=dtype), p, nonzero=empty)
    assert len(empty[0][0]) == 0
    torch_backend = []
    cuba_sequence(x, p, backend="torch", nonzero=torch_backend)
    assert torch_backend == []
    # past a block's density limit no indices (the projection will go dense), below it all of them
    density = float(s.mean())
    above, below = [], []
    assert torch.equal(cuba_sequence(x, p, nonzero=above, nonzero_max_density=0.5 * density)[0], s)
    cuba_sequence(x, p, nonzero=below, nonzero_max_density=1.0)
    assert (above == []) == (density > 0) and torch.equal(below[0][0], nz[0][0])


def test_dense_threshold_by_output_width():
    assert dense_threshold(10) == raster.DENSE_ABOVE_NARROW[0][1]
    assert dense_threshold(512) == raster.DENSE_ABOVE_WIDE


@pytest.mark.parametrize("density", [0.03, 0.3])
@pytest.mark.parametrize("n_out", [10, 40])
def test_spike_projection_sparse_and_dense_choices_agree(density, n_out, monkeypatch):
    """The automatic choice, forced sparse (with and without given indices) and forced dense: equal
    values and gradients (float32, summation order), and the choice follows the density."""
    g = torch.Generator().manual_seed(8)
    s = (torch.rand(50, 8, 64, generator=g) < density).float()
    w = torch.randn(n_out, 64, generator=g)
    up = torch.randn(50, 8, n_out, generator=g)
    nz = tuple(torch.from_numpy(a) for a in K.binary_nonzero(s.reshape(-1, 64).numpy()))
    sparse_calls = []
    orig = raster._SpikeProjection.apply
    monkeypatch.setattr(raster._SpikeProjection, "apply", lambda *a: sparse_calls.append(1) or orig(*a))
    results = {}
    for name, kw in {"auto": {}, "sparse": dict(dense_above=1.0), "sparse-given": dict(dense_above=1.0, nonzero=nz),
                     "dense": dict(dense_above=0.0)}.items():
        si, wi = s.clone().requires_grad_(), w.clone().requires_grad_()
        out = spike_projection(si, wi, **kw)
        results[name] = (out, *torch.autograd.grad((out * up).sum(), (si, wi)))
    real = float(s.mean())
    assert len(sparse_calls) == 2 + (real <= dense_threshold(n_out))
    assert all(torch.equal(a, b) for a, b in zip(results["sparse"], results["sparse-given"]))
    for name in ("auto", "dense"):
        for a, b in zip(results[name], results["sparse"]):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_network_uses_the_emitted_indices(monkeypatch):
    """Hidden projections get the forward kernel's indices (no scan of the raster), same output."""
    scans = []
    orig = raster._nonzero
    monkeypatch.setattr(raster, "_nonzero", lambda x: scans.append(x.shape) or orig(x))
    p = CubaDiscrete(0.8, 0.95, 0.4)
    g = torch.Generator().manual_seed(9)
    x = (torch.rand(60, 3, 40, generator=g) < 0.08).double()
    net = ClockNetwork((40, 200, 30, 5), p, generator=torch.Generator().manual_seed(4), dtype=F64)
    ref = ClockNetwork((40, 200, 30, 5), p, generator=torch.Generator().manual_seed(4), dtype=F64, sparse_hidden=False)
    out, hidden = net(x)
    assert scans == [(180, 40)]  # the dense binary input only
    out_ref, hidden_ref = ref(x)
    assert hidden[0].sum() > 0 and torch.equal(out, out_ref)
    assert all(torch.equal(a, b) for a, b in zip(hidden, hidden_ref))
