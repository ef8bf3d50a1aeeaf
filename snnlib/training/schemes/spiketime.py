"""Exact spike-time training (BATS scheme) of event-driven CuBa-LIF networks on MNIST.

Time-to-first-spike input (``t = t_in (1 - pixel/255)``, black pixels silent), BATS's
hyper-parameters (:class:`BatsConfig`), trained by the one driver
(:mod:`snnlib.training.driver`; one seed per run). ``dt`` set: seed 000's discretized variant
(every layer's input spike times delayed to the grid, straight-through backward); ``dt = None``:
the continuous benchmark.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Optional

import torch

from snnlib.config import is_positive
from snnlib.data import datasets as data
from snnlib.data import encoding
from snnlib.data import yinyang
from snnlib.data.splits import mnist_splits, nmnist_splits, yinyang_splits
from snnlib.events.network import EventNetwork
from snnlib.model.discretization import Discretization
from snnlib.model.neuron import NeuronParams
from snnlib.training.base import TrainConfig
from snnlib.training.losses import (
    first_spike_cross_entropy,
    fit_targets,
    predict_events_by_count,
    predict_events_by_first_spike,
    spike_count_loss,
)
from snnlib.training.probes import TrainingProbe, fixed_batch

NAME = "spiketime"
DATASETS = ("mnist", "mnist-threshold", "nmnist", "yinyang")


MS_PER_S = 1000.0


@dataclasses.dataclass(frozen=True)
class BatsConfig:
    """BATS's MNIST hyper-parameters (``experiments/mnist/train_spike_count.py`` and
    ``train_ttfs.py`` of github.com/Florian-BACHO/bats), times in ms.

    Attributes:
        sizes: layer sizes, input first. tau_s: synaptic time constant (``tau = 2 tau_s``).
        theta_bats: per-layer thresholds in BATS's units (time in s; ours: ``1000 theta``).
        max_spikes: per-layer spike buffer ``K``. t_max: simulation window.
        init_low, init_high: per-layer ``U(low, high)`` weight initialisation.
        lr, batch_size: Adam learning rate and batch size.
        target_true, target_false: spike-count targets. tau_loss: first-spike CE temperature.
        loss: ``"spike_count"`` or ``"first_spike_ce"``.

    **Units and BATS.** One input spike of weight ``w`` gives ``V(s) = w tau (x - x^2)``,
    ``x = exp(-s/tau)``. BATS writes the same model with time in *seconds* (``tau_s = 0.13``): its
    threshold condition is ``sum w (x - x^2) = theta_BATS / tau[s]`` (``c = theta / tau`` in its
    ``LIFLayer``). With time in ms the same weights give ``V`` 1000 times larger, so we keep BATS's
    weights (and so its initialisations and Adam learning rates) and scale the thresholds:
    ``theta_ours = theta_BATS * tau[ms] / tau[s] = 1000 theta_BATS`` (:class:`BatsConfig` holds
    ``theta_BATS``; 200 / 1300 for BATS's multi-spike 0.2 / 1.3).
    """

    sizes: tuple = (784, 800, 10)
    tau_s: float = 130.0
    theta_bats: tuple = (0.2, 1.3)
    max_spikes: tuple = (30, 30)
    t_max: float = 200.0
    init_low: tuple = (-1.0, -1.0)
    init_high: tuple = (1.0, 1.0)
    lr: float = 0.003
    batch_size: int = 50
    target_true: int = 15
    target_false: int = 3
    tau_loss: float = 5.0
    loss: str = "spike_count"

    def __post_init__(self) -> None:
        L = len(self.sizes) - 1
        for name in ("theta_bats", "max_spikes", "init_low", "init_high"):
            if len(getattr(self, name)) != L:
                raise ValueError(f"{name} needs one value per layer ({L}), got {getattr(self, name)!r}")
        if self.loss not in ("spike_count", "first_spike_ce"):
            raise ValueError(f"loss must be 'spike_count' or 'first_spike_ce', got {self.loss!r}")

    @classmethod
    def multi_spike(cls, **kw) -> "BatsConfig":
        """Multi-spike MNIST (the defaults): 0.2 / 1.3, K = 30 / 30, 200 ms, counts 15 / 3."""
        return cls(**kw)

    @classmethod
    def single_spike(cls, **kw) -> "BatsConfig":
        """Single-spike MNIST: 0.7 / 2.0, K = 1, 1000 ms, U(0, 1), first-spike CE, Adam 0.002."""
        base = dict(theta_bats=(0.7, 2.0), max_spikes=(1, 1), t_max=1000.0, init_low=(0.0, 0.0),
                    init_high=(1.0, 1.0), lr=0.002, loss="first_spike_ce")
        return cls(**{**base, **kw})

    @property
    def tau(self) -> float:
        return 2.0 * self.tau_s

    def params(self) -> list[NeuronParams]:
        """Per-layer :class:`NeuronParams` with ``theta = MS_PER_S * theta_bats`` (BATS's time unit
        is the second, ours the ms: see the module docstring)."""
        return [NeuronParams(tau_s=self.tau_s, theta=MS_PER_S * th) for th in self.theta_bats]


class SpikeTimeNetwork(EventNetwork):
    """BATS's network from a :class:`BatsConfig`: an :class:`~snnlib.events.network.EventNetwork` with
    the exact discretization, or with ``dt`` (ms) the discretized variant of seed 000: the
    input spike times of every layer are delayed to the grid (``Discretization(input="grid",
    dt=dt)``, straight-through backward) and the layer is simulated exactly on these. Weights
    ``U(low, high)`` per layer from ``generator``. ``backend``: one of
    :data:`snnlib.events.layer.BACKENDS` (``"auto"``: the compiled kernels; ``"torch"``: autograd
    through the reference)."""

    def __init__(self, config: BatsConfig = BatsConfig(), *, dt: Optional[float] = None,
                 backend: str = "auto", dtype: torch.dtype = torch.float32,
                 generator: Optional[torch.Generator] = None):
        d = Discretization() if dt is None else Discretization(input="grid", dt=dt)
        super().__init__(config.sizes, config.params(), max_spikes=list(config.max_spikes), t_max=config.t_max,
                         discretization=d, init=list(zip(config.init_low, config.init_high)),
                         backend=backend, dtype=dtype, generator=generator)
        self.config, self.dt = config, dt


@dataclasses.dataclass(frozen=True)
class SpikeTimeConfig(TrainConfig):
    """The training fields of :class:`snnlib.training.base.TrainConfig` (``lr = None``: the variant's
    Adam rate) and (time in ms):

    - ``variant``: ``"multi"`` (BATS multi-spike: thresholds 0.2 / 1.3 in BATS's units, up to 30
      spikes per neuron, 200 ms, spike-count loss with targets 15 / 3, Adam 0.003) or ``"single"``
      (0.7 / 2.0, one spike, 1 s, first-spike cross-entropy with ``tau_loss`` 5 ms, Adam 0.002).
    - ``hidden``: hidden layer sizes (BATS: ``(800,)``).
    - ``dt``: grid of the discretized variant (ms), or ``None`` (continuous benchmark).
    - ``t_in``: time-to-first-spike window of the input (ms).
    - ``dataset``: ``"mnist"``, ``"mnist-threshold"`` (pixels binarised at 128,
      :func:`snnlib.data.datasets.threshold_images`: every input spike at ``t = 0``; seed 001) or
      ``"nmnist"`` (the event streams as multi-spike input, 2312 inputs,
      :func:`snnlib.data.encoding.event_times`; ``nmnist_subset``, ``test_from_train`` as in
      :func:`snnlib.data.splits.nmnist_splits`).
    - ``t_max``: simulation window (ms), ``None`` for the variant's (BATS: 200 ms multi-spike);
      N-MNIST events after it are dropped.
    - ``theta_bats``: thresholds (hidden, output) in BATS's units (every hidden layer the hidden one), or
      one per layer, ``None`` for the variant's; ``weight_scale``: factor on the variant's initial weight bounds.
    - ``tau_s``: synaptic time constant (ms, ``tau = 2 tau_s``), ``None`` for BATS's 130 ms.
    - ``max_spikes``: spikes per neuron (every layer's buffer), ``None`` for the variant's (30 / 1).
    - ``targets``: the spike-count loss's targets (true, false), ``None`` for the variant's (15 / 3);
      ``fit_targets``: scale them to what the output can reach (:meth:`capacity`,
      :func:`snnlib.training.losses.fit_targets`).
    - ``dataset = "yinyang"``: :mod:`snnlib.data.yinyang` (the published 5,000 / 1,000 / 1,000
      points, ``n_val`` the first of its own validation split), features as first-spike times in
      ``[0, t_in]`` and a bias spike at 0 (5 inputs), 3 classes.
    - ``time_shuffle``: N-MNIST's time-shuffled control (:func:`snnlib.data.encoding.shuffle_times`,
      fixed per recording by ``(seed, split, index)``: the same recordings as the BPTT scheme's).
    """

    SCHEME: ClassVar[str] = NAME
    ADDED: ClassVar[dict] = {**TrainConfig.ADDED, "tau_s": None, "max_spikes": None, "targets": None,
                             "fit_targets": False, "time_shuffle": False}

    variant: str = "multi"
    hidden: tuple = (800,)
    dt: float | None = None
    t_in: float = 100.0
    dataset: str = "mnist"
    nmnist_subset: str = "quick"
    test_from_train: int = 0
    t_max: float | None = None
    theta_bats: tuple | None = None
    weight_scale: float = 1.0
    tau_s: float | None = None
    max_spikes: int | None = None
    targets: tuple | None = None
    fit_targets: bool = False
    time_shuffle: bool = False
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
        c("nmnist_subset", self.nmnist_subset in ("quick", "full"), "'quick' or 'full'")
        c("test_from_train", isinstance(self.test_from_train, int) and self.test_from_train >= 0
          and (self.test_from_train == 0 or self.dataset == "nmnist"),
          "a number of training recordings >= 0 (N-MNIST only)")
        c("t_max", self.t_max is None or is_positive(self.t_max), "None (the variant's window) or a positive number of ms")
        n_layers = len(self.hidden) + 1
        c("theta_bats", self.theta_bats is None or (isinstance(self.theta_bats, tuple)
                                                    and len(self.theta_bats) in (2, n_layers)
                                                    and all(is_positive(v) for v in self.theta_bats)),
          f"None (the variant's), two positive thresholds (hidden, output) or one per layer ({n_layers}) in BATS's units")
        c("weight_scale", is_positive(self.weight_scale), "a positive factor")
        c("tau_s", self.tau_s is None or is_positive(self.tau_s), "None (BATS's 130 ms) or a positive number of ms")
        c("max_spikes", self.max_spikes is None or (isinstance(self.max_spikes, int) and not isinstance(
            self.max_spikes, bool) and self.max_spikes >= 1), "None (the variant's) or an integer >= 1")
        c("targets", self.targets is None or (isinstance(self.targets, tuple) and len(self.targets) == 2
                                              and all(isinstance(v, (int, float)) for v in self.targets)
                                              and self.targets[0] > self.targets[1] >= 0),
          "None (the variant's) or two spike counts (true, false) with true > false >= 0")
        c("time_shuffle", isinstance(self.time_shuffle, bool) and (not self.time_shuffle or self.dataset == "nmnist"),
          "False, or True with dataset='nmnist' (event times permuted within each recording)")
        c("fit_targets", isinstance(self.fit_targets, bool) and (not self.fit_targets or self.variant == "multi"),
          "False, or True with variant='multi' (the spike-count loss)")
        window = self.window()
        c("dt", self.dt is None or self.dt < window,
          f"a step smaller than the window t_max = {window:g} ms (with a step as long as the window, only "
          "input spikes at t = 0 are ever delivered): lower dt, or raise t_max")
        if self.dataset in ("mnist", "yinyang"):
            c("t_in", self.t_in <= window,
              f"at most the window t_max = {window:g} ms, or the input spikes after it are dropped: lower t_in, "
              f"or raise t_max to at least {self.t_in:g} ms")

    def window(self) -> float:
        """The simulation window (ms): ``t_max``, else the variant's (BATS: 200 ms multi-spike, 1 s single)."""
        if self.t_max is not None:
            return float(self.t_max)
        return (BatsConfig.multi_spike() if self.variant == "multi" else BatsConfig.single_spike()).t_max


Config = SpikeTimeConfig


def bats_config(cfg: SpikeTimeConfig) -> BatsConfig:
    """The network and loss settings: BATS's variant with this run's sizes and batch size."""
    make = BatsConfig.multi_spike if cfg.variant == "multi" else BatsConfig.single_spike
    base = make()
    n = len(cfg.hidden) + 1
    per_layer = lambda v: tuple(v[:1]) * (n - 1) + tuple(v[-1:])  # noqa: E731  hidden value(s), output value
    n_in = {"nmnist": 2 * 34 * 34, "yinyang": 5}.get(cfg.dataset, 784)
    n_out = 3 if cfg.dataset == "yinyang" else 10
    ws = cfg.weight_scale
    max_spikes = base.max_spikes if cfg.max_spikes is None else (cfg.max_spikes,)
    theta = cfg.theta_bats or base.theta_bats
    overrides = dict(sizes=(n_in, *cfg.hidden, n_out), batch_size=cfg.batch_size,
                     theta_bats=tuple(theta) if len(theta) == n else per_layer(theta), max_spikes=per_layer(max_spikes),
                     init_low=per_layer(tuple(ws * v for v in base.init_low)),
                     init_high=per_layer(tuple(ws * v for v in base.init_high)))
    if cfg.t_max is not None:
        overrides["t_max"] = cfg.t_max
    if cfg.tau_s is not None:
        overrides["tau_s"] = cfg.tau_s
    if cfg.targets is not None:
        overrides["target_true"], overrides["target_false"] = cfg.targets
    if cfg.lr is not None:
        overrides["lr"] = cfg.lr
    return make(**overrides)


def ttfs_encoder(cfg: SpikeTimeConfig, split: str = "train"):
    """``encode(x, idx)``: time-to-first-spike input of the digits ``idx`` (thresholded first for
    ``dataset = "mnist-threshold"``); for N-MNIST the recordings' events as input times
    (:func:`snnlib.data.encoding.event_times`, within the window)."""
    if cfg.dataset == "yinyang":
        return lambda x, idx: yinyang.spike_times(x[idx], t_late=cfg.t_in, dtype=torch.float32)
    if cfg.dataset == "nmnist":
        t_max = bats_config(cfg).t_max

        def encode_events(x, idx):
            recs = (encoding.shuffled_recordings(x, idx, cfg.seed, encoding.SPLIT_STREAMS[split]) if cfg.time_shuffle
                    else [x[int(i)][0] for i in idx])
            return encoding.event_times(recs, t_max, dtype=torch.float32)
        return encode_events

    def encode(x, idx):
        images = x[idx] if cfg.dataset == "mnist" else data.threshold_images(x[idx])
        return encoding.ttfs(images, cfg.t_in, dtype=torch.float32)
    return encode


class SpikeTimeScheme:
    """Exact spike-time gradients on event-driven networks (see :mod:`snnlib.training.driver` for the protocol)."""

    name = NAME
    config = SpikeTimeConfig

    def data(self, cfg):
        if cfg.dataset == "yinyang":
            return yinyang_splits(cfg)
        return nmnist_splits(cfg) if cfg.dataset == "nmnist" else mnist_splits(cfg)

    def encoder(self, cfg, split):
        return ttfs_encoder(cfg, split)

    def build(self, cfg, generator):
        return SpikeTimeNetwork(bats_config(cfg), dt=cfg.dt, generator=generator)

    def capacity(self, cfg) -> int:
        """The most spikes an output neuron can emit: its spike buffer (the continuous network and
        seed 000's grid-input variant, whose layers spike at any time)."""
        return bats_config(cfg).max_spikes[-1]

    def targets(self, cfg) -> tuple[float, float]:
        """The spike-count targets (true, false): the config's or the variant's, with ``fit_targets``
        scaled to :meth:`capacity` (:func:`snnlib.training.losses.fit_targets`)."""
        bc = bats_config(cfg)
        y = (float(bc.target_true), float(bc.target_false))
        return fit_targets(*y, self.capacity(cfg)) if cfg.fit_targets else y

    def loss(self, cfg):
        bc = bats_config(cfg)
        if bc.loss == "spike_count":
            y_true, y_false = self.targets(cfg)
            return lambda out, y: spike_count_loss(out, y, y_true, y_false)
        return lambda out, y: first_spike_cross_entropy(out, y, bc.tau_loss)

    def predict(self, cfg):
        return predict_events_by_count if bats_config(cfg).loss == "spike_count" else predict_events_by_first_spike

    def default_lr(self, cfg):
        return bats_config(cfg).lr

    def probe(self, cfg, batches, model):
        """The reference timing of :class:`snnlib.training.probes.TrainingProbe` (first 256 validation
        samples, the exact network at ``model``'s initial weights), which makes epoch times of
        runs made at different moments comparable."""
        return TrainingProbe(*fixed_batch(batches["val"], 256), self.loss(cfg), model, alignment=False)

    def attrs(self, cfg):
        bc = bats_config(cfg)
        # the most hidden spikes a sample can draw: every hidden neuron filling its spike buffer
        capacity = sum(n * k for n, k in zip(bc.sizes[1:-1], bc.max_spikes[:-1]))
        return dict(variant=cfg.variant, sizes=str(bc.sizes), thresholds=str(tuple(p.theta for p in bc.params())),
                    dt_ms="none" if cfg.dt is None else cfg.dt, dataset=cfg.dataset, hidden_capacity=int(capacity),
                    tau_s_ms=bc.tau_s, **({"targets": str(self.targets(cfg))} if bc.loss == "spike_count" else {}))

