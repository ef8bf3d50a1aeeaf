r"""Numerically integrated event layers (seed 001) and their two training gradients.

**Forward.** A layer of CuBa-LIF neurons (:mod:`snnlib.model.neuron`, times in ms) integrated on a
grid by forward-Euler or Parker-Sochacki of order ``k`` with step ``dt`` and a spike rule
(``snap``, ``linear``, ``newton``), inputs split at their times (``input="exact"``) or
delivered at the next grid point (``input="grid"``): exactly what
:func:`snnlib.events.reference.simulate_layer` computes (the pure-PyTorch reference), in compiled
kernels (:mod:`snnlib.events.kernels.integrated_cpu`). The :class:`~snnlib.model.discretization.Discretization`
value says how the network is simulated; the *gradient scheme* is a separate argument.

**Gradient schemes** (``gradient=``):

* ``"exact"``: BATS's closed-form gradients (:mod:`snnlib.events.exact`), only for the exact
  discretization; ``"ste"``: the same with inputs delivered on a grid (``input="grid"``):
  straight through the rounding.
* ``"piggyback"`` (seed 001's naive method). The forward is the integrated network; the
  backward is BATS's: the analytic spike-time gradient formulas of :mod:`snnlib.events.exact`
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
     of :func:`snnlib.model.crossing.safe_slope`), ``dS/drem = 0``;
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

For the backward the forward records the integration points and, for every (step, neuron) with
spikes, what the backward needs of it (:func:`snnlib.events.kernels.integrated_cpu._neuron_step_rec`:
per spike ``a, b, c`` and ``V'(s), I'(s)`` at the crossing offset and the crossing's derivatives
``dS/dv, dS/di, dS/drem`` (``newton``: the guarded slope), 8 float64; per recorded step the last
piece's ``a, b, c, V'(L), I'(L)`` and 5 int32 indices), so the reverse sweep re-runs no step and
evaluates no polynomial per spike; the state of every neuron at every point only when the input
times need a gradient (a hidden layer's input). Those per-spike buffers are sized for ``K`` spikes
per neuron but only their used prefix becomes resident (anonymous mappings, no huge pages).

:class:`IntegratedLayer` is the numba implementation; the layer is called through the one door,
:func:`snnlib.events.layer.event_layer`, which also reaches the CUDA kernels
(:mod:`snnlib.events.kernels.integrated_cuda`) and the reference.
"""

from __future__ import annotations

import mmap

import numba
import numpy as np
import torch

from snnlib.events.grid import grid_points
from snnlib.events.kernels import exact_cpu as _sk
from snnlib.events.kernels import integrated_adjoint as _ib
from snnlib.events.kernels import integrated_cpu as _ik
from snnlib.model.crossing import GRAZING_EPS
from snnlib.model.discretization import GRID_TOL

__all__ = ["IntegratedLayer"]


def _sparse_empty(shape, dtype=np.float64) -> np.ndarray:
    """``np.empty(shape, dtype)`` for a buffer of which only a part will be written (a prefix of
    each sample's row): an anonymous mapping, so only the pages written become resident. NumPy
    advises huge pages for its own large allocations, and then each row's first write makes a
    whole 2 MiB page resident (and zeroes it): for the ``[B, N K]`` spike records that was most of
    the buffer, ~3 % of it used."""
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if n < (1 << 22):
        return np.empty(shape, dtype)
    return np.frombuffer(mmap.mmap(-1, n), dtype).reshape(shape)

