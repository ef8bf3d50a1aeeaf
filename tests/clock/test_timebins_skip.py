"""Seed 000's step skipping (snnlib.clock.stepping.skip_sequence, transcribed from LubovCh/Lava-dlSLayer):
a hand-computed 5-step example, k = 1 is the plain clock layer, and each of the fork's two backward
kernels equals autograd of a forward whose values are the skip forward's and whose gradient path is
what that kernel computes."""

from __future__ import annotations

import pytest
import torch

from snnlib.clock.network import ClockNetwork
from snnlib.clock.recurrence import CubaDiscrete, cuba_sequence
from snnlib.clock.stepping import clock_sequence, skip_sequence
from snnlib.model.discretization import ClockDiscretization
from snnlib.model.surrogates import get_surrogate, spike

F64 = torch.float64


def test_hand_computed_five_steps():
    """k = 2 (kept steps 0, 2, 4), alpha = beta = 1/2, theta = 1.25, zero reset, x = 1, 2, 0, 4, 0.

    current u[n] = u[n-1]/2 + x[n]:   1, 2.5, 1.25, 4.625, 2.3125 (runs at every step)
    kept current u_out:               1, 0,   1.25, 0,     2.3125
    voltage v[n] = v+[n-1]/2 + u_out[n]:
      n=0: 1          < 1.25 no spike
      n=1: 0.5 + 0    (not kept: no check)
      n=2: 0.25 + 1.25 = 1.5 >= 1.25: spike, v+ = 0
      n=3: 0
      n=4: 0 + 2.3125 >= 1.25: spike
    The plain 1-step layer would spike already at n = 1 (v = 0.5 + 2.5 = 3)."""
    x = torch.tensor([1.0, 2.0, 0.0, 4.0, 0.0], dtype=F64).reshape(5, 1, 1)
    p = CubaDiscrete(0.5, 0.5, 1.25, "zero")
    assert skip_sequence(x, p, 2).flatten().tolist() == [0, 0, 1, 0, 1]
    assert cuba_sequence(x, p)[0].flatten().tolist()[:2] == [0, 1]
    # subtract reset: n=2 spikes with v+ = 0.25; n=3: 0.125; n=4: 0.0625 + 2.3125 = 2.375: spike
    assert skip_sequence(x, CubaDiscrete(0.5, 0.5, 1.25, "subtract"), 2).flatten().tolist() == [0, 0, 1, 0, 1]
    # k = 3 (kept 0, 3): v[3] = (1 / 2^3) * 1 + u[3] = 0.125 + 4.625 = 4.75: spike only at 3
    assert skip_sequence(x, p, 3).flatten().tolist() == [0, 0, 0, 1, 0]


