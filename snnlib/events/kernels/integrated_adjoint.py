"""The adjusted backward pass of :mod:`snnlib.events.integrated` (numba, CPU): the exact gradient of the
discretized forward of :mod:`snnlib.events.kernels.integrated_cpu`, from what that forward recorded. See
:mod:`snnlib.events.integrated` for the derivation.

The forward recorded, for every (step, neuron) with spikes, the step polynomial's values and
derivatives at each crossing offset and at the last piece, and the crossing's derivatives
(:func:`snnlib.events.kernels.integrated_cpu._neuron_step_rec`), so the reverse sweep evaluates no
polynomial per spike and never re-runs a step: per integration point it is one vectorisable pass
over the neurons (``lambda <- P(h)^T lambda``), then the few neurons with spikes in the step are
overwritten from their recorded rounds (:func:`_spike_adjoint`). The arithmetic is the same as
when the steps were re-run, so the gradients are the same to the bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from snnlib.events.kernels.integrated_cpu import _OPTS, LINEAR, SNAP, _abc, _dabc


@njit(inline="always", **_OPTS)
def _spike_adjoint(a_v, a_i, gn, k0, ns, rd, r0, ff, rule, zero_reset, g_end):
    """The adjoint of one neuron's step with spikes (rounds ``rd[r0:r0 + ns]``, last piece
    ``ff``, ``gn = dL/d out_t[b, n]``) from ``lambda_b = (a_v, a_i)`` at the step's end: returns
    ``lambda_a``, the gradient of the step's start time and ``g_end`` plus the gradient of its
    end time."""
    d = a_v * ff[0] + a_i * ff[1]  # the last piece: from the last spike (or t_prev) to t_p
    g_end += d
    Gt = -d  # dL/d(start time of the piece)
    a_i = ff[3] * a_v + ff[4] * a_i
    a_v = ff[2] * a_v
    for r in range(ns - 1, -1, -1):
        gk = gn[k0 + r]
        if zero_reset:
            a_v = 0.0
        q = r0 + r
        d1, d2, d3 = rd[q, 5], rd[q, 6], rd[q, 7]
        Gs = Gt + a_v * rd[q, 0] + a_i * rd[q, 1]  # dL/ds through the state path
        n_i = rd[q, 3] * a_v + rd[q, 4] * a_i
        n_v = rd[q, 2] * a_v
        if rule == SNAP:  # s = rem: the path moves with t_p; the time is STE (or goes to t_p)
            g_end += Gs
            Ga = Gt - Gs
            n_v += gk * d1
            n_i += gk * d2
            g_end += gk * d3
            Ga += gk - gk * d3
        elif rule == LINEAR:
            Gs += gk
            Ga = Gt + gk
            n_v += Gs * d1
            n_i += Gs * d2
            g_end += Gs * d3
            Ga -= Gs * d3
        else:  # newton: d1 the guarded slope (+inf: no derivative)
            Gs += gk
            Ga = Gt + gk
            n_v -= Gs * rd[q, 2] / d1
            n_i -= Gs * rd[q, 3] / d1
        a_v, a_i, Gt = n_v, n_i, Ga
    return a_v, a_i, Gt, g_end


@njit(parallel=True, **_OPTS)
def adjusted_backward(g, ev_src, ev_flat, Wt, rule, zero_reset, tau_s, cf, pr, need_in, n_chunks,
                      n_pt, pt_t, pt_lo, pt_grid, n_fl, fl_ix, fl_f, rd, st_v, st_i, dWt_parts, g_in):
    """Exact gradient of the discretized forward (:mod:`snnlib.events.integrated`, ``adjusted``) from
    what the forward recorded: ``dWt_parts[c] [N_in, N]`` per chunk of samples (float64) and, with
    ``need_in`` (the forward then recorded the full states), ``g_in [B, N_in K_in]`` (each entry
    written once, in its dtype), from ``g = dL/d out_t [B, N, K]`` (any float dtype)."""
    B, N, _ = g.shape
    for c in prange(n_chunks):
        dWt = dWt_parts[c]
        lv = np.empty(N)
        li = np.empty(N)
        sv = np.empty(N)
        si = np.empty(N)
        mark = np.full(N, -1, np.int64)
        gpt = np.empty(pt_t.shape[1])
        g_sg = np.empty(ev_src.shape[1] + 1)
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
                    if need_in:
                        acc = 0.0
                        for n in range(N):
                            dWt[src, n] += li[n]
                            acc += Wt[src, n] * (lv[n] - li[n] / tau_s)
                        g_sg[e - lo] = -acc  # -lambda . M (w e_I): the exact-flow part
                        S -= acc
                    else:
                        for n in range(N):
                            dWt[src, n] += li[n]
                q_hi = q
                while q >= 0 and fl_ix[b, q, 0] == p:
                    q -= 1
                t_prev = pt_t[b, p - 1] if p > 0 else 0.0
                h = pt_t[b, p] - t_prev
                A, Bc, C = _abc(cf, pr, h)
                if not need_in:
                    # the spike-free step for every neuron (vectorisable), then the neurons with
                    # spikes in it from their recorded rounds (no time gradients needed)
                    for f in range(q + 1, q_hi + 1):
                        n = fl_ix[b, f, 1]
                        sv[f - q - 1] = lv[n]
                        si[f - q - 1] = li[n]
                    for n in range(N):
                        a_v = lv[n]
                        li[n] = Bc * a_v + C * li[n]
                        lv[n] = A * a_v
                    for f in range(q + 1, q_hi + 1):
                        n = fl_ix[b, f, 1]
                        a_v, a_i, _, _ = _spike_adjoint(sv[f - q - 1], si[f - q - 1], g[b, n], fl_ix[b, f, 2],
                                                        fl_ix[b, f, 3], rd[b], fl_ix[b, f, 4], fl_f[b, f],
                                                        rule, zero_reset, 0.0)
                        lv[n] = a_v
                        li[n] = a_i
                    continue
                for f in range(q + 1, q_hi + 1):
                    mark[fl_ix[b, f, 1]] = f
                dA, dB, dC = _dabc(cf, pr, h)
                g_end = 0.0  # dL/dt_p from the step ending at p
                g_start = 0.0  # dL/dt_{p-1}
                for n in range(N):
                    a_v = lv[n]
                    a_i = li[n]
                    f = mark[n]
                    if f < 0:
                        v0 = st_v[b, p, n]
                        i0 = st_i[b, p, n]
                        d = a_v * (dA * v0 + dB * i0) + a_i * (dC * i0)
                        g_end += d
                        g_start -= d
                        lv[n] = A * a_v
                        li[n] = Bc * a_v + C * a_i
                        continue
                    a_v, a_i, Gt, g_end = _spike_adjoint(a_v, a_i, g[b, n], fl_ix[b, f, 2], fl_ix[b, f, 3], rd[b],
                                                         fl_ix[b, f, 4], fl_f[b, f], rule, zero_reset, g_end)
                    g_start += Gt
                    lv[n] = a_v
                    li[n] = a_i
                for f in range(q + 1, q_hi + 1):
                    mark[fl_ix[b, f, 1]] = -1
                gpt[p] += g_end
                if p > 0:
                    gpt[p - 1] += g_start
                if hi > lo:
                    # moving the point moves all its inputs together (gpt[p]); one input alone
                    # moves the exact-flow part g_sg plus an equal share of the rest
                    m = hi - lo + (1 if pt_grid[b, p] else 0)
                    share = (gpt[p] - S) / m
                    for e in range(lo, hi):
                        g_in[b, ev_flat[b, e]] = g_sg[e - lo] + share
