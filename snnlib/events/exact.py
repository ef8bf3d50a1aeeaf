r"""Exact spike-time training (BATS; Bacho & Chu, "Exploring Trade-Offs in Spiking Neural
Networks", Neural Computation 35(10):1627-1656, 2023) on CPU, with numba kernels.

**Layer.** ``N_out`` CuBa-LIF neurons (:mod:`snnlib.model.neuron`, ``tau = 2 tau_s``, times in ms)
driven by ``W [N_out, N_in]``: input spike trains ``[B, N_in, K_in]`` (``+inf`` padded; inputs
outside ``[0, t_max)`` are ignored, as in :func:`snnlib.events.reference.simulate_layer`) give output
trains ``[B, N_out, K]`` (sorted, ``+inf`` padded; a neuron is silenced after ``K`` spikes).
Between input events the closed-form crossing of :func:`snnlib.model.neuron.first_crossing` in
relative time, several spikes per interval if need be, reset ``V -= theta`` (``V = 0`` at an
exact crossing). Kernels: :mod:`snnlib.events.kernels.exact_cpu`.

**Gradients** (implicit function theorem). With input spikes ``e`` (time ``t_e``, source
``i_e``) and the neuron's own spikes ``t_1 < t_2 < ...``, before the reset at ``t_k``::

    V(t) = tau sum_{e: t_e < t} w_{i_e} (x_e - x_e^2) - theta sum_{j: t_j < t} x_j,
    x_e = exp(-(t - t_e)/tau),   V(t_k) = theta.

Differentiating ``V(t_k) = theta`` with ``Vdot_k = dV/dt(t_k^-) = I(t_k) - theta/tau``::

    dt_k = -(dV(t_k)/dp + sum_{j<k} dV(t_k)/dt_j dt_j) / Vdot_k,
    dV(t_k)/dt_j = -theta x_j(t_k)/tau     (reset coupling; BATS's recurrent errors).

With ``g_k = dL/dt_k`` (direct), the adjoint (Lagrange multiplier) ``mu_k`` of the constraint
``V(t_k) = theta`` solves, newest first (as BATS's ``propagate_recurrent_errors``)::

    mu_k = -(g_k - theta/tau sum_{l>k} mu_l x_k(t_l)) / Vdot_k,

and then ``dL/dp = sum_k mu_k dV(t_k)/dp``, with ``dV(t_k)/dw_i = tau sum_{e in i, t_e<t_k}
(x - x^2)`` and ``dV(t_k)/dt_e = w_{i_e} (x - 2 x^2)`` (``x = x_e(t_k)``). So
``dL/dW[n, i] = tau sum_{e in i} (A1 - A2)`` and ``dL/dt_e = sum_n W[n, i_e] (A1 - 2 A2)`` with
``A1 = sum_{k: t_k > t_e} mu_k x_e(t_k)``, ``A2 = sum mu_k x_e(t_k)^2``, accumulated by a
reverse-time sweep. ``|Vdot|`` is clamped by the library's one grazing guard (the rule of
:func:`snnlib.model.crossing.safe_slope` with ``GRAZING_EPS``). Padding slots get no gradient.

:class:`SpikeLayer` is the numba implementation (CPU tensors; it computes in float64 whatever the
storage dtype); the layer is called through the one door, :func:`snnlib.events.layer.event_layer`
(or :func:`snnlib.events.layer.spike_layer`), which also reaches the CUDA kernels
(:mod:`snnlib.events.kernels.exact_cuda`, float64 too) and the pure-PyTorch reference
(:func:`snnlib.events.reference.simulate_layer`, ``backend="torch"``). The numba kernels run samples in
parallel on ``numba.get_num_threads()`` threads; on a shared or small machine
``numba.set_num_threads(1)`` (and ``torch.set_num_threads(1)``) is often faster, since
spinning thread pools compete for the cores.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from snnlib.events.kernels import exact_cpu as _k
from snnlib.model.crossing import GRAZING_EPS

__all__ = ["SpikeLayer", "run_index", "run_blocks", "LOG_BLOCK_BYTES"]

def run_index(B: int, R: int) -> np.ndarray:
    """``[B]`` run of each sample when ``B`` samples are ``R`` runs' batches laid out run-major
    (``[R, B // R]`` flattened); a :class:`ValueError` when ``R`` does not divide ``B``."""
    if R < 1 or B % R:
        raise ValueError(f"{B} samples cannot be {R} runs' batches of equal size (need R >= 1 dividing B)")
    return np.repeat(np.arange(R, dtype=np.int64), B // R)


#: the most bytes of one spike-log array that one kernel call of packed runs allocates. The spike log
#: is sized for every neuron filling its buffer (``B N K`` entries): for MNIST 784-800-10 at batch 50,
#: 9.6 MB per run and array. Large buffers are fresh pages from the system at every call, faulted in
#: and zeroed (glibc serves allocations above its mmap threshold, at most 32 MiB, that way): all runs
#: of the hidden layer in one call made the forward kernel 2-3 times slower than the runs alone. Runs
#: go through the kernels in blocks of as many runs as fit (at least one run per block); small layers
#: (the output layer, the tests' networks) take all runs in one call.
LOG_BLOCK_BYTES = 8 * 2**20


def run_blocks(R: int, B_run: int, log_row: int) -> list[tuple[int, int]]:
    """``[(r0, r1), ...]``: the blocks of runs one kernel call simulates (:data:`LOG_BLOCK_BYTES`)
    for ``R`` runs of ``B_run`` samples with ``log_row`` spike-log entries per sample."""
    per = max(1, LOG_BLOCK_BYTES // max(1, B_run * log_row * 8))
    return [(r0, min(R, r0 + per)) for r0 in range(0, R, per)]


def _transposed(A: np.ndarray) -> np.ndarray:
    """``[R, n, m]`` contiguous from ``A [R, m, n]`` (or ``[m, n]``: ``R = 1``), one run at a time
    (numpy's copy of a 3-d transposed view is several times slower)."""
    A = A[None] if A.ndim == 2 else A
    out = np.empty((A.shape[0], A.shape[2], A.shape[1]), dtype=A.dtype)
    for r in range(A.shape[0]):
        out[r] = A[r].T
    return out


class SpikeLayer(torch.autograd.Function):
    """Numba forward / backward of one layer; see the module docstring. Returns the spike
    times and (non-differentiable) counts ``[B, N_out]``.

    Packed runs: ``weights [R, N_out, N_in]`` are ``R`` independent networks' weights and the
    ``B`` samples of ``in_times`` are their batches laid out run-major (``[R, B / R]`` flattened):
    each sample is simulated with its run's weights, and the gradient ``[R, N_out, N_in]`` of each
    run is summed over the chunks of samples a separate run would have
    (:func:`snnlib.events.kernels.exact_cpu.chunk_bounds`), so it equals that run's alone bit for bit.
    The runs go through the kernels in blocks of runs (:func:`run_blocks`: one call for small
    layers, one run per call for large ones). ``weights [N_out, N_in]`` is one network (``R = 1``)."""

    @staticmethod
    def forward(ctx, in_times, weights, theta, tau, t_max, K, row_len=None):
        x = in_times.detach().contiguous().numpy()
        if row_len is None:
            row_len = np.full(x.shape[:2], x.shape[2], np.int64)
        W = weights.detach().numpy()
        if not np.isfinite(W).all():
            raise ValueError("weights contain NaN or inf")
        Wt = _transposed(W)  # [R, N_in, N_out]
        R, N = Wt.shape[0], Wt.shape[2]
        run_index(x.shape[0], R)  # refuses a batch that is not R equal batches
        B = x.shape[0]
        Br = B // R
        out_t = np.full((B, N, K), np.inf, dtype=x.dtype)
        cnt = np.zeros((B, N), np.int32)
        eps_round = 4.0 * float(np.finfo(x.dtype).eps)
        blocks = []
        for r0, r1 in run_blocks(R, Br, N * K):
            s0, s1 = r0 * Br, r1 * Br
            xb, rl = x[s0:s1], row_len[s0:s1]
            n_ev, n_nan = _k.count_events(xb, t_max, rl)
            if n_nan:
                raise ValueError(f"in_times contain {n_nan} NaN entries (use +inf for padding)")
            E = int(n_ev.max()) if len(n_ev) else 0
            ev_t, ev_src, ev_flat, ev_h = _k.sort_events(xb, t_max, n_ev, E, rl)
            ev_x = np.exp(ev_h * (-1.0 / tau))  # decay over each interval (vectorised exp)
            Bb = s1 - s0
            # the spike log (np.empty: only the first n_log[b] entries of a row are written)
            log_j, log_n, log_k = (np.empty((Bb, N * K), np.int32) for _ in range(3))
            log_I, log_x = np.empty((Bb, N * K)), np.empty((Bb, N * K))
            n_log = np.zeros(Bb, np.int64)
            run = run_index(Bb, r1 - r0)
            _k.forward_kernel(ev_t, ev_src, ev_x, n_ev, run, Wt[r0:r1], theta, tau, K, eps_round,
                              out_t[s0:s1], cnt[s0:s1], log_j, log_n, log_k, log_I, log_x, n_log)
            blocks.append((r0, r1, (log_j, log_n, log_k, log_I, log_x, n_log, ev_src, ev_flat, ev_x, n_ev, run)))
        ctx.arrays = (blocks, Wt)
        ctx.consts = (theta, tau, x.shape, W.ndim == 2)
        counts = torch.from_numpy(cnt).to(torch.int64)
        ctx.mark_non_differentiable(counts)
        return torch.from_numpy(out_t), counts

    @staticmethod
    def backward(ctx, grad_out, _grad_counts):
        blocks, Wt = ctx.arrays
        theta, tau, (B, N_in, K_in), single = ctx.consts
        g = grad_out.detach().contiguous().numpy()
        need_in = bool(ctx.needs_input_grad[0])
        R = Wt.shape[0]
        Br = B // R
        n_chunks = max(1, min(Br, numba.get_num_threads()))  # per run: a separate run's chunks
        g_in = np.zeros((B, N_in * K_in) if need_in else (1, 1), dtype=g.dtype)
        dWs = []
        for r0, r1, arrays in blocks:
            s0, s1 = r0 * Br, r1 * Br
            dWt = np.zeros(((r1 - r0) * n_chunks,) + Wt.shape[1:], dtype=Wt.dtype)
            _k.backward_kernel(g[s0:s1], *arrays, Wt[r0:r1], theta, tau, GRAZING_EPS, need_in,
                               _k.chunk_bounds(Br, r1 - r0, n_chunks), dWt, g_in[s0:s1] if need_in else g_in)
            dWs.append(_k.sum_parts(dWt, r1 - r0))
        dW = None
        if ctx.needs_input_grad[1]:
            dWt = dWs[0] if len(dWs) == 1 else np.concatenate(dWs)
            dW = torch.from_numpy(_transposed(dWt))
            dW = dW[0] if single else dW
        gi = torch.from_numpy(g_in.reshape(B, N_in, K_in)) if need_in else None
        return gi, dW, None, None, None, None, None


