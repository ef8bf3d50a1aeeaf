"""Exact spike-time training (BATS scheme) of event-driven CuBa-LIF networks on MNIST.

Time-to-first-spike input (``t = t_in (1 - pixel/255)``, black pixels silent), BATS's
hyper-parameters (:class:`snnlib.spiketime.BatsConfig`), trained by the one driver
(:mod:`snnlib.driver`; one seed per run). ``dt`` set: seed 000's discretized variant (every layer's input spike times
delayed to the grid, straight-through backward); ``dt = None``: the continuous benchmark.
"""

from __future__ import annotations

import dataclasses

import torch

from .. import data, encoding
from ..driver import TrainConfig, mnist_splits, register, run, summarize  # noqa: F401  (run, summarize: this family's)
from ..runs import is_positive
from ..spiketime import (BatsConfig, SpikeTimeNetwork, first_spike_cross_entropy, predict_by_count,
                         predict_by_first_spike, spike_count_loss)

NAME = "spiketime"
DATASETS = ("mnist", "mnist-threshold")


@dataclasses.dataclass(frozen=True)
class SpikeTimeConfig(TrainConfig):
    """The training fields of :class:`snnlib.driver.TrainConfig` (``lr = None``: the variant's
    Adam rate) and (time in ms):

    - ``variant``: ``"multi"`` (BATS multi-spike: thresholds 0.2 / 1.3 in BATS's units, up to 30
      spikes per neuron, 200 ms, spike-count loss with targets 15 / 3, Adam 0.003) or ``"single"``
      (0.7 / 2.0, one spike, 1 s, first-spike cross-entropy with ``tau_loss`` 5 ms, Adam 0.002).
    - ``hidden``: hidden layer sizes (BATS: ``(800,)``).
    - ``dt``: grid of the discretized variant (ms), or ``None`` (continuous benchmark).
    - ``t_in``: time-to-first-spike window of the input (ms).
    - ``dataset``: ``"mnist"`` or ``"mnist-threshold"`` (pixels binarised at 128,
      :func:`snnlib.data.threshold_images`: every input spike at ``t = 0``; seed 001).
    """

    variant: str = "multi"
    hidden: tuple = (800,)
    dt: float | None = None
    t_in: float = 100.0
    dataset: str = "mnist"
    batch_size: int = 50
    log_every: int = 100

    def validate(self) -> None:
        super().validate()
        c = self._check
        c("variant", self.variant in ("multi", "single"), "'multi' or 'single'")
        c("hidden", isinstance(self.hidden, tuple) and all(isinstance(h, int) and h > 0 for h in self.hidden),
          "a tuple of positive layer sizes")
        c("dt", self.dt is None or is_positive(self.dt), "None (continuous) or a positive number of ms")
        c("t_in", is_positive(self.t_in), "a positive number of ms")
        c("dataset", self.dataset in DATASETS, " or ".join(map(repr, DATASETS)))


Config = SpikeTimeConfig


def bats_config(cfg: SpikeTimeConfig) -> BatsConfig:
    """The network and loss settings: BATS's variant with this run's sizes and batch size."""
    make = BatsConfig.multi_spike if cfg.variant == "multi" else BatsConfig.single_spike
    base = make()
    n = len(cfg.hidden) + 1
    per_layer = lambda v: tuple(v[:1]) * (n - 1) + tuple(v[-1:])  # noqa: E731  hidden value(s), output value
    overrides = dict(sizes=(784, *cfg.hidden, 10), batch_size=cfg.batch_size,
                     theta_bats=per_layer(base.theta_bats), max_spikes=per_layer(base.max_spikes),
                     init_low=per_layer(base.init_low), init_high=per_layer(base.init_high))
    if cfg.lr is not None:
        overrides["lr"] = cfg.lr
    return make(**overrides)


def ttfs_encoder(cfg: SpikeTimeConfig):
    """``encode(x, idx)``: time-to-first-spike input of the digits ``idx`` (thresholded first for
    ``dataset = "mnist-threshold"``)."""
    def encode(x, idx):
        images = x[idx] if cfg.dataset == "mnist" else data.threshold_images(x[idx])
        return encoding.ttfs(images, cfg.t_in, dtype=torch.float32)
    return encode


class SpikeTimeScheme:
    """Exact spike-time gradients on event-driven networks (see :mod:`snnlib.driver` for the protocol)."""

    name = NAME
    config = SpikeTimeConfig

    def data(self, cfg):
        return mnist_splits(cfg)

    def encoder(self, cfg, split):
        return ttfs_encoder(cfg)

    def build(self, cfg, generator):
        return SpikeTimeNetwork(bats_config(cfg), dt=cfg.dt, generator=generator)

    def loss(self, cfg):
        bc = bats_config(cfg)
        if bc.loss == "spike_count":
            return lambda out, y: spike_count_loss(out, y, bc.target_true, bc.target_false)
        return lambda out, y: first_spike_cross_entropy(out, y, bc.tau_loss)

    def predict(self, cfg):
        return predict_by_count if bats_config(cfg).loss == "spike_count" else predict_by_first_spike

    def default_lr(self, cfg):
        return bats_config(cfg).lr

    def attrs(self, cfg):
        bc = bats_config(cfg)
        return dict(variant=cfg.variant, sizes=str(bc.sizes), thresholds=str(tuple(p.theta for p in bc.params())),
                    dt_ms="none" if cfg.dt is None else cfg.dt, dataset=cfg.dataset)


SCHEME = register(SpikeTimeScheme())
