"""Numba kernels for the clock-driven CuBa-LIF sequence on CPU (used by :mod:`snnlib.clock.recurrence`,
:mod:`snnlib.clock.raster` and :mod:`snnlib.clock.stepping`).

Each neuron (column ``m`` of the flattened ``[T, M]`` arrays, ``M = B N``) is independent of the
others, so each time step runs in parallel over neurons: the whole sequence in one compiled call
instead of several small tensor operations per step. They compute exactly what the
PyTorch path of :class:`snnlib.clock.recurrence._CubaBPTT` computes (tested to agree).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

SURROGATE_CODES = {"slayer": 0, "arctan": 1, "fast_sigmoid": 2}


@nb.njit(parallel=True, cache=True, fastmath=False)
def cuba_forward(x, u0, v0, alpha, beta, theta, reset_zero, spikes, v_pre, u_end, v_end):
    # time outside, neurons inside: every step reads and writes contiguous rows
    T, M = x.shape
    u = u0.copy()
    v = v0.copy()
    for t in range(T):
        for m in nb.prange(M):
            um = alpha * u[m] + x[t, m]
            vm = beta * v[m] + um
            v_pre[t, m] = vm
            if vm >= theta:
                spikes[t, m] = 1.0
                vm = 0.0 if reset_zero else vm - theta
            else:
                spikes[t, m] = 0.0
            u[m] = um
            v[m] = vm
    u_end[:] = u
    v_end[:] = v


@nb.njit(inline="always")
def _surrogate(x, code, width, scale):
    if code == 0:
        return scale / (2.0 * width) * math.exp(-abs(x) / width)
    if code == 1:
        a = math.pi * width / 2.0 * x
        return scale * (width / 2.0) / (1.0 + a * a)
    d = 1.0 + width * abs(x)
    return scale / (d * d)


@nb.njit(parallel=True, cache=True, fastmath=False)
def cuba_backward(g_s, v_pre, spikes, alpha, beta, theta, reset_zero, code, width, scale,
                  g_u_end, g_v_end, g_x, g_u0, g_v0):
    T, M = g_s.shape
    gv = g_v_end.copy()  # into v after the reset of step t
    gu = g_u_end.copy()  # into u[t] from step t+1 on
    for t in range(T - 1, -1, -1):
        for m in nb.prange(M):
            carry = (1.0 - spikes[t, m]) if reset_zero else 1.0
            gvt = g_s[t, m] * _surrogate(v_pre[t, m] - theta, code, width, scale) + gv[m] * carry
            gut = gvt + gu[m]
            g_x[t, m] = gut
            gu[m] = gut * alpha
            gv[m] = gvt * beta
    g_u0[:] = gu
    g_v0[:] = gv


def forward(x: np.ndarray, u0, v0, alpha, beta, theta, reset_zero):
    T, M = x.shape
    spikes = np.empty_like(x)
    v_pre = np.empty_like(x)
    u_end = np.empty(M, dtype=x.dtype)
    v_end = np.empty(M, dtype=x.dtype)
    cuba_forward(x, u0, v0, x.dtype.type(alpha), x.dtype.type(beta), x.dtype.type(theta), reset_zero,
                 spikes, v_pre, u_end, v_end)
    return spikes, v_pre, u_end, v_end


def backward(g_s, v_pre, spikes, alpha, beta, theta, reset_zero, surrogate, g_u_end, g_v_end):
    T, M = g_s.shape
    g_x = np.empty_like(g_s)
    g_u0 = np.empty(M, dtype=g_s.dtype)
    g_v0 = np.empty(M, dtype=g_s.dtype)
    width = surrogate.resolved_width
    dt = g_s.dtype.type
    cuba_backward(g_s, v_pre, spikes, dt(alpha), dt(beta), dt(theta), reset_zero, SURROGATE_CODES[surrogate.name],
                  dt(width), dt(surrogate.scale), g_u_end, g_v_end, g_x, g_u0, g_v0)
    return g_x, g_u0, g_v0


@nb.njit(cache=True)
def gather_add(dst, dst_rows, src, src_rows):
    """``dst[dst_rows[k]] += src[src_rows[k]]`` for every k, without materialising the gathered rows
    (the sparse projection's forward and weight gradient). Sequential: rows may repeat."""
    for k in range(dst_rows.shape[0]):
        d = dst[dst_rows[k]]
        s = src[src_rows[k]]
        for j in range(d.shape[0]):
            d[j] += s[j]


@nb.njit(cache=True)
def binary_nonzero(x):
    """``(rows, cols)`` of the nonzero entries of a 2-d array, row-major (as ``torch.nonzero``), in
    two passes (count, fill) without the intermediate boolean array."""
    R, C = x.shape
    n = 0
    for r in range(R):
        for c in range(C):
            if x[r, c] != 0:
                n += 1
    rows = np.empty(n, dtype=np.int64)
    cols = np.empty(n, dtype=np.int64)
    k = 0
    for r in range(R):
        for c in range(C):
            if x[r, c] != 0:
                rows[k] = r
                cols[k] = c
                k += 1
    return rows, cols


@nb.njit(parallel=True, cache=True, fastmath=False)
def skip_forward(x, alpha, beta, theta, reset_zero, k, spikes, v_out):
    """Seed 000's step skipping (:func:`snnlib.clock.stepping.skip_sequence`), from rest: the current runs
    every step, the voltage integrates it at kept steps (``n % k == 0``) only, spikes there."""
    T, M = x.shape
    u = np.zeros(M, dtype=x.dtype)
    v = np.zeros(M, dtype=x.dtype)
    for n in range(T):
        kept = n % k == 0
        for m in nb.prange(M):
            um = alpha * u[m] + x[n, m]
            u[m] = um
            if kept:
                vm = beta * v[m] + um
                v_out[n, m] = vm
                if vm >= theta:
                    spikes[n, m] = 1.0
                    vm = 0.0 if reset_zero else vm - theta
                else:
                    spikes[n, m] = 0.0
                v[m] = vm
            else:
                v[m] = beta * v[m] + 0.0  # the kept-only current is 0 here (same rounding as the reference)
                v_out[n, m] = 0.0
                spikes[n, m] = 0.0


@nb.njit(parallel=True, cache=True, fastmath=False)
def skip_backward(g_s, v_out, alpha, beta, theta, k, cpu, code, width, scale, g_x):
    """Both leaky integrators' backward of the fork in one reverse sweep (``cpu``: the CPU kernel,
    else the CUDA kernel; :func:`snnlib.clock.stepping._li_backward`)."""
    T, M = g_s.shape
    gv_next = np.zeros(M, dtype=g_s.dtype)  # voltage integrator's g_in[n+1]
    gu_next = np.zeros(M, dtype=g_s.dtype)  # current integrator's g_in[n+1]
    for n in range(T - 1, -1, -1):
        kept = n % k == 0
        last = n == T - 1
        for m in nb.prange(M):
            g_out = g_s[n, m] * _surrogate(v_out[n, m] - theta, code, width, scale)
            if kept:
                gv = g_out if (cpu or last) else g_out + beta * gv_next[m]
                gu = gv if (cpu or last) else gv + alpha * gu_next[m]
            elif not last:
                gv = gv_next[m] * beta if cpu else gv_next[m]
                gu = gu_next[m] * alpha if cpu else gu_next[m]
            else:
                gv = g_out if cpu else g_out * 0.0
                gu = gv if cpu else gv * 0.0
            g_x[n, m] = gu
            gv_next[m] = gv
            gu_next[m] = gu


def skip(x, alpha, beta, theta, reset_zero, k):
    spikes = np.empty_like(x)
    v_out = np.empty_like(x)
    t = x.dtype.type
    skip_forward(x, t(alpha), t(beta), t(theta), reset_zero, k, spikes, v_out)
    return spikes, v_out


def skip_grad(g_s, v_out, alpha, beta, theta, k, cpu, surrogate):
    g_x = np.empty_like(g_s)
    t = g_s.dtype.type
    skip_backward(g_s, v_out, t(alpha), t(beta), t(theta), k, cpu, SURROGATE_CODES[surrogate.name],
                  t(surrogate.resolved_width), t(surrogate.scale), g_x)
    return g_x
