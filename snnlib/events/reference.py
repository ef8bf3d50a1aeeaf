"""Event-driven CuBa-LIF layers: spike trains in, spike trains out.

Spike trains are padded tensors ``[B, N, K]`` of times in ms, sorted along
``K``, ``+inf`` after the last spike, with counts ``[B, N]``.

A layer simulates ``N_out`` neurons (:mod:`snnlib.model.neuron`) driven by
``W [N_out, N_in]`` over the window ``[t0, t_max]``, vectorised over batch
and neurons with a Python loop over *integration points* (time-ordered):

* ``integrator="exact"``: the points are the input times only; between them
  the exact flow and the closed-form crossing (``tau = 2 tau_s``), several
  spikes per inter-event interval if need be (BATS, Bacho & Chu 2023).
* ``"euler"`` / ``"ps"`` (order ``k``): the points are the grid
  ``t0 + n dt`` (the last step ends at ``t_max``) and, with ``input="exact"``,
  also the input times: a step is split at an input, integrated to it with the
  step polynomial, the weight added, and continued (seed 001, Fig. 2). With
  ``input="grid"`` an input at ``t`` is delivered at the end of the step that
  contains it, ``t0 + ceil((t - t0)/dt) dt`` (inputs rounded up to the grid,
  as in seed 000's discretized BATS). ``input="grid"`` also works with
  ``"exact"``: exact dynamics of grid-rounded inputs.

At each point: the step that ends there is integrated with spikes
(:func:`snnlib.model.crossing.step_with_spikes`, spike rule ``snap`` / ``linear`` /
``newton``; ``snap`` checks ``V >= theta`` at every point, input times
included, and emits at most one spike per point), then the inputs delivered
there are added to ``I``. Inputs are
taken when delivered in ``[t0, t_max)``; spikes are recorded in
``[t0, t_max]``; the state returned is the state at ``t_max`` before the
inputs at ``t_max``. So ``[0, T]`` equals ``[0, T/2]`` then ``[T/2, T]`` with
the state carried (chunk invariance; on a grid ``T/2`` must be a grid point).

``max_spikes``: a neuron that has emitted ``K`` spikes in a call is silenced
for the rest of that call: later crossings are neither located nor recorded
(so also not reset), which bounds the work like BATS' spike buffer. Counts
are therefore ``<= K``. Any weights can be run under any integrator.

Autograd: the forward is made of differentiable tensor ops, and autograd
gives the spike-time derivatives with respect to the weights (tested against
finite differences for ``"exact"``). Input times that coincide are merged into
one integration point, so the derivative with respect to *one* of several
coincident input times is not separated; training schemes that need it build
on :func:`snnlib.model.crossing.implicit_gradient` instead. Cost: one Python
iteration per distinct integration point (O(distinct input times + T/dt)).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Optional, Sequence, Union

import torch
from torch import Tensor

from snnlib.model.crossing import step_with_spikes
from snnlib.model.discretization import Discretization, grid_index, grid_steps
from snnlib.model.integrators import Exact, get_integrator, poly_eval
from snnlib.model.neuron import CubaState, NeuronParams, propagate

__all__ = ["LayerResult", "NeuronTrace", "simulate_layer", "layer_forward", "network_forward", "simulate_neuron"]

class LayerResult(NamedTuple):
    """``times [B, N, K]`` (ms, sorted, +inf padded), ``counts [B, N]`` (int64),
    ``state``: :class:`~snnlib.model.neuron.CubaState` ``[B, N]`` at ``t_max``."""

    times: Tensor
    counts: Tensor
    state: CubaState


class NeuronTrace(NamedTuple):
    """Dense trace of one neuron: ``t [R]`` (ms), ``V [R]``, ``I [R]``,
    ``spikes [n]`` (ms) and ``points [P]`` (ms): where pieces of trajectory
    start (grid points, input times, split points and spike times)."""

    t: Tensor
    V: Tensor
    I: Tensor
    spikes: Tensor
    points: Tensor


def _grid(t0: float, t_max: float, dt: float) -> list[float]:
    """``[t0, t0 + dt, ..., t_max]``; the last step is shorter if dt does not divide."""
    if not (dt is not None and math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive finite step in ms, got {dt!r}")
    n = grid_steps(t_max - t0, dt)
    return [t0 + i * dt for i in range(n)] + [t_max]


def _points(in_times: Tensor, weights: Tensor, t0: float, t_max: float, grid: Optional[list[float]], dt,
            input: str, grid_points: bool):
    """Integration points ``[B, G]`` (sorted; padded with ``t_max``) and the
    summed input weights delivered at each ``[B, G, N_out]``. ``grid`` is
    needed for ``input="grid"``; ``grid_points`` adds its points (grid
    integrators)."""
    B, N_in, K_in = in_times.shape
    dtype, device = weights.dtype, weights.device
    t = in_times.to(device=device, dtype=dtype).reshape(B, N_in * K_in)
    src = torch.arange(N_in, device=device).repeat_interleave(K_in).expand(B, -1)
    finite = torch.isfinite(t)
    if input == "grid":
        g = torch.tensor(grid, dtype=dtype, device=device)
        n = grid_index(t.double() - t0, dt)  # on-grid times stay put
        valid = finite & (n >= 0) & (n < len(grid) - 1)
        t = g[torch.where(valid, n, torch.zeros_like(n)).long()]
    elif input == "exact":
        valid = finite & (t >= t0) & (t < t_max)
    else:
        raise ValueError(f"input must be 'exact' or 'grid', got {input!r}")
    t = torch.where(valid, t, torch.full_like(t, math.inf))
    src = torch.where(valid, src, torch.full_like(src, N_in))
    if grid_points:
        gp = torch.tensor(grid[1:], dtype=dtype, device=device).expand(B, -1)
        t = torch.cat([gp, t], 1)
        src = torch.cat([torch.full_like(gp, N_in, dtype=torch.long), src], 1)
    t, order = torch.sort(t, dim=1, stable=True)
    src = src.gather(1, order)
    new = torch.ones_like(t, dtype=torch.bool)
    new[:, 1:] = t[:, 1:] != t[:, :-1]
    gid = torch.cumsum(new.long(), 1) - 1
    fin = torch.isfinite(t)
    G = int(gid.masked_fill(~fin, -1).max().item()) + 1 if bool(fin.any()) else 0
    gid = torch.where(fin, gid, torch.full_like(gid, G))  # column G: a bin for the unused entries
    times = torch.full((B, G + 1), t_max, dtype=dtype, device=device)
    times = times.scatter(1, gid, torch.where(fin, t, torch.full_like(t, t_max)))[:, :G]
    # per-event rows of W^T (zero row for "no input"), summed per point
    Wt = torch.cat([weights.t(), torch.zeros_like(weights[:, :1]).t()], 0)
    flat = (torch.arange(B, device=device)[:, None] * G + gid.clamp(max=max(G - 1, 0))).reshape(-1)
    keep = (fin & (src < N_in)).reshape(-1)
    deltas = torch.zeros(B * G, weights.shape[0], dtype=dtype, device=device)
    deltas = deltas.index_add(0, flat[keep], Wt[src.reshape(-1)[keep]])
    return times, deltas.reshape(B, G, weights.shape[0])


def _resolve(d: Discretization, t0, t_max):
    """``(integrator, rule, grid or None)`` of a discretization over ``[t0, t_max]``."""
    if not isinstance(d, Discretization):
        raise TypeError(f"discretization must be a snnlib.model.discretization.Discretization, got {type(d).__name__}")
    if not t_max >= t0:
        raise ValueError(f"need t_max >= t0, got t0={t0}, t_max={t_max}")
    integ = get_integrator(d.integrator, None if d.integrator == "exact" else d.order)
    rule = "exact" if d.is_exact else d.spike_rule
    grid = _grid(t0, t_max, d.dt) if (not d.is_exact or d.input == "grid") else None
    return integ, rule, grid


def simulate_layer(
    in_times: Tensor,
    weights: Tensor,
    params: NeuronParams,
    *,
    t_max: float,
    max_spikes: int,
    discretization: Discretization = Discretization(),
    t0: float = 0.0,
    state: Optional[CubaState] = None,
    on_piece: Optional[Callable[[Tensor, Tensor, Tensor, Tensor], None]] = None,
) -> LayerResult:
    """Simulate one layer over ``[t0, t_max]`` (ms); see the module docstring.

    Args:
        in_times: ``[B, N_in, K_in]`` input spike times (ms), ``+inf`` padded.
        weights: ``[N_out, N_in]``; dtype/device of the computation (promoted
            with ``in_times``).
        params: neuron parameters (``tau = 2 tau_s`` for ``"exact"``).
        t_max: end of the window (ms). max_spikes: ``K``, spikes kept per neuron.
        discretization: integrator, order, step ``dt``, spike rule and input
            handling (:class:`~snnlib.model.discretization.Discretization`; default:
            the exact event-driven network).
        t0, state: start of the window and the ``[B, N_out]`` state there
            (default rest).
        on_piece: ``f(t_start [B, N], V, I, length)`` for every spike-free
            piece of trajectory (used by :func:`simulate_neuron`).
    Returns:
        :class:`LayerResult` ``(times [B, N_out, K], counts [B, N_out], state)``.
    """
    dtype = torch.promote_types(in_times.dtype, weights.dtype)
    weights = weights.to(dtype)
    B, N_out, K = in_times.shape[0], weights.shape[0], int(max_spikes)
    if in_times.dim() != 3 or in_times.shape[1] != weights.shape[1]:
        raise ValueError(f"in_times must be [B, N_in, K_in] with N_in={weights.shape[1]}, got {tuple(in_times.shape)}")
    if K < 1:
        raise ValueError(f"max_spikes must be >= 1, got {max_spikes!r}")
    d = discretization
    integ, rule, grid = _resolve(d, t0, t_max)
    # with "exact", a grid (input="grid") only moves the inputs: no grid points
    pts, deltas = _points(in_times, weights, t0, t_max, grid, d.dt, d.input, grid_points=not d.is_exact)
    if state is None:
        z = torch.zeros(B, N_out, dtype=dtype, device=weights.device)
        state = CubaState(z, z.clone())
    else:
        state = CubaState(state.V.to(dtype), state.I.to(dtype))
    out = torch.full((B, N_out, K), math.inf, dtype=dtype, device=weights.device)
    counts = torch.zeros(B, N_out, dtype=torch.long, device=weights.device)
    prev = torch.full((B, 1), float(t0), dtype=dtype, device=weights.device)
    ends = [pts[:, g : g + 1] for g in range(pts.shape[1])] + [torch.full_like(prev, float(t_max))]
    for g, end in enumerate(ends):
        cb = None if on_piece is None else (lambda off, V, I, L, _p=prev: on_piece(_p + off, V, I, L))
        state, rounds = step_with_spikes(state, end - prev, params, integ, rule, budget=K - counts, on_piece=cb)
        for hit, off in rounds:
            idx = counts.clamp(max=K - 1).unsqueeze(-1)
            new = torch.where(hit.unsqueeze(-1), (prev + off).unsqueeze(-1), out.gather(2, idx))
            out = out.scatter(2, idx, new)
            counts = counts + hit.long()
        if g < len(ends) - 1:
            state = CubaState(state.V, state.I + deltas[:, g])
        prev = end
    return LayerResult(out, counts, state)


def layer_forward(in_times: Tensor, weights: Tensor, params: NeuronParams, **kwargs) -> tuple[Tensor, Tensor]:
    """``(out_times [B, N_out, K], counts [B, N_out])`` of one layer; keyword
    arguments as :func:`simulate_layer` (``t_max``, ``max_spikes``,
    ``discretization``, ...)."""
    res = simulate_layer(in_times, weights, params, **kwargs)
    return res.times, res.counts


def network_forward(
    in_times: Tensor,
    weights: Sequence[Tensor],
    params: Union[NeuronParams, Sequence[NeuronParams]],
    *,
    max_spikes: Union[int, Sequence[int]],
    **kwargs,
) -> list[tuple[Tensor, Tensor]]:
    """Chain layers: the output train of layer ``l`` drives layer ``l + 1``.

    ``params`` and ``max_spikes`` are one value or one per layer; the other
    keyword arguments (``t_max``, ``discretization``, ...) are shared. Returns
    ``[(times, counts)]`` for every layer, the last being the output.
    """
    L = len(weights)
    ps = [params] * L if isinstance(params, NeuronParams) else list(params)
    ks = [max_spikes] * L if isinstance(max_spikes, int) else list(max_spikes)
    if len(ps) != L or len(ks) != L:
        raise ValueError(f"need one params / max_spikes per layer ({L})")
    outs, x = [], in_times
    for W, p, k in zip(weights, ps, ks):
        x, c = layer_forward(x, W, p, max_spikes=k, **kwargs)
        outs.append((x, c))
    return outs


def simulate_neuron(
    in_times,
    weights,
    params: NeuronParams,
    t_max: float,
    discretization: Discretization = Discretization(),
    record_dt: float = 0.1,
    *,
    state0: Optional[tuple[float, float]] = None,
    split_points: Sequence[float] = (),
    max_spikes: int = 1000,
) -> NeuronTrace:
    """One neuron with dense traces for plotting (float64).

    ``in_times [M]`` with ``weights [M]`` (one weight per input spike), or
    ``in_times [N_in, K]`` with ``weights [N_in]``. ``state0 = (V0, I0)`` at
    ``t = 0``. ``split_points``: extra integration points (ms) without input;
    they leave the exact flow unchanged but change a PS result, because a
    truncated Taylor step is not a semigroup (seed 001, Fig. 2). Traces are
    the integrator's own continuous extension: the exact flow, or the step
    polynomial between integration points (so with ``snap`` V may exceed
    theta inside a step; with interpolation it does not, seed 001, Fig. 1).
    Recorded every ``record_dt`` ms on ``[0, t_max]``.
    """
    f64 = torch.float64
    x = torch.as_tensor(in_times, dtype=f64)
    w = torch.as_tensor(weights, dtype=f64)
    if x.dim() == 2:  # [N_in, K] with one weight per input neuron
        w = w[:, None].expand_as(x)
    x, w = x.reshape(-1), w.reshape(-1)
    split = torch.as_tensor(list(split_points), dtype=f64).reshape(-1)
    # every input spike (and every split point, weight 0) is its own input line
    x = torch.cat([x, split])[:, None]
    W = torch.cat([w, torch.zeros_like(split)])[None, :]
    n_rec = int(math.floor(t_max / record_dt + 1e-9)) + 1
    rt = torch.arange(n_rec, dtype=f64) * record_dt
    Vr, Ir = torch.full_like(rt, math.nan), torch.full_like(rt, math.nan)
    integ, _, _ = _resolve(discretization, 0.0, t_max)
    starts: list[float] = []

    def record(t_start, V, I, L):
        a, L, V, I = float(t_start), float(L), V.reshape(1), I.reshape(1)
        if L <= 0:
            return
        starts.append(a)
        m = (rt >= a) & (rt < a + L)
        if not bool(m.any()):
            return
        s = rt[m] - a
        if isinstance(integ, Exact):
            v, i = propagate(V, I, s, params)
        else:
            c = integ.coefficients(V, I, params, L)
            v, i = poly_eval(c.cV, s[:, None]), poly_eval(c.cI, s[:, None])
        Vr[m], Ir[m] = v.reshape(-1), i.reshape(-1)

    st = None if state0 is None else CubaState(torch.tensor([[float(state0[0])]], dtype=f64), torch.tensor([[float(state0[1])]], dtype=f64))
    res = simulate_layer(x[None], W, params, t_max=t_max, max_spikes=max_spikes, discretization=discretization,
                         state=st, on_piece=record)
    last = rt >= t_max - 1e-9 * max(1.0, t_max)
    Vr[last], Ir[last] = res.state.V.reshape(-1), res.state.I.reshape(-1)
    spikes = res.times[0, 0, : int(res.counts[0, 0])]
    pts = torch.tensor(sorted(set(starts)), dtype=f64)
    return NeuronTrace(rt, Vr, Ir, spikes, pts)
