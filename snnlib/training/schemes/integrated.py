"""Training numerically integrated event networks directly (seed 001, experiment 2).

BATS's network and settings (:mod:`snnlib.training.schemes.spiketime`) simulated by a grid integrator
(:class:`snnlib.model.discretization.Discretization`) and trained by the one driver with one of the two
gradients of :mod:`snnlib.events.integrated`: ``piggyback`` (BATS's analytic formulas at the integrated
spike times) or ``adjusted`` (the exact gradient of the discretized forward).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from snnlib.model.discretization import SPIKE_RULES, Discretization, grid_capacity, parse_integration
from snnlib.training.probes import TrainingProbe, fixed_batch
from snnlib.training.schemes.spiketime import SpikeTimeConfig, SpikeTimeNetwork, SpikeTimeScheme, bats_config

NAME = "integrated"
INTEGRATIONS = ("euler", "ps2", "ps3", "ps4", "ps5", "ps6", "exact")
GRADIENTS = ("piggyback", "adjusted")


@dataclasses.dataclass(frozen=True)
class IntegratedConfig(SpikeTimeConfig):
    """The spike-time experiment's fields, with ``dt`` the integration step (ms, required), and:

    - ``integration``: ``"euler"``, ``"ps2"`` .. ``"ps6"`` or ``"exact"`` (the exact flow stepped
      on the grid); ``spike_rule``: ``"snap"``, ``"linear"`` or ``"newton"``; ``input``:
      ``"exact"`` (steps split at input times) or ``"grid"``;
    - ``gradient``: ``"piggyback"`` or ``"adjusted"``.
    """

    SCHEME: ClassVar[str] = NAME

    dt: float | None = 1.0
    integration: str = "ps3"
    spike_rule: str = "linear"
    input: str = "exact"
    gradient: str = "adjusted"

    def validate(self) -> None:
        super().validate()
        c = self._check
        c("dt", self.dt is not None, "the integration step in ms")
        c("integration", self.integration in INTEGRATIONS, " or ".join(map(repr, INTEGRATIONS)))
        c("spike_rule", self.spike_rule in SPIKE_RULES, " or ".join(map(repr, SPIKE_RULES)))
        c("input", self.input in ("exact", "grid"), "'exact' or 'grid'")
        c("gradient", self.gradient in GRADIENTS, " or ".join(map(repr, GRADIENTS)))
        try:
            self.discretization()
        except ValueError as e:
            c("spike_rule", False, f"a rule the integration supports ({e})")

    def discretization(self) -> Discretization:
        integrator, order = parse_integration(self.integration)
        return Discretization(integrator, order, self.dt, self.spike_rule, self.input)


Config = IntegratedConfig


class IntegratedScheme(SpikeTimeScheme):
    """BATS's network under a grid integrator, trained with the piggyback or adjusted gradient."""

    name = NAME
    config = IntegratedConfig

    def build(self, cfg, generator):
        net = SpikeTimeNetwork(bats_config(cfg), generator=generator)  # the same initial weights
        return net.with_(cfg.discretization(), cfg.gradient)

    def capacity(self, cfg) -> int:
        """The most spikes an output neuron can emit: its buffer, and one spike per grid point of the
        window (:func:`snnlib.model.discretization.grid_capacity`; with ``input="grid"`` each layer
        adds a step of delay, with inputs at their times only the first layer's voltage waits)."""
        depth = len(cfg.hidden) + 1 if cfg.input == "grid" else 1
        return min(super().capacity(cfg), grid_capacity(cfg.window(), cfg.dt, depth))

    def probe(self, cfg, batches, model):
        """Gradient alignment with the exact gradient and the reference timing
        (:class:`snnlib.training.probes.TrainingProbe`, at ``model``'s initial weights) on the first 256
        validation samples."""
        return TrainingProbe(*fixed_batch(batches["val"], 256), self.loss(cfg), model, alignment=True)

    def attrs(self, cfg):
        return {**super().attrs(cfg), "discretization": cfg.discretization().label, "gradient": cfg.gradient}

