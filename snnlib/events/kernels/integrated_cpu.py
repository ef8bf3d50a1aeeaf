"""Numba kernels of :mod:`snnlib.events.integrated` (numerically integrated event layers, CPU).

They compute what :func:`snnlib.events.reference.simulate_layer` computes for a grid integrator (its
pure-PyTorch path is the reference they are tested against), in float64 whatever the
storage dtype. See :mod:`snnlib.events.integrated` for the maths of the two backward passes.

**Step propagator.** Parker-Sochacki of order ``k`` (:mod:`snnlib.model.integrators`) is the
degree-``k`` Taylor polynomial of the exact flow, and the model is linear, so a piece of
trajectory of length ``L`` from ``(v, i)`` is::

    v(L) = a(L) v + b(L) i,   i(L) = c(L) i,
    a = sum_j alpha_j L^j,  b = sum_j beta_j L^j,  c = sum_j gamma_j L^j,

with ``alpha, beta, gamma`` the PS coefficients of the unit states (``coefficients``). The
step polynomial of :mod:`snnlib.model.crossing` is ``V(s) = a(s) v + b(s) i`` and its slope
``a'(s) v + b'(s) i``. A full step costs two multiply-adds per neuron, and the crossing test
``V(h) >= theta`` (or ``V(0) >= theta`` for the interpolating rules) is exact, so only neurons
that spike in a step take the slow path (:func:`_neuron_step`, which mirrors
:func:`snnlib.model.crossing.step_with_spikes`: locate, move, reset, continue over the rest).

**Integration points** of a sample: the grid ``dt, 2 dt, ..., t_max`` merged with the
(delivered) input times; coincident times are one point. The step that ends at a point is
integrated with spikes, then the inputs delivered there are added to ``I``.

**Backward** (:func:`snnlib.events.kernels.integrated_adjoint.adjusted_backward`): when a gradient is
needed the forward records the integration points and, for every (step, neuron) with spikes,
the step polynomials' values and derivatives at each crossing and at the last piece and the
crossing's derivatives (:func:`_neuron_step_rec`; and, only when the input times need a
gradient, every neuron's state at every point); one reverse sweep per sample then carries the
adjoint ``(lambda_v, lambda_i)`` of every neuron and the time gradient of every integration
point, without re-running any step.

Inputs and weights may be float32 (read as float64: exact); spike times are written in the
output array's dtype (one rounding).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

_OPTS = dict(cache=True, error_model="numpy", nogil=True)
SNAP, LINEAR, NEWTON = 0, 1, 2
RULES = {"snap": SNAP, "linear": LINEAR, "newton": NEWTON}
_EPS = 2.220446049250313e-16


def coefficients(order, tau: float, tau_s: float):
    """The step propagator as kernel arguments ``(cf, pr)``.

    ``order`` = ``k``: Parker-Sochacki; ``cf [6, k + 1]`` holds ``alpha, beta, gamma`` (the PS
    recurrence of :func:`snnlib.model.integrators.ps_coefficients` run on the unit states) and the
    coefficients of their derivatives ``a', b', c'`` (zero padded). ``order = None``: the exact
    propagator (:func:`snnlib.model.neuron.propagate`: ``a = exp(-x/tau)``, ``b`` the propagator
    kernel, ``c = exp(-x/tau_s)``). ``pr = [exact, tau, tau_s, 1/tau_s - 1/tau]``."""
    k = 1 if order is None else int(order)
    cf = np.zeros((6, k + 1))
    al, be, ga = cf[0], cf[1], cf[2]
    al[0], ga[0] = 1.0, 1.0
    for j in range(k):
        al[j + 1] = (-al[j] / tau) / (j + 1)
        be[j + 1] = (-be[j] / tau + ga[j]) / (j + 1)
        ga[j + 1] = -ga[j] / (tau_s * (j + 1))
    d = np.arange(1, k + 1, dtype=np.float64)
    cf[3, :k], cf[4, :k], cf[5, :k] = al[1:] * d, be[1:] * d, ga[1:] * d
    pr = np.array([1.0 if order is None else 0.0, tau, tau_s, 1.0 / tau_s - 1.0 / tau])
    return cf, pr


@njit(inline="always", **_OPTS)
def _horner(c, x):
    out = c[c.shape[0] - 1]
    for j in range(c.shape[0] - 2, -1, -1):
        out = out * x + c[j]
    return out


@njit(inline="always", **_OPTS)
def _A(cf, pr, x):
    """``a(x)``: the weight of ``v`` in ``v(x)``."""
    return math.exp(-x / pr[1]) if pr[0] else _horner(cf[0], x)


@njit(inline="always", **_OPTS)
def _B(cf, pr, x):
    """``b(x)``: the weight of ``i`` in ``v(x)`` (exact: :func:`snnlib.model.neuron.propagator_kernel`)."""
    if pr[0]:
        d = pr[3]
        e = math.exp(-x / pr[1])
        return x * e if d == 0.0 else e * (-math.expm1(-x * d)) / d
    return _horner(cf[1], x)


@njit(inline="always", **_OPTS)
def _C(cf, pr, x):
    """``c(x)``: ``i(x) = c(x) i``."""
    return math.exp(-x / pr[2]) if pr[0] else _horner(cf[2], x)


@njit(inline="always", **_OPTS)
def _dA(cf, pr, x):
    return -math.exp(-x / pr[1]) / pr[1] if pr[0] else _horner(cf[3], x)


@njit(inline="always", **_OPTS)
def _dB(cf, pr, x):
    return -_B(cf, pr, x) / pr[1] + _C(cf, pr, x) if pr[0] else _horner(cf[4], x)


@njit(inline="always", **_OPTS)
def _dC(cf, pr, x):
    return -math.exp(-x / pr[2]) / pr[2] if pr[0] else _horner(cf[5], x)


@njit(inline="always", **_OPTS)
def _horner3(cf, r, x):
    """Rows ``r, r + 1, r + 2`` of ``cf`` evaluated at ``x`` as interleaved Horner chains (the same
    operations as :func:`_horner` on each row, so the same values), which overlaps their latencies."""
    m = cf.shape[1] - 1
    a = cf[r, m]
    b = cf[r + 1, m]
    c = cf[r + 2, m]
    for j in range(m - 1, -1, -1):
        a = a * x + cf[r, j]
        b = b * x + cf[r + 1, j]
        c = c * x + cf[r + 2, j]
    return a, b, c


@njit(inline="always", **_OPTS)
def _abc(cf, pr, x):
    """``(a(x), b(x), c(x))``: :func:`_A`, :func:`_B`, :func:`_C` together (:func:`_horner3`)."""
    if pr[0]:
        return _A(cf, pr, x), _B(cf, pr, x), _C(cf, pr, x)
    return _horner3(cf, 0, x)


@njit(inline="always", **_OPTS)
def _ab(cf, pr, x):
    """``(a(x), b(x))`` as :func:`_abc`."""
    if pr[0]:
        return _A(cf, pr, x), _B(cf, pr, x)
    m = cf.shape[1] - 1
    a = cf[0, m]
    b = cf[1, m]
    for j in range(m - 1, -1, -1):
        a = a * x + cf[0, j]
        b = b * x + cf[1, j]
    return a, b


@njit(inline="always", **_OPTS)
def _dabc(cf, pr, x):
    """``(a'(x), b'(x), c'(x))`` as :func:`_abc` (:func:`_dA`, :func:`_dB`, :func:`_dC`)."""
    if pr[0]:
        return _dA(cf, pr, x), _dB(cf, pr, x), _dC(cf, pr, x)
    return _horner3(cf, 3, x)


@njit(inline="always", **_OPTS)
def _safe(slope, eps):
    """The grazing guard of :func:`snnlib.model.crossing.safe_slope`."""
    if slope < 0.0:
        return -max(-slope, eps)
    return max(slope, eps)


@njit(**_OPTS)
def _newton(v, i, rem, f0, fh, theta, cf, pr):
    """Root of ``V(s) - theta`` on ``[0, rem]`` given ``f0 < 0 <= fh``: safeguarded Newton
    from the linear guess, as :func:`snnlib.model.crossing.crossing_newton`."""
    tol = 16.0 * _EPS * rem
    lo, hi = 0.0, rem
    x = rem * (-f0) / (fh - f0)
    for _ in range(60):
        ax, bx = _ab(cf, pr, x)
        dax, dbx, _ = _dabc(cf, pr, x)
        f = ax * v + bx * i - theta
        fp = dax * v + dbx * i
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


@njit(**_OPTS)
def _neuron_step(v, i, h, t_prev, left, rule, zero_reset, theta, cf, pr,
                 r_v, r_i, r_s, r_rem, r_t):
    """One step of length ``h`` of one neuron with at most ``left`` spikes (the rounds of
    :func:`snnlib.model.crossing.step_with_spikes`). Round ``r`` is recorded: start state
    ``(r_v, r_i)``, offset ``r_s`` of its crossing from the round's start, remaining length
    ``r_rem`` and spike time ``r_t``; entry ``n`` (the number of spikes) holds the last
    piece (its start state and length). Returns ``(v, i, n)`` at the end of the step."""
    e = 0.0
    n = 0
    while n < left:
        rem = h - e
        s = math.inf
        if rule != SNAP and v >= theta:
            s = 0.0
        elif rule != SNAP or rem > 0.0:
            Ar, Br = _ab(cf, pr, rem)
            vr = Ar * v + Br * i
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
        sA, sB, sC = _abc(cf, pr, s)
        vs = sA * v + sB * i
        i = sC * i
        v = 0.0 if zero_reset else vs - theta
        e = e + s
        r_t[n] = t_prev + e
        n += 1
    rem = h - e
    r_v[n], r_i[n], r_rem[n] = v, i, rem
    La, Lb, Lc = _abc(cf, pr, rem)
    return La * v + Lb * i, Lc * i, n


@njit(inline="always", **_OPTS)
def _secant_d(v, i, rem, theta, A, Bc, dA, dB, eps):
    """:func:`_secant` from ``A = a(rem)``, ``Bc = b(rem)`` and their derivatives."""
    vr = A * v + Bc * i
    D = rem * _safe((vr - v) / rem, eps) if rem > 0.0 else vr - v
    s = rem * (theta - v) / D
    d_vr = -s / D  # ds / dV(rem)
    d_v = rem * (theta - vr) / (D * D)  # explicit ds / dv (V(rem) held)
    d_rem = s / rem + d_vr * (dA * v + dB * i)
    return s, d_v + d_vr * A, d_vr * Bc, d_rem


@njit(**_OPTS)
def _secant(v, i, rem, theta, cf, pr, eps):
    """Linear-interpolation crossing ``s = rem (theta - v) / (V(rem) - v)`` and its
    derivatives ``(s, ds/dv, ds/di, ds/drem)``; the secant slope ``(V(rem) - v) / rem`` is
    guarded like a crossing slope."""
    return _secant_d(v, i, rem, theta, _A(cf, pr, rem), _B(cf, pr, rem), _dA(cf, pr, rem), _dB(cf, pr, rem), eps)


#: fields of a round's backward record (``rd [R, N_RD]``), see :func:`_neuron_step_rec`
N_RD = 8
#: fields of a recorded step's last piece (``fl_f [F, N_FL]``)
N_FL = 5


@njit(**_OPTS)
def _neuron_step_rec(v, i, h, t_prev, left, rule, zero_reset, theta, cf, pr, eps, r_t, rd, r0, ff):
    """:func:`_neuron_step` (the same arithmetic, so the same spikes to the bit), recording what
    the adjusted backward needs so that it never re-runs the step nor evaluates a polynomial.
    Round ``r`` (crossing offset ``s`` from the round's start state ``(v, i)``, remaining length
    ``rem``) goes to ``rd[r0 + r]``: ``V'(s) = a'(s) v + b'(s) i``, ``I'(s) = c'(s) i``, ``a(s),
    b(s), c(s)`` and the crossing's derivatives ``d1, d2, d3``: ``ds/dv, ds/di, ds/drem`` of the
    secant (``linear``; ``snap``: the secant of the straight-through time, or ``(0, 0, 1)`` where
    the time's gradient goes to the end of the step); ``newton``: the guarded slope ``V'(s)`` in
    ``d1``. Where ``s = 0`` is locally constant (``v >= theta`` already): ``(0, 0, 0)``
    (``newton``: ``d1 = +inf``). The last piece (length ``L`` from the last reset or the step's
    start, state ``(v, i)``) goes to ``ff``: ``a'(L) v + b'(L) i``, ``c'(L) i``, ``a(L), b(L),
    c(L)``. Spike times to ``r_t``; returns ``(v, i, n)`` at the end of the step."""
    e = 0.0
    n = 0
    while n < left:
        rem = h - e
        s = math.inf
        Ar = 0.0
        Br = 0.0
        if rule != SNAP and v >= theta:
            s = 0.0
        elif rule != SNAP or rem > 0.0:
            Ar, Br = _ab(cf, pr, rem)
            vr = Ar * v + Br * i
            if vr >= theta:
                if rule == SNAP:
                    s = rem
                elif rule == LINEAR:
                    s = rem * (theta - v) / (vr - v)
                else:
                    s = _newton(v, i, rem, v - theta, vr - theta, theta, cf, pr)
        if not (s <= rem):
            break
        q = r0 + n
        sA, sB, sC = _abc(cf, pr, s)
        dAs, dBs, dCs = _dabc(cf, pr, s)
        dVs = dAs * v + dBs * i
        rd[q, 0] = dVs
        rd[q, 1] = dCs * i
        rd[q, 2] = sA
        rd[q, 3] = sB
        rd[q, 4] = sC
        d1, d2, d3 = 0.0, 0.0, 0.0
        if rule == SNAP:
            if v < theta and rem > 0.0:
                dAr, dBr, _ = _dabc(cf, pr, rem)
                _, d1, d2, d3 = _secant_d(v, i, rem, theta, Ar, Br, dAr, dBr, eps)
            else:
                d3 = 1.0
        elif s == 0.0 and v >= theta:  # s = 0 locally: no derivative through the crossing
            if rule != LINEAR:
                d1 = math.inf
        elif rule == LINEAR:
            dAr, dBr, _ = _dabc(cf, pr, rem)
            _, d1, d2, d3 = _secant_d(v, i, rem, theta, Ar, Br, dAr, dBr, eps)
        else:
            d1 = _safe(dVs, eps)
        rd[q, 5] = d1
        rd[q, 6] = d2
        rd[q, 7] = d3
        vs = sA * v + sB * i
        i = sC * i
        v = 0.0 if zero_reset else vs - theta
        e = e + s
        r_t[n] = t_prev + e
        n += 1
    rem = h - e
    La, Lb, Lc = _abc(cf, pr, rem)
    dAL, dBL, dCL = _dabc(cf, pr, rem)
    ff[0] = dAL * v + dBL * i
    ff[1] = dCL * i
    ff[2] = La
    ff[3] = Lb
    ff[4] = Lc
    return La * v + Lb * i, Lc * i, n


@njit(inline="always", **_OPTS)
def _free_step(V, I, Vo, Io, flag, row, a, b, c, theta, hpos, interp):
    """Pass 1 of a step (vectorisable): the spike-free step for every neuron (the inputs ``row``
    added), the start states kept in ``Vo, Io``, the neurons that may cross flagged; returns
    their number."""
    nflag = 0
    for n in range(V.shape[0]):
        v = V[n]
        i = I[n]
        Vo[n] = v
        Io[n] = i
        v1 = a * v + b * i
        V[n] = v1
        I[n] = c * i + row[n]
        f = ((v1 >= theta) & hpos) | ((v >= theta) & interp)
        flag[n] = f
        nflag += f
    return nflag


@njit(**_OPTS)
def _simulate(ev_t, ev_src, E, grid, Wt, K, rule, zero_reset, theta, cf, pr, eps,
              out_t, cnt, do_log, log_j, log_n, log_k, log_t,
              record, full, pt_t, pt_lo, pt_grid, fl_ix, fl_f, rd, st_v, st_i):
    """One sample: fills ``out_t [N, K]``, ``cnt [N]`` and the spike log (``do_log``: event
    count ``j`` seen, neuron, index, time; in time order of the steps). With ``record``, for
    the backward: per integration point ``p`` its time, first delivered event and whether it
    is a grid point; one entry per (step, neuron) with spikes in it, in order of ``p`` and of
    the neuron (``fl_ix [F, 5]``: point, neuron, spikes before the step, spikes in it, first
    round in ``rd``; ``fl_f [F, N_FL]``: the last piece) and one row of ``rd [R, N_RD]`` per
    spike (:func:`_neuron_step_rec`); with ``full``, the state of every neuron at the start of every
    step (``st_v, st_i [P, N]``, needed for the time gradients of the points). ``out_t`` may be
    float32 (each time rounded once). Returns ``(P, n_log, n_flagged)``."""
    N = Wt.shape[1]
    V = np.zeros(N)
    I = np.zeros(N)
    Vo = np.empty(N)
    Io = np.empty(N)
    acc = np.zeros(N)
    acc_zero = True
    flag = np.zeros(((N + 7) // 8) * 8, np.uint8)
    words = flag.view(np.uint64)  # the scan for flagged neurons skips 8 at a time
    interp = rule != SNAP
    r_v, r_i, r_s, r_rem, r_t = np.empty(K + 1), np.empty(K + 1), np.empty(K + 1), np.empty(K + 1), np.empty(K + 1)
    t_prev = 0.0
    ie = 0
    ig = 0
    p = 0
    nl = 0
    nf = 0
    nr = 0
    G = grid.shape[0]
    while True:
        tg = grid[ig]
        te = ev_t[ie] if ie < E else math.inf
        is_grid = tg <= te
        tp = tg if is_grid else te
        h = tp - t_prev
        j0 = ie
        while ie < E and ev_t[ie] == tp:
            ie += 1
        if record:
            pt_t[p] = tp
            pt_grid[p] = is_grid
            pt_lo[p] = j0
        if full:
            for n in range(N):
                st_v[p, n] = V[n]
                st_i[p, n] = I[n]
        # the inputs delivered at tp (added after the step), summed as the reference does (in
        # float64 whatever Wt's dtype); a lone input's row is read in place
        hpos = interp or h > 0.0
        a, b, c = _abc(cf, pr, h)
        if ie - j0 == 1:
            nflag = _free_step(V, I, Vo, Io, flag, Wt[ev_src[j0]], a, b, c, theta, hpos, interp)
        else:
            if ie == j0:
                if not acc_zero:
                    acc[:] = 0.0
                    acc_zero = True
            else:
                src = ev_src[j0]
                for n in range(N):
                    acc[n] = Wt[src, n]
                for e in range(j0 + 1, ie):
                    src = ev_src[e]
                    for n in range(N):
                        acc[n] += Wt[src, n]
                acc_zero = False
            nflag = _free_step(V, I, Vo, Io, flag, acc, a, b, c, theta, hpos, interp)
        # pass 2: neurons that spike in the step, redone with the spike rule
        if nflag > 0:
            for w in range(words.shape[0]):
                if words[w] == 0:
                    continue
                for n in range(8 * w, min(8 * w + 8, N)):
                    if not flag[n]:
                        continue
                    flag[n] = 0
                    k0 = cnt[n]
                    if k0 >= K:
                        continue
                    v, i = Vo[n], Io[n]
                    if record:
                        v1, i1, ns = _neuron_step_rec(v, i, h, t_prev, K - k0, rule, zero_reset, theta, cf, pr,
                                                      eps, r_t, rd, nr, fl_f[nf])
                        fl_ix[nf, 0] = p
                        fl_ix[nf, 1] = n
                        fl_ix[nf, 2] = k0
                        fl_ix[nf, 3] = ns
                        fl_ix[nf, 4] = nr
                        nr += ns
                        nf += 1
                    else:
                        v1, i1, ns = _neuron_step(v, i, h, t_prev, K - k0, rule, zero_reset, theta, cf, pr,
                                                  r_v, r_i, r_s, r_rem, r_t)
                    for r in range(ns):
                        out_t[n, k0 + r] = r_t[r]
                        if do_log:
                            log_j[nl] = j0
                            log_n[nl] = n
                            log_k[nl] = k0 + r
                            log_t[nl] = r_t[r]
                            nl += 1
                    cnt[n] = k0 + ns
                    V[n] = v1
                    I[n] = i1 + (Wt[ev_src[j0], n] if ie - j0 == 1 else acc[n])
        p += 1
        t_prev = tp
        if is_grid:
            ig += 1
            if ig == G:
                break
    if record:
        pt_lo[p] = ie
    return p, nl, nf


@njit(parallel=True, **_OPTS)
def forward(ev_t, ev_src, n_ev, grid, Wt, K, rule, zero_reset, theta, cf, pr, eps,
            out_t, cnt, do_log, log_j, log_n, log_k, log_t, n_log,
            record, full, n_pt, pt_t, pt_lo, pt_grid, n_fl, fl_ix, fl_f, rd, st_v, st_i):
    """All samples (in parallel): ``out_t [B, N, K]`` (``+inf`` padded), ``cnt [B, N]``, with
    ``do_log`` the spike log ``[B, N K]`` (``n_log [B]`` entries), with ``record`` what
    :func:`adjusted_backward` needs (``[B, ...]`` rows of :func:`_simulate`'s arrays; ``n_pt``,
    ``n_fl``: points and flagged entries per sample)."""
    B = ev_t.shape[0]
    for b in prange(B):
        P, nl, nf = _simulate(ev_t[b], ev_src[b], n_ev[b], grid, Wt, K, rule, zero_reset, theta,
                              cf, pr, eps, out_t[b], cnt[b], do_log, log_j[b], log_n[b],
                              log_k[b], log_t[b], record, full, pt_t[b], pt_lo[b], pt_grid[b],
                              fl_ix[b], fl_f[b], rd[b], st_v[b], st_i[b])
        n_log[b] = nl
        n_pt[b] = P
        n_fl[b] = nf


@njit(parallel=True, **_OPTS)
def piggyback_log(log_j, log_n, log_t, n_log, ev_t, ev_src, n_ev, Wt, tau, log_I, log_x):
    """Complete the spike log for BATS's backward (:func:`snnlib.events.kernels.exact_cpu.
    backward_kernel`): the *analytic* current at each spike, ``I(t_k) = sum_{e < j} w x_e^2``
    (``x_e = exp(-(t_k - t_e)/tau)``, ``tau = 2 tau_s``), and the decay ``log_x =
    exp(-(t_k - t_{j-1})/tau)`` from the last input the spike has seen."""
    B = log_j.shape[0]
    N = Wt.shape[1]
    for b in prange(B):
        I = np.zeros(N)
        j = 0  # events added to I so far; I is the current just after event j - 1
        for q in range(n_log[b]):
            jq = log_j[b, q]
            while j < jq:
                src = ev_src[b, j]
                if j > 0:
                    x = math.exp(-(ev_t[b, j] - ev_t[b, j - 1]) / tau)
                    x2 = x * x
                    for n in range(N):  # decay, then add (two roundings, as in two passes)
                        I[n] = I[n] * x2 + Wt[src, n]
                else:
                    for n in range(N):
                        I[n] += Wt[src, n]
                j += 1
            xs = math.exp(-(log_t[b, q] - ev_t[b, jq - 1]) / tau) if jq > 0 else 1.0
            log_x[b, q] = xs
            log_I[b, q] = I[log_n[b, q]] * xs * xs


@njit(parallel=True, **_OPTS)
def deliver(x, row_len, t_max, on_grid, dt, tol, grid, xd):
    """:func:`snnlib.events.grid.delivered_times` of ``x [B, N_in, K_in]`` (any float dtype, read
    as float64) into the float64 ``xd``, for the entries ``k < row_len[b, i]`` (the others are
    padding, never read); ``grid``: :func:`snnlib.events.grid.grid_points` (with ``0``), ``tol``:
    :data:`snnlib.model.discretization.GRID_TOL`. Returns the number of NaN entries among them."""
    nan = np.zeros(x.shape[0], np.int64)
    for b in prange(x.shape[0]):
        nan[b] = _deliver_row(x[b], row_len[b], t_max, on_grid, dt, tol, grid, xd[b])
    return nan.sum()


@njit(**_OPTS)
def _deliver_row(x, row_len, t_max, on_grid, dt, tol, grid, xd):
    z = 0
    G1 = grid.shape[0] - 1
    for i in range(x.shape[0]):
        for k in range(min(row_len[i], x.shape[1])):
            t = np.float64(x[i, k])
            out = math.inf
            if t != t:
                z += 1
            elif on_grid:
                if t < math.inf and t > -math.inf:
                    q = np.ceil(t / dt - tol)
                    if q >= 0.0 and q < G1:
                        out = grid[int(q)]
            elif t >= 0.0 and t < t_max:
                out = t
            xd[i, k] = out
    return z


@njit(**_OPTS)
def all_finite(a):
    """Whether every entry of the 2-d ``a`` is finite (one vectorisable pass)."""
    bad = 0
    for r in range(a.shape[0]):
        for c in range(a.shape[1]):
            x = a[r, c]
            bad |= (x - x) != 0.0
    return bad == 0


@njit(**_OPTS)
def transpose_into(src, dst):
    """``dst[:] = src.T`` (``dst`` in its own dtype, rounded once), in strips of 8 rows."""
    R, C = src.shape
    for r0 in range(0, R - 7, 8):
        for c in range(C):
            for r in range(r0, r0 + 8):
                dst[c, r] = src[r, c]
    for r in range((R // 8) * 8, R):
        for c in range(C):
            dst[c, r] = src[r, c]
