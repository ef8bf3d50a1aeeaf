"""Numba kernels of :mod:`snnlib.events.exact` (CPU; see that module for the maths).

Layout and conventions (times in ms; ``tau = 2 tau_s``):

* Events of one sample are the finite input spikes in ``[0, t_max)`` sorted by time
  (stable): ``ev_t [B, E]`` (``+inf`` padded), ``ev_src [B, E]`` (input neuron),
  ``ev_flat [B, E]`` (flat index ``i * K_in + k`` into the padded input), ``n_ev [B]``.
  *Interval* ``j`` of a sample is ``[ev_t[j-1], ev_t[j]]`` (``ev_t[-1] = 0``,
  ``ev_t[E] = t_max``): a spike in interval ``j`` sees the events ``0 .. j-1``.
* Events are sorted by a bucket sort (:func:`sort_events`, ``E`` buckets over
  ``[0, t_max)``), which also gives the interval lengths; ``ev_x = exp(-h/tau)`` is then one
  vectorised numpy call.
* Forward (:func:`forward_kernel`): per sample, events outer and neurons inner, so the
  state update of all ``N`` neurons over an interval is one vectorisable loop
  (``V <- V x + I tau x (1 - x)``, ``I <- I x^2``) with a cheap test for a possible
  crossing: the root ``x+`` of :func:`snnlib.model.neuron.first_crossing` lies in
  ``[x (1 - m), 1 + m]`` (``m = 1e-6``), tested on ``D`` without sqrt or division, or
  ``V >= theta``. It contains the exact condition (``x <= x+ <= 1`` up to the rounding
  rule), so no crossing is missed. The flagged neurons are redone exactly by
  :func:`_exact_interval`, which mirrors :func:`snnlib.model.crossing.step_with_spikes` with the
  closed form of :func:`snnlib.model.neuron.first_crossing` (several spikes per interval, reset to
  ``V = 0``) in the decay variable. Every spike is appended to a per-sample log
  ``(interval j, neuron n, index k)`` (sorted by ``j``), with its current ``I`` (for
  ``dV/dt``) and its decay factor ``xs`` from the start of its interval.
* Backward (:func:`backward_kernel`): per sample, one reverse sweep over the intervals with
  two accumulators per neuron, ``A1 = sum_k mu_k x_k`` and ``A2 = sum_k mu_k x_k^2``
  (``x_k = exp(-(t_k - t)/tau)``, the neuron's later spikes), kept up to a common scale.
  The logged spikes of each interval are injected newest first; each gets its adjoint
  ``mu_k`` there, from ``A1`` (the reset coupling). At each event the weight gradient row
  and the input-time gradient follow from ``A1, A2``.

Everything is computed in float64 whatever the storage dtype. Samples run in parallel
(``prange``); the weight gradient is accumulated in one buffer per chunk of samples, so
results do not depend on the threads' scheduling (only on ``n_chunks``).

**Runs** (packed training, :mod:`snnlib.training.packed`): the kernels take the transposed weights
of ``R`` independent networks, ``Wt [R, N_in, N]``, and a run index per sample, ``run [B]``; each
sample reads its own run's weights. The backward's chunks of samples (:func:`chunk_bounds`) never
straddle two runs: the samples of a packed batch are laid out run-major (``[R, B_r]`` flattened)
and each run is cut into the chunks a separate run of ``B_r`` samples would have, so that the
per-run sums of ``dWt_parts`` equal, bit for bit, the weight gradient of that run alone. One
network is ``R = 1`` (``run`` all zero).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

_OPTS = dict(cache=True, error_model="numpy", nogil=True)
# Relative margins of the conservative crossing test (a superset of the exact test).
_LO, _HI = 1.0 - 1e-6, 1.0 + 1e-6


@njit(**_OPTS)
def count_events(in_times, t_max, row_len):
    """Input spikes in ``[0, t_max)`` per sample ``[B]`` and the number of NaN entries.
    ``row_len [B, N_in]``: entries ``k >= row_len[b, i]`` are known to be padding (a layer's
    own spike counts; else ``K_in``)."""
    B, N_in, K_in = in_times.shape
    out = np.zeros(B, np.int64)
    nan = np.zeros(B, np.int64)
    for b in range(B):
        c = 0
        z = 0
        for i in range(N_in):
            for k in range(row_len[b, i]):
                t = in_times[b, i, k]
                if t >= 0.0 and t < t_max:
                    c += 1
                elif t != t:
                    z += 1
        out[b] = c
        nan[b] = z
    return out, nan.sum()


@njit(**_OPTS)
def _merge_sort(tt, ff, lo, hi):
    """Stable bottom-up merge sort of ``tt[lo:hi]`` carrying ``ff`` (large buckets only)."""
    n = hi - lo
    src_t, src_f = tt[lo:hi].copy(), ff[lo:hi].copy()
    dst_t, dst_f = np.empty_like(src_t), np.empty_like(src_f)
    w = 1
    while w < n:
        for a in range(0, n, 2 * w):
            m, e = min(a + w, n), min(a + 2 * w, n)
            p, q, o = a, m, a
            while p < m and q < e:
                if src_t[q] < src_t[p]:
                    dst_t[o], dst_f[o] = src_t[q], src_f[q]
                    q += 1
                else:
                    dst_t[o], dst_f[o] = src_t[p], src_f[p]
                    p += 1
                o += 1
            while p < m:
                dst_t[o], dst_f[o] = src_t[p], src_f[p]
                p += 1
                o += 1
            while q < e:
                dst_t[o], dst_f[o] = src_t[q], src_f[q]
                q += 1
                o += 1
        src_t, dst_t = dst_t, src_t
        src_f, dst_f = dst_f, src_f
        w *= 2
    tt[lo:hi] = src_t
    ff[lo:hi] = src_f


@njit(parallel=True, **_OPTS)
def sort_events(in_times, t_max, n_ev, E, row_len):
    """Time-sorted events, stable in the flat input order: ``(ev_t, ev_src, ev_flat, ev_h)``
    with ``ev_h [B, E + 1]`` the interval lengths ``ev_t[j] - ev_t[j-1]`` (``j = n_ev``: up to
    ``t_max``; 0 beyond). Bucket sort (``n_ev`` buckets over ``[0, t_max)``; inputs spread in
    time make it O(E)), then a stable sort inside each bucket."""
    B, N_in, K_in = in_times.shape
    ev_t = np.full((B, E + 1), np.inf, dtype=in_times.dtype)
    ev_src = np.zeros((B, E + 1), np.int32)
    ev_flat = np.zeros((B, E + 1), np.int32)
    ev_h = np.zeros((B, E + 1))
    for b in prange(B):
        m = n_ev[b]
        if m == 0:
            ev_h[b, 0] = t_max
            continue
        scale = m / t_max
        start = np.zeros(m + 1, np.int64)
        for i in range(N_in):
            for k in range(row_len[b, i]):
                t = in_times[b, i, k]
                if t >= 0.0 and t < t_max:
                    start[min(int(t * scale), m - 1) + 1] += 1
        for q in range(m):
            start[q + 1] += start[q]
        pos = start[:m].copy()
        tt = np.empty(m, dtype=in_times.dtype)
        ff = np.empty(m, np.int64)
        for i in range(N_in):
            for k in range(row_len[b, i]):
                t = in_times[b, i, k]
                if t >= 0.0 and t < t_max:
                    q = min(int(t * scale), m - 1)
                    tt[pos[q]] = t
                    ff[pos[q]] = i * K_in + k
                    pos[q] += 1
        for q in range(m):  # stable sort inside each bucket (one element, mostly)
            lo, hi = start[q], start[q + 1]
            if hi - lo > 32:
                _merge_sort(tt, ff, lo, hi)
                continue
            for a in range(lo + 1, hi):
                t, f = tt[a], ff[a]
                c = a - 1
                while c >= lo and tt[c] > t:
                    tt[c + 1] = tt[c]
                    ff[c + 1] = ff[c]
                    c -= 1
                tt[c + 1] = t
                ff[c + 1] = f
        prev = 0.0
        for e in range(m):
            ev_t[b, e] = tt[e]
            ev_flat[b, e] = ff[e]
            ev_src[b, e] = ff[e] // K_in if K_in > 1 else ff[e]
            ev_h[b, e] = tt[e] - prev
            prev = tt[e]
        ev_h[b, m] = t_max - prev
    return ev_t, ev_src, ev_flat, ev_h


def chunk_bounds(B: int, R: int, n_chunks: int) -> np.ndarray:
    """``[R n_chunks + 1]`` sample bounds of the backward's chunks for ``R`` runs of ``B`` samples each
    (run-major layout): run ``r``'s chunk ``c`` is samples ``r B + (c B) // n_chunks`` up to
    ``r B + ((c + 1) B) // n_chunks``, the chunks of a separate run of ``B`` samples."""
    c = np.arange(n_chunks + 1, dtype=np.int64)
    per_run = (c * B) // n_chunks
    starts = np.arange(R, dtype=np.int64) * B
    return np.concatenate([(starts[:, None] + per_run[None, :-1]).ravel(), [R * B]]).astype(np.int64)


