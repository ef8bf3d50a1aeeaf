"""Threshold crossings inside one integration step, and their gradient.

Given the step polynomial ``V(s) = sum_j cV_j s^j`` on ``s in [0, h]`` (ms;
:mod:`snnlib.model.integrators`), a *spike rule* returns the crossing offset ``s*``
or ``+inf``:

* ``snap``: ``s* = h`` when ``V(h) >= theta`` (the spike sits on the end of
  the step: grid point or input time). Error ``O(h)`` in the spike time.
* ``linear``: ``s* = h (theta - V(0)) / (V(h) - V(0))`` when
  ``V(0) < theta <= V(h)``. Interpolation error ``O(h^2)``, so with a
  ``k``-th order integrator the spike time error is ``O(h^min(k, 2))``.
* ``newton``: the root of ``V(s) - theta`` on ``[0, h]`` by Newton's method
  safeguarded by bisection (``rtsafe``, Numerical Recipes 9.4), started from the
  linear guess. Spike time error ``O(h^k)`` (that of the integrator).
  Like every grid rule it sees only a sign change over the step: a crossing
  and recrossing within one step is missed; with several roots it returns one
  of them (a step is short against tau, so there is one in practice).
* ``exact``: closed form on the exact flow (:func:`snnlib.model.neuron.first_crossing`).

``snap`` and ``linear`` need only ``V`` at the ends of the step, so they also apply to the exact
flow stepped on a grid (:class:`~snnlib.model.integrators.Exact` with a grid: the spike-rule error
alone, without integration error).

:func:`step_with_spikes` integrates a step with spikes: the state is moved to
``s*`` with the step polynomial (or the exact flow), reset there, and the rest
of the step ``h - s*`` is integrated from the reset state, looking for further
crossings. So with interpolation ``V`` does not end a step above threshold
unless it crosses again (seed 001, Fig. 1).

:func:`implicit_gradient` is the implicit-function derivative of a crossing
time, ``dt*/dp = -(dV/dp) / (dV/dt)`` at ``V(t*, p) = theta``, with the one
guard in the library for grazing crossings (``dV/dt -> 0``).
"""

from __future__ import annotations

import math
from typing import Callable, Optional, Union

import torch
from torch import Tensor

from snnlib.model.integrators import Exact, poly_derivative, poly_eval
from snnlib.model.neuron import CubaState, NeuronParams, first_crossing, propagate

__all__ = [
    "GRAZING_EPS",
    "safe_slope",
    "implicit_gradient",
    "snap_from_values",
    "linear_from_values",
    "crossing_snap",
    "crossing_linear",
    "crossing_newton",
    "SPIKE_RULES",
    "locate_crossing",
    "step_with_spikes",
]

#: Lower bound on ``|dV/dt|`` (V per ms) in :func:`implicit_gradient`. A
#: crossing with ``theta = 1`` and ``tau = 260 ms`` has ``dV/dt = I - 1/260``,
#: of order 1e-3..1e-1 /ms; 1e-6 /ms only acts on true grazing crossings and
#: bounds ``|dt*/dp| <= 1e6 |dV/dp|`` there.
GRAZING_EPS = 1e-6


def safe_slope(dV_dt: Tensor, eps: float = GRAZING_EPS) -> Tensor:
    """``sign(dV/dt) max(|dV/dt|, eps)``, with ``sign(0) = +1`` (the grazing guard)."""
    sign = torch.where(dV_dt < 0, -torch.ones_like(dV_dt), torch.ones_like(dV_dt))
    return sign * torch.clamp(dV_dt.abs(), min=eps)


def implicit_gradient(dV_dp: Tensor, dV_dt: Tensor, eps: float = GRAZING_EPS) -> Tensor:
    """``dt*/dp = -(dV/dp) / (dV/dt)`` at a crossing ``V(t*, p) = theta``.

    ``dV/dp``: partial derivative of the potential at the crossing time with
    respect to a parameter ``p``, holding ``t`` fixed; ``dV/dt``: the slope of
    ``V`` there (``> 0`` for an upward crossing). ``|dV/dt|`` is clamped from
    below by ``eps`` keeping its sign (:func:`safe_slope`) so grazing crossings
    give large but finite gradients. Shapes broadcast.
    """
    return -dV_dp / safe_slope(dV_dt, eps)


