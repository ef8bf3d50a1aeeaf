"""CUDA kernels of the numerically integrated layer (:mod:`snnlib.events.integrated`): the forward of
every grid integrator and spike rule, and both backward passes (``piggyback``, ``adjusted``).

One thread per ``(sample, neuron)``, as :mod:`snnlib.events.kernels.exact_cuda` (the neurons of a layer do not
interact). Each thread walks its sample's integration points (the grid ``dt, 2 dt, ..., t_max``
merged with the delivered input times, coincident times one point) exactly as
:func:`snnlib.events.kernels.integrated_cpu._simulate` does for one neuron: the spike-free step
``v <- a(h) v + b(h) i``, ``i <- c(h) i`` with the step polynomial's coefficients, and, when the
step may hold a crossing, the rounds of :func:`snnlib.events.kernels.integrated_cpu._neuron_step` (snap,
linear or Newton, reset, continue over the rest of the step), then the inputs delivered at the
point. Float64 throughout, so the kernels agree with the CPU ones to rounding.

The ``piggyback`` backward is BATS's (:mod:`snnlib.events.kernels.exact_cuda`'s backward kernel) at the
integrated forward's spike times, with the analytic current at each spike computed per neuron as
:func:`snnlib.events.kernels.integrated_cpu.piggyback_log` does. The ``adjusted`` backward is
:func:`snnlib.events.kernels.integrated_adjoint.adjusted_backward` per neuron: the forward records the points,
each neuron's steps with spikes (start state) and, when the input times need a gradient, every
neuron's state at every point; the reverse sweep re-runs the steps with spikes with the same device
function as the forward. The sums over neurons it needs (weight gradients, and for input-time
gradients each input's exact-flow part and each point's time gradient) are block reductions and
atomic adds; :func:`_input_gradients` then shares each point's gradient among its inputs.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import Tensor

from snnlib.events.kernels import exact_cuda as _sc
from snnlib.events.kernels import integrated_cpu as _ik
from snnlib.events.kernels.integrated_cuda_kernels import _kernels, _piggyback_log
from snnlib.model.crossing import GRAZING_EPS
from snnlib.model.discretization import grid_index

__all__ = ["delivered_times", "integrated_layer_cuda"]

def delivered_times(x: Tensor, grid: Tensor, dt: float, on_grid: bool, t_max: float) -> Tensor:
    """:func:`snnlib.events.grid.delivered_times` on ``x``'s device (float64): the input times, or
    with ``on_grid`` the grid point ``ceil(t / dt) dt`` at or after each; ``+inf`` where not
    delivered in ``[0, t_max)``. ``grid``: :func:`snnlib.events.grid.grid_points`."""
    x = x.detach().to(torch.float64)
    inf = torch.full_like(x, math.inf)
    if not on_grid:
        return torch.where(torch.isfinite(x) & (x >= 0) & (x < t_max), x, inf)
    n = grid_index(x, dt)
    ok = torch.isfinite(x) & (n >= 0) & (n < grid.numel() - 1)
    return torch.where(ok, grid[torch.where(ok, n, torch.zeros_like(n)).to(torch.int64)], inf)


@functools.lru_cache(maxsize=None)
def _coefficients(order, tau: float, tau_s: float):
    return _ik.coefficients(order, tau, tau_s)


def _input_gradients(g_sg: Tensor, gpt: Tensor, pt_lo: Tensor, pt_grid: Tensor, ev_flat: Tensor, n_ev: Tensor,
                     n_flat: int) -> Tensor:
    """``dL/d(input times) [B, n_flat]`` from the adjusted backward's sums, as the end of
    :func:`snnlib.events.kernels.integrated_adjoint.adjusted_backward`: each input gets the exact-flow part
    ``g_sg`` plus an equal share of the rest of its point's time gradient ``gpt`` (a grid point at
    the same time counting as one more member)."""
    B, E = g_sg.shape
    e = torch.arange(E, device=g_sg.device).expand(B, E).contiguous()
    valid = e < n_ev.unsqueeze(1)
    pe = (torch.searchsorted(pt_lo, e, right=True) - 1).clamp(0, gpt.shape[1] - 1)  # each event's point
    S = torch.zeros_like(gpt).scatter_add_(1, pe, torch.where(valid, g_sg, torch.zeros_like(g_sg)))
    m = (pt_lo[:, 1:] - pt_lo[:, :-1]).clamp(min=0) + pt_grid.to(pt_lo.dtype)
    share = (gpt - S) / m.clamp(min=1)
    out = g_sg.new_zeros(B, n_flat)
    vals = torch.where(valid, g_sg + share.gather(1, pe), torch.zeros_like(g_sg))
    # ev_flat is a prefix of a permutation of each row's inputs: distinct targets, so no write is
    # lost; the padding slots (inputs not delivered) get their zero gradient
    out.scatter_(1, ev_flat.to(torch.int64), vals)
    return out


class _IntegratedLayerCUDA(torch.autograd.Function):
    """GPU forward of a grid-integrated layer, and its piggyback and adjusted backward passes."""

    @staticmethod
    def forward(ctx, in_times, weights, params, d, t_max, K, gradient, row_len, grid_np):
        B, N_in, K_in = in_times.shape
        N = weights.shape[0]
        dev = in_times.device
        grid = torch.as_tensor(grid_np, device=dev)
        xd = delivered_times(in_times, grid, d.dt, d.input == "grid", t_max).reshape(B, N_in, K_in)
        ev_t, ev_src, ev_flat, ev_x, n_ev = _sc.sort_events(xd, t_max, params.tau, row_len)
        E = ev_t.shape[1]
        Wt = weights.detach().t().to(torch.float64).contiguous()
        cf, pr = (torch.as_tensor(a, device=dev) for a in _coefficients(d.order, params.tau, params.tau_s))
        f64, i32 = dict(dtype=torch.float64, device=dev), dict(dtype=torch.int32, device=dev)
        out_t = torch.full((B, N, K), math.inf, **f64)
        cnt = torch.zeros((B, N), **i32)
        log_j = torch.zeros((B, N, K), **i32)
        # what the adjusted backward needs (only when it will run)
        record = gradient == "adjusted" and any(ctx.needs_input_grad[:2])
        full = record and bool(ctx.needs_input_grad[0])
        Pm = grid.numel() + E if record else 1
        n_pt = torch.zeros(B, dtype=torch.int64, device=dev)
        pt_t = torch.zeros((B, Pm), **f64)
        # rows sorted for searchsorted: entries past a sample's last point stay above every event
        pt_lo = torch.full((B, Pm + 1), 2**62, dtype=torch.int64, device=dev)
        pt_grid = torch.zeros((B, Pm), dtype=torch.bool, device=dev)
        Fk = K if record else 1
        n_fl = torch.zeros((B, N), **i32)
        fl_p, fl_k = torch.zeros((B, N, Fk), **i32), torch.zeros((B, N, Fk), **i32)
        fl_v, fl_i = torch.zeros((B, N, Fk), **f64), torch.zeros((B, N, Fk), **f64)
        st_v, st_i = (torch.zeros((B, Pm, N) if full else (1, 1, 1), **f64) for _ in range(2))
        tpb = _sc._tpb()
        if B and N:
            fwd, _ = _kernels(K, tpb)
            _sc._launch(fwd, (-(-N // tpb), B), tpb, out_t, ev_t, ev_src, n_ev, grid[1:].contiguous(), Wt,
                        _ik.RULES[d.spike_rule], params.reset == "zero", float(params.theta), cf, pr, out_t, cnt,
                        log_j, record, full, n_pt, pt_t, pt_lo, pt_grid, n_fl, fl_p, fl_k, fl_v, fl_i, st_v, st_i)
        ctx.save_for_backward(out_t, log_j, cnt, ev_t, ev_src, ev_flat, ev_x, n_ev, Wt, cf, pr,
                              n_pt, pt_t, pt_lo, pt_grid, n_fl, fl_p, fl_k, fl_v, fl_i, st_v, st_i)
        ctx.consts = (params, d, K, gradient, full, (B, N_in, K_in), weights.dtype)
        counts = cnt.to(torch.int64)
        ctx.mark_non_differentiable(counts)
        return out_t.to(in_times.dtype), counts

    @staticmethod
    def backward(ctx, grad_out, _grad_counts):
        (out_t, log_j, cnt, ev_t, ev_src, ev_flat, ev_x, n_ev, Wt, cf, pr,
         n_pt, pt_t, pt_lo, pt_grid, n_fl, fl_p, fl_k, fl_v, fl_i, st_v, st_i) = ctx.saved_tensors
        params, d, K, gradient, full, (B, N_in, K_in), w_dtype = ctx.consts
        N = Wt.shape[1]
        g = grad_out.detach().to(torch.float64).contiguous()
        need_in = bool(ctx.needs_input_grad[0])
        dWt = torch.zeros_like(Wt)
        g_in = g.new_zeros((B, N_in * K_in) if need_in else (1, 1))
        tpb = _sc._tpb()
        blocks = (-(-N // tpb), B)
        theta, tau = float(params.theta), float(params.tau)
        if gradient == "adjusted" and B and N:
            E = ev_t.shape[1]
            g_sg = g.new_zeros((B, max(E, 1)))
            gpt = g.new_zeros(pt_t.shape)
            _, bwd = _kernels(K, tpb)
            _sc._launch(bwd, blocks, tpb, g, g, ev_src, Wt, _ik.RULES[d.spike_rule], params.reset == "zero", theta,
                        float(params.tau_s), cf, pr, GRAZING_EPS, need_in and full, n_pt, pt_t, pt_lo, n_fl, fl_p,
                        fl_k, fl_v, fl_i, st_v, st_i, dWt, g_sg, gpt)
            if need_in and E:
                g_in = _input_gradients(g_sg[:, :E], gpt, pt_lo, pt_grid, ev_flat, n_ev, N_in * K_in)
        elif gradient == "piggyback" and B and N and ev_x.shape[1] > 1:
            log_I, log_x = torch.zeros_like(out_t), torch.ones_like(out_t)
            log_t = torch.where(torch.isfinite(out_t), out_t, torch.zeros_like(out_t))
            _sc._launch(_piggyback_log, blocks, tpb, g, log_j, log_t, cnt, ev_t, ev_src, Wt, tau, log_I, log_x)
            _, st_bwd = _sc._kernels(tpb)
            _sc._launch(st_bwd, blocks, tpb, g, g, log_j, log_I, log_x, cnt, ev_src, ev_flat, ev_x, n_ev,
                        torch.zeros(B, dtype=torch.int64, device=g.device), Wt.unsqueeze(0), theta, tau,
                        GRAZING_EPS, need_in, dWt.unsqueeze(0), g_in)
        dW = dWt.t().to(w_dtype) if ctx.needs_input_grad[1] else None
        gi = g_in.reshape(B, N_in, K_in).to(grad_out.dtype) if need_in else None
        return gi, dW, None, None, None, None, None, None, None


def integrated_layer_cuda(in_times: Tensor, weights: Tensor, params, d, t_max: float, K: int, gradient: str,
                          row_len: Tensor | None, grid: np.ndarray) -> tuple[Tensor, Tensor]:
    """``(times, counts)`` of a grid-integrated layer on the GPU, differentiable with ``gradient``
    (``piggyback`` or ``adjusted``; arguments checked by :func:`snnlib.events.layer.event_layer`,
    which calls this)."""
    if not _sc.supports(in_times):
        raise RuntimeError("the CUDA integrated-layer kernels need CUDA tensors and a GPU numba can use "
                           "(or CPU tensors under NUMBA_ENABLE_CUDASIM=1)")
    return _IntegratedLayerCUDA.apply(in_times, weights, params, d, t_max, K, gradient, row_len, grid)
