"""CUDA kernels of the exact spike-time layer (:mod:`snnlib.events.exact`; the maths is there).

The CPU kernels (:mod:`snnlib.events.kernels.exact_cpu`) run one sample per thread and all its neurons
in an inner loop. A layer's neurons do not interact (no lateral weights), so on a GPU each
thread takes one ``(sample, neuron)`` and a block one ``(sample, group of neurons)``, as in
BATS's own CUDA kernels:

* Events (the input spikes in ``[0, t_max)``) are sorted per sample by ``torch.sort`` (stable, in
  the flat input order, like the CPU bucket sort), on the tensors' device; interval ``j`` ends at
  event ``j`` (the last at ``t_max``) and decays by ``ev_x[b, j] = exp(-h_j / tau)``.
* Forward: each thread walks its sample's intervals, finds the exact crossings with the closed
  form of :func:`snnlib.model.neuron.first_crossing` in the decay variable (as
  :func:`snnlib.events.kernels.exact_cpu._exact_interval`), and logs every spike's interval, current and
  decay factor in ``[B, N, K]`` arrays (per neuron, so no ordering across threads is needed).
* Backward: each thread runs its neuron's reverse sweep (accumulators ``A1, A2`` kept up to a
  scale, as on the CPU); weight gradients go to ``dW^T [N_in, N]`` by atomic adds (threads of
  different samples meet only on the same input event), and the input-time gradient of each event,
  a sum over the neurons, is reduced in shared memory and added once per block.

**Runs** (packed training, :mod:`snnlib.training.packed`): as on the CPU, ``Wt [R, N_in, N]`` holds
``R`` independent networks' transposed weights and ``run [B]`` the run of each sample; a sample
reads its run's weights and its weight gradient goes to its run's ``dWt[run[b]]``. One network is
``R = 1``.

Everything is computed in float64, like the CPU kernels, so the two agree to rounding. The
crossing and the reverse sweep repeat the CPU kernels' code (numba compiles a function for one
target): change them together; ``tests/gpu`` compares them.

Tested without a GPU through numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, set before numba
is imported): the kernels then take CPU tensors. ``tests/gpu/`` compares them with the CPU
kernels; ``tests/test_gpu_kernels_simulated.py`` runs that folder under the simulator.
"""

from __future__ import annotations

import functools
import math

import torch
from numba import config as _nb_config
from numba import cuda, float64
from torch import Tensor

from snnlib.model.crossing import GRAZING_EPS

__all__ = ["available", "simulated", "supports", "sort_events", "spike_layer_cuda"]

def simulated() -> bool:
    """Whether numba's CUDA simulator is on (``NUMBA_ENABLE_CUDASIM=1``)."""
    return bool(_nb_config.ENABLE_CUDASIM)


def available() -> bool:
    """Whether the kernels can run: a CUDA GPU that numba sees, or the simulator."""
    try:
        return simulated() or cuda.is_available()
    except Exception:  # a driver that numba cannot load counts as no GPU
        return False


def supports(x: Tensor) -> bool:
    """Whether the kernels take tensors on ``x``'s device: CUDA tensors with a GPU, CPU tensors
    under the simulator."""
    return available() and ((x.device.type == "cuda") != simulated())


def _launch(kernel, blocks, tpb: int, like: Tensor, *args) -> None:
    """``kernel[blocks, tpb](*args)`` with every tensor argument passed as a view (no copy), on
    ``like``'s GPU and on torch's current stream there, so the kernel is ordered with the torch
    operations around it (and with the caching allocator's reuse of freed memory); under the
    simulator (CPU tensors) the views are numpy arrays."""
    if like.device.type == "cpu":
        kernel[blocks, tpb](*(a.numpy() if isinstance(a, Tensor) else a for a in args))
        return
    index = like.device.index if like.device.index is not None else torch.cuda.current_device()
    with cuda.gpus[index]:
        stream = cuda.external_stream(torch.cuda.current_stream(like.device).cuda_stream)
        kernel[blocks, tpb, stream](*(cuda.as_cuda_array(a, sync=False) if isinstance(a, Tensor) else a
                                      for a in args))