def _as_h(h, like: Tensor) -> Tensor:
    return torch.as_tensor(h, dtype=like.dtype, device=like.device).expand_as(like)


def snap_from_values(vh: Tensor, h, theta: float) -> Tensor:
    """``h`` where ``h > 0`` and ``V(h) >= theta``, else ``+inf`` (only the end value matters)."""
    h = _as_h(h, vh)
    return torch.where((h > 0) & (vh >= theta), h, torch.full_like(h, math.inf))


def linear_from_values(v0: Tensor, vh: Tensor, h, theta: float) -> Tensor:
    """Linear interpolation of the crossing between ``V(0) = v0`` and ``V(h) = vh``; 0 where
    ``v0 >= theta`` already, ``+inf`` where ``vh < theta``."""
    h = _as_h(h, v0)
    hit = (v0 < theta) & (vh >= theta)
    den = torch.where(hit, vh - v0, torch.ones_like(v0))
    s = torch.where(hit, h * (theta - v0) / den, torch.full_like(h, math.inf))
    return torch.where(v0 >= theta, torch.zeros_like(s), s)


def crossing_snap(cV: Tensor, h, theta: float) -> Tensor:
    """``h`` where ``h > 0`` and ``V(h) >= theta``, else ``+inf``. ``cV: [..., d+1]``."""
    return snap_from_values(poly_eval(cV, _as_h(h, cV[..., 0])), h, theta)


def crossing_linear(cV: Tensor, h, theta: float) -> Tensor:
    """Linear interpolation of the crossing between ``V(0)`` and ``V(h)``;
    0 where ``V(0) >= theta`` already, ``+inf`` where ``V(h) < theta``."""
    return linear_from_values(cV[..., 0], poly_eval(cV, _as_h(h, cV[..., 0])), h, theta)


def crossing_newton(cV: Tensor, h, theta: float, tol: Optional[float] = None, max_iter: int = 60) -> Tensor:
    """Root of ``V(s) - theta`` on ``[0, h]`` (safeguarded Newton, vectorised).

    The bracket ``[lo, hi]`` always holds ``f(lo) < 0 <= f(hi)``; a Newton step
    that leaves it (or a non-positive slope) is replaced by bisection, so it
    converges for any polynomial with a sign change. Stops when every step is
    below ``tol`` (default ``16 eps h``) or after ``max_iter`` iterations
    (bisection alone reaches ``2^-60 h``). 0 where ``V(0) >= theta``, ``+inf``
    where ``V(h) < theta``.
    """
    h = _as_h(h, cV[..., 0])
    v0 = cV[..., 0]
    f0, fh = v0 - theta, poly_eval(cV, h) - theta
    bracket = (f0 < 0) & (fh >= 0)
    if not bool(bracket.any()):
        out = torch.full_like(h, math.inf)
        return torch.where(f0 >= 0, torch.zeros_like(out), out)
    if tol is None:
        tol = 16.0 * torch.finfo(cV.dtype).eps
        tol_t = tol * h.abs().clamp(min=1e-300)
    else:
        tol_t = torch.full_like(h, tol)
    dc = poly_derivative(cV)
    lo, hi = torch.zeros_like(h), h.clone()
    den = torch.where(bracket, fh - f0, torch.ones_like(f0))
    x = torch.where(bracket, h * (-f0) / den, torch.zeros_like(h))
    for _ in range(max_iter):
        f = poly_eval(cV, x) - theta
        fp = poly_eval(dc, x)
        lo = torch.where(f < 0, x, lo)
        hi = torch.where(f >= 0, x, hi)
        fp_safe = torch.where(fp > 0, fp, torch.ones_like(fp))
        newton = x - f / fp_safe
        ok = (fp > 0) & (newton >= lo) & (newton <= hi)
        x_new = torch.where(ok, newton, 0.5 * (lo + hi))
        done = ((x_new - x).abs() <= tol_t) | ~bracket
        x = torch.where(bracket, x_new, x)
        if bool(done.all()):
            break
    s = torch.where(bracket, x, torch.full_like(h, math.inf))
    return torch.where(f0 >= 0, torch.zeros_like(s), s)


SPIKE_RULES: dict[str, Callable[..., Tensor]] = {
    "snap": crossing_snap,
    "linear": crossing_linear,
    "newton": crossing_newton,
}


