"""Training numerically integrated event networks directly (seed 001, experiment 2).

BATS's network and settings (:mod:`snnlib.experiments.spiketime`) simulated by a grid integrator
(:class:`snnlib.discretization.Discretization`) and trained by the one driver with one of the two
gradients of :mod:`snnlib.integrated`: ``piggyback`` (BATS's analytic formulas at the integrated
spike times) or ``adjusted`` (the exact gradient of the discretized forward).
"""

from __future__ import annotations

import dataclasses

from ..discretization import SPIKE_RULES, Discretization
from ..driver import register, run, summarize  # noqa: F401  (run, summarize: this family's)
from .spiketime import SpikeTimeConfig, SpikeTimeNetwork, SpikeTimeScheme, bats_config

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
        i = self.integration
        order = int(i[2:]) if i.startswith("ps") else None
        return Discretization("ps" if order else i, order, self.dt, self.spike_rule, self.input)


Config = IntegratedConfig


class IntegratedScheme(SpikeTimeScheme):
    """BATS's network under a grid integrator, trained with the piggyback or adjusted gradient."""

    name = NAME
    config = IntegratedConfig

    def build(self, cfg, generator):
        net = SpikeTimeNetwork(bats_config(cfg), generator=generator)  # the same initial weights
        return net.with_(cfg.discretization(), cfg.gradient)

    def attrs(self, cfg):
        return {**super().attrs(cfg), "discretization": cfg.discretization().label, "gradient": cfg.gradient}


SCHEME = register(IntegratedScheme())


def gradient_alignment(net, inputs, labels, loss) -> dict:
    """How well the gradient of ``net`` (its discretization and gradient scheme) points along the
    exact scheme's gradient of the same weights on the same batch (the "noise" seed 001 blames for
    piggyback's slow training, measured directly): the cosine similarity of the two gradients per
    layer and over all weights, and the ratio of their norms. The network's own gradients are left
    untouched."""
    import torch

    from ..discretization import Discretization

    def grads(model):
        params = list(model.parameters())
        out, _ = model(inputs)
        return torch.autograd.grad(loss(out, labels), params, allow_unused=True)

    ref = net.with_(Discretization())
    g, g0 = grads(net), grads(ref)
    flat = lambda gs: torch.cat([(x if x is not None else torch.zeros(0)).reshape(-1) for x in gs]).double()  # noqa: E731
    a, b = flat(g), flat(g0)
    cos = lambda u, v: float(u @ v / (u.norm() * v.norm())) if float(u.norm() * v.norm()) > 0 else float("nan")  # noqa: E731
    return {"cosine": cos(a, b), "norm_ratio": float(a.norm() / b.norm()) if float(b.norm()) > 0 else float("nan"),
            "cosine_per_layer": [cos(u.reshape(-1).double(), v.reshape(-1).double()) for u, v in zip(g, g0)]}
