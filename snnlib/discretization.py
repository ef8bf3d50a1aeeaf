"""How an event network is simulated in time: one frozen, validated value.

The study varies three axes independently (``DESIGN.md``): the neuron
(:class:`snnlib.neuron.NeuronParams`), the *discretization* (this module) and the *gradient
scheme* (an argument of training, never a field here). A :class:`Discretization` says

* ``integrator``: ``"exact"`` (closed-form flow and spike times, BATS), ``"euler"`` or ``"ps"``
  (Parker-Sochacki of order ``order``, :mod:`snnlib.integrators`) on a grid of step ``dt`` ms;
* ``spike_rule`` (grid integrators, and the exact flow stepped on a grid): ``"snap"`` (a spike at the end of the step where
  ``V >= theta``), ``"linear"`` (linear interpolation of the crossing inside the step) or
  ``"newton"`` (the root of the step polynomial), :mod:`snnlib.crossing`;
* ``input``: ``"exact"`` (a step is split at each input time, seed 001 Fig. 2) or ``"grid"``
  (an input at ``t`` is delivered at the next grid point ``ceil(t / dt) dt``, seed 000).

``Discretization()`` is the exact, event-driven network. Combinations that make no sense are
refused here, where the value is built, with a message that says what to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .neuron import _positive_finite

__all__ = ["Discretization", "INTEGRATORS", "SPIKE_RULES", "INPUTS"]

INTEGRATORS = ("exact", "euler", "ps")
SPIKE_RULES = ("snap", "linear", "newton")
INPUTS = ("exact", "grid")
EXACT_GRID_RULES = ("snap", "linear")


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
        if self.integrator not in INTEGRATORS:
            raise ValueError(f"integrator must be one of {INTEGRATORS}, got {self.integrator!r}")
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
