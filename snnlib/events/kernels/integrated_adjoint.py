"""The adjusted backward pass of :mod:`snnlib.events.integrated` (numba, CPU): the exact gradient of the
discretized forward of :mod:`snnlib.events.kernels.integrated_cpu`, from what that forward recorded. See
:mod:`snnlib.events.integrated` for the derivation."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from snnlib.events.kernels.integrated_cpu import _A, _B, _C, _OPTS, LINEAR, SNAP, _dA, _dB, _dC, _neuron_step, _safe


@njit(**_OPTS)
def _secant(v, i, rem, theta, cf, pr, eps):
    """Linear-interpolation crossing ``s = rem (theta - v) / (V(rem) - v)`` and its
    derivatives ``(s, ds/dv, ds/di, ds/drem)``; the secant slope ``(V(rem) - v) / rem`` is
    guarded like a crossing slope."""
    A = _A(cf, pr, rem)
    Bc = _B(cf, pr, rem)
    vr = A * v + Bc * i
    D = rem * _safe((vr - v) / rem, eps) if rem > 0.0 else vr - v
    s = rem * (theta - v) / D
    d_vr = -s / D  # ds / dV(rem)
    d_v = rem * (theta - vr) / (D * D)  # explicit ds / dv (V(rem) held)
    d_rem = s / rem + d_vr * (_dA(cf, pr, rem) * v + _dB(cf, pr, rem) * i)
    return s, d_v + d_vr * A, d_vr * Bc, d_rem


@njit(parallel=True, **_OPTS)
def adjusted_backward(g, ev_src, ev_flat, grid, Wt, K, rule, zero_reset, theta, tau_s,
                      cf, pr, grazing_eps, need_in, n_chunks,
                      n_pt, pt_t, pt_lo, pt_grid, n_fl, fl_p, fl_n, fl_k, fl_v, fl_i, st_v, st_i,
                      dWt_parts, g_in):
    """Exact gradient of the discretized forward (:mod:`snnlib.events.integrated`, ``adjusted``) from
    what the forward recorded: ``dWt_parts[c] [N_in, N]`` per chunk of samples and, with
    ``need_in`` (the forward then recorded the full states), ``g_in [B, N_in K_in]``, from
    ``g = dL/d out_t [B, N, K]``."""
    B, N, _ = g.shape
    for c in prange(n_chunks):
        dWt = dWt_parts[c]
        lv = np.empty(N)
        li = np.empty(N)
        mark = np.full(N, -1, np.int64)
        gpt = np.empty(pt_t.shape[1])
        g_sg = np.empty(ev_src.shape[1] + 1)
        r_v, r_i, r_s, r_rem, r_t = np.empty(K + 1), np.empty(K + 1), np.empty(K + 1), np.empty(K + 1), np.empty(K + 1)
        for b in range((c * B) // n_chunks, ((c + 1) * B) // n_chunks):
            P = n_pt[b]
            lv[:] = 0.0
            li[:] = 0.0
            gpt[:P] = 0.0
            q = n_fl[b] - 1
            for p in range(P - 1, -1, -1):
                lo, hi = pt_lo[b, p], pt_lo[b, p + 1]
                S = 0.0
                for e in range(lo, hi):  # inputs delivered at p: I += W (lambda_i unchanged)
                    src = ev_src[b, e]
                    acc = 0.0
                    for n in range(N):
                        dWt[src, n] += li[n]
                        if need_in:
                            acc += Wt[src, n] * (lv[n] - li[n] / tau_s)
                    g_sg[e - lo] = -acc  # -lambda . M (w e_I): the exact-flow part
                    S -= acc
                q_hi = q
                while q >= 0 and fl_p[b, q] == p:
                    mark[fl_n[b, q]] = q
                    q -= 1
                t_prev = pt_t[b, p - 1] if p > 0 else 0.0
                h = pt_t[b, p] - t_prev
                A = _A(cf, pr, h)
                Bc = _B(cf, pr, h)
                C = _C(cf, pr, h)
                dA = _dA(cf, pr, h)
                dB = _dB(cf, pr, h)
                dC = _dC(cf, pr, h)
                g_end = 0.0  # dL/dt_p from the step ending at p
                g_start = 0.0  # dL/dt_{p-1}
                for n in range(N):
                    a_v = lv[n]
                    a_i = li[n]
                    f = mark[n]
                    if f < 0:
                        if need_in:
                            v0 = st_v[b, p, n]
                            i0 = st_i[b, p, n]
                            d = a_v * (dA * v0 + dB * i0) + a_i * (dC * i0)
                            g_end += d
                            g_start -= d
                        lv[n] = A * a_v
                        li[n] = Bc * a_v + C * a_i
                        continue
                    k0 = fl_k[b, f]
                    _, _, ns = _neuron_step(fl_v[b, f], fl_i[b, f], h, t_prev, K - k0, rule, zero_reset, theta,
                                            cf, pr, r_v, r_i, r_s, r_rem, r_t)
                    # the last piece: from the last spike (or t_prev) to t_p
                    L = r_rem[ns]
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
                                sl, ds_v, ds_i, ds_rem = _secant(x_v, x_i, rem, theta, cf, pr,
                                                                 grazing_eps)
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
                                    sl, ds_v, ds_i, ds_rem = _secant(x_v, x_i, rem, theta, cf, pr,
                                                                     grazing_eps)
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
                    lv[n] = a_v
                    li[n] = a_i
                for qq in range(q + 1, q_hi + 1):
                    mark[fl_n[b, qq]] = -1
                gpt[p] += g_end
                if p > 0:
                    gpt[p - 1] += g_start
                if need_in and hi > lo:
                    # moving the point moves all its inputs together (gpt[p]); one input alone
                    # moves the exact-flow part g_sg plus an equal share of the rest
                    m = hi - lo + (1 if pt_grid[b, p] else 0)
                    share = (gpt[p] - S) / m
                    for e in range(lo, hi):
                        g_in[b, ev_flat[b, e]] = g_sg[e - lo] + share
