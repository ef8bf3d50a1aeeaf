r"""Numerically integrated event layers (seed 001) and their two training gradients.

**Forward.** A layer of CuBa-LIF neurons (:mod:`snnlib.neuron`, times in ms) integrated on a
grid by forward-Euler or Parker-Sochacki of order ``k`` with step ``dt`` and a spike rule
(``snap``, ``linear``, ``newton``), inputs split at their times (``input="exact"``) or
delivered at the next grid point (``input="grid"``): exactly what
:func:`snnlib.events.simulate_layer` computes (the pure-PyTorch reference), in compiled
kernels (:mod:`snnlib.integrated_kernels`). The :class:`~snnlib.discretization.Discretization`
value says how the network is simulated; the *gradient scheme* is a separate argument.

**Gradient schemes** (``gradient=``):

* ``"exact"``: BATS's closed-form gradients (:mod:`snnlib.spiketime`), only for the exact
  discretization; ``"ste"``: the same with inputs delivered on a grid (``input="grid"``):
  straight through the rounding.
* ``"piggyback"`` (seed 001's naive method). The forward is the integrated network; the
  backward is BATS's: the analytic spike-time gradient formulas of :mod:`snnlib.spiketime`
  (implicit function at ``V(t_k) = theta`` on the closed form, reset coupling
  ``dV(t_l)/dt_k = -theta x_k(t_l)/tau``, slope ``I(t_k) - theta/tau``) evaluated at the spike
  times and (delivered) input times that the *integrated* forward produced, as if they were
  exact crossings. ``I(t_k)`` is the analytic current ``sum_e w x_e(t_k)^2``. Needs
  ``tau = 2 tau_s`` (BATS's closed form).
* ``"adjusted"`` (seed 001's method adjusted for the integration procedure): the exact
  gradient of the discretized forward itself, derived below.

**The adjusted gradient.** Per neuron, the forward is a chain of *pieces*: from a start time
``tau_a`` and state ``x_a = (v, i)``, the step polynomial moves the state over a length
``L`` to ``x_b = P(L) x_a``, where ``P(L) = [[a(L), b(L)], [0, c(L)]]`` is the degree-``k``
Taylor polynomial of ``exp(L M)``, ``M = [[-1/tau, 1], [0, -1/tau_s]]``. A piece ends at an
integration point ``t_p`` (then the inputs delivered there add ``w`` to ``i``) or at a spike
(then the reset ``v -= theta`` or ``v = 0``). With the adjoint ``lambda = dL/dx`` carried
backward in time:

1. *Piece.* ``lambda_a = P(L)^T lambda_b`` and ``dL/dL = lambda_b . P'(L) x_a``, which goes
   to the end time with ``+`` and to the start time with ``-`` (``L = tau_b - tau_a``).
2. *Input delivery* at ``t_p``: ``dL/dW[n, i] += lambda_i`` (``lambda`` unchanged).
3. *Reset*: identity for subtraction, ``lambda_v = 0`` for reset to zero.
4. *Spike.* A piece from ``(tau_a, x_a)`` in a step ending at ``t_p`` has the crossing offset
   ``s = S(x_a, rem)``, ``rem = t_p - tau_a``, and the spike time ``t_k = tau_a + s``. With
   ``G`` the gradient of ``t_k`` (the loss's ``dL/dt_k`` plus the next piece's start-time
   gradient), ``dL/ds = G + lambda_b . P'(s) x_a`` flows into ``x_a`` and ``rem`` through
   ``S``, and ``G`` into ``tau_a``:

   - ``newton``: implicit function at the root of the step polynomial,
     ``dS/dx_a = -[a(s), b(s)] / V'(s)`` (``V'(s) = a'(s) v + b'(s) i``, the grazing guard
     of :func:`snnlib.crossing.safe_slope`), ``dS/drem = 0``;
   - ``linear``: ``S = rem (theta - v) / (V(rem) - v)`` differentiated in ``v``, in ``V(rem) =
     a(rem) v + b(rem) i`` and in ``rem`` (explicitly and through ``V(rem)``);
   - ``snap``: ``S = rem`` exactly, so the *state path* gets the true (piecewise) derivative,
     but spike times are piecewise constant: the gradient of the recorded time goes
     straight through the crossing located by linear interpolation inside the step (the
     ``linear`` formula above);
   - a crossing at ``s = 0`` because ``v >= theta`` already is locally constant: no
     derivative through ``S``.

5. *Time of an integration point.* Grid points are fixed. An input point moves with its
   input time (``input="exact"``): its gradient is the sum of the piece-length terms of the
   pieces that end and start there. Inputs that coincide share one point; moving one of
   them alone splits it, and for the exact flow only ``-lambda . M (w e_I) = -w (lambda_v -
   lambda_i / tau_s)`` would change. Each input gets this exact-flow part plus an equal
   share of the rest (the non-semigroup defect of the Taylor steps, ``O(dt^k)``), a grid point
   at the same time counting as one more member: exact for a lone input off the grid, the
   mean of the two one-sided derivatives for a lone input on a grid point.
   With ``input="grid"`` the same formula is the straight-through gradient of the delivery
   time (the rounding ``ceil(t/dt) dt`` itself has zero derivative).

For the backward the forward records the integration points and the start state of every
(step, neuron) with spikes (those steps are re-run backward, with the same code); the state of
every neuron at every point only when the input times need a gradient (a hidden layer's input).
"""

