"""Current-based leaky integrate-and-fire neuron (CuBa-LIF), continuous time.

Model (BATS; Bacho & Chu, "Exploring Trade-Offs in Spiking Neural Networks",
Neural Computation 35(10):1627-1656, 2023), time in **ms**::

    dI/dt = -I / tau_s
    dV/dt = -V / tau + I

An input spike of weight ``w`` adds ``w`` to ``I``. The neuron spikes when
``V >= theta``; then ``V -= theta`` (reset by subtraction) or ``V = 0``.
For the exact flow ``V`` is continuous and equals ``theta`` at a crossing, so
both resets give ``V = 0`` there; they differ only on a time grid.

Everything here is a pure function of tensors; dtype and device follow the
inputs. State is the :class:`CubaState` named tuple ``(V, I)`` of tensors of
any common shape (events layers use ``[B, N]``).

Closed form. With ``tau = 2 tau_s`` and ``x = exp(-s / tau)`` for the time
``s`` since the last event (state ``(V0, I0)`` there), ``exp(-s/tau_s) = x^2``
and ``tau tau_s / (tau - tau_s) = tau``, so::

    V(s) = V0 x + I0 tau (x - x^2),

and ``V(s) = theta`` is the quadratic ``a x^2 - b x + theta = 0`` with
``a = I0 tau`` and ``b = V0 + I0 tau``. Only relative times enter, so nothing
like ``exp(+t / tau)`` of an absolute time is ever formed (that overflows
float32 within a few seconds of simulated time at tau = 260 ms).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Optional, Union

import torch
from torch import Tensor

__all__ = [
    "NeuronParams",
    "CubaState",
    "zero_state",
    "vector_field",
    "propagate",
    "propagator_kernel",
    "closed_form_v",
    "first_crossing",
    "check_closed_form",
    "apply_reset",
]

RESETS = ("subtract", "zero")


@dataclass(frozen=True)
class NeuronParams:
    """Parameters of the CuBa-LIF neuron (times in ms).

    Attributes:
        tau_s: synaptic (current) time constant, ms. BATS uses 130 ms.
        tau: membrane time constant, ms; ``None`` means ``2 * tau_s`` (the
            value for which the spike time has a closed form).
        theta: firing threshold (> 0), same units as ``V``.
        reset: ``"subtract"`` (``V -= theta``) or ``"zero"`` (``V = 0``).
    """

    tau_s: float = 130.0
    tau: Optional[float] = None
    theta: float = 1.0
    reset: str = "subtract"

    def __post_init__(self) -> None:
        tau_s = _positive_finite("tau_s", self.tau_s)
        tau = 2.0 * tau_s if self.tau is None else _positive_finite("tau", self.tau)
        theta = _positive_finite("theta", self.theta)
        if self.reset not in RESETS:
            raise ValueError(f"reset must be one of {RESETS}, got {self.reset!r}")
        object.__setattr__(self, "tau_s", tau_s)
        object.__setattr__(self, "tau", tau)
        object.__setattr__(self, "theta", theta)

    @property
    def has_closed_form(self) -> bool:
        """True when ``tau == 2 tau_s`` (to 1e-12 relative)."""
        return math.isclose(self.tau, 2.0 * self.tau_s, rel_tol=1e-12)


def _positive_finite(name: str, value, what: str = "number") -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive finite {what}, got {value!r}") from None
    if not (math.isfinite(v) and v > 0.0):
        raise ValueError(f"{name} must be a positive finite {what}, got {value!r}")
    return v


class CubaState(NamedTuple):
    """Neuron state: membrane potential ``V`` and synaptic current ``I``
    (tensors of one shape, e.g. ``[B, N]``)."""

    V: Tensor
    I: Tensor


def zero_state(shape, *, dtype=torch.float64, device=None) -> CubaState:
    """Resting state ``V = I = 0`` of the given shape."""
    z = torch.zeros(shape, dtype=dtype, device=device)
    return CubaState(z, z.clone())


def vector_field(V: Tensor, I: Tensor, params: NeuronParams) -> tuple[Tensor, Tensor]:
    """Right-hand side ``(dV/dt, dI/dt) = (-V/tau + I, -I/tau_s)``, per ms."""
    return -V / params.tau + I, -I / params.tau_s


def propagator_kernel(h: Union[Tensor, float], params: NeuronParams) -> Tensor:
    """Response of ``V`` after ``h`` ms to a unit current at ``h = 0``.

    ``k(h) = tau tau_s / (tau - tau_s) (exp(-h/tau) - exp(-h/tau_s))``, written
    as ``exp(-h/tau) (1 - exp(-h d)) / d`` with ``d = 1/tau_s - 1/tau`` and
    ``expm1`` so there is no cancellation near ``tau == tau_s``; at
    ``tau == tau_s`` it is the limit ``h exp(-h/tau)``. ``k >= 0`` for h >= 0.
    """
    h = torch.as_tensor(h)
    d = 1.0 / params.tau_s - 1.0 / params.tau
    decay = torch.exp(-h / params.tau)
    if d == 0.0:
        return h * decay
    return decay * (-torch.expm1(-h * d)) / d


def propagate(V: Tensor, I: Tensor, h: Union[Tensor, float], params: NeuronParams) -> tuple[Tensor, Tensor]:
    """Exact flow of the linear ODE over ``h >= 0`` ms (no inputs, no reset)::

        I' = I exp(-h/tau_s)
        V' = V exp(-h/tau) + I k(h)        (k: :func:`propagator_kernel`)

    Valid for any ``tau, tau_s``; it is a semigroup: propagate(h1) then
    propagate(h2) equals propagate(h1 + h2) up to rounding.
    """
    h = torch.as_tensor(h, dtype=V.dtype, device=V.device)
    return V * torch.exp(-h / params.tau) + I * propagator_kernel(h, params), I * torch.exp(-h / params.tau_s)


def check_closed_form(params: NeuronParams) -> None:
    """Raise ``ValueError`` unless the closed form applies (``tau == 2 tau_s``)."""
    if not params.has_closed_form:
        raise ValueError(
            "the closed-form spike time needs tau == 2*tau_s "
            f"(got tau={params.tau}, tau_s={params.tau_s}); use a grid integrator instead"
        )


def closed_form_v(V0: Tensor, I0: Tensor, s: Union[Tensor, float], params: NeuronParams) -> Tensor:
    """``V(s) = V0 x + I0 tau (x - x^2)`` with ``x = exp(-s/tau)`` (needs tau = 2 tau_s)."""
    check_closed_form(params)
    x = torch.exp(-torch.as_tensor(s, dtype=V0.dtype, device=V0.device) / params.tau)
    return V0 * x + I0 * params.tau * (x - x * x)


def first_crossing(V0: Tensor, I0: Tensor, params: NeuronParams) -> Tensor:
    """Earliest ``s >= 0`` (ms, relative to the state's time) with ``V(s) = theta``.

    Solves ``a x^2 - b x + theta = 0`` (``a = I0 tau``, ``b = V0 + I0 tau``,
    ``x = exp(-s/tau)``; see the module docstring) for the largest root in
    ``(0, 1]``, i.e. the earliest time. With ``V0 < theta``:

    * ``a <= 0``: ``-V + theta`` is concave (or linear) in ``x`` and positive at
      ``x = 0`` and ``x = 1``, so it has no root in [0, 1]: no crossing.
    * ``a > 0``: a crossing iff the discriminant ``D = b^2 - 4 a theta >= 0``
      and ``x+ = (b + sqrt(D)) / (2a) <= 1`` (``b > 0`` then, so the sum has no
      cancellation). ``D < 0`` (V peaks below theta) gives no crossing; a
      grazing touch (``D ~ 0``) gives the finite vertex ``x = b / 2a``.

    ``V0 >= theta`` (only by rounding) returns ``s = 0``. A root that rounding
    pushes just above ``x = 1`` while ``dV/dt(0) > 0`` also returns 0. Returns
    ``+inf`` where there is no crossing; never NaN for finite inputs. Shapes
    broadcast; dtype follows ``V0``. Stays finite in float32 for any ``s``
    (only ``x in (0, 1]`` is formed).

    Raises:
        ValueError: if ``tau != 2 tau_s``.
    """
    check_closed_form(params)
    tau, theta = params.tau, params.theta
    a = I0 * tau
    b = V0 + a
    disc = b * b - 4.0 * a * theta
    ok = (a > 0) & (disc >= 0) & (b > 0)
    # Double `where`: keep the discarded branch finite so gradients stay NaN-free.
    a_safe = torch.where(ok, a, torch.ones_like(a))
    pos = ok & (disc > 0)  # sqrt'(0) = inf: keep D = 0 (grazing) off the sqrt
    root = torch.where(pos, torch.sqrt(torch.where(pos, disc, torch.ones_like(disc))), torch.zeros_like(disc))
    x = torch.where(ok, (b + root) / (2.0 * a_safe), torch.full_like(a, 2.0))
    eps = 4.0 * torch.finfo(x.dtype).eps
    rising = (-V0 / tau + I0) > 0
    x = torch.where(ok & (x > 1.0) & (x <= 1.0 + eps) & rising, torch.ones_like(x), x)
    hit = ok & (x <= 1.0) & (x > 0)
    x_safe = torch.where(hit, x, torch.ones_like(x))
    s = torch.where(hit, -tau * torch.log(x_safe), torch.full_like(x, math.inf))
    return torch.where(V0 >= theta, torch.zeros_like(s), s)


def apply_reset(V: Tensor, spiked: Tensor, params: NeuronParams) -> Tensor:
    """Reset where ``spiked``: ``V - theta`` (subtract) or ``0`` (zero)."""
    if params.reset == "subtract":
        return torch.where(spiked, V - params.theta, V)
    return torch.where(spiked, torch.zeros_like(V), V)
