"""Numba kernels for the clock-driven CuBa-LIF sequence on CPU (used by :mod:`snnlib.clock.recurrence`,
:mod:`snnlib.clock.raster` and :mod:`snnlib.clock.stepping`).

Each neuron (column ``m`` of the flattened ``[T, M]`` arrays, ``M = B N``) is independent of the
others, so the columns are split into blocks of ``CHUNK`` run in parallel, each block running the
whole time loop (its state stays in L1; one parallel region per call, not one per step), its inner
loop over the block's columns a straight loop that LLVM vectorises: the whole sequence in one
compiled call instead of several small tensor operations per step. They compute what the PyTorch
path of :class:`snnlib.clock.recurrence._CubaBPTT` computes (tested to agree: spikes exactly,
gradients to rounding; the SLAYER surrogate's exponential is :func:`exp_neg`, within an ulp).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

SURROGATE_CODES = {"slayer": 0, "arctan": 1, "fast_sigmoid": 2}


# ----------------------------------------------------------------------------------------------
# exp(x) for x <= 0 that LLVM vectorises (numba here has no SVML, so math.exp stays a scalar libm call
# and keeps the backward's loop scalar). Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2
# (ln2 split in a short high part, exact times n, and a low part), a Taylor polynomial for exp(r) in
# Horner form (degree 7 in float32: truncation < 6e-9 relative; degree 13 in float64: < 2e-16), and the
# scaling by 2^n through the exponent bits in two factors 2^(n1) 2^(n2) (n1 = n >> 1), each a normal
# number down to n = -151 (float32) / -1076 (float64), so subnormal results are rounded once, as libm
# does, and arguments below the underflow bound (clamped there) give 0. Accuracy, measured against
# the exact exp over [-110, 0] (tests/clock/test_clock_kernels.py): 1.19 ulp in float32 (computed in float32,
# 8 or 16 lanes), 1.0 ulp in float64 (against numpy's exp).

_F32 = np.float32
_LOG2E_32, _LN2HI_32, _LN2LO_32 = _F32(1.4426950408889634), _F32(0.693359375), _F32(-2.12194440e-4)
_LO_32, _HALF_32, _ONE_32 = _F32(-105.0), _F32(0.5), _F32(1.0)
_C32 = tuple(_F32(1.0 / math.factorial(k)) for k in range(8))
_LOG2E_64, _LN2HI_64, _LN2LO_64 = 1.4426950408889634, 6.93147180369123816490e-01, 1.90821492927058770002e-10
_C64 = tuple(1.0 / math.factorial(k) for k in range(14))


@nb.njit(inline="always")
def _exp_neg_f32(x):
    x = max(x, _LO_32)
    fn = np.floor(x * _LOG2E_32 + _HALF_32)  # np.floor keeps float32 (math.floor gives an int64)
    r = (x - fn * _LN2HI_32) - fn * _LN2LO_32
    c = _C32
    p = c[7]
    p = p * r + c[6]
    p = p * r + c[5]
    p = p * r + c[4]
    p = p * r + c[3]
    p = p * r + c[2]
    p = p * r + c[1]
    p = p * r + c[0]
    # 2^n1 2^n2 (n1 = floor(n / 2)) built in float arithmetic (exact: small integers times 2^23) and
    # one float -> int32 conversion each, no 64-bit integer ops that would halve the vector width
    fn1 = np.floor(fn * _HALF_32)
    s1 = np.int32((fn1 + _F32(127.0)) * _F32(8388608.0)).view(np.float32)
    s2 = np.int32((fn - fn1 + _F32(127.0)) * _F32(8388608.0)).view(np.float32)
    return (p * s1) * s2


@nb.njit(inline="always")
def _exp_neg_f64(x):
    x = max(x, -746.0)
    fn = np.floor(x * _LOG2E_64 + 0.5)
    r = (x - fn * _LN2HI_64) - fn * _LN2LO_64
    c = _C64
    p = c[13]
    p = p * r + c[12]
    p = p * r + c[11]
    p = p * r + c[10]
    p = p * r + c[9]
    p = p * r + c[8]
    p = p * r + c[7]
    p = p * r + c[6]
    p = p * r + c[5]
    p = p * r + c[4]
    p = p * r + c[3]
    p = p * r + c[2]
    p = p * r + c[1]
    p = p * r + c[0]
    fn1 = np.floor(fn * 0.5)
    s1 = np.int64((fn1 + 1023.0) * 4503599627370496.0).view(np.float64)
    s2 = np.int64((fn - fn1 + 1023.0) * 4503599627370496.0).view(np.float64)
    return (p * s1) * s2


def exp_neg(x):
    """``exp(x)`` for ``x <= 0`` (float32 or float64 scalar, computed in that precision): the
    vectorisable exponential of the SLAYER surrogate (use inside compiled code)."""
    raise NotImplementedError("exp_neg is compiled: call it from numba code (or exp_neg_array)")


@nb.extending.overload(exp_neg, inline="always")
def _exp_neg_overload(x):
    if isinstance(x, nb.types.Float) and x.bitwidth == 32:
        return lambda x: _exp_neg_f32(x)
    if isinstance(x, nb.types.Float):
        return lambda x: _exp_neg_f64(x)
    return None


def _one(x):
    """1 in ``x``'s float type (an integer literal would promote float32 arithmetic to float64)."""
    raise NotImplementedError


