"""How time is discretized: one frozen, validated value per simulator family, and the grid rule.

The study varies three axes independently (``ARCHITECTURE.md``): the neuron
(:class:`snnlib.model.neuron.NeuronParams`), the *discretization* (this module) and the
*gradient scheme* (an argument of training, never a field here).

**Event networks.** A :class:`Discretization` says

* ``integrator``: ``"exact"`` (closed-form flow and spike times, BATS), ``"euler"`` or ``"ps"``
  (Parker-Sochacki of order ``order``, :mod:`snnlib.model.integrators`) on a grid of step ``dt`` ms;
* ``spike_rule`` (grid integrators, and the exact flow stepped on a grid): ``"snap"`` (a spike at the end of the step where
  ``V >= theta``), ``"linear"`` (linear interpolation of the crossing inside the step) or
  ``"newton"`` (the root of the step polynomial), :mod:`snnlib.model.crossing`;
* ``input``: ``"exact"`` (a step is split at each input time, seed 001 Fig. 2) or ``"grid"``
  (an input at ``t`` is delivered at the next grid point ``ceil(t / dt) dt``, seed 000).

``Discretization()`` is the exact, event-driven network. Combinations that make no sense are
refused here, where the value is built, with a message that says what to change.

**Clock networks.** A :class:`ClockDiscretization` says how a clock-driven layer steps through
time (:mod:`snnlib.clock.stepping`): ``"loihi"``, seed 000's ``"skip"`` or the ``"exact"`` grid.

**The grid rule.** An input at time ``t`` reaches a grid of step ``dt`` at point
``ceil(t / dt - GRID_TOL)``: the next grid point, a time on the grid up to rounding staying on its
point. :func:`grid_index` and :func:`grid_steps` are its one home (event layers, clock rasters
and encoders all use them). :func:`parse_integration` reads the configs' integration names
(``"euler"``, ``"ps3"``, ``"exact"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from snnlib.model.neuron import _positive_finite

__all__ = ["Discretization", "INTEGRATOR_CHOICES", "SPIKE_RULES", "INPUTS", "ClockDiscretization", "CLOCK_METHODS",
           "SKIP_BACKWARDS", "GRID_TOL", "grid_index", "grid_steps", "grid_capacity", "parse_integration"]

#: the integrators a Discretization takes (their implementations: snnlib.model.integrators.INTEGRATORS)
INTEGRATOR_CHOICES = ("exact", "euler", "ps")
SPIKE_RULES = ("snap", "linear", "newton")
INPUTS = ("exact", "grid")
EXACT_GRID_RULES = ("snap", "linear")
#: how a clock layer steps through time (:class:`ClockDiscretization`)
CLOCK_METHODS = ("loihi", "skip", "exact")
#: seed 000's two backward kernels of the step skipping
SKIP_BACKWARDS = ("cuda", "cpu")
#: tolerance of the grid rule: a time on the grid up to rounding stays on its grid point
GRID_TOL = 1e-9


def grid_index(t, dt):
    """The grid point at or after ``t`` on a grid of step ``dt``: ``ceil(t / dt - GRID_TOL)``,
    elementwise for a float (an ``int``), a NumPy array or a torch tensor (same type back)."""
    if isinstance(t, torch.Tensor):
        return torch.ceil(t / dt - GRID_TOL)
    if isinstance(t, np.ndarray):
        return np.ceil(t / dt - GRID_TOL)
    return math.ceil(t / dt - GRID_TOL)


def grid_steps(span: float, dt: float) -> int:
    """Steps of ``dt`` that cover ``span`` ms (at least one; the last may be shorter)."""
    return max(1, grid_index(span, dt))


def grid_capacity(window: float, h: float, depth: int) -> int:
    """The most spikes a neuron ``depth`` layers above the input can emit on the grid points
    ``0, h, ..., <= window`` (ms) when the grid allows one spike per point and delivers a spike at
    the grid point at or after it: ``floor(window / h) + 1 - depth`` (an input at ``t = 0`` reaches
    the first layer's voltage at point 1, the next layer's at point 2, ...; at least 0).

    Both shared grid models of the time-bin study (the clock network's ``"exact"`` grid with
    ``n_steps = window / dt + 1`` base bins, and the event network's exact flow with the ``"snap"``
    rule and ``"grid"`` input, ``t_max = window``) have this capacity."""
    h = _positive_finite("h", h, "step in ms")
    if not (np.isfinite(window) and window >= 0) or not (isinstance(depth, int) and depth >= 1):
        raise ValueError(f"window = {window}, depth = {depth}: expected a window >= 0 ms and a depth >= 1.")
    return max(0, int(math.floor(window / h + GRID_TOL)) + 1 - depth)


def parse_integration(name: str) -> tuple[str, Optional[int]]:
    """``(integrator, order)`` of a config's integration name: ``"euler"`` -> ``("euler", 1)``,
    ``"ps3"`` -> ``("ps", 3)``, ``"exact"`` -> ``("exact", None)``."""
    if name == "euler":
        return "euler", 1
    if name == "exact":
        return "exact", None
    if name.startswith("ps") and name[2:].isdigit() and int(name[2:]) >= 1:
        return "ps", int(name[2:])
    raise ValueError(f"integration = {name!r}: expected 'euler', 'ps<k>' (k >= 1) or 'exact'")


@dataclass(frozen=True)
class Discretization:
    """Time discretization of an event network (times in ms).

    Attributes:
        integrator: ``"exact"``, ``"euler"`` or ``"ps"``.
        order: Parker-Sochacki order ``k >= 1`` (``"ps"`` needs it; ``"euler"`` is order 1 and
            may leave it ``None``; ``"exact"`` takes none).
        dt: grid step in ms (grid integrators, and ``input="grid"``).
        spike_rule: ``"snap"``, ``"linear"`` or ``"newton"`` for grid integrators; for
            ``"exact"``: ``None`` (closed-form crossings, event-driven) or ``"snap"`` / ``"linear"``
            (the exact flow stepped on a grid of ``dt``: the spike rule's error alone).
        input: ``"exact"`` or ``"grid"``.
    """

    integrator: str = "exact"
    order: Optional[int] = None
    dt: Optional[float] = None
    spike_rule: Optional[str] = None
    input: str = "exact"

    def __post_init__(self) -> None:
        if self.integrator not in INTEGRATOR_CHOICES:
            raise ValueError(f"integrator must be one of {INTEGRATOR_CHOICES}, got {self.integrator!r}")
        if self.input not in INPUTS:
            raise ValueError(f"input must be one of {INPUTS}, got {self.input!r}")
        order = self.order
        if order is not None:
            if isinstance(order, bool) or not isinstance(order, (int, float)) or int(order) != order:
                raise ValueError(f"order must be an integer >= 1, got {order!r}")
            order = int(order)
        if self.integrator == "exact":
            if order is not None:
                raise ValueError(f"the exact integrator has no order (got order={order!r}); "
                                 "use integrator='ps' for Parker-Sochacki of order k")
            if self.spike_rule in (None, "exact"):  # closed-form crossings (BATS)
                object.__setattr__(self, "spike_rule", None)
                if self.input == "grid":
                    object.__setattr__(self, "dt", _step(self.dt, "input='grid' delivers inputs on a grid"))
                elif self.dt is not None:
                    raise ValueError(f"dt={self.dt!r} has no effect with integrator='exact' and input='exact'; "
                                     "leave it None (or use input='grid', or a grid spike_rule)")
                return
            if self.spike_rule not in EXACT_GRID_RULES:
                raise ValueError(f"the exact flow on a grid checks the threshold at grid points ('snap') or "
                                 f"interpolates linearly ('linear'); spike_rule={self.spike_rule!r} is not "
                                 "available (the root of the exact flow is the closed form: spike_rule=None)")
            object.__setattr__(self, "dt", _step(self.dt, "a grid spike_rule needs a grid"))
            return
        if self.integrator == "euler":
            if order not in (None, 1):
                raise ValueError(f"euler is first order; got order={order!r} (use integrator='ps')")
            order = 1
        elif order is None or order < 1:
            raise ValueError(f"integrator='ps' needs an integer order k >= 1, got {self.order!r}")
        object.__setattr__(self, "order", order)
        object.__setattr__(self, "dt", _step(self.dt, f"integrator={self.integrator!r} integrates on a grid"))
        if self.spike_rule not in SPIKE_RULES:
            raise ValueError(f"a grid integrator needs spike_rule in {SPIKE_RULES}, got {self.spike_rule!r}")

    @property
    def is_exact(self) -> bool:
        """True for the event-driven closed form (exact or grid-delivered inputs): BATS's kernels."""
        return self.integrator == "exact" and self.spike_rule is None

    @property
    def label(self) -> str:
        """Short readable name, e.g. ``ps3-linear-dt1-input=exact`` or ``exact``."""
        if self.is_exact:
            return "exact" if self.input == "exact" else f"exact-dt{self.dt:g}-input=grid"
        name = {"euler": "euler", "exact": "exact"}.get(self.integrator, f"ps{self.order}")
        return f"{name}-{self.spike_rule}-dt{self.dt:g}-input={self.input}"


def _step(dt, why: str) -> float:
    return _positive_finite("dt", dt, f"step in ms ({why})")


@dataclass(frozen=True)
class ClockDiscretization:
    """How a clock layer steps through time (a value, separate from neuron and gradient).

    Attributes:
        method: ``"loihi"`` (the discrete recurrence, one step per bin), ``"skip"`` (seed 000's step
            skipping) or ``"exact"`` (the continuous neuron on a grid); :mod:`snnlib.clock.stepping`.
        k: ``"skip"``: keep every ``k``-th base step (the seed's timestep size, in base bins).
        h: ``"exact"``: grid step in ms.
        skip_backward: ``"skip"``: which of the seed's two backward kernels (:func:`snnlib.clock.stepping.skip_sequence`).
        eval_skip: ``"skip"``: skip at evaluation too (``True``), or only in training (``False``: seed
            000's runs, whose ``Assistant.test`` called the network without its step, so evaluation
            ran the base recurrence on every bin; the network switches on ``torch.nn.Module.training``).
        skip_gain: ``"skip"``: correct the synaptic gain that skipping loses (a control, not the seed):
            the voltage then takes the current only every ``k``-th step, so the layer's input is scaled
            by ``g = (1 - beta^k) / (1 - beta)``, which gives a constant current the base recurrence's
            steady voltage ``x / (1 - beta)`` (:class:`snnlib.clock.network.ClockNetwork` applies it while
            it skips).
    """

    method: str = "loihi"
    k: int = 1
    h: Optional[float] = None
    skip_backward: str = "cuda"
    eval_skip: bool = True
    skip_gain: bool = False

    def __post_init__(self):
        if self.method not in CLOCK_METHODS:
            raise ValueError(f"method = {self.method!r}: expected one of {', '.join(CLOCK_METHODS)} (the clock's "
                             "stepping scheme).")
        if not (isinstance(self.k, int) and not isinstance(self.k, bool) and self.k >= 1):
            raise ValueError(f"k = {self.k!r}: expected an integer >= 1 (base bins per kept step).")
        if self.k != 1 and self.method != "skip":
            raise ValueError(f"k = {self.k} is the step of method='skip'; method={self.method!r} takes no k.")
        if self.method == "exact":
            if self.h is None or not (math.isfinite(self.h) and self.h > 0):
                raise ValueError(f"method='exact' needs a grid step h > 0 in ms, got h = {self.h!r}.")
        elif self.h is not None:
            raise ValueError(f"h = {self.h} is the grid step of method='exact'; method={self.method!r} takes none.")
        if not isinstance(self.eval_skip, bool) or (not self.eval_skip and self.method != "skip"):
            raise ValueError(f"eval_skip = {self.eval_skip!r}: True, or False with method='skip' (skip in training only).")
        if not isinstance(self.skip_gain, bool) or (self.skip_gain and self.method != "skip"):
            raise ValueError(f"skip_gain = {self.skip_gain!r}: False, or True with method='skip'.")
        if self.skip_backward not in SKIP_BACKWARDS:
            raise ValueError(f"skip_backward = {self.skip_backward!r}: expected 'cuda' or 'cpu'.")

    @property
    def label(self) -> str:
        """Short readable name: ``loihi``, ``skip-k10`` (``skip-k10-cpu``), ``exact-h2``."""
        if self.method == "skip":
            return (f"skip-k{self.k}" + ("-cpu" if self.skip_backward == "cpu" else "")
                    + ("" if self.eval_skip else "-train-only") + ("-gain" if self.skip_gain else ""))
        return f"exact-h{self.h:g}" if self.method == "exact" else "loihi"