def sum_parts(dWt_parts: np.ndarray, R: int) -> np.ndarray:
    """``[R, N_in, N]``: the weight gradient of each run from ``dWt_parts [R n_chunks, N_in, N]``
    (:func:`chunk_bounds`), each run's chunks summed exactly as a separate run's."""
    n = dWt_parts.shape[0] // R
    parts = dWt_parts.reshape((R, n) + dWt_parts.shape[1:])
    if n == 1:  # one chunk per run (one thread): the parts are the gradients, no copy
        return parts[:, 0]
    return np.stack([parts[r].sum(0) for r in range(R)])


@njit(inline="always", **_OPTS)
def _exact_interval(b, n, j, v, i, X, t_prev, theta, tau, eps_round, K,
                    out_t, cnt, log_j, log_n, log_k, log_I, log_x, nl):
    """Exact spikes of neuron ``n`` in interval ``j`` (start ``t_prev``, decay factor
    ``X = exp(-h/tau)``) from the state ``(v, i)`` at its start, as
    :func:`snnlib.model.crossing.step_with_spikes` with :func:`snnlib.model.neuron.first_crossing`, but
    in the decay variable ``x = exp(-s/tau)`` (one log per spike, no exp): a crossing at
    ``x`` from the current point lies in the interval iff ``x * xs >= X``. Records each spike
    (time, current ``I`` there, ``xs = exp(-(t_k - t_prev)/tau)``) and returns
    ``(v, i, nl, alive, spiked)`` with the state at the end of the interval."""
    xs = 1.0
    R = X  # decay left to the end of the interval: a crossing at x is in it iff x >= R
    spiked = False
    while True:
        if v >= theta:
            x = 1.0
        else:
            a = i * tau
            bb = v + a
            disc = bb * bb - 4.0 * a * theta
            if not (a > 0.0 and disc >= 0.0 and bb > 0.0):
                break
            r1 = 2.0 * a * R * _LO - bb  # cheap reject: x+ < R (1 - m)  <=>  sqrt(D) < r1
            if r1 > 0.0 and disc < r1 * r1:
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
        i = i * x * x  # I decays as x^2 (tau_s = tau / 2); V = theta is reset to 0
        v = 0.0
        k = cnt[b, n]
        out_t[b, n, k] = t_prev - tau * math.log(xs)
        log_I[b, nl] = i
        log_x[b, nl] = xs
        log_j[b, nl] = j
        log_n[b, nl] = n
        log_k[b, nl] = k
        nl += 1
        cnt[b, n] = k + 1
        spiked = True
        if k + 1 >= K:
            return v, i, nl, False, spiked
    xr = min(R, 1.0)
    return v * xr + i * tau * xr * (1.0 - xr), i * xr * xr, nl, True, spiked