from __future__ import annotations

import math
from typing import Optional

import numba
import numpy as np
import torch
from torch import Tensor

from . import integrated_backward as _ib
from . import integrated_cuda, spiketime_cuda
from . import integrated_kernels as _ik
from . import spiketime_kernels as _sk
from .crossing import GRAZING_EPS
from .discretization import Discretization
from .neuron import NeuronParams, check_closed_form

__all__ = ["GRADIENTS", "check_gradient", "grid_points", "delivered_times", "quantize_times", "integrated_layer"]

GRADIENTS = ("exact", "ste", "piggyback", "adjusted")


def check_gradient(d: Discretization, gradient: str) -> None:
    """Refuse a gradient scheme that does not apply to the discretization ``d``."""
    if gradient not in GRADIENTS:
        raise ValueError(f"gradient must be one of {GRADIENTS}, got {gradient!r}")
    if d.is_exact:
        want = "exact" if d.input == "exact" else "ste"
        if gradient != want:
            raise ValueError(f"the exact discretization with input={d.input!r} trains with gradient={want!r} "
                             f"(got {gradient!r}); 'piggyback' and 'adjusted' are for grid integrators")
    elif gradient not in ("piggyback", "adjusted"):
        raise ValueError(f"a grid integrator ({d.label}) trains with gradient='piggyback' or 'adjusted', "
                         f"got {gradient!r}")


def grid_points(t_max: float, dt: float) -> np.ndarray:
    """``[0, dt, 2 dt, ..., t_max]`` (float64); the last step is shorter if ``dt`` does not
    divide ``t_max`` (as :func:`snnlib.events.simulate_layer`)."""
    n = max(1, math.ceil(t_max / dt - 1e-9))
    return np.array([i * dt for i in range(n)] + [float(t_max)], dtype=np.float64)


def delivered_times(x: np.ndarray, d: Discretization, t_max: float) -> np.ndarray:
    """Times at which the inputs ``x`` (ms, ``+inf`` padded) reach the layer: unchanged for
    ``input="exact"``, else ``ceil(t/dt) dt`` on the grid; ``+inf`` where not delivered in
    ``[0, t_max)``."""
    x = np.asarray(x, dtype=np.float64)
    if d.input == "exact":
        ok = np.isfinite(x) & (x >= 0) & (x < t_max)
        return np.where(ok, x, np.inf)
    g = grid_points(t_max, d.dt)
    with np.errstate(invalid="ignore"):
        n = np.ceil(x / d.dt - 1e-9)
    ok = np.isfinite(x) & (n >= 0) & (n < len(g) - 1)
    return np.where(ok, g[np.where(ok, n, 0).astype(np.int64)], np.inf)


class _Quantize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, t, dt):
        # tolerance as snnlib.events (input="grid"): times on the grid stay put
        return torch.ceil(t / dt - 1e-9) * dt

    @staticmethod
    def backward(ctx, g):
        return g, None  # straight-through estimator


