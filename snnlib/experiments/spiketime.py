"""Exact spike-time training (BATS scheme) of event-driven CuBa-LIF networks on MNIST.

Time-to-first-spike input (``t = t_in (1 - pixel/255)``, black pixels silent), BATS's
hyper-parameters (:class:`snnlib.spiketime.BatsConfig`), the shared training loop of
:mod:`snnlib.train`. ``dt`` set: seed 000's discretized variant (every layer's input spike times
delayed to the grid, straight-through backward); ``dt = None``: the continuous benchmark.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
import xarray as xr

from .. import data, encoding
from ..runs import Config, is_positive
from ..spiketime import (BatsConfig, SpikeTimeNetwork, first_spike_cross_entropy, predict_by_count,
                         predict_by_first_spike, spike_count_loss)
from ..train import checkpoint_file, fit, seed_everything, split_batches, summarize_curves, train_seeds

NAME = "spiketime"
CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"


@dataclasses.dataclass(frozen=True)
class SpikeTimeConfig(Config):
    """Fields (time in ms):

    - ``variant``: ``"multi"`` (BATS multi-spike: thresholds 0.2 / 1.3 in BATS's units, up to 30
      spikes per neuron, 200 ms, spike-count loss with targets 15 / 3, Adam 0.003) or ``"single"``
      (0.7 / 2.0, one spike, 1 s, first-spike cross-entropy with ``tau_loss`` 5 ms, Adam 0.002).
    - ``hidden``: hidden layer sizes (BATS: ``(800,)``).
    - ``dt``: grid of the discretized variant (ms), or ``None`` (continuous benchmark).
    - ``t_in``: time-to-first-spike window of the input (ms).
    - ``lr``: Adam learning rate (``0``: the variant's); ``lr_schedule``: ``constant`` / ``cosine``.
    - ``batch_size``, ``epochs``; ``n_train``/``n_test`` (0: all), ``n_val``, ``val_seed``;
      ``seeds``: one training per seed; ``log_every``: batches per logged loss.
    """

    variant: str = "multi"
    hidden: tuple = (800,)
    dt: float | None = None
    t_in: float = 100.0
    lr: float = 0.0
    lr_schedule: str = "constant"
    batch_size: int = 50
    epochs: int = 10
    n_train: int = 0
    n_val: int = 5000
    val_seed: int = 0
    n_test: int = 0
    seeds: tuple = (0, 1, 2)
    log_every: int = 100

    def validate(self) -> None:
        super().validate()
        c = self._check
        c("variant", self.variant in ("multi", "single"), "'multi' or 'single'")
        c("hidden", isinstance(self.hidden, tuple) and all(isinstance(h, int) and h > 0 for h in self.hidden),
          "a tuple of positive layer sizes")
        c("dt", self.dt is None or is_positive(self.dt), "None (continuous) or a positive number of ms")
        c("t_in", is_positive(self.t_in), "a positive number of ms")
        c("lr", self.lr == 0 or is_positive(self.lr), "0 (the variant's) or a positive learning rate")
        c("lr_schedule", self.lr_schedule in ("constant", "cosine"), "'constant' or 'cosine'")
        for f in ("batch_size", "epochs", "log_every"):
            c(f, isinstance(getattr(self, f), int) and getattr(self, f) >= 1, "an integer >= 1")
        self._check_non_negative_int("n_train", "n_test", "n_val", "val_seed")
        self._check_seeds()


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
    if cfg.lr:
        overrides["lr"] = cfg.lr
    return make(**overrides)


def _loss_and_predict(bc: BatsConfig):
    if bc.loss == "spike_count":
        return (lambda out, y: spike_count_loss(out, y, bc.target_true, bc.target_false)), predict_by_count
    return (lambda out, y: first_spike_cross_entropy(out, y, bc.tau_loss)), predict_by_first_spike


def load(cfg: SpikeTimeConfig):
    sets = {s: data.load_mnist(s, n_val=cfg.n_val, val_seed=cfg.val_seed) for s in ("train", "val", "test")}
    for split, n in (("train", cfg.n_train), ("test", cfg.n_test)):
        if n:
            sets[split] = (sets[split][0][:n], sets[split][1][:n])
    return sets


def run_seed(cfg: SpikeTimeConfig, seed: int, sets=None, progress: bool = True) -> xr.Dataset:
    gen = seed_everything(seed)
    sets = load(cfg) if sets is None else sets
    bc = bats_config(cfg)
    model = SpikeTimeNetwork(bc, dt=cfg.dt, generator=gen)
    loss, predict = _loss_and_predict(bc)

    def encode(x, idx):
        return encoding.ttfs(x[idx], cfg.t_in, dtype=torch.float32)

    batches = split_batches(sets, cfg.batch_size, encode, seed)
    return fit(model, loss, predict, batches["train"], batches["val"], batches["test"], epochs=cfg.epochs,
               lr=bc.lr, lr_schedule=cfg.lr_schedule, log_every=cfg.log_every,
               checkpoint=checkpoint_file(CHECKPOINTS / NAME, cfg, seed), progress=progress,
               description=f"spiketime {cfg.variant} dt={cfg.dt} seed={seed}")


def run(cfg: SpikeTimeConfig, progress: bool = True) -> xr.Dataset:
    """Learning curves of every seed (dim ``seed``)."""
    sets = load(cfg)
    ds = train_seeds(cfg.seeds, sets, lambda seed: run_seed(cfg, seed, sets, progress))
    bc = bats_config(cfg)
    ds.attrs.update(scheme="spiketime", variant=cfg.variant, sizes=str(bc.sizes),
                    thresholds=str(tuple(p.theta for p in bc.params())), dt_ms="none" if cfg.dt is None else cfg.dt)
    return ds


def summarize(ds: xr.Dataset) -> dict:
    return summarize_curves(ds)