def test_hand_computed_backward_of_five_steps():
    """Same input, k = 2, slayer surrogate (tau = 1, scale = 1): sigma'(z) = exp(-|z|) / 2; loss = sum
    of the spikes at every step (g_s = 1). v_out = 1, 0, 1.5, 0, 2.3125 (0 off the kept steps).
    g_v[n] = sigma'(v_out[n] - 1.25): e^-0.25/2, e^-1.25/2, e^-0.25/2, e^-1.25/2, e^-1.0625/2.
    CUDA kernel, voltage (beta = 1/2): G4 = g_v[4]; n=3 copies G4; G2 = g_v[2] + G4/2; n=1 copies G2;
    G0 = g_v[0] + G2/2. Current (alpha = 1/2), reading the kept steps: H4 = G4, H2 = G2 + H4/2,
    H0 = G0 + H2/2; g_x = H0, H2, H2, H4, H4."""
    x = torch.tensor([1.0, 2.0, 0.0, 4.0, 0.0], dtype=F64).reshape(5, 1, 1).requires_grad_()
    s = skip_sequence(x, CubaDiscrete(0.5, 0.5, 1.25, "zero"), 2, get_surrogate("slayer", 1.0))
    (g,) = torch.autograd.grad(s.sum(), x)
    e = lambda z: torch.exp(torch.tensor(-abs(z), dtype=F64)) / 2  # noqa: E731
    G4 = e(2.3125 - 1.25)
    G2 = e(1.5 - 1.25) + G4 / 2
    G0 = e(1.0 - 1.25) + G2 / 2
    H4, H2 = G4, G2 + G4 / 2
    H0 = G0 + H2 / 2
    torch.testing.assert_close(g.flatten(), torch.stack([H0, H2, H2, H4, H4]), rtol=1e-14, atol=0)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_k1_is_the_plain_clock_layer(reset):
    g = torch.Generator().manual_seed(0)
    p = CubaDiscrete(0.8, 0.9, 1.0, reset)
    x = torch.randn(40, 3, 4, dtype=F64, generator=g)
    assert torch.equal(skip_sequence(x, p, 1), cuba_sequence(x, p)[0])
    if reset == "subtract":  # the fork's backward ignores the reset: with subtraction so does BPTT
        w = torch.randn(40, 3, 4, dtype=F64, generator=g)
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        (ga,) = torch.autograd.grad((skip_sequence(xa, p, 1) * w).sum(), xa)
        (gb,) = torch.autograd.grad((cuba_sequence(xb, p)[0] * w).sum(), xb)
        torch.testing.assert_close(ga, gb, rtol=1e-12, atol=1e-12)


def _gradient_path(z, decay, k, variant):
    """``Y [T, ...]``: a linear map of ``z`` whose autograd backward is the kernel's (zero rows where
    the kernel reads no gradient). cuda: Y[n_j] = decay Y[n_{j-1}] + sum of z over (n_{j-1}, n_j];
    cpu: Y[n] = sum_{m in (previous kept, n]} decay^(n-m) z[m] at kept steps and at T-1."""
    T = z.shape[0]
    rows, prev = [torch.zeros_like(z[0])] * T, -1
    carry = torch.zeros_like(z[0])
    for n in range(T):
        if n % k == 0 or (variant == "cpu" and n == T - 1):
            seg = z[prev + 1 : n + 1]
            if variant == "cuda":
                carry = decay * carry + seg.sum(0)
                rows[n] = carry
            else:
                powers = decay ** torch.arange(len(seg) - 1, -1, -1, dtype=z.dtype)
                rows[n] = (powers.reshape(-1, *[1] * (z.dim() - 1)) * seg).sum(0)
            prev = n
    return torch.stack(rows)


def _reference(x, p, k, sg, variant):
    """Values of the skip forward, gradients along :func:`_gradient_path` (value + (y - y.detach()))."""
    with torch.no_grad():
        T = x.shape[0]
        u, v = torch.zeros_like(x[0]), torch.zeros_like(x[0])
        v_out, s_val = torch.zeros_like(x), torch.zeros_like(x)
        for n in range(T):
            u = p.alpha * u + x[n]
            v = p.beta * v + (u if n % k == 0 else 0 * u)
            if n % k == 0:
                v_out[n], s_val[n] = v, (v >= p.theta).double()
                v = v - p.theta * s_val[n] if p.reset == "subtract" else v * (1 - s_val[n])
    yu = _gradient_path(x, p.alpha, k, variant)
    y = _gradient_path(yu, p.beta, k, variant)
    v_ref = v_out + (y - y.detach())
    sp = spike(v_ref - p.theta, sg)
    return s_val + (sp - sp.detach())


