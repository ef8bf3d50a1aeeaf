"""CUDA kernels of :mod:`snnlib.events.kernels.integrated_cuda` (see that module; the maths is in
:mod:`snnlib.events.integrated`). Device functions mirror :mod:`snnlib.events.kernels.integrated_cpu` and
:mod:`snnlib.events.kernels.integrated_adjoint` line for line, one neuron per thread: numba compiles a function
for one target, so the CPU and CUDA versions are two copies of the same code. Change them
together; ``tests/gpu`` compares them (spikes and gradients) under the CUDA simulator."""

from __future__ import annotations

import functools
import math

from numba import cuda, float64

from snnlib.events.kernels.exact_cuda import _block_sum
from snnlib.events.kernels.integrated_cpu import _EPS, LINEAR, SNAP


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
    """As :func:`snnlib.events.kernels.integrated_cpu._newton`."""
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


@cuda.jit(device=True, inline=True)
def _dC(cf, pr, x):
    return -math.exp(-x / pr[2]) / pr[2] if pr[0] else _horner(cf, 5, x)


@cuda.jit(device=True, inline=True)
def _safe(slope, eps):
    """The grazing guard of :func:`snnlib.model.crossing.safe_slope` (``-max(-slope, eps)`` below zero,
    else ``max(slope, eps)``, written out: numba's built-in CUDA target cannot lower a two-argument
    ``max``, and the result must be the same value on every target)."""
    if slope < 0.0:
        return slope if -slope > eps else -eps
    return slope if slope > eps else eps


@cuda.jit(device=True)
def _neuron_step(v, i, h, t_prev, left, rule, zero_reset, theta, cf, pr, r_v, r_i, r_s, r_rem, r_t):
    """:func:`snnlib.events.kernels.integrated_cpu._neuron_step` (the same rounds and records); the forward
    and the adjusted backward's re-run call this one function, so they agree on every spike."""
    e = 0.0
    n = 0
    while n < left:
        rem = h - e
        s = math.inf
        if rule != SNAP and v >= theta:
            s = 0.0
        elif rule != SNAP or rem > 0.0:
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
        r_v[n], r_i[n], r_s[n], r_rem[n] = v, i, s, rem
        vs = _A(cf, pr, s) * v + _B(cf, pr, s) * i
        i = _C(cf, pr, s) * i
        v = 0.0 if zero_reset else vs - theta
        e = e + s
        r_t[n] = t_prev + e
        n += 1
    rem = h - e
    r_v[n], r_i[n], r_rem[n] = v, i, rem
    return _A(cf, pr, rem) * v + _B(cf, pr, rem) * i, _C(cf, pr, rem) * i, n


@cuda.jit(device=True)
def _secant(v, i, rem, theta, cf, pr, eps):
    """:func:`snnlib.events.kernels.integrated_cpu._secant`: ``(ds/dv, ds/di, ds/drem)`` of the linear
    crossing ``s = rem (theta - v) / (V(rem) - v)``."""
    A = _A(cf, pr, rem)
    Bc = _B(cf, pr, rem)
    vr = A * v + Bc * i
    D = rem * _safe((vr - v) / rem, eps) if rem > 0.0 else vr - v
    s = rem * (theta - v) / D
    d_vr = -s / D
    d_v = rem * (theta - vr) / (D * D)
    d_rem = s / rem + d_vr * (_dA(cf, pr, rem) * v + _dB(cf, pr, rem) * i)
    return d_v + d_vr * A, d_vr * Bc, d_rem