class IntegratedLayer(torch.autograd.Function):
    """Kernels of :mod:`snnlib.events.kernels.integrated_cpu`; returns spike times and counts.

    Inputs and weights are read by the kernels in their storage dtype (float32 values are exact in
    float64, where all the arithmetic is done); the spike times are written in the storage dtype
    (rounded once), the weight gradient accumulated in float64 and converted once."""

    @staticmethod
    def forward(ctx, in_times, weights, params, d, t_max, K, gradient, row_len):
        dtype = in_times.dtype
        work = dtype if dtype in (torch.float32, torch.float64) else torch.float64
        x = in_times.detach().to(work).contiguous().numpy()
        B, N_in, K_in = x.shape
        if row_len is None:
            row_len = np.full((B, N_in), K_in, np.int64)
        Wt = np.ascontiguousarray(weights.detach().to(work).numpy().T)  # [N_in, N], storage dtype
        if not _ik.all_finite(Wt):
            raise ValueError("weights contain NaN or inf")
        full_grid = grid_points(t_max, d.dt)
        if d.input == "grid":
            xd = _sparse_empty((B, N_in, K_in))  # only the entries k < row_len are written (and read)
            if _ik.deliver(x, row_len, float(t_max), True, float(d.dt), GRID_TOL, full_grid, xd):
                raise ValueError("in_times contain NaN entries (use +inf for padding)")
        else:
            xd = x  # delivered at their times: the events are the entries in [0, t_max)
        n_ev, n_nan = _sk.count_events(xd, t_max, row_len)
        if n_nan:
            raise ValueError("in_times contain NaN entries (use +inf for padding)")
        E = int(n_ev.max()) if len(n_ev) else 0
        ev_t, ev_src, ev_flat, ev_h = _sk.sort_events(xd, t_max, n_ev, E, row_len)  # ev_h in float64
        ev_t = ev_t.astype(np.float64, copy=False)  # float32 times are exact in float64
        grid = full_grid[1:]
        coef = _ik.coefficients(d.order, params.tau, params.tau_s)
        N = Wt.shape[1]
        out_t = np.full((B, N, K), np.inf, dtype=x.dtype)
        cnt = np.zeros((B, N), np.int64)
        log = gradient == "piggyback"
        L = N * K if log else 1
        # the spike log (np.empty: only the first n_log[b] entries of a row are written)
        log_j, log_n, log_k = (_sparse_empty((B, L), np.int32) for _ in range(3))
        log_t = _sparse_empty((B, L))
        n_log = np.zeros(B, np.int64)
        # what the adjusted backward needs (np.empty: only the entries counted are written)
        record = gradient == "adjusted" and any(ctx.needs_input_grad[:2])
        full = record and bool(ctx.needs_input_grad[0])
        Pm = len(grid) + E + 1 if record else 1
        Fm = N * K if record else 1
        pt_t, pt_lo, pt_grid = np.empty((B, Pm)), np.empty((B, Pm + 1), np.int64), np.empty((B, Pm), np.bool_)
        fl_ix = _sparse_empty((B, Fm, 5), np.int32)  # per (step, neuron) with spikes
        fl_f = _sparse_empty((B, Fm, _ik.N_FL))
        rd = _sparse_empty((B, Fm, _ik.N_RD))  # per spike
        st_v, st_i = (np.empty((B, Pm, N)) for _ in range(2)) if full else (np.empty((B, 1, 1)) for _ in range(2))
        n_pt, n_fl = np.zeros(B, np.int64), np.zeros(B, np.int64)
        rule, zero = _ik.RULES[d.spike_rule], params.reset == "zero"
        _ik.forward(ev_t, ev_src, n_ev, grid, Wt, K, rule, zero, params.theta, *coef, GRAZING_EPS,
                    out_t, cnt, log, log_j, log_n, log_k, log_t, n_log,
                    record, full, n_pt, pt_t, pt_lo, pt_grid, n_fl, fl_ix, fl_f, rd, st_v, st_i)
        ctx.consts = (params, d, K, gradient, rule, zero, x.shape, dtype, full)
        ctx.arrays = (ev_t, ev_src, ev_flat, ev_h, n_ev, Wt, coef, log_j, log_n, log_k, log_t, n_log,
                      (n_pt, pt_t, pt_lo, pt_grid, n_fl, fl_ix, fl_f, rd, st_v, st_i))
        counts = torch.from_numpy(cnt)
        ctx.mark_non_differentiable(counts)
        return torch.from_numpy(out_t).to(dtype), counts

    @staticmethod
    def backward(ctx, grad_out, _grad_counts):
        params, d, K, gradient, rule, zero, (B, N_in, K_in), dtype, full = ctx.consts
        ev_t, ev_src, ev_flat, ev_h, n_ev, Wt, coef, log_j, log_n, log_k, log_t, n_log, rec = ctx.arrays
        x_dtype = torch.float32 if Wt.dtype == np.float32 else torch.float64
        g = grad_out.detach().to(x_dtype).contiguous().numpy()  # read as float64 by the kernels
        need_in = bool(ctx.needs_input_grad[0])
        n_chunks = max(1, min(B, numba.get_num_threads()))
        dWt = np.zeros((n_chunks,) + Wt.shape)
        # each entry written once (per delivered input), from a float64 value: in the storage dtype
        g_in = np.zeros((B, N_in * K_in) if need_in else (1, 1), dtype=Wt.dtype)
        if gradient == "adjusted":
            _ib.adjusted_backward(g, ev_src, ev_flat, Wt, rule, zero, params.tau_s, *coef, need_in and full,
                                  n_chunks, *rec, dWt, g_in)
        else:
            L = log_j.shape[1]
            log_I, log_x = _sparse_empty((B, L)), _sparse_empty((B, L))
            _ik.piggyback_log(log_j, log_n, log_t, n_log, ev_t, ev_src, n_ev, Wt, params.tau, log_I, log_x)
            ev_x = np.exp(ev_h * (-1.0 / params.tau))
            _sk.backward_kernel(g, log_j, log_n, log_k, log_I, log_x, n_log, ev_src, ev_flat, ev_x, n_ev,
                                np.zeros(B, np.int64), Wt[None], params.theta, params.tau, GRAZING_EPS, need_in,
                                _sk.chunk_bounds(B, 1, n_chunks), dWt, g_in)
        dW = None
        if ctx.needs_input_grad[1]:
            dW = np.empty((Wt.shape[1], Wt.shape[0]), dtype=Wt.dtype)
            _ik.transpose_into(dWt[0] if n_chunks == 1 else dWt.sum(0), dW)  # one pass
            dW = torch.from_numpy(dW).to(dtype)
        gi = torch.from_numpy(g_in.reshape(B, N_in, K_in)).to(dtype) if need_in else None
        return gi, dW, None, None, None, None, None, None