@pytest.mark.parametrize("variant", ["cuda", "cpu"])
@pytest.mark.parametrize("k,T", [(2, 11), (3, 12), (4, 13), (5, 5)])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_backward_equals_autograd_of_the_kernels_gradient_path(variant, k, T, reset):
    g = torch.Generator().manual_seed(k * 100 + T)
    p = CubaDiscrete(0.7, 0.9, 1.0, reset)
    sg = get_surrogate("slayer", 0.5)
    x = (torch.randn(T, 2, 3, dtype=F64, generator=g) * 0.9).requires_grad_()
    w = torch.randn(T, 2, 3, dtype=F64, generator=g)  # a gradient at every step, kept or not
    ref = _reference(x, p, k, sg, variant)
    out = skip_sequence(x, p, k, sg, variant)
    assert torch.equal(out, ref.detach())
    (g_ref,) = torch.autograd.grad((ref * w).sum(), x)
    (g_out,) = torch.autograd.grad((out * w).sum(), x)
    torch.testing.assert_close(g_out, g_ref, rtol=1e-12, atol=1e-12)


def test_forward_on_kept_steps_is_the_coarse_recurrence_with_decays_to_the_power_k():
    """Values (not gradients): between kept steps the current decays k times and the voltage only
    decays, so the kept steps follow the Loihi recurrence with alpha^k, beta^k, driven by the bin's
    inputs weighted alpha^(n_j - m). The CUDA backward instead uses alpha, beta once per kept step."""
    g = torch.Generator().manual_seed(9)
    k, T = 3, 30
    p = CubaDiscrete(0.8, 0.95, 1.0, "zero")
    x = torch.randn(T, 2, 5, dtype=F64, generator=g) * 0.8
    kept = list(range(0, T, k))
    bins = [x[0]] + [sum(p.alpha ** (n - m) * x[m] for m in range(n - k + 1, n + 1)) for n in kept[1:]]
    coarse, _ = cuba_sequence(torch.stack(bins), p.coarsen(k))
    out = skip_sequence(x, p, k)
    assert out.sum() > 5 and torch.equal(out[kept], coarse)
    assert out[[n for n in range(T) if n % k]].abs().sum() == 0


def test_selectable_in_the_clock_network():
    g = torch.Generator().manual_seed(2)
    p = CubaDiscrete(0.75, 0.97, 0.5, "zero")
    net = ClockNetwork((20, 8, 3), p, discretization=ClockDiscretization("skip", k=3), generator=g, dtype=F64)
    raster = (torch.rand(30, 2, 20, generator=g) < 0.2).double()
    out, hidden = net(raster)
    s1 = skip_sequence(raster @ net.weights[0].detach().t(), p, 3)
    assert torch.equal(out, skip_sequence(s1 @ net.weights[1].detach().t(), p, 3))
    assert hidden[0].sum() > 0 and torch.equal(hidden[0], s1.sum((0, 2)))
    with pytest.raises(ValueError, match="no state"):
        clock_sequence(raster, p, ClockDiscretization("skip", k=2), state=(raster[0], raster[0]))
    with pytest.raises(ValueError, match="'cuda' or 'cpu'"):
        skip_sequence(raster, p, 2, backward="gpu")


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("variant", ["cuda", "cpu"])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("n", [16, 1100])  # 1100: 4 x 1100 columns, more than one kernel block (K.CHUNK)
def test_numba_kernels_equal_the_torch_reference(dtype, variant, reset, n):
    g = torch.Generator().manual_seed(11)
    p = CubaDiscrete.from_loihi(0.25, 0.03, theta=1.25, reset=reset)
    x = (torch.rand(53, 4, n, generator=g) < 0.3).to(dtype) * torch.randn(53, 4, n, generator=g).to(dtype)
    w = torch.randn(53, 4, n, generator=g).to(dtype)
    outs = {}
    for backend in ("torch", "numba"):
        xi = x.clone().requires_grad_()
        s = skip_sequence(xi, p, 4, "slayer", variant, backend=backend)
        outs[backend] = (s, *torch.autograd.grad((s * w).sum(), xi))
    assert outs["torch"][0].sum() > 5 and torch.equal(outs["torch"][0], outs["numba"][0])
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(outs["numba"][1], outs["torch"][1], **tol)