@cuda.jit
def _piggyback_log(log_j, log_t, cnt, ev_t, ev_src, Wt, tau, log_I, log_x):
    """Per neuron, :func:`snnlib.events.kernels.integrated_cpu.piggyback_log`: the analytic current
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
def _kernels(K: int, tpb: int):
    """Forward and adjusted-backward kernels for ``K`` spikes per neuron and blocks of ``tpb``
    threads (the rounds of a step are kept in per-thread arrays of ``K + 1``)."""
    KP1 = K + 1  # a local array's size must be a compile-time constant: a closure variable is one

    @cuda.jit
    def forward(ev_t, ev_src, n_ev, grid, Wt, rule, zero_reset, theta, cf, pr, out_t, cnt, log_j,
                record, full, n_pt, pt_t, pt_lo, pt_grid, n_fl, fl_p, fl_k, fl_v, fl_i, st_v, st_i):
        """As :func:`snnlib.events.kernels.integrated_cpu._simulate`, one neuron per thread. ``log_j [B, N, K]``:
        the events each spike has seen (for the piggyback backward); with ``record``, what the
        adjusted backward needs: the points (``n_pt``, ``pt_t``, ``pt_lo``, ``pt_grid``; every
        thread of a sample writes the same values), per neuron the steps with spikes (``n_fl``;
        ``fl_p, fl_k, fl_v, fl_i [B, N, K]``: point, spikes before, state at the step's start)
        and, with ``full``, every neuron's state at every point (``st_v, st_i [B, P, N]``)."""
        n = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
        b = cuda.blockIdx.y
        if n >= Wt.shape[1]:
            return
        r_v = cuda.local.array(KP1, float64)
        r_i = cuda.local.array(KP1, float64)
        r_s = cuda.local.array(KP1, float64)
        r_rem = cuda.local.array(KP1, float64)
        r_t = cuda.local.array(KP1, float64)
        E = n_ev[b]
        G = grid.shape[0]
        interp = rule != SNAP
        v = 0.0
        i = 0.0
        k = 0
        nf = 0
        t_prev = 0.0
        ie = 0
        ig = 0
        p = 0
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
            if record and n == 0:  # the sample's points: one thread writes them
                pt_t[b, p] = tp
                pt_grid[b, p] = is_grid
                pt_lo[b, p] = j0
            if full:
                st_v[b, p, n] = v
                st_i[b, p, n] = i
            v1 = _A(cf, pr, h) * v + _B(cf, pr, h) * i
            hpos = interp or h > 0.0
            if ((v1 >= theta and hpos) or (v >= theta and interp)) and k < K:
                v0, i0 = v, i
                v, i1, ns = _neuron_step(v, i, h, t_prev, K - k, rule, zero_reset, theta, cf, pr,
                                         r_v, r_i, r_s, r_rem, r_t)
                # recorded only with spikes (at most K entries): a flagged step can miss the
                # crossing when the GPU rounds the two evaluations of V(h) differently (fused
                # multiply-adds), and is then a spike-free step for the backward too
                if record and ns > 0:
                    fl_p[b, n, nf] = p
                    fl_k[b, n, nf] = k
                    fl_v[b, n, nf] = v0
                    fl_i[b, n, nf] = i0
                    nf += 1
                for r in range(ns):
                    out_t[b, n, k + r] = r_t[r]
                    log_j[b, n, k + r] = j0
                k += ns
                i = i1 + row
            else:
                v, i = v1, _C(cf, pr, h) * i + row
            p += 1
            t_prev = tp
            if is_grid:
                ig += 1
                if ig == G:
                    break
        cnt[b, n] = k
        if record:
            n_fl[b, n] = nf
            if n == 0:
                pt_lo[b, p] = ie
                n_pt[b] = p

    @cuda.jit
    def adjusted_backward(g, ev_src, Wt, rule, zero_reset, theta, tau_s, cf, pr, grazing_eps, need_in,
                          n_pt, pt_t, pt_lo, n_fl, fl_p, fl_k, fl_v, fl_i, st_v, st_i, dWt, g_sg, gpt):
        """:func:`snnlib.events.kernels.integrated_adjoint.adjusted_backward`, one neuron per thread: adds
        ``dWt [N_in, N]`` and, with ``need_in``, the sums over neurons of the exact-flow part of
        each input's time gradient (``g_sg [B, E]``) and of each point's time gradient
        (``gpt [B, P]``); :func:`_input_gradients` combines them as the CPU kernel does."""
        tid = cuda.threadIdx.x
        n = cuda.blockIdx.x * cuda.blockDim.x + tid
        b = cuda.blockIdx.y
        N = Wt.shape[1]
        own = n < N  # threads past the last neuron still join the block's sums
        red = cuda.shared.array(tpb, float64)
        r_v = cuda.local.array(KP1, float64)
        r_i = cuda.local.array(KP1, float64)
        r_s = cuda.local.array(KP1, float64)
        r_rem = cuda.local.array(KP1, float64)
        r_t = cuda.local.array(KP1, float64)
        lv = 0.0
        li = 0.0
        q = n_fl[b, n] - 1 if own else -1
        for p in range(n_pt[b] - 1, -1, -1):
            for e in range(pt_lo[b, p], pt_lo[b, p + 1]):  # inputs delivered at p: I += W
                src = ev_src[b, e]
                if own and li != 0.0:
                    cuda.atomic.add(dWt, (src, n), li)
                if need_in:
                    acc = _block_sum(red, tid, Wt[src, n] * (lv - li / tau_s) if own else 0.0)
                    if tid == 0 and acc != 0.0:
                        cuda.atomic.add(g_sg, (b, e), -acc)  # -lambda . M (w e_I): the exact-flow part
            t_prev = pt_t[b, p - 1] if p > 0 else 0.0
            h = pt_t[b, p] - t_prev
            g_end = 0.0  # dL/dt_p from the step ending at p
            g_start = 0.0  # dL/dt_{p-1}
            a_v = lv
            a_i = li
            if own and q >= 0 and fl_p[b, n, q] == p:
                k0 = fl_k[b, n, q]
                _, _, ns = _neuron_step(fl_v[b, n, q], fl_i[b, n, q], h, t_prev, K - k0, rule, zero_reset, theta,
                                        cf, pr, r_v, r_i, r_s, r_rem, r_t)
                q -= 1
                L = r_rem[ns]  # the last piece: from the last spike (or t_prev) to t_p
                x_v, x_i = r_v[ns], r_i[ns]
                d = a_v * (_dA(cf, pr, L) * x_v + _dB(cf, pr, L) * x_i) + a_i * (_dC(cf, pr, L) * x_i)
                g_end += d
                Gt = -d  # dL/d(start time of the piece)
                tA, tB, tC = _A(cf, pr, L), _B(cf, pr, L), _C(cf, pr, L)
                a_i = tB * a_v + tC * a_i
                a_v = tA * a_v
                for r in range(ns - 1, -1, -1):
                    gk = g[b, n, k0 + r]
                    if zero_reset:
                        a_v = 0.0
                    x_v, x_i, s, rem = r_v[r], r_i[r], r_s[r], r_rem[r]
                    dVs = _dA(cf, pr, s) * x_v + _dB(cf, pr, s) * x_i
                    dIs = _dC(cf, pr, s) * x_i
                    sA, sB, sC = _A(cf, pr, s), _B(cf, pr, s), _C(cf, pr, s)
                    Gs = Gt + a_v * dVs + a_i * dIs  # dL/ds through the state path
                    n_i = sB * a_v + sC * a_i
                    n_v = sA * a_v
                    if rule == SNAP:  # s = rem: the path moves with t_p; the time is STE
                        g_end += Gs
                        Ga = Gt - Gs
                        if x_v < theta and rem > 0.0:
                            ds_v, ds_i, ds_rem = _secant(x_v, x_i, rem, theta, cf, pr, grazing_eps)
                            n_v += gk * ds_v
                            n_i += gk * ds_i
                            g_end += gk * ds_rem
                            Ga += gk - gk * ds_rem
                        else:
                            g_end += gk
                    else:
                        Gs += gk
                        Ga = Gt + gk
                        if not (s == 0.0 and x_v >= theta):  # else s = 0 locally: no derivative
                            if rule == LINEAR:
                                ds_v, ds_i, ds_rem = _secant(x_v, x_i, rem, theta, cf, pr, grazing_eps)
                                n_v += Gs * ds_v
                                n_i += Gs * ds_i
                                g_end += Gs * ds_rem
                                Ga -= Gs * ds_rem
                            else:
                                slope = _safe(dVs, grazing_eps)
                                n_v -= Gs * sA / slope
                                n_i -= Gs * sB / slope
                    a_v, a_i, Gt = n_v, n_i, Ga
                g_start += Gt
                lv = a_v
                li = a_i
            elif own:
                if need_in:
                    v0 = st_v[b, p, n]
                    i0 = st_i[b, p, n]
                    d = a_v * (_dA(cf, pr, h) * v0 + _dB(cf, pr, h) * i0) + a_i * (_dC(cf, pr, h) * i0)
                    g_end += d
                    g_start -= d
                lv = _A(cf, pr, h) * a_v
                li = _B(cf, pr, h) * a_v + _C(cf, pr, h) * a_i
            if need_in:
                tot = _block_sum(red, tid, g_end)
                if tid == 0 and tot != 0.0:
                    cuda.atomic.add(gpt, (b, p), tot)
                tot = _block_sum(red, tid, g_start)
                if tid == 0 and tot != 0.0 and p > 0:
                    cuda.atomic.add(gpt, (b, p - 1), tot)

    return forward, adjusted_backward