def locate_crossing(rule: str, cV: Tensor, h, theta: float) -> Tensor:
    """Crossing offset in ``[0, h]`` by the rule named ``rule``, or ``+inf``."""
    try:
        fn = SPIKE_RULES[rule]
    except KeyError:
        raise ValueError(f"unknown spike_rule {rule!r}; known: {sorted(SPIKE_RULES)}") from None
    return fn(cV, h, theta)


Rounds = list[tuple[Tensor, Tensor]]


def step_with_spikes(
    state: CubaState,
    h: Union[Tensor, float],
    params: NeuronParams,
    integrator,
    rule: str,
    *,
    budget: Optional[Tensor] = None,
    on_piece: Optional[Callable[[Tensor, Tensor, Tensor, Tensor], None]] = None,
    max_rounds: int = 100_000,
) -> tuple[CubaState, Rounds]:
    """Integrate one step of length ``h`` (ms, broadcastable to ``state.V``) with spikes.

    Repeats: locate the first crossing ``s*`` in the remaining step (rule
    ``rule``; ``"exact"`` with :class:`~snnlib.model.integrators.Exact`), move the
    state there (step polynomial, or exact flow), reset (``V`` minus theta or
    zero; on the exact flow ``V(s*) = theta``, so ``V = 0``), and continue over
    the rest of the step. ``budget`` (int tensor like ``V``) is the number of
    spikes each neuron may still emit; a neuron at 0 is not checked (it keeps
    integrating without reset). ``on_piece(offset, V, I, length)`` is called
    for every spike-free piece (for dense traces).

    Returns the state at the end of the step and ``rounds``: a list of
    ``(spiked [bool like V], offset [like V])``, one per spike round, with
    offsets from the start of the step; spikes of one neuron come in order.
    """
    V, I = state
    h = _as_h(h, V)
    exact = isinstance(integrator, Exact)
    closed = exact and rule == "exact"
    if exact and rule not in ("exact", "snap", "linear"):
        raise ValueError(f"the exact integrator locates spikes in closed form ('exact') or on a grid "
                         f"('snap', 'linear'), not with spike_rule={rule!r}")
    if not exact and rule not in SPIKE_RULES:
        raise ValueError(f"unknown spike_rule {rule!r}; known: {sorted(SPIKE_RULES)}")
    theta = params.theta
    elapsed = torch.zeros_like(V)
    left = budget.clone() if budget is not None else None
    rounds: Rounds = []
    for _ in range(max_rounds):
        rem = h - elapsed
        if closed:
            s = first_crossing(V, I, params)
            c = None
        elif exact:  # the exact flow stepped on a grid: the rule sees V at the ends of the step
            vh = propagate(V, I, rem, params)[0]
            s = snap_from_values(vh, rem, theta) if rule == "snap" else linear_from_values(V, vh, rem, theta)
            c = None
        else:
            c = integrator.coefficients(V, I, params, rem)
            s = locate_crossing(rule, c.cV, rem, theta)
        hit = s <= rem
        if left is not None:
            hit = hit & (left > 0)
        if not bool(hit.any()):
            break
        s = torch.where(hit, s, torch.zeros_like(s))
        if on_piece is not None:
            on_piece(elapsed, V, I, torch.where(hit, s, torch.zeros_like(s)))
        if exact:
            Vs, Is = propagate(V, I, s, params)
            if closed:
                Vs = torch.where(hit, torch.full_like(Vs, theta), Vs)
        else:
            Vs, Is = poly_eval(c.cV, s), poly_eval(c.cI, s)
        Vr = Vs - theta if params.reset == "subtract" else torch.zeros_like(Vs)
        V = torch.where(hit, Vr, V)
        I = torch.where(hit, Is, I)
        elapsed = torch.where(hit, elapsed + s, elapsed)
        rounds.append((hit, elapsed.clone()))
        if left is not None:
            left = left - hit.to(left.dtype)
    else:
        raise RuntimeError(f"more than {max_rounds} spike rounds in one step; weights too large?")
    rem = h - elapsed
    if on_piece is not None:
        on_piece(elapsed, V, I, rem)
    V, I = integrator.step(V, I, rem, params)
    return CubaState(V, I), rounds