def _pi(x):
    """pi in ``x``'s float type."""
    raise NotImplementedError


@nb.extending.overload(_one, inline="always")
def _one_overload(x):
    if isinstance(x, nb.types.Float):
        return (lambda x: np.float32(1.0)) if x.bitwidth == 32 else (lambda x: np.float64(1.0))
    return None


@nb.extending.overload(_pi, inline="always")
def _pi_overload(x):
    if isinstance(x, nb.types.Float):
        return (lambda x: np.float32(math.pi)) if x.bitwidth == 32 else (lambda x: np.float64(math.pi))
    return None


@nb.njit(cache=True)
def exp_neg_array(x, out):
    """``out[i] = exp_neg(x[i])`` over 1-d arrays (for the accuracy tests)."""
    for i in range(x.shape[0]):
        out[i] = exp_neg(x[i])


@nb.njit(inline="always")
def _surrogate(x, code, width, scale):
    """The surrogate's derivative at ``x`` in ``x``'s precision (the constants are cast to it)."""
    one = _one(x)
    if code == 0:
        return scale / (width + width) * exp_neg(-abs(x) / width)
    if code == 1:
        a = _pi(x) * width / (one + one) * x
        return scale * (width / (one + one)) / (one + a * a)
    d = one + width * abs(x)
    return scale / (d * d)


#: columns per block of the kernels: each block runs the whole time loop on its columns (the state stays
#: in L1, one parallel region instead of one per step)
CHUNK = 4096