def quantize_times(t: Tensor, dt: float) -> Tensor:
    """``ceil(t / dt) dt`` (spikes delayed to the grid; ``+inf`` stays); backward: identity (STE)."""
    if not (dt is not None and math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive finite step in ms, got {dt!r}")
    return _Quantize.apply(t, float(dt))


class _IntegratedLayer(torch.autograd.Function):
    """Kernels of :mod:`snnlib.integrated_kernels`; returns spike times and counts."""

    @staticmethod
    def forward(ctx, in_times, weights, params, d, t_max, K, gradient, row_len):
        dtype = in_times.dtype
        x = in_times.detach().to(torch.float64).contiguous().numpy()
        if row_len is None:
            row_len = np.full(x.shape[:2], x.shape[2], np.int64)
        if np.isnan(x).any():
            raise ValueError("in_times contain NaN entries (use +inf for padding)")
        W = weights.detach().to(torch.float64).numpy()
        if not np.isfinite(W).all():
            raise ValueError("weights contain NaN or inf")
        Wt = np.ascontiguousarray(W.T)
        xd = delivered_times(x, d, t_max)
        n_ev, _ = _sk.count_events(xd, t_max, row_len)
        E = int(n_ev.max()) if len(n_ev) else 0
        ev_t, ev_src, ev_flat, ev_h = _sk.sort_events(xd, t_max, n_ev, E, row_len)
        grid = grid_points(t_max, d.dt)[1:]
        coef = _ik.coefficients(d.order, params.tau, params.tau_s)
        B, N = x.shape[0], Wt.shape[1]
        out_t = np.full((B, N, K), np.inf)
        cnt = np.zeros((B, N), np.int64)
        log = gradient == "piggyback"
        L = N * K if log else 1
        log_j, log_n, log_k = (np.zeros((B, L), np.int32) for _ in range(3))
        log_t = np.zeros((B, L))
        n_log = np.zeros(B, np.int64)
        # what the adjusted backward needs (np.empty: only the entries counted are written)
        record = gradient == "adjusted" and any(ctx.needs_input_grad[:2])
        full = record and bool(ctx.needs_input_grad[0])
        Pm = len(grid) + E + 1 if record else 1
        Fm = N * K if record else 1
        pt_t, pt_lo, pt_grid = np.empty((B, Pm)), np.empty((B, Pm + 1), np.int64), np.empty((B, Pm), np.bool_)
        fl_p, fl_n, fl_k = (np.empty((B, Fm), np.int32) for _ in range(3))
        fl_v, fl_i = np.empty((B, Fm)), np.empty((B, Fm))
        st_v, st_i = (np.empty((B, Pm, N)) for _ in range(2)) if full else (np.empty((B, 1, 1)) for _ in range(2))
        n_pt, n_fl = np.zeros(B, np.int64), np.zeros(B, np.int64)
        rule, zero = _ik.RULES[d.spike_rule], params.reset == "zero"
        _ik.forward(ev_t, ev_src, n_ev, grid, Wt, K, rule, zero, params.theta, *coef,
                    out_t, cnt, log, log_j, log_n, log_k, log_t, n_log,
                    record, full, n_pt, pt_t, pt_lo, pt_grid, n_fl, fl_p, fl_n, fl_k, fl_v, fl_i, st_v, st_i)
        ctx.consts = (params, d, K, gradient, rule, zero, x.shape, dtype, full)
        ctx.arrays = (ev_t, ev_src, ev_flat, ev_h, n_ev, grid, Wt, coef, log_j, log_n, log_k, log_t, n_log,
                      (n_pt, pt_t, pt_lo, pt_grid, n_fl, fl_p, fl_n, fl_k, fl_v, fl_i, st_v, st_i))
        counts = torch.from_numpy(cnt)
        ctx.mark_non_differentiable(counts)
        return torch.from_numpy(out_t).to(dtype), counts

    @staticmethod
    def backward(ctx, grad_out, _grad_counts):
        params, d, K, gradient, rule, zero, (B, N_in, K_in), dtype, full = ctx.consts
        ev_t, ev_src, ev_flat, ev_h, n_ev, grid, Wt, coef, log_j, log_n, log_k, log_t, n_log, rec = ctx.arrays
        g = np.ascontiguousarray(grad_out.detach().to(torch.float64).numpy())
        need_in = bool(ctx.needs_input_grad[0])
        n_chunks = max(1, min(B, numba.get_num_threads()))
        dWt = np.zeros((n_chunks,) + Wt.shape)
        g_in = np.zeros((B, N_in * K_in) if need_in else (1, 1))
        if gradient == "adjusted":
            _ib.adjusted_backward(g, ev_src, ev_flat, grid, Wt, K, rule, zero, params.theta, params.tau_s,
                                  *coef, GRAZING_EPS, need_in and full, n_chunks, *rec, dWt, g_in)
        else:
            L = log_j.shape[1]
            log_I, log_x = np.zeros((B, L)), np.zeros((B, L))
            _ik.piggyback_log(log_j, log_n, log_t, n_log, ev_t, ev_src, n_ev, Wt, params.tau, log_I, log_x)
            ev_x = np.exp(ev_h * (-1.0 / params.tau))
            _sk.backward_kernel(g, log_j, log_n, log_k, log_I, log_x, n_log, ev_src, ev_flat, ev_x, n_ev,
                                Wt, params.theta, params.tau, GRAZING_EPS, need_in, n_chunks, dWt, g_in)
        dW = None
        if ctx.needs_input_grad[1]:
            dW = torch.from_numpy(np.ascontiguousarray(dWt.sum(0).T)).to(dtype)
        gi = torch.from_numpy(g_in.reshape(B, N_in, K_in)).to(dtype) if need_in else None
        return gi, dW, None, None, None, None, None, None


def check_layer_args(in_times: Tensor, weights: Tensor, max_spikes, t_max) -> None:
    """The shapes, spike buffer and window of one event layer (shared by every layer entry point)."""
    if in_times.dim() != 3 or weights.dim() != 2 or in_times.shape[1] != weights.shape[1]:
        raise ValueError(f"need in_times [B, N_in, K_in] and weights [N_out, N_in] with matching N_in, "
                         f"got {tuple(in_times.shape)} and {tuple(weights.shape)}")
    if not (isinstance(max_spikes, int) and max_spikes >= 1):
        raise ValueError(f"max_spikes must be an int >= 1, got {max_spikes!r}")
    if not (math.isfinite(t_max) and t_max > 0):
        raise ValueError(f"t_max must be a positive finite time in ms, got {t_max!r}")


def integrated_layer(in_times: Tensor, weights: Tensor, params: NeuronParams, discretization: Discretization, *,
                     t_max: float, max_spikes: int, gradient: str = "adjusted",
                     in_counts: Optional[Tensor] = None, backend: str = "auto") -> tuple[Tensor, Tensor]:
    """``(times [B, N_out, K], counts [B, N_out])`` of one layer over ``[0, t_max]`` (ms).

    Args:
        in_times: ``[B, N_in, K_in]`` input spike times (ms), ``+inf`` padded, no NaN.
        weights: ``[N_out, N_in]``, finite; the output dtype is the promotion of both
            (float32 or float64; the kernels compute in float64).
        params: neuron parameters (any ``tau``, ``tau_s`` for ``"adjusted"``; ``tau = 2 tau_s``
            for ``"piggyback"`` and the exact discretization).
        discretization: how the layer is simulated; a grid integrator here, or the exact
            discretization, which goes to :mod:`snnlib.spiketime`'s kernels.
        t_max, max_spikes: the window and the spikes kept per neuron (``K``; a neuron is
            silenced after ``K`` spikes, as :func:`snnlib.events.simulate_layer`).
        gradient: ``"exact"`` / ``"ste"`` (exact discretization), ``"piggyback"`` or
            ``"adjusted"`` (grid integrators); see the module docstring.
        in_counts: ``[B, N_in]`` spikes per input train when ``in_times`` is a layer's output
            (entries past the count are padding and are skipped).
        backend: ``"numba"`` (the CPU kernels; tensors on another device make a differentiable
            round trip to the CPU), ``"cuda"`` (the GPU kernels of :mod:`snnlib.spiketime_cuda`
            and :mod:`snnlib.integrated_cuda`) or ``"auto"`` (the GPU kernels for CUDA tensors
            when numba can use the GPU, else numba).
    """
    d = discretization
    if not isinstance(d, Discretization):
        raise TypeError(f"discretization must be a Discretization, got {type(d).__name__}")
    check_gradient(d, gradient)
    check_layer_args(in_times, weights, max_spikes, t_max)
    dtype = torch.promote_types(in_times.dtype, weights.dtype)
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"need float32 or float64 tensors, got {dtype}")
    if in_times.device != weights.device:
        raise ValueError(f"in_times are on {in_times.device} but weights on {weights.device}")
    if backend not in ("auto", "numba", "cuda"):
        raise ValueError(f"backend must be 'auto', 'numba' or 'cuda', got {backend!r}")
    in_times, weights = in_times.to(dtype), weights.to(dtype)
    if backend == "auto":
        backend = "cuda" if in_times.device.type == "cuda" and spiketime_cuda.supports(in_times) else "numba"
    if backend == "numba" and in_times.device.type != "cpu":  # a differentiable round trip to the CPU
        dev = in_times.device
        times, counts = integrated_layer(in_times.cpu(), weights.cpu(), params, d, t_max=t_max,
                                         max_spikes=max_spikes, gradient=gradient, backend="numba",
                                         in_counts=None if in_counts is None else in_counts.cpu())
        return times.to(dev), counts.to(dev)
    if backend == "cuda":
        if not spiketime_cuda.supports(in_times):
            raise ValueError("backend='cuda' needs CUDA tensors and a GPU that numba can use, "
                             "or CPU tensors under NUMBA_ENABLE_CUDASIM=1")
    if d.is_exact:
        from .spiketime import _layer

        x = quantize_times(in_times, d.dt) if d.input == "grid" else in_times
        return _layer(x, weights, params, float(t_max), max_spikes, backend, in_counts)
    if gradient == "piggyback":
        check_closed_form(params)
    if backend == "cuda":
        from .spiketime import _check_finite  # the exact path's _layer checks its own inputs

        _check_finite(in_times, weights)
        return integrated_cuda.integrated_layer_cuda(in_times, weights, params, d, float(t_max), max_spikes,
                                                     gradient, in_counts, grid_points(t_max, d.dt))
    row_len = None if in_counts is None else in_counts.detach().cpu().numpy().astype(np.int64)
    return _IntegratedLayer.apply(in_times, weights, params, d, float(t_max), max_spikes, gradient, row_len)
