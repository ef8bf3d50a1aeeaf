"""CUDA kernels of the numerically integrated layer (:mod:`snnlib.integrated`): the forward of
every grid integrator and spike rule, and the ``piggyback`` backward.

One thread per ``(sample, neuron)``, as :mod:`snnlib.spiketime_cuda` (the neurons of a layer do not
interact). Each thread walks its sample's integration points (the grid ``dt, 2 dt, ..., t_max``
merged with the delivered input times, coincident times one point) exactly as
:func:`snnlib.integrated_kernels._simulate` does for one neuron: the spike-free step
``v <- a(h) v + b(h) i``, ``i <- c(h) i`` with the step polynomial's coefficients, and, when the
step may hold a crossing, the rounds of :func:`snnlib.integrated_kernels._neuron_step` (snap,
linear or Newton, reset, continue over the rest of the step), then the inputs delivered at the
point. Float64 throughout, so the kernels agree with the CPU ones to rounding.

The ``piggyback`` backward is BATS's (:mod:`snnlib.spiketime_cuda`'s backward kernel) at the
integrated forward's spike times, with the analytic current at each spike computed per neuron as
:func:`snnlib.integrated_kernels.piggyback_log` does. The ``adjusted`` backward re-runs the
forward's steps with its records and has CPU kernels only: :func:`snnlib.integrated.integrated_layer`
sends a layer that needs it on a round trip to the CPU.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from numba import cuda
from torch import Tensor

from . import integrated_kernels as _ik
from . import spiketime_cuda as _sc
from .crossing import GRAZING_EPS

__all__ = ["delivered_times", "integrated_layer_cuda"]

SNAP, LINEAR, NEWTON = _ik.SNAP, _ik.LINEAR, _ik.NEWTON
_EPS = _ik._EPS


def delivered_times(x: Tensor, grid: Tensor, dt: float, on_grid: bool, t_max: float) -> Tensor:
    """:func:`snnlib.integrated.delivered_times` on ``x``'s device (float64): the input times, or
    with ``on_grid`` the grid point ``ceil(t / dt) dt`` at or after each; ``+inf`` where not
    delivered in ``[0, t_max)``. ``grid``: :func:`snnlib.integrated.grid_points`."""
    x = x.detach().to(torch.float64)
    inf = torch.full_like(x, math.inf)
    if not on_grid:
        return torch.where(torch.isfinite(x) & (x >= 0) & (x < t_max), x, inf)
    n = torch.ceil(x / dt - 1e-9)
    ok = torch.isfinite(x) & (n >= 0) & (n < grid.numel() - 1)
    return torch.where(ok, grid[torch.where(ok, n, torch.zeros_like(n)).to(torch.int64)], inf)


@cuda.jit(device=True, inline=True)
def _horner(cf, r, x):
    m = cf.shape[1]
    out = cf[r, m - 1]
    for j in range(m - 2, -1, -1):
        out = out * x + cf[r, j]
    return out


@cuda.jit(device=True, inline=True)
def _A(cf, pr, x):
    return math.exp(-x / pr[1]) if pr[0] else _horner(cf, 0, x)


@cuda.jit(device=True, inline=True)
def _B(cf, pr, x):
    if pr[0]:
        d = pr[3]
        e = math.exp(-x / pr[1])
        return x * e if d == 0.0 else e * (-math.expm1(-x * d)) / d
    return _horner(cf, 1, x)


@cuda.jit(device=True, inline=True)
def _C(cf, pr, x):
    return math.exp(-x / pr[2]) if pr[0] else _horner(cf, 2, x)


@cuda.jit(device=True, inline=True)
def _dA(cf, pr, x):
    return -math.exp(-x / pr[1]) / pr[1] if pr[0] else _horner(cf, 3, x)


@cuda.jit(device=True, inline=True)
def _dB(cf, pr, x):
    return -_B(cf, pr, x) / pr[1] + _C(cf, pr, x) if pr[0] else _horner(cf, 4, x)


@cuda.jit(device=True)
def _newton(v, i, rem, f0, fh, theta, cf, pr):
    """As :func:`snnlib.integrated_kernels._newton`."""
    tol = 16.0 * _EPS * rem
    lo, hi = 0.0, rem
    x = rem * (-f0) / (fh - f0)
    for _ in range(60):
        f = _A(cf, pr, x) * v + _B(cf, pr, x) * i - theta
        fp = _dA(cf, pr, x) * v + _dB(cf, pr, x) * i
        if f < 0.0:
            lo = x
        else:
            hi = x
        xn = 0.5 * (lo + hi)
        if fp > 0.0:
            nt = x - f / fp
            if nt >= lo and nt <= hi:
                xn = nt
        done = abs(xn - x) <= tol
        x = xn
        if done:
            break
    return x


@cuda.jit
def _forward(ev_t, ev_src, n_ev, grid, Wt, K, rule, zero_reset, theta, cf, pr, out_t, cnt, log_j, log_t):
    n = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    b = cuda.blockIdx.y
    if n >= Wt.shape[1]:
        return
    E = n_ev[b]
    G = grid.shape[0]
    interp = rule != SNAP
    v = 0.0
    i = 0.0
    k = 0
    t_prev = 0.0
    ie = 0
    ig = 0
    while True:
        tg = grid[ig]
        te = ev_t[b, ie] if ie < E else math.inf
        is_grid = tg <= te
        tp = tg if is_grid else te
        h = tp - t_prev
        j0 = ie
        row = 0.0  # the inputs delivered at tp, summed in event order as on the CPU
        while ie < E and ev_t[b, ie] == tp:
            row += Wt[ev_src[b, ie], n]
            ie += 1
        v1 = _A(cf, pr, h) * v + _B(cf, pr, h) * i
        hpos = interp or h > 0.0
        if ((v1 >= theta and hpos) or (v >= theta and interp)) and k < K:
            # the rounds of integrated_kernels._neuron_step: locate, move, reset, go on
            e = 0.0
            while k < K:
                rem = h - e
                s = math.inf
                if interp and v >= theta:
                    s = 0.0
                elif interp or rem > 0.0:
                    vr = _A(cf, pr, rem) * v + _B(cf, pr, rem) * i
                    if vr >= theta:
                        if rule == SNAP:
                            s = rem
                        elif rule == LINEAR:
                            s = rem * (theta - v) / (vr - v)
                        else:
                            s = _newton(v, i, rem, v - theta, vr - theta, theta, cf, pr)
                if not (s <= rem):
                    break
                vs = _A(cf, pr, s) * v + _B(cf, pr, s) * i
                i = _C(cf, pr, s) * i
                v = 0.0 if zero_reset else vs - theta
                e = e + s
                out_t[b, n, k] = t_prev + e
                log_j[b, n, k] = j0
                log_t[b, n, k] = t_prev + e
                k += 1
            rem = h - e
            v, i = _A(cf, pr, rem) * v + _B(cf, pr, rem) * i, _C(cf, pr, rem) * i + row
        else:
            v, i = v1, _C(cf, pr, h) * i + row
        t_prev = tp
        if is_grid:
            ig += 1
            if ig == G:
                break
    cnt[b, n] = k


@cuda.jit
def _piggyback_log(log_j, log_t, cnt, ev_t, ev_src, Wt, tau, log_I, log_x):
    """Per neuron, :func:`snnlib.integrated_kernels.piggyback_log`: the analytic current
    ``I(t_k) = sum_{e < j} w x_e^2`` at each spike and its decay from the last input it saw."""
    n = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    b = cuda.blockIdx.y
    if n >= Wt.shape[1]:
        return
    I = 0.0
    j = 0  # events added to I so far
    for q in range(cnt[b, n]):
        jq = log_j[b, n, q]
        while j < jq:
            if j > 0:
                x = math.exp(-(ev_t[b, j] - ev_t[b, j - 1]) / tau)
                I *= x * x
            I += Wt[ev_src[b, j], n]
            j += 1
        xs = math.exp(-(log_t[b, n, q] - ev_t[b, jq - 1]) / tau) if jq > 0 else 1.0
        log_x[b, n, q] = xs
        log_I[b, n, q] = I * xs * xs


@functools.lru_cache(maxsize=None)
def _coefficients(order, tau: float, tau_s: float):
    return _ik.coefficients(order, tau, tau_s)


class _IntegratedLayerCUDA(torch.autograd.Function):
    """GPU forward of a grid-integrated layer, and its piggyback backward."""

    @staticmethod
    def forward(ctx, in_times, weights, params, d, t_max, K, row_len, grid_np):
        B, N_in, K_in = in_times.shape
        N = weights.shape[0]
        dev = in_times.device
        grid = torch.as_tensor(grid_np, device=dev)
        xd = delivered_times(in_times, grid, d.dt, d.input == "grid", t_max).reshape(B, N_in, K_in)
        ev_t, ev_src, ev_flat, ev_x, n_ev = _sc.sort_events(xd, t_max, params.tau, row_len)
        Wt = weights.detach().t().to(torch.float64).contiguous()
        cf, pr = (torch.as_tensor(a, device=dev) for a in _coefficients(d.order, params.tau, params.tau_s))
        out_t = torch.full((B, N, K), math.inf, dtype=torch.float64, device=dev)
        cnt = torch.zeros((B, N), dtype=torch.int32, device=dev)
        log_j = torch.zeros((B, N, K), dtype=torch.int32, device=dev)
        log_t = torch.zeros((B, N, K), dtype=torch.float64, device=dev)
        tpb = _sc._tpb()
        if B and N:
            _forward[(-(-N // tpb), B), tpb](*map(_sc._view, (ev_t, ev_src, n_ev, grid[1:].contiguous(), Wt)), K,
                                             _ik.RULES[d.spike_rule], params.reset == "zero", float(params.theta),
                                             *map(_sc._view, (cf, pr, out_t, cnt, log_j, log_t)))
        ctx.save_for_backward(log_j, log_t, cnt, ev_t, ev_src, ev_flat, ev_x, n_ev, Wt)
        ctx.consts = (float(params.theta), float(params.tau), (B, N_in, K_in), weights.dtype)
        counts = cnt.to(torch.int64)
        ctx.mark_non_differentiable(counts)
        return out_t.to(in_times.dtype), counts

    @staticmethod
    def backward(ctx, grad_out, _grad_counts):
        log_j, log_t, cnt, ev_t, ev_src, ev_flat, ev_x, n_ev, Wt = ctx.saved_tensors
        theta, tau, (B, N_in, K_in), w_dtype = ctx.consts
        N = Wt.shape[1]
        log_I, log_x = torch.zeros_like(log_t), torch.ones_like(log_t)
        g = grad_out.detach().to(torch.float64).contiguous()
        need_in = bool(ctx.needs_input_grad[0])
        dWt = torch.zeros_like(Wt)
        g_in = g.new_zeros((B, N_in * K_in) if need_in else (1, 1))
        tpb = _sc._tpb()
        if B and N and ev_x.shape[1] > 1:
            grid = (-(-N // tpb), B)
            _piggyback_log[grid, tpb](*map(_sc._view, (log_j, log_t, cnt, ev_t, ev_src, Wt)), tau,
                                      _sc._view(log_I), _sc._view(log_x))
            _, bwd = _sc._kernels(tpb)
            bwd[grid, tpb](*map(_sc._view, (g, log_j, log_I, log_x, cnt, ev_src, ev_flat, ev_x, n_ev, Wt)),
                           theta, tau, GRAZING_EPS, need_in, _sc._view(dWt), _sc._view(g_in))
        dW = dWt.t().to(w_dtype) if ctx.needs_input_grad[1] else None
        gi = g_in.reshape(B, N_in, K_in).to(grad_out.dtype) if need_in else None
        return gi, dW, None, None, None, None, None, None


def integrated_layer_cuda(in_times: Tensor, weights: Tensor, params, d, t_max: float, K: int,
                          row_len: Tensor | None, grid: np.ndarray) -> tuple[Tensor, Tensor]:
    """``(times, counts)`` of a grid-integrated layer on the GPU, differentiable with the piggyback
    gradient (arguments checked by :func:`snnlib.integrated.integrated_layer`, which calls this)."""
    if not _sc.supports(in_times):
        raise RuntimeError("the CUDA integrated-layer kernels need CUDA tensors and a GPU numba can use "
                           "(or CPU tensors under NUMBA_ENABLE_CUDASIM=1)")
    return _IntegratedLayerCUDA.apply(in_times, weights, params, d, t_max, K, row_len, grid)