@nb.njit(parallel=True, cache=True, fastmath=False)
def cuba_forward(x, u0, v0, alpha, beta, theta, reset_zero, spikes, v_pre, u_end, v_end, n_cols, emit,
                 max_density):
    """The sequence over ``x [T, M]``; with ``emit``, also the spikes' ``(rows, cols)`` in the
    ``[T M / n_cols, n_cols]`` raster, row-major (what :func:`binary_nonzero` of ``spikes`` returns),
    collected while each block's row is still in L1 instead of two more scans of the raster, and
    ``True``; ``False`` (and empty indices) once a block's spikes exceed ``max_density`` of its
    entries (a projection that will take the dense matmul needs no indices: collection stops there)."""
    T, M = x.shape
    n_chunks = (M + CHUNK - 1) // CHUNK
    counts = np.zeros((n_chunks, T), dtype=np.int64)
    # each block writes its spikes' columns m, step by step, into its own region (capacity: all its
    # entries; the untouched pages of the allocation are never mapped)
    buf = np.empty(T * M + 1 if emit else 0, dtype=np.int64)
    over = np.zeros(n_chunks, dtype=np.bool_)
    for c in nb.prange(n_chunks):
        lo = c * CHUNK
        hi = min(M, lo + CHUNK)
        u = u0[lo:hi].copy()
        v = v0[lo:hi].copy()
        base = T * lo
        k = base
        budget = base + max_density * (T * (hi - lo))
        for t in range(T):
            _forward_row(x[t, lo:hi], alpha, beta, theta, reset_zero, u, v, v_pre[t, lo:hi], spikes[t, lo:hi])
            if emit and not over[c]:  # branchless compaction: write every index, advance past the spikes only
                row = spikes[t, lo:hi]
                k0 = k
                for m in range(hi - lo):
                    buf[k] = lo + m
                    k += row[m] != 0
                counts[c, t] = k - k0
                over[c] = k > budget
        u_end[lo:hi] = u
        v_end[lo:hi] = v
    if not emit or over.any():
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), False
    # merge the blocks' lists into row-major order: step by step, block by block; column m is sample
    # m // n_cols, neuron m % n_cols (tabulated once: no integer division per spike)
    n_b = M // n_cols
    b_of = np.empty(M, dtype=np.int64)
    n_of = np.empty(M, dtype=np.int64)
    for b in range(n_b):
        for i in range(n_cols):
            b_of[b * n_cols + i] = b
            n_of[b * n_cols + i] = i
    n = 0
    for c in range(n_chunks):
        n += counts[c].sum()
    rows = np.empty(n, dtype=np.int64)
    cols = np.empty(n, dtype=np.int64)
    j = 0
    starts = np.empty(n_chunks, dtype=np.int64)
    for c in range(n_chunks):
        starts[c] = T * c * CHUNK
    for t in range(T):
        for c in range(n_chunks):
            k = starts[c]
            r0 = t * n_b
            for i in range(counts[c, t]):
                m = buf[k + i]
                rows[j] = r0 + b_of[m]
                cols[j] = n_of[m]
                j += 1
            starts[c] = k + counts[c, t]
    return rows, cols, True


@nb.njit(inline="always")
def _forward_row(xt, alpha, beta, theta, reset_zero, u, v, vp, sp):
    for m in range(xt.shape[0]):
        um = alpha * u[m] + xt[m]
        vm = beta * v[m] + um
        vp[m] = vm
        if vm >= theta:
            sp[m] = 1.0
            vm = vm - vm if reset_zero else vm - theta
        else:
            sp[m] = 0.0
        u[m] = um
        v[m] = vm


@nb.njit(parallel=True, cache=True, fastmath=False)
def cuba_backward(g_s, v_pre, spikes, alpha, beta, theta, reset_zero, code, width, scale,
                  g_u_end, g_v_end, g_x, g_u0, g_v0):
    T, M = g_s.shape
    n_chunks = (M + CHUNK - 1) // CHUNK
    for c in nb.prange(n_chunks):
        lo = c * CHUNK
        hi = min(M, lo + CHUNK)
        gv = g_v_end[lo:hi].copy()  # into v after the reset of step t
        gu = g_u_end[lo:hi].copy()  # into u[t] from step t+1 on
        for t in range(T - 1, -1, -1):
            _backward_row(g_s[t, lo:hi], v_pre[t, lo:hi], spikes[t, lo:hi], alpha, beta, theta, reset_zero,
                          code, width, scale, gu, gv, g_x[t, lo:hi])
        g_u0[lo:hi] = gu
        g_v0[lo:hi] = gv


@nb.njit(inline="always")
def _backward_row(gs, vp, sp, alpha, beta, theta, reset_zero, code, width, scale, gu, gv, gx):
    # one loop per case, so that each is a straight loop LLVM vectorises
    if code == 0:
        _slayer_row(gs, vp, sp, alpha, beta, theta, reset_zero, 0, width, scale, gu, gv, gx)
    else:
        n = gs.shape[0]
        for m in range(n):
            carry = (_one(sp[m]) - sp[m]) if reset_zero else _one(sp[m])
            gvt = gs[m] * _surrogate(vp[m] - theta, code, width, scale) + gv[m] * carry
            gut = gvt + gu[m]
            gx[m] = gut
            gu[m] = gut * alpha
            gv[m] = gvt * beta


