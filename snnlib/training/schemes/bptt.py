"""BPTT with surrogate gradients (SLAYER scheme) on clock-driven CuBa-LIF networks.

MNIST (time-to-first-spike or rate input) and N-MNIST (events in ``dt`` bins); the timestep can be
coarsened to ``k`` base bins (seed 000's timebin sweep: forward and backward skip the intermediate
steps, events are merged into the coarser bins). Trained by the one driver (:mod:`snnlib.training.driver`;
one seed per run).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import torch

from snnlib.clock.network import ClockNetwork
from snnlib.clock.raster import Raster, rebin
from snnlib.clock.recurrence import CubaDiscrete
from snnlib.config import is_positive
from snnlib.data import encoding
from snnlib.data.splits import mnist_splits, nmnist_splits
from snnlib.model.discretization import ClockDiscretization, grid_steps
from snnlib.model.neuron import NeuronParams
from snnlib.model.surrogates import SURROGATES, get_surrogate
from snnlib.training import losses
from snnlib.training.base import TrainConfig

NAME = "bptt"
CLOCKS = ("loihi", "skip", "exact")


@dataclasses.dataclass(frozen=True)
class BPTTConfig(TrainConfig):
    """The training fields of :class:`snnlib.training.base.TrainConfig` (``lr = None``: 1e-3; ``n_val``
    N-MNIST recordings are held out of the training recordings) and (time in ms):

    - ``dataset``: ``"mnist"`` or ``"nmnist"``; ``encoding``: ``"ttfs"`` or ``"rate"`` (MNIST only);
      ``nmnist_subset``: ``"quick"`` or ``"full"``; ``test_from_train``: N-MNIST training
      recordings held out (seeded by ``val_seed``, disjoint from validation) and added to the test
      split after the official test recordings (the quick subset has only 100 of those).
    - ``hidden``: hidden layer sizes, e.g. ``(800,)`` for 784-800-10, ``(512, 512)`` for lava-dl's recipe.
    - ``dt``: base bin (ms); ``n_steps``: base bins simulated (window ``n_steps * dt``);
      ``k``: simulate with steps of ``k`` base bins; ``binning``: ``"or"`` or ``"count"`` merging.
    - ``t_in``: time-to-first-spike window (ms); ``rate_gain``: spike probability per bin of a white pixel.
    - ``tau_s``, ``tau``: current and voltage time constants (ms): decays ``exp(-dt/tau)`` per step;
      ``tau_s = 0`` gives the snnTorch ``Leaky`` neuron (no synaptic current).
    - ``theta``: threshold; ``reset``: ``"subtract"`` or ``"zero"``; ``quantize``: Loihi 12-bit decays.
    - ``surrogate``, ``surrogate_width``: spike derivative (``slayer``, ``arctan``, ``fast_sigmoid``).
    - ``loss``: ``"rate"`` (lava-dl spike rate, ``true_rate``/``false_rate``), ``"count_ce"``
      or ``"temporal_ce"`` (cross-entropy of first-spike steps, prediction by first spike).
    - ``weight_scale``: factor on the Kaiming-uniform initial weights.
    - ``clock``: how the layers step through time (:class:`snnlib.model.discretization.ClockDiscretization`):
      ``"loihi"`` (the recurrence with the decays of one step of ``k`` base bins, inputs merged
      into the coarse bins), ``"skip"`` (seed 000's step skipping: the base recurrence keeps
      running and only every ``k``-th step is kept; ``skip_backward``: the seed's ``"cuda"`` or
      ``"cpu"`` backward kernel) or ``"exact"`` (the continuous CuBa-LIF integrated exactly on a grid
      of ``h = k dt``, inputs delivered at the next grid point; needs ``tau_s > 0``).
    """

    SCHEME: ClassVar[str] = NAME

    dataset: str = "mnist"
    encoding: str = "ttfs"
    hidden: tuple = (800,)
    dt: float = 1.0
    n_steps: int = 100
    k: int = 1
    binning: str = "or"
    t_in: float = 100.0
    rate_gain: float = 0.25
    tau_s: float = 3.48
    tau: float = 32.8
    theta: float = 1.0
    reset: str = "subtract"
    quantize: bool = False
    surrogate: str = "slayer"
    surrogate_width: float = 1.0
    loss: str = "count_ce"
    true_rate: float = 0.2
    false_rate: float = 0.03
    weight_scale: float = 1.0
    nmnist_subset: str = "quick"
    test_from_train: int = 0
    clock: str = "loihi"
    skip_backward: str = "cuda"

    def validate(self) -> None:
        super().validate()
        c = self._check
        c("dataset", self.dataset in ("mnist", "nmnist"), "'mnist' or 'nmnist'")
        c("encoding", self.encoding in ("ttfs", "rate"), "'ttfs' or 'rate'")
        c("hidden", isinstance(self.hidden, tuple) and all(isinstance(h, int) and h > 0 for h in self.hidden),
          "a tuple of positive layer sizes")
        c("dt", is_positive(self.dt), "a positive number of ms")
        c("n_steps", isinstance(self.n_steps, int) and self.n_steps >= 1, "an integer >= 1")
        c("k", isinstance(self.k, int) and 1 <= self.k <= self.n_steps, "an integer in [1, n_steps]")
        c("binning", self.binning in ("or", "count"), "'or' or 'count'")
        c("t_in", is_positive(self.t_in), "a positive number of ms")
        c("rate_gain", is_positive(self.rate_gain) and self.rate_gain <= 1, "a probability in (0, 1]")
        c("tau_s", self.tau_s == 0 or is_positive(self.tau_s), "0 (no synaptic current) or a positive number of ms")
        c("tau", is_positive(self.tau), "a positive number of ms")
        c("theta", is_positive(self.theta), "a positive threshold")
        c("reset", self.reset in ("subtract", "zero"), "'subtract' or 'zero'")
        c("surrogate", self.surrogate in SURROGATES, f"one of {', '.join(SURROGATES)}")
        c("surrogate_width", is_positive(self.surrogate_width), "a positive number")
        c("loss", self.loss in ("rate", "count_ce", "temporal_ce"), "'rate', 'count_ce' or 'temporal_ce'")
        c("true_rate", 0 <= self.true_rate <= 1, "a rate in [0, 1]")
        c("false_rate", 0 <= self.false_rate <= 1, "a rate in [0, 1]")
        c("weight_scale", is_positive(self.weight_scale), "a positive number")
        c("nmnist_subset", self.nmnist_subset in ("quick", "full"), "'quick' or 'full'")
        c("test_from_train", isinstance(self.test_from_train, int) and self.test_from_train >= 0
          and (self.test_from_train == 0 or self.dataset == "nmnist"),
          "a number of training recordings >= 0 (N-MNIST only; MNIST has a 10,000-digit test set)")
        c("clock", self.clock in CLOCKS, " or ".join(map(repr, CLOCKS)))
        c("skip_backward", self.skip_backward in ("cuda", "cpu"), "'cuda' or 'cpu'")
        if self.clock != "loihi":
            c("quantize", not self.quantize, "False (Loihi's 12-bit decays belong to clock='loihi')")
            c("binning", self.binning == "or", "'or' (binary input) with clock='skip' or 'exact'")
        if self.clock == "exact":
            c("tau_s", self.tau_s > 0, "a positive number of ms: the exact grid integrates the CuBa-LIF")
            c("encoding", self.dataset == "nmnist" or self.encoding == "ttfs",
              "'ttfs' with clock='exact' (the rate code draws spikes per base bin)")
        if self.dataset == "mnist" and self.encoding == "ttfs":
            window = self.n_steps * self.dt
            c("t_in", self.t_in <= window,
              f"at most the simulated window n_steps * dt = {window:g} ms, or the input spikes after it are "
              f"dropped: lower t_in, or raise n_steps to {grid_steps(self.t_in, self.dt)}")


Config = BPTTConfig


def neuron(cfg: BPTTConfig):
    """The neuron: the continuous CuBa-LIF (``clock="exact"``) or the discrete neuron of one
    simulation step (``k`` base bins; one base bin with ``clock="skip"``, whose layer keeps every
    ``k``-th step)."""
    if cfg.clock == "exact":
        return NeuronParams(tau_s=cfg.tau_s, tau=cfg.tau, theta=cfg.theta, reset=cfg.reset)
    step = cfg.dt * (1 if cfg.clock == "skip" else cfg.k)
    alpha = 0.0 if cfg.tau_s == 0 else float(np.exp(-step / cfg.tau_s))
    beta = float(np.exp(-step / cfg.tau))
    if cfg.quantize:
        return CubaDiscrete.from_loihi(1 - alpha, 1 - beta, cfg.theta, cfg.reset, quantize=True)
    return CubaDiscrete(alpha, beta, cfg.theta, cfg.reset)


def clock_discretization(cfg: BPTTConfig) -> ClockDiscretization:
    if cfg.clock == "skip":
        return ClockDiscretization("skip", k=cfg.k, skip_backward=cfg.skip_backward)
    if cfg.clock == "exact":
        return ClockDiscretization("exact", h=cfg.dt * cfg.k)
    return ClockDiscretization()


def _coarsen(r: Raster, k: int, binning: str) -> Raster:
    if k == 1:
        return r
    if binning == "count":
        raise ValueError("count binning gives non-binary input; use binning='or' with sparse input.")
    T, B, N = r.shape
    key = torch.unique(((r.t // k) * B + r.b) * N + r.n)
    tb = key // N
    return Raster((-(-T // k), B, N), tb // B, tb % B, key % N)


#: random streams of the rate code, one per split
_STREAMS = {"train": 0, "val": 1, "test": 2}


def encoder(cfg: BPTTConfig, seed: int = 0, split: str = "train"):
    """``encode(x, idx)``: the network input of samples ``idx`` of the array/dataset ``x`` of ``split``.

    Rate code: each split has its own random stream. The training stream advances (fresh spikes
    every epoch); a validation or test sample's spikes are fixed by ``(seed, split, index)``, so
    the evaluation input is the same every epoch.
    """
    if split not in _STREAMS:
        raise ValueError(f"split = {split!r}: expected one of {', '.join(_STREAMS)}.")
    if cfg.clock == "exact":  # on the grid of h = k dt, an input at t arrives at ceil(t / h) h
        h, steps = cfg.dt * cfg.k, -(-cfg.n_steps // cfg.k)
        if cfg.dataset == "mnist":
            return lambda x, idx: encoding.ttfs_raster(x[idx], steps, h, cfg.t_in, rounding="ceil")
        return lambda x, idx: encoding.events_raster([x[i][0] for i in idx], steps, h, rounding="ceil")
    if cfg.clock == "skip":  # base bins: the layer itself keeps every k-th step
        cfg = dataclasses.replace(cfg, k=1, clock="loihi")
    if cfg.dataset == "mnist" and cfg.encoding == "ttfs":
        def encode(x, idx):
            return _coarsen(encoding.ttfs_raster(x[idx], cfg.n_steps, cfg.dt, cfg.t_in), cfg.k, cfg.binning)
    elif cfg.dataset == "mnist":
        gen = torch.Generator().manual_seed(seed)

        def encode(x, idx):
            if split == "train":
                dense = encoding.rate(x[idx], cfg.n_steps, cfg.rate_gain, generator=gen)
            else:
                dense = encoding.rate_fixed(x[idx], idx, cfg.n_steps, cfg.rate_gain, seed, _STREAMS[split])
            return rebin(dense, cfg.k, cfg.binning) if cfg.binning == "count" else \
                Raster.from_dense(rebin(dense, cfg.k, "or"))
    else:
        def encode(x, idx):
            r = encoding.events_raster([x[i][0] for i in idx], cfg.n_steps, cfg.dt)
            return _coarsen(r, cfg.k, cfg.binning)
    return encode


def load(cfg: BPTTConfig):
    """``(x, y)`` for train / val / test (:func:`snnlib.data.splits.mnist_splits` or
    :func:`snnlib.data.splits.nmnist_splits`: N-MNIST's validation recordings, and ``test_from_train``
    more, are held out of the training recordings, seeded)."""
    if cfg.dataset == "mnist":
        return mnist_splits(cfg)
    return nmnist_splits(cfg)


def _loss_and_predict(cfg: BPTTConfig):
    if cfg.loss == "rate":
        return (lambda out, y: losses.spike_rate_loss(out, y, cfg.true_rate, cfg.false_rate)), losses.predict_by_count
    if cfg.loss == "count_ce":
        return losses.count_cross_entropy, losses.predict_by_count
    return losses.temporal_cross_entropy, losses.predict_by_first_spike


def sizes(cfg: BPTTConfig) -> tuple:
    """Layer sizes: MNIST 784 or N-MNIST 2 x 34 x 34 inputs, the hidden layers, 10 classes."""
    return (784 if cfg.dataset == "mnist" else 2 * 34 * 34, *cfg.hidden, 10)


class BPTTScheme:
    """BPTT with surrogate gradients on clock-driven networks (see :mod:`snnlib.training.driver` for the protocol)."""

    name = NAME
    config = BPTTConfig

    def data(self, cfg):
        return load(cfg)

    def encoder(self, cfg, split):
        return encoder(cfg, cfg.seed, split)

    def build(self, cfg, generator):
        return ClockNetwork(sizes(cfg), neuron(cfg), get_surrogate(cfg.surrogate, cfg.surrogate_width),
                            weight_scale=cfg.weight_scale, generator=generator,
                            discretization=clock_discretization(cfg))

    def loss(self, cfg):
        return _loss_and_predict(cfg)[0]

    def predict(self, cfg):
        return _loss_and_predict(cfg)[1]

    def default_lr(self, cfg):
        return 1e-3

    def attrs(self, cfg):
        # the most hidden spikes a sample can draw: every hidden neuron spiking at every step
        capacity = sum(cfg.hidden) * -(-cfg.n_steps // cfg.k)
        return dict(dataset=cfg.dataset, sizes=str(sizes(cfg)), step_ms=cfg.dt * cfg.k,
                    clock=clock_discretization(cfg).label, hidden_capacity=int(capacity))