def sort_events(in_times: Tensor, t_max: float, tau: float, row_len: Tensor | None = None):
    """``(ev_t [B, E], ev_src [B, E], ev_flat [B, E], ev_x [B, E + 1], n_ev [B])``: the input spikes
    in ``[0, t_max)`` of each sample sorted by time (stable in the flat input order ``i K_in + k``;
    ``+inf`` padded), their sources, flat indices, the decay factor of every interval (interval
    ``j`` ends at event ``j``, interval ``n_ev`` at ``t_max``; 1 beyond) and the event counts, all on
    ``in_times``' device, times in float64. ``row_len [B, N_in]``: entries ``k >= row_len`` are
    padding (a layer's spike counts)."""
    B, N_in, K_in = in_times.shape
    x = in_times.detach().to(torch.float64)
    valid = (x >= 0) & (x < t_max)
    if row_len is not None:
        k = torch.arange(K_in, device=x.device)
        valid &= k < row_len.to(x.device).unsqueeze(-1)
    t = torch.where(valid, x, torch.full_like(x, math.inf)).reshape(B, N_in * K_in)
    ev_t, ev_flat = torch.sort(t, dim=1, stable=True)
    n_ev = valid.reshape(B, -1).sum(1)
    E = int(n_ev.max()) if B else 0
    ev_t, ev_flat = ev_t[:, :E].contiguous(), ev_flat[:, :E].to(torch.int32).contiguous()
    ev_src = (ev_flat // K_in).to(torch.int32)
    j = torch.arange(E + 1, device=x.device)
    ends = torch.cat([ev_t, ev_t.new_full((B, 1), math.inf)], 1)
    ends = torch.where(j < n_ev.unsqueeze(1), ends, ends.new_full((), float(t_max)))
    starts = torch.cat([ends.new_zeros(B, 1), ends[:, :-1]], 1)
    h = torch.where(j <= n_ev.unsqueeze(1), ends - starts, ends.new_zeros(()))
    return ev_t, ev_src, ev_flat, torch.exp(h * (-1.0 / tau)), n_ev.to(torch.int64)


@cuda.jit(device=True)
def _block_sum(red, tid, value):
    """Sum of ``value`` over the block's threads (all of them must call it), in ``red[0]``."""
    red[tid] = value
    cuda.syncthreads()
    stride = red.shape[0] // 2
    while stride > 0:
        if tid < stride:
            red[tid] += red[tid + stride]
        cuda.syncthreads()
        stride //= 2
    total = red[0]
    cuda.syncthreads()
    return total


@functools.lru_cache(maxsize=None)
def _kernels(tpb: int):
    """The forward and backward kernels for blocks of ``tpb`` threads (a power of two)."""

    @cuda.jit
    def forward(ev_t, ev_src, ev_x, n_ev, run, Wt, theta, tau, K, eps_round, out_t, cnt, log_j, log_I, log_x):
        n = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
        b = cuda.blockIdx.y
        if n >= Wt.shape[2]:
            return
        q = run[b]
        E = n_ev[b]
        v = 0.0
        i = 0.0
        k = 0
        alive = True
        active = False  # an input has arrived: the state may be nonzero
        t_prev = 0.0
        for j in range(E + 1):
            X = ev_x[b, j]
            if active and alive and X < 1.0:
                xs = 1.0  # decay from the interval's start to the last spike
                R = X  # decay left to the interval's end: a crossing at x is in it iff x >= R
                while True:
                    if v >= theta:
                        x = 1.0
                    else:
                        a = i * tau
                        bb = v + a
                        disc = bb * bb - 4.0 * a * theta
                        if not (a > 0.0 and disc >= 0.0 and bb > 0.0):
                            break
                        root = math.sqrt(disc) if disc > 0.0 else 0.0
                        x = (bb + root) / (2.0 * a)
                        if x > 1.0 and x <= 1.0 + eps_round and (-v / tau + i) > 0.0:
                            x = 1.0
                        if not (x <= 1.0 and x > 0.0):
                            break
                    if x * xs < X:
                        break
                    xs = xs * x
                    R = X / xs
                    i = i * x * x  # I decays as x^2 (tau_s = tau / 2); V = theta resets to 0
                    v = 0.0
                    out_t[b, n, k] = t_prev - tau * math.log(xs)
                    log_j[b, n, k] = j
                    log_I[b, n, k] = i
                    log_x[b, n, k] = xs
                    k += 1
                    if k >= K:
                        alive = False
                        break
                if alive:
                    xr = R if R < 1.0 else 1.0  # min(R, 1.0); numba's CUDA target has no two-argument min
                    v, i = v * xr + i * tau * xr * (1.0 - xr), i * xr * xr
            if j < E:
                i += Wt[q, ev_src[b, j], n]
                t_prev = ev_t[b, j]
                active = True
        cnt[b, n] = k

    @cuda.jit
    def backward(g, log_j, log_I, log_x, cnt, ev_src, ev_flat, ev_x, n_ev, run, Wt, theta, tau, grazing_eps,
                 need_in, dWt, g_in):
        tid = cuda.threadIdx.x
        n = cuda.blockIdx.x * cuda.blockDim.x + tid
        b = cuda.blockIdx.y
        q = run[b]
        N = Wt.shape[2]
        own = n < N  # threads past the last neuron still join the block's reductions
        red = cuda.shared.array(tpb, dtype=float64)
        r = theta / tau  # reset coupling: dV(t_l)/dt_k = -theta x_k(t_l) / tau
        A1 = 0.0
        A2 = 0.0
        s = 1.0  # true A1 = A1 s, A2 = A2 s^2
        inv_s = 1.0
        p = cnt[b, n] - 1 if own else -1
        nonzero = False
        for j in range(n_ev[b], 0, -1):
            if nonzero:
                s *= ev_x[b, j]  # back from the end of interval j to its start
                if s < 1e-100:  # as on the CPU: keep the scaled accumulators in range
                    A1 *= s
                    A2 *= s * s
                    s = 1.0
                inv_s = 1.0 / s
            while p >= 0 and log_j[b, n, p] == j:  # this neuron's spikes in interval j, newest first
                xk = log_x[b, n, p]
                slope = log_I[b, n, p] - r  # dV/dt at t_k^-, where V = theta
                if slope < 0.0:  # the grazing guard of snnlib.model.crossing.safe_slope
                    slope = slope if -slope > grazing_eps else -grazing_eps  # -max(-slope, eps)
                else:
                    slope = slope if slope > grazing_eps else grazing_eps  # max(slope, eps)
                mu = -(g[b, n, p] - r * (A1 * s / xk)) / slope
                u = mu * xk * inv_s
                A1 += u
                A2 += u * xk * inv_s
                nonzero = True
                p -= 1
            contrib = 0.0
            if nonzero:
                src = ev_src[b, j - 1]
                s2 = s * s
                cuda.atomic.add(dWt, (q, src, n), tau * s * A1 - tau * s2 * A2)
                if need_in:
                    contrib = Wt[q, src, n] * (s * A1 - 2.0 * s2 * A2)
            if need_in:
                total = _block_sum(red, tid, contrib)
                if tid == 0 and total != 0.0:
                    cuda.atomic.add(g_in, (b, ev_flat[b, j - 1]), total)

    return forward, backward


def _tpb() -> int:
    # the simulator runs every thread of a block as a Python thread: keep its blocks small
    return 8 if simulated() else 128


def run_index(B: int, R: int, device) -> Tensor:
    """``[B]`` run of each sample for ``R`` runs' batches laid out run-major (as
    :func:`snnlib.events.exact.run_index`), on ``device``."""
    if R < 1 or B % R:
        raise ValueError(f"{B} samples cannot be {R} runs' batches of equal size (need R >= 1 dividing B)")
    return torch.arange(R, dtype=torch.int64, device=device).repeat_interleave(B // R)


class _SpikeLayerCUDA(torch.autograd.Function):
    """CUDA forward / backward of one exact spike-time layer; returns ``(times, counts)``.
    ``weights [N_out, N_in]``, or ``[R, N_out, N_in]`` for ``R`` packed runs whose batches are the
    samples laid out run-major (as :class:`snnlib.events.exact.SpikeLayer`)."""

    @staticmethod
    def forward(ctx, in_times, weights, theta, tau, t_max, K, row_len=None):
        B, N_in, K_in = in_times.shape
        N = weights.shape[-2]
        dev = in_times.device
        ev_t, ev_src, ev_flat, ev_x, n_ev = sort_events(in_times, t_max, tau, row_len)
        W3 = weights.detach().unsqueeze(0) if weights.dim() == 2 else weights.detach()
        Wt = W3.transpose(1, 2).to(torch.float64).contiguous()  # [R, N_in, N]
        run = run_index(B, Wt.shape[0], dev)
        out_t = torch.full((B, N, K), math.inf, dtype=torch.float64, device=dev)
        cnt = torch.zeros((B, N), dtype=torch.int32, device=dev)
        log_j = torch.zeros((B, N, K), dtype=torch.int32, device=dev)
        log_I = torch.zeros((B, N, K), dtype=torch.float64, device=dev)
        log_x = torch.ones((B, N, K), dtype=torch.float64, device=dev)
        eps_round = 4.0 * float(torch.finfo(in_times.dtype).eps)
        tpb = _tpb()
        if B and N:
            fwd, _ = _kernels(tpb)
            _launch(fwd, (-(-N // tpb), B), tpb, out_t, ev_t, ev_src, ev_x, n_ev, run, Wt, theta, tau, K,
                    eps_round, out_t, cnt, log_j, log_I, log_x)
        ctx.save_for_backward(log_j, log_I, log_x, cnt, ev_src, ev_flat, ev_x, n_ev, run, Wt)
        ctx.consts = (theta, tau, (B, N_in, K_in), weights.dtype, weights.dim() == 2)
        counts = cnt.to(torch.int64)
        ctx.mark_non_differentiable(counts)
        return out_t.to(in_times.dtype), counts

    @staticmethod
    def backward(ctx, grad_out, _grad_counts):
        log_j, log_I, log_x, cnt, ev_src, ev_flat, ev_x, n_ev, run, Wt = ctx.saved_tensors
        theta, tau, (B, N_in, K_in), w_dtype, single = ctx.consts
        N = Wt.shape[2]
        g = grad_out.detach().to(torch.float64).contiguous()
        need_in = bool(ctx.needs_input_grad[0])
        dWt = torch.zeros_like(Wt)
        g_in = g.new_zeros((B, N_in * K_in) if need_in else (1, 1))
        tpb = _tpb()
        if B and N and ev_x.shape[1] > 1:
            _, bwd = _kernels(tpb)
            _launch(bwd, (-(-N // tpb), B), tpb, g, g, log_j, log_I, log_x, cnt, ev_src, ev_flat, ev_x, n_ev, run,
                    Wt, theta, tau, GRAZING_EPS, need_in, dWt, g_in)
        dW = None
        if ctx.needs_input_grad[1]:
            dW = dWt.transpose(1, 2).to(w_dtype)
            dW = dW[0] if single else dW
        gi = g_in.reshape(B, N_in, K_in).to(grad_out.dtype) if need_in else None
        return gi, dW, None, None, None, None, None


def spike_layer_cuda(in_times: Tensor, weights: Tensor, theta: float, tau: float, t_max: float, K: int,
                     row_len: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """``(times [B, N, K], counts [B, N])`` of one exact layer on the GPU (arguments already checked
    by :func:`snnlib.events.layer.event_layer`, which calls this for ``backend="cuda"``); ``weights
    [R, N, N_in]``: ``R`` packed runs, the ``B`` samples laid out run-major (:class:`_SpikeLayerCUDA`)."""
    if not supports(in_times):
        raise RuntimeError("the CUDA spike-time kernels need CUDA tensors and a GPU numba can use "
                           "(or CPU tensors under NUMBA_ENABLE_CUDASIM=1)")
    return _SpikeLayerCUDA.apply(in_times, weights, theta, tau, t_max, K, row_len)