@nb.njit(inline="always")
def _slayer_row(gs, vp, sp, alpha, beta, theta, reset_zero, code, width, scale, gu, gv, gx):
    n = gs.shape[0]
    if reset_zero:
        for m in range(n):
            gvt = gs[m] * _surrogate(vp[m] - theta, code, width, scale) + gv[m] * (_one(sp[m]) - sp[m])
            gut = gvt + gu[m]
            gx[m] = gut
            gu[m] = gut * alpha
            gv[m] = gvt * beta
    else:
        for m in range(n):
            gvt = gs[m] * _surrogate(vp[m] - theta, code, width, scale) + gv[m]
            gut = gvt + gu[m]
            gx[m] = gut
            gu[m] = gut * alpha
            gv[m] = gvt * beta


def forward(x: np.ndarray, u0, v0, alpha, beta, theta, reset_zero, n_cols: int = 0, max_density: float = 1.0):
    """The sequence; with ``n_cols > 0`` also the spikes' ``(rows, cols)`` in the raster reshaped to
    ``[-1, n_cols]`` (as :func:`binary_nonzero`), or ``None`` if not asked or if more than
    ``max_density`` of a block's entries spike (see :func:`cuba_forward`)."""
    T, M = x.shape
    spikes = np.empty_like(x)
    v_pre = np.empty_like(x)
    u_end = np.empty(M, dtype=x.dtype)
    v_end = np.empty(M, dtype=x.dtype)
    rows, cols, ok = cuba_forward(x, u0, v0, x.dtype.type(alpha), x.dtype.type(beta), x.dtype.type(theta),
                                  reset_zero, spikes, v_pre, u_end, v_end, max(int(n_cols), 1), n_cols > 0,
                                  float(max_density))
    return spikes, v_pre, u_end, v_end, ((rows, cols) if ok else None)


def backward(g_s, v_pre, spikes, alpha, beta, theta, reset_zero, surrogate, g_u_end, g_v_end):
    T, M = g_s.shape
    g_x = np.empty_like(g_s)
    g_u0 = np.empty(M, dtype=g_s.dtype)
    g_v0 = np.empty(M, dtype=g_s.dtype)
    code, width = SURROGATE_CODES[surrogate.name], surrogate.resolved_width
    dt = g_s.dtype.type
    cuba_backward(g_s, v_pre, spikes, dt(alpha), dt(beta), dt(theta), reset_zero, code,
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
    n_chunks = (M + CHUNK - 1) // CHUNK
    for c in nb.prange(n_chunks):
        lo = c * CHUNK
        hi = min(M, lo + CHUNK)
        gv_next = np.zeros(hi - lo, dtype=g_s.dtype)  # voltage integrator's g_in[n+1]
        gu_next = np.zeros(hi - lo, dtype=g_s.dtype)  # current integrator's g_in[n+1]
        for n in range(T - 1, -1, -1):
            _skip_backward_row(g_s[n, lo:hi], v_out[n, lo:hi], alpha, beta, theta, n % k == 0, n == T - 1, cpu,
                               code, width, scale, gv_next, gu_next, g_x[n, lo:hi])


@nb.njit(inline="always")
def _skip_backward_row(gs, vo, alpha, beta, theta, kept, last, cpu, code, width, scale, gv_next, gu_next, gx):
    zero = alpha - alpha
    for m in range(gs.shape[0]):
        g_out = gs[m] * _surrogate(vo[m] - theta, code, width, scale)
        if kept:
            gv = g_out if (cpu or last) else g_out + beta * gv_next[m]
            gu = gv if (cpu or last) else gv + alpha * gu_next[m]
        elif not last:
            gv = gv_next[m] * beta if cpu else gv_next[m]
            gu = gu_next[m] * alpha if cpu else gu_next[m]
        else:
            gv = g_out if cpu else g_out * zero
            gu = gv if cpu else gv * zero
        gx[m] = gu
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
    code, width = SURROGATE_CODES[surrogate.name], surrogate.resolved_width
    skip_backward(g_s, v_out, t(alpha), t(beta), t(theta), k, cpu, code, t(width), t(surrogate.scale), g_x)
    return g_x
