"""Integrators for the CuBa-LIF neuron over one step, chosen by name.

Each integrator maps the state ``(V, I)`` at the start of a step of length
``h`` (ms) to the state at its end. Grid integrators also give the step as a
polynomial in the time ``s in [0, h]`` since the start of the step,
``V(s) = sum_j cV_j s^j`` and ``I(s) = sum_j cI_j s^j`` (coefficient tensors
``[..., d + 1]``, lowest degree first), so a threshold crossing can be located
*inside* the step (:mod:`snnlib.model.crossing`).

Parker-Sochacki (Stewart & Bair 2009, "Spiking neural network simulation:
numerical integration with the Parker-Sochacki method", J Comput Neurosci
27:115-133) builds the Maclaurin series of the solution term by term from the
ODE. For ``dI/dt = -I/tau_s``, ``dV/dt = -V/tau + I`` the recurrence is::

    I_0 = I,  V_0 = V
    I_{j+1} = -I_j / (tau_s (j + 1))
    V_{j+1} = (-V_j / tau + I_j) / (j + 1)
    state(s) = sum_{j=0}^{k} c_j s^j

For this linear, autonomous model the series is the Taylor series of the exact
flow, so PS of order ``k`` is the degree-``k`` Taylor polynomial of the exact
step (local error ``O(h^{k+1})``, global ``O(h^k)``) and PS(1) is forward
Euler: ``V + h (-V/tau + I)``, ``I - h I / tau_s``. A truncated Taylor step is
not a semigroup (``Phi_a o Phi_b != Phi_{a+b}``), unlike the exact flow: where
a step is split (input events, resets) changes the result.

Names (:data:`INTEGRATORS`): ``"exact"`` (the exact propagator; not a polynomial),
``"euler"`` (= PS(1)), ``"ps"`` (any order ``k >= 1``) and ``"ps-adaptive"``
(Stewart & Bair's adaptive order: add terms until ``|c_j h^j| < tol``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple, Optional, Union

import torch
from torch import Tensor

from snnlib.model.neuron import NeuronParams, propagate

__all__ = [
    "StepPoly",
    "ps_coefficients",
    "ps_adaptive_coefficients",
    "poly_eval",
    "poly_derivative",
    "Exact",
    "ParkerSochacki",
    "AdaptivePS",
    "INTEGRATORS",
    "get_integrator",
]

class StepPoly(NamedTuple):
    """Coefficients of ``V(s)`` and ``I(s)`` over one step, ``[..., d + 1]``."""

    cV: Tensor
    cI: Tensor


def ps_coefficients(V: Tensor, I: Tensor, params: NeuronParams, order: int) -> StepPoly:
    """Parker-Sochacki coefficients up to degree ``order`` (module docstring).

    ``V, I``: tensors of one shape ``S``; returns coefficients ``[*S, order+1]``.
    """
    if int(order) != order or order < 1:
        raise ValueError(f"order must be an integer >= 1, got {order!r}")
    cV, cI = [V], [I]
    for j in range(int(order)):
        cV.append((-cV[j] / params.tau + cI[j]) / (j + 1))
        cI.append(-cI[j] / (params.tau_s * (j + 1)))
    return StepPoly(torch.stack(cV, -1), torch.stack(cI, -1))


def ps_adaptive_coefficients(
    V: Tensor, I: Tensor, h: Union[Tensor, float], params: NeuronParams, tol: float, max_order: int
) -> StepPoly:
    """PS with the order chosen per step (Stewart & Bair 2009, Sec. 2.3).

    Adds terms until every element's last term is small over the step,
    ``max(|cV_j h^j|, |cI_j h^j|) < tol``, or ``j == max_order``. One degree
    for the whole tensor (the largest needed), so the batch stays vectorised.
    """
    if max_order < 1:
        raise ValueError(f"max_order must be >= 1, got {max_order!r}")
    h = torch.as_tensor(h, dtype=V.dtype, device=V.device)
    cV, cI = [V], [I]
    hj = torch.ones_like(h)
    for j in range(int(max_order)):
        cV.append((-cV[j] / params.tau + cI[j]) / (j + 1))
        cI.append(-cI[j] / (params.tau_s * (j + 1)))
        hj = hj * h
        term = torch.maximum((cV[-1] * hj).abs(), (cI[-1] * hj).abs())
        if bool((term < tol).all()):
            break
    return StepPoly(torch.stack(cV, -1), torch.stack(cI, -1))


def poly_eval(c: Tensor, s: Union[Tensor, float]) -> Tensor:
    """Horner evaluation of ``sum_j c[..., j] s^j``; ``s`` broadcasts with ``c[..., 0]``."""
    out = c[..., -1]
    for j in range(c.shape[-1] - 2, -1, -1):
        out = out * s + c[..., j]
    return out


def poly_derivative(c: Tensor) -> Tensor:
    """Coefficients of ``d/ds sum_j c_j s^j``, ``[..., d]`` (a zero poly for degree 0)."""
    d = c.shape[-1] - 1
    if d == 0:
        return torch.zeros_like(c)
    j = torch.arange(1, d + 1, dtype=c.dtype, device=c.device)
    return c[..., 1:] * j


@dataclass(frozen=True)
class Exact:
    """The exact flow (:func:`snnlib.model.neuron.propagate`); spikes from the
    closed form in event-driven layers (needs ``tau = 2 tau_s`` there)."""

    name: str = "exact"
    polynomial: bool = False

    def step(self, V: Tensor, I: Tensor, h, params: NeuronParams) -> tuple[Tensor, Tensor]:
        return propagate(V, I, h, params)

    def coefficients(self, V, I, params, h=None) -> StepPoly:
        raise TypeError("the exact integrator is not a polynomial; use snnlib.model.neuron.propagate / first_crossing")


@dataclass(frozen=True)
class ParkerSochacki:
    """Parker-Sochacki of fixed ``order`` (degree-``order`` Taylor step).
    ``ParkerSochacki(1, name="euler")`` is forward Euler."""

    order: int = 1
    name: str = "ps"
    polynomial: bool = True

    def __post_init__(self) -> None:
        if int(self.order) != self.order or self.order < 1:
            raise ValueError(f"order must be an integer >= 1, got {self.order!r}")

    def coefficients(self, V: Tensor, I: Tensor, params: NeuronParams, h=None) -> StepPoly:
        return ps_coefficients(V, I, params, self.order)

    def step(self, V: Tensor, I: Tensor, h, params: NeuronParams) -> tuple[Tensor, Tensor]:
        c = self.coefficients(V, I, params, h)
        h = torch.as_tensor(h, dtype=V.dtype, device=V.device)
        return poly_eval(c.cV, h), poly_eval(c.cI, h)


@dataclass(frozen=True)
class AdaptivePS:
    """Parker-Sochacki with the order chosen per step to tolerance ``tol``."""

    tol: float = 1e-12
    max_order: int = 30
    name: str = "ps-adaptive"
    polynomial: bool = True

    def coefficients(self, V: Tensor, I: Tensor, params: NeuronParams, h=None) -> StepPoly:
        if h is None:
            raise ValueError("the adaptive PS integrator needs the step length h")
        return ps_adaptive_coefficients(V, I, h, params, self.tol, self.max_order)

    def step(self, V: Tensor, I: Tensor, h, params: NeuronParams) -> tuple[Tensor, Tensor]:
        c = self.coefficients(V, I, params, h)
        h = torch.as_tensor(h, dtype=V.dtype, device=V.device)
        return poly_eval(c.cV, h), poly_eval(c.cI, h)


Integrator = Union[Exact, ParkerSochacki, AdaptivePS]
def _exact(order=None, **options) -> Exact:
    if order is not None:
        raise ValueError("the exact integrator takes no order")
    return Exact()


def _euler(order=None, **options) -> ParkerSochacki:
    if order not in (None, 1):
        raise ValueError(f"euler is first order; got order={order!r} (use 'ps')")
    return ParkerSochacki(1, name="euler")


def _ps(order=None, **options) -> ParkerSochacki:
    if order is None:
        raise ValueError("the 'ps' integrator needs an order k >= 1")
    return ParkerSochacki(order)


def _ps_adaptive(order=None, tol: float = 1e-12, max_order: Optional[int] = None, **options) -> AdaptivePS:
    return AdaptivePS(tol=tol, max_order=int(max_order or order or 30))


#: name -> ``factory(order=None, **options) -> integrator``: every integrator :func:`get_integrator` makes
INTEGRATORS: dict[str, Callable[..., Integrator]] = {"exact": _exact, "euler": _euler, "ps": _ps,
                                                    "ps-adaptive": _ps_adaptive}


def get_integrator(name: Union[str, Integrator], order: Optional[int] = None, **options) -> Integrator:
    """The integrator ``name`` of :data:`INTEGRATORS` (``"exact"``, ``"euler"``, ``"ps"``,
    ``"ps-adaptive"``), with its ``order`` / options. Passing an integrator
    object returns it unchanged."""
    if not isinstance(name, str):
        return name
    try:
        factory = INTEGRATORS[name]
    except KeyError:
        raise ValueError(f"unknown integrator {name!r}; known: {sorted(INTEGRATORS)}") from None
    return factory(order=order, **options)