@njit(parallel=True, **_OPTS)
def forward_kernel(ev_t, ev_src, ev_x, n_ev, run, Wts, theta, tau, K, eps_round,
                   out_t, cnt, log_j, log_n, log_k, log_I, log_x, n_log):
    """Fill ``out_t [B, N, K]`` (spike times), ``cnt [B, N]`` and the spike log ``[B, N K]``
    (``n_log [B]`` entries per sample, in the order of the intervals): ``log_j`` (interval),
    ``log_n, log_k`` (neuron, spike index), ``log_I`` (current ``I`` at the spike) and
    ``log_x`` (decay factor from the start of the interval). Log-ordered storage: written
    sequentially, read sequentially by the backward. ``ev_x [B, E + 1]``: decay factor of
    each interval; ``Wts [R, N_in, N]``: the transposed weights of each run (rows contiguous over
    neurons); ``run [B]``: the run of each sample (module docstring)."""
    B = ev_t.shape[0]
    N = Wts.shape[2]
    for b in prange(B):
        Wt = Wts[run[b]]
        V = np.zeros(N)
        I = np.zeros(N)
        Vo = np.zeros(N)
        Io = np.zeros(N)
        flag = np.zeros(((N + 7) // 8) * 8, np.uint8)
        words = flag.view(np.uint64)  # the scan for flagged neurons skips 8 at a time
        alive = np.ones(N, np.bool_)
        nl = 0
        E = n_ev[b]
        t_prev = 0.0
        active = False  # some neuron has a nonzero state
        for j in range(E + 1):
            src = ev_src[b, j] if j < E else 0
            add = 1.0 if j < E else 0.0
            if active and ev_x[b, j] < 1.0:
                x = ev_x[b, j]
                x2 = x * x
                c1 = tau * x * (1.0 - x)
                lo = 2.0 * x * _LO
                hi = 2.0 * _HI
                nf = 0
                for n in range(N):
                    v = V[n]
                    i = I[n]
                    a = i * tau
                    bb = v + a
                    disc = bb * bb - 4.0 * a * theta
                    r1 = a * lo - bb  # root x+ >= x (1 - m)  <=>  sqrt(D) >= r1
                    r2 = a * hi - bb  # root x+ <= 1 + m     <=>  sqrt(D) <= r2
                    f = (v >= theta) | ((a > 0.0) & (bb > 0.0) & (disc >= 0.0)
                                        & ((r1 <= 0.0) | (disc >= r1 * r1))
                                        & (r2 >= 0.0) & (disc <= r2 * r2))
                    f = f & alive[n]
                    flag[n] = f
                    nf += f
                    Vo[n] = v
                    Io[n] = i
                    V[n] = v * x + i * c1
                    I[n] = i * x2 + add * Wt[src, n]
                if nf > 0:
                    for w in range(words.shape[0]):
                        if words[w] == 0:
                            continue
                        for n in range(8 * w, min(8 * w + 8, N)):
                            if flag[n]:
                                v, i, nl, al, sp = _exact_interval(
                                    b, n, j, Vo[n], Io[n], x, t_prev, theta, tau, eps_round, K,
                                    out_t, cnt, log_j, log_n, log_k, log_I, log_x, nl)
                                if sp:
                                    V[n] = v
                                    I[n] = i + add * Wt[src, n]
                                alive[n] = al
            elif j < E:
                for n in range(N):
                    I[n] += Wt[src, n]
            active = active or j < E
            if j < E:
                t_prev = ev_t[b, j]
        n_log[b] = nl


@njit(parallel=True, **_OPTS)
def backward_kernel(g, log_j, log_n, log_k, log_I, log_x, n_log, ev_src, ev_flat, ev_x, n_ev,
                    run, Wts, theta, tau, grazing_eps, need_in, bounds, dWt_parts, g_in):
    """Accumulate ``dWt_parts[c] [N_in, N]`` (chunk ``c``: samples ``bounds[c]`` to ``bounds[c + 1]``,
    all of one run, :func:`chunk_bounds`) and, if ``need_in``, ``g_in [B, N_in K_in]`` from
    ``g = dL/d out_t [B, N, K]``; ``run [B]``, ``Wts [R, N_in, N]`` as in :func:`forward_kernel`.

    One reverse sweep over the intervals per sample. ``A1, A2`` are kept up to a common
    scale (true ``A1 = A1 s``, ``A2 = A2 s^2``) so moving back over an interval costs one
    multiplication, not a pass over the neurons. The spikes of interval ``j`` are injected
    newest first; at spike ``k`` the true ``A1 / xs_k`` is ``sum_{l>k} mu_l x_k(t_l)`` (the
    reset coupling), which gives ``mu_k`` before it is added."""
    B, N, K = g.shape
    r = theta / tau  # reset coupling: dV(t_l)/dt_k = -theta x_k(t_l) / tau
    for c in prange(bounds.shape[0] - 1):
        dWt = dWt_parts[c]
        A1 = np.zeros(N)
        A2 = np.zeros(N)
        for b in range(bounds[c], bounds[c + 1]):
            Wt = Wts[run[b]]
            for n in range(N):
                A1[n] = 0.0
                A2[n] = 0.0
            s = 1.0
            inv_s = 1.0
            E = n_ev[b]
            p = n_log[b] - 1
            nonzero = False
            for j in range(E, 0, -1):
                if nonzero:
                    s *= ev_x[b, j]  # back from the end of interval j to its start
                    if s < 1e-100:
                        s2 = s * s
                        for n in range(N):
                            A1[n] *= s
                            A2[n] *= s2
                        s = 1.0
                    inv_s = 1.0 / s
                while p >= 0 and log_j[b, p] == j:
                    n = log_n[b, p]
                    k = log_k[b, p]
                    xk = log_x[b, p]
                    slope = log_I[b, p] - r  # dV/dt at t_k^-, where V = theta
                    if slope < 0.0:  # the grazing guard of snnlib.model.crossing.safe_slope
                        slope = -max(-slope, grazing_eps)
                    else:
                        slope = max(slope, grazing_eps)
                    mu = -(g[b, n, k] - r * (A1[n] * s / xk)) / slope
                    u = mu * xk * inv_s
                    A1[n] += u
                    A2[n] += u * xk * inv_s
                    nonzero = True
                    p -= 1
                if not nonzero:
                    continue
                src = ev_src[b, j - 1]
                s2 = s * s
                ts, ts2 = tau * s, tau * s2
                for n in range(N):
                    dWt[src, n] += ts * A1[n] - ts2 * A2[n]
                if need_in:
                    acc = 0.0
                    for n in range(N):
                        acc += Wt[src, n] * (s * A1[n] - 2.0 * s2 * A2[n])
                    g_in[b, ev_flat[b, j - 1]] = acc
