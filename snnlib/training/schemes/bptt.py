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
from snnlib.data import yinyang
from snnlib.data.splits import mnist_splits, nmnist_splits, yinyang_splits
from snnlib.device import to_device
from snnlib.model.discretization import ClockDiscretization, grid_capacity, grid_steps
from snnlib.model.neuron import NeuronParams
from snnlib.model.surrogates import SURROGATES, get_surrogate
from snnlib.training import losses
from snnlib.training.base import TrainConfig
from snnlib.training.probes import SurrogateProbe, fixed_batch
from snnlib.training.schemes import spiketime

NAME = "bptt"
CLOCKS = ("loihi", "skip", "exact", "seed000")
DATASETS = ("mnist", "nmnist", "yinyang")
LOSSES = ("rate", "count_ce", "count_mse", "temporal_ce")


@dataclasses.dataclass(frozen=True)
class BPTTConfig(TrainConfig):
    """The training fields of :class:`snnlib.training.base.TrainConfig` (``lr = None``: 1e-3; ``n_val``
    N-MNIST recordings are held out of the training recordings) and (time in ms):

    - ``dataset``: ``"mnist"``, ``"nmnist"`` or ``"yinyang"`` (:mod:`snnlib.data.yinyang`: the
      published 5,000 / 1,000 / 1,000 points, ``n_val`` the first of its own validation split;
      features ``(x, y, 1-x, 1-y)`` as first-spike times in ``[0, t_in]`` plus a bias spike at 0,
      5 inputs, 3 classes); ``encoding``: ``"ttfs"`` or ``"rate"`` (MNIST only); ``time_shuffle``:
      N-MNIST's time-shuffled control (:func:`snnlib.data.encoding.shuffle_times`, fixed per recording
      by ``(seed, split, index)``);
      ``nmnist_subset``: ``"quick"`` or ``"full"``; ``test_from_train``: N-MNIST training
      recordings held out (seeded by ``val_seed``, disjoint from validation) and added to the test
      split after the official test recordings (the quick subset has only 100 of those).
    - ``hidden``: hidden layer sizes, e.g. ``(800,)`` for 784-800-10, ``(512, 512)`` for lava-dl's recipe.
    - ``dt``: base bin (ms); ``n_steps``: base bins simulated (window ``n_steps * dt``);
      ``k``: simulate with steps of ``k`` base bins; ``binning``: ``"or"`` or ``"count"`` merging (with
      ``clock="exact"``, N-MNIST only: ``"or"`` delivers one spike per pixel and grid point, ``"count"``
      every event, a pixel's events in one step adding up, as the event network's grid input does).
    - ``t_in``: time-to-first-spike window (ms); ``rate_gain``: spike probability per bin of a white pixel.
    - ``tau_s``, ``tau``: current and voltage time constants (ms): decays ``exp(-dt/tau)`` per step;
      ``tau_s = 0`` gives the snnTorch ``Leaky`` neuron (no synaptic current).
    - ``theta``: threshold, or one per layer (a tuple, e.g. BATS's ``(200, 1300)``); ``reset``:
      ``"subtract"`` or ``"zero"``; ``quantize``: Loihi 12-bit decays.
    - ``surrogate``, ``surrogate_width``: spike derivative (``slayer``, ``arctan``, ``fast_sigmoid``);
      ``surrogate_unit``: ``"absolute"`` (the width in voltage units) or ``"theta"`` (SLAYER's
      width in units of each layer's threshold, as lava-dl's ``tau_rho``: ``slayer`` only).
    - ``loss``: ``"rate"`` (lava-dl spike rate, ``true_rate``/``false_rate``), ``"count_ce"``,
      ``"count_mse"`` (BATS's spike-count loss with count ``targets`` (true, false), prediction by
      count, ties by the earliest first spike: the event scheme's rule) or ``"temporal_ce"``
      (cross-entropy of first-spike steps, prediction by first spike). ``fit_targets``: scale the
      count targets to what the output can reach on the grid
      (:func:`snnlib.training.losses.fit_targets` of :func:`snnlib.model.discretization.grid_capacity`;
      ``clock="exact"`` only).
    - ``init``: ``"kaiming"`` (Kaiming-uniform times ``weight_scale``) or ``"uniform"``
      (``U(-weight_scale, weight_scale)`` in every layer: BATS's multi-spike rule, the event network's);
      ``weight_scale``: the factor.
    - ``clock``: how the layers step through time (:class:`snnlib.model.discretization.ClockDiscretization`):
      ``"loihi"`` (the recurrence with the decays of one step of ``k`` base bins, inputs merged
      into the coarse bins), ``"skip"`` (seed 000's step skipping: the base recurrence keeps
      running and only every ``k``-th step is kept; ``skip_backward``: the seed's ``"cuda"`` or
      ``"cpu"`` backward kernel; ``skip_eval=False``: skip in training only, as the seed ran;
      ``skip_gain``: the synaptic gain skipping loses restored, a control) or
      ``"exact"`` (the continuous CuBa-LIF integrated exactly on a grid of ``h = k dt``, inputs
      delivered at the next grid point; needs ``tau_s > 0``) or ``"seed000"`` (seed 000 as it ran,
      :func:`snnlib.clock.stepping.skip_sequence`: inputs binned at ``h = k dt`` to the nearest bin,
      each bin one step of the neuron with the decays of ``dt`` (lava-dl's per-bin decays, whatever
      the bin width), the skip with the same ``k`` applied to those coarse bins in training only;
      evaluation runs every coarse bin; ``skip_gain`` restores the gain the skipping loses).
    - ``probe_alignment``: after every epoch, the cosine of the surrogate gradient with the exact
      spike-time gradient of the continuous network of the same neuron and weights
      (:class:`snnlib.training.probes.SurrogateProbe`, :func:`exact_twin`; the first 256 validation
      samples), recorded as ``probe_cosine``, ``probe_cosine_layer<l>``.
    - ``decay_step``: the ms of decay one base bin applies (``None``: ``dt``, the physical decay). Seed
      000 kept lava-dl's per-bin decays whatever the bin width, i.e. ``decay_step = 1`` with
      ``dt`` = its timestep. ``rounding``: an input spike's bin, ``"floor"`` (the bin that contains
      it) or ``"nearest"`` (seed 000's N-MNIST binning).
    """

    SCHEME: ClassVar[str] = NAME
    ADDED: ClassVar[dict] = {**TrainConfig.ADDED, "init": "kaiming", "targets": (15.0, 3.0), "fit_targets": False,
                             "surrogate_unit": "absolute", "time_shuffle": False, "skip_eval": True,
                             "skip_gain": False, "decay_step": None, "rounding": "floor", "probe_alignment": False}

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
    theta: float | tuple = 1.0
    reset: str = "subtract"
    quantize: bool = False
    surrogate: str = "slayer"
    surrogate_width: float = 1.0
    surrogate_unit: str = "absolute"
    loss: str = "count_ce"
    true_rate: float = 0.2
    false_rate: float = 0.03
    weight_scale: float = 1.0
    init: str = "kaiming"
    targets: tuple = (15.0, 3.0)
    fit_targets: bool = False
    time_shuffle: bool = False
    nmnist_subset: str = "quick"
    test_from_train: int = 0
    clock: str = "loihi"
    skip_backward: str = "cuda"
    skip_eval: bool = True
    skip_gain: bool = False
    decay_step: float | None = None
    rounding: str = "floor"
    probe_alignment: bool = False

    def validate(self) -> None:
        super().validate()
        c = self._check
        c("dataset", self.dataset in DATASETS, " or ".join(map(repr, DATASETS)))
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
        c("theta", is_positive(self.theta) or (isinstance(self.theta, tuple) and len(self.theta) == len(self.hidden) + 1
                                               and all(is_positive(v) for v in self.theta)),
          f"a positive threshold, or one per layer ({len(self.hidden) + 1})")
        c("reset", self.reset in ("subtract", "zero"), "'subtract' or 'zero'")
        c("surrogate", self.surrogate in SURROGATES, f"one of {', '.join(SURROGATES)}")
        c("surrogate_width", is_positive(self.surrogate_width), "a positive number")
        c("surrogate_unit", self.surrogate_unit == "absolute" or (self.surrogate_unit == "theta"
                                                                  and self.surrogate == "slayer"),
          "'absolute', or 'theta' with surrogate='slayer' (a width, like lava-dl's tau_rho)")
        c("loss", self.loss in LOSSES, " or ".join(map(repr, LOSSES)))
        c("init", self.init in ("kaiming", "uniform"), "'kaiming' or 'uniform'")
        c("time_shuffle", isinstance(self.time_shuffle, bool) and (not self.time_shuffle or self.dataset == "nmnist"),
          "False, or True with dataset='nmnist' (event times permuted within each recording)")
        c("targets", isinstance(self.targets, tuple) and len(self.targets) == 2
          and all(isinstance(v, (int, float)) for v in self.targets) and self.targets[0] > self.targets[1] >= 0,
          "two spike counts (true, false) with true > false >= 0")
        c("fit_targets", isinstance(self.fit_targets, bool) and (not self.fit_targets or (
            self.clock == "exact" and self.loss == "count_mse")),
          "False, or True with clock='exact' and loss='count_mse' (the grid's capacity is the exact grid's)")
        c("true_rate", 0 <= self.true_rate <= 1, "a rate in [0, 1]")
        c("false_rate", 0 <= self.false_rate <= 1, "a rate in [0, 1]")
        c("weight_scale", is_positive(self.weight_scale), "a positive number")
        c("nmnist_subset", self.nmnist_subset in ("quick", "full"), "'quick' or 'full'")
        c("test_from_train", isinstance(self.test_from_train, int) and self.test_from_train >= 0
          and (self.test_from_train == 0 or self.dataset == "nmnist"),
          "a number of training recordings >= 0 (N-MNIST only; MNIST has a 10,000-digit test set)")
        c("clock", self.clock in CLOCKS, " or ".join(map(repr, CLOCKS)))
        c("skip_backward", self.skip_backward in ("cuda", "cpu"), "'cuda' or 'cpu'")
        c("skip_eval", isinstance(self.skip_eval, bool) and (self.skip_eval or self.clock == "skip"),
          "True, or False with clock='skip' (skip in training only, as seed 000 ran)")
        c("skip_gain", isinstance(self.skip_gain, bool) and (not self.skip_gain or self.clock in ("skip", "seed000")),
          "False, or True with clock='skip' or 'seed000' (the synaptic gain that skipping loses, restored)")
        if self.clock == "seed000":
            c("encoding", self.dataset != "mnist" or self.encoding == "ttfs",
              "'ttfs' with clock='seed000' (the rate code draws spikes per base bin)")
            c("rounding", self.rounding == "floor", "'floor' (unused: clock='seed000' bins to the nearest bin)")
            c("decay_step", self.decay_step is None, "None (clock='seed000' applies the decays of dt per bin)")
        c("decay_step", self.decay_step is None or (is_positive(self.decay_step) and self.clock != "exact"),
          "None (the decays of the step itself) or a positive number of ms, not with clock='exact'")
        c("rounding", self.rounding in ("floor", "nearest") and (self.rounding == "floor" or self.clock != "exact"),
          "'floor' or 'nearest' (the bin of an input spike; the exact grid delivers at the next point)")
        if self.clock != "loihi":
            c("quantize", not self.quantize, "False (Loihi's 12-bit decays belong to clock='loihi')")
            c("binning", self.binning == "or" or (self.clock == "exact" and self.dataset == "nmnist"),
              "'or' (binary input) with clock='skip' or 'seed000'; 'count' with clock='exact' on N-MNIST only")
        if self.clock == "exact":
            c("tau_s", self.tau_s > 0, "a positive number of ms: the exact grid integrates the CuBa-LIF")
            c("encoding", self.dataset == "nmnist" or self.encoding == "ttfs",
              "'ttfs' with clock='exact' (the rate code draws spikes per base bin)")
        if self.dataset == "yinyang":
            c("encoding", self.encoding == "ttfs", "'ttfs' (Yin-Yang's features are first-spike times)")
        c("probe_alignment", isinstance(self.probe_alignment, bool) and (not self.probe_alignment or (
            self.clock == "exact" and self.init == "uniform" and self.loss == "count_mse"
            and self.dataset in ("mnist", "yinyang") and abs(self.tau - 2 * self.tau_s) <= 1e-9 * self.tau)),
          "False, or True for the spike-time scheme's network on the exact grid (clock='exact', init='uniform', "
          "loss='count_mse', tau = 2 tau_s, MNIST or Yin-Yang): its exact gradient is the reference")
        if self.dataset in ("mnist", "yinyang") and self.encoding == "ttfs":
            window = self.n_steps * self.dt
            c("t_in", self.t_in <= window,
              f"at most the simulated window n_steps * dt = {window:g} ms, or the input spikes after it are "
              f"dropped: lower t_in, or raise n_steps to {grid_steps(self.t_in, self.dt)}")


Config = BPTTConfig


def neuron(cfg: BPTTConfig, theta: float | None = None):
    """The neuron: the continuous CuBa-LIF (``clock="exact"``) or the discrete neuron of one
    simulation step (``k`` base bins; one base bin with ``clock="skip"``, whose layer keeps every
    ``k``-th step); with per-layer thresholds, ``theta`` picks one (see :func:`neurons`)."""
    theta = cfg.theta if theta is None else theta
    if isinstance(theta, tuple):
        raise ValueError(f"theta = {theta}: per-layer thresholds give one neuron per layer; use neurons(cfg).")
    if cfg.clock == "exact":
        return NeuronParams(tau_s=cfg.tau_s, tau=cfg.tau, theta=theta, reset=cfg.reset)
    step = (cfg.dt if cfg.decay_step is None else cfg.decay_step) * (1 if cfg.clock in ("skip", "seed000") else cfg.k)
    alpha = 0.0 if cfg.tau_s == 0 else float(np.exp(-step / cfg.tau_s))
    beta = float(np.exp(-step / cfg.tau))
    if cfg.quantize:
        return CubaDiscrete.from_loihi(1 - alpha, 1 - beta, theta, cfg.reset, quantize=True)
    return CubaDiscrete(alpha, beta, theta, cfg.reset)


def _thetas(cfg: BPTTConfig) -> tuple:
    """Every layer's threshold (hidden layers first, the output last)."""
    return cfg.theta if isinstance(cfg.theta, tuple) else (cfg.theta,) * (len(cfg.hidden) + 1)


def neurons(cfg: BPTTConfig) -> list:
    """One neuron per layer (hidden layers first, the output last)."""
    return [neuron(cfg, th) for th in _thetas(cfg)]


def surrogates(cfg: BPTTConfig) -> list:
    """One surrogate per layer: ``surrogate_width``, times the layer's threshold with
    ``surrogate_unit="theta"``."""
    thetas = _thetas(cfg)
    scale = thetas if cfg.surrogate_unit == "theta" else (1.0,) * len(thetas)
    return [get_surrogate(cfg.surrogate, cfg.surrogate_width * s) for s in scale]


def grid_steps_of(cfg: BPTTConfig) -> int:
    """Steps simulated: ``ceil(n_steps / k)`` (``clock="skip"``: the layer keeps every ``k``-th
    of ``n_steps`` base steps, the same count; ``"seed000"``: the coarse bins, of which training
    keeps every ``k``-th)."""
    return -(-cfg.n_steps // cfg.k)


def targets(cfg: BPTTConfig) -> tuple[float, float]:
    """The count targets of ``loss="count_mse"``: ``cfg.targets``, with ``fit_targets`` scaled to
    the output's capacity on the exact grid (:func:`snnlib.training.losses.fit_targets`; grid points
    ``0 .. (steps - 1) h``, the output ``len(hidden) + 1`` layers above the input)."""
    if not cfg.fit_targets:
        return tuple(float(v) for v in cfg.targets)
    h = cfg.dt * cfg.k
    cap = grid_capacity((grid_steps_of(cfg) - 1) * h, h, len(cfg.hidden) + 1)
    return losses.fit_targets(*cfg.targets, cap)


def clock_discretization(cfg: BPTTConfig) -> ClockDiscretization:
    if cfg.clock == "seed000":  # on the coarse bins, in training only
        return ClockDiscretization("skip", k=cfg.k, skip_backward=cfg.skip_backward, eval_skip=False,
                                   skip_gain=cfg.skip_gain)
    if cfg.clock == "skip":
        return ClockDiscretization("skip", k=cfg.k, skip_backward=cfg.skip_backward, eval_skip=cfg.skip_eval,
                                   skip_gain=cfg.skip_gain)
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


def encoder(cfg: BPTTConfig, seed: int = 0, split: str = "train"):
    """``encode(x, idx)``: the network input of samples ``idx`` of the array/dataset ``x`` of ``split``.

    Rate code: each split has its own random stream. The training stream advances (fresh spikes
    every epoch); a validation or test sample's spikes are fixed by ``(seed, split, index)``, so
    the evaluation input is the same every epoch.
    """
    if split not in encoding.SPLIT_STREAMS:
        raise ValueError(f"split = {split!r}: expected one of {', '.join(encoding.SPLIT_STREAMS)}.")

    def recordings(x, idx):  # N-MNIST's recordings, or their time-shuffled control
        if cfg.time_shuffle:
            return encoding.shuffled_recordings(x, idx, seed, encoding.SPLIT_STREAMS[split])
        return [x[i][0] for i in idx]

    def yinyang_raster(steps, h, rounding):  # the features in [0, t_in] and a bias spike at 0
        return lambda x, idx: encoding.times_raster(yinyang.spike_times(x[idx], t_late=cfg.t_in), steps, h, rounding)

    if cfg.clock == "seed000":  # seed 000's bins: h = k dt, each input spike to the nearest bin
        h, steps = cfg.dt * cfg.k, grid_steps_of(cfg)
        if cfg.dataset == "mnist":
            return lambda x, idx: encoding.ttfs_raster(x[idx], steps, h, cfg.t_in, rounding="nearest")
        if cfg.dataset == "yinyang":
            return yinyang_raster(steps, h, "nearest")
        return lambda x, idx: encoding.events_raster(recordings(x, idx), steps, h, rounding="nearest")
    if cfg.dataset == "yinyang":  # first-spike times; on a grid of h = k dt (exact: the next grid point)
        h, steps = cfg.dt * cfg.k, grid_steps_of(cfg)
        rounding = "ceil" if cfg.clock == "exact" else "floor"
        if cfg.clock == "skip":
            h, steps = cfg.dt, cfg.n_steps
        return yinyang_raster(steps, h, rounding)
    if cfg.clock == "exact":  # on the grid of h = k dt, an input at t arrives at ceil(t / h) h
        h, steps = cfg.dt * cfg.k, grid_steps_of(cfg)
        if cfg.dataset == "mnist":
            return lambda x, idx: encoding.ttfs_raster(x[idx], steps, h, cfg.t_in, rounding="ceil")
        return lambda x, idx: encoding.events_raster(recordings(x, idx), steps, h, rounding="ceil",
                                                     merge=cfg.binning == "or")
    if cfg.clock == "skip":  # base bins: the layer itself keeps every k-th step
        cfg = dataclasses.replace(cfg, k=1, clock="loihi", skip_eval=True, skip_gain=False)
    if cfg.dataset == "mnist" and cfg.encoding == "ttfs":
        def encode(x, idx):
            return _coarsen(encoding.ttfs_raster(x[idx], cfg.n_steps, cfg.dt, cfg.t_in, cfg.rounding), cfg.k, cfg.binning)
    elif cfg.dataset == "mnist":
        gen = torch.Generator().manual_seed(seed)

        def encode(x, idx):
            if split == "train":
                dense = encoding.rate(x[idx], cfg.n_steps, cfg.rate_gain, generator=gen)
            else:
                dense = encoding.rate_fixed(x[idx], idx, cfg.n_steps, cfg.rate_gain, seed, encoding.SPLIT_STREAMS[split])
            return rebin(dense, cfg.k, cfg.binning) if cfg.binning == "count" else \
                Raster.from_dense(rebin(dense, cfg.k, "or"))
    else:
        def encode(x, idx):
            r = encoding.events_raster(recordings(x, idx), cfg.n_steps, cfg.dt, rounding=cfg.rounding)
            return _coarsen(r, cfg.k, cfg.binning)
    return encode


def load(cfg: BPTTConfig):
    """``(x, y)`` for train / val / test (:func:`snnlib.data.splits.mnist_splits` or
    :func:`snnlib.data.splits.nmnist_splits`: N-MNIST's validation recordings, and ``test_from_train``
    more, are held out of the training recordings, seeded)."""
    if cfg.dataset == "mnist":
        return mnist_splits(cfg)
    return yinyang_splits(cfg) if cfg.dataset == "yinyang" else nmnist_splits(cfg)


def _loss_and_predict(cfg: BPTTConfig):
    if cfg.loss == "rate":
        return (lambda out, y: losses.spike_rate_loss(out, y, cfg.true_rate, cfg.false_rate)), losses.predict_by_count
    if cfg.loss == "count_ce":
        return losses.count_cross_entropy, losses.predict_by_count
    if cfg.loss == "count_mse":
        y_true, y_false = targets(cfg)
        return (lambda out, y: losses.count_mse(out, y, y_true, y_false)), losses.predict_by_count_then_first
    return losses.temporal_cross_entropy, losses.predict_by_first_spike


def sizes(cfg: BPTTConfig) -> tuple:
    """Layer sizes: MNIST 784, N-MNIST 2 x 34 x 34 or Yin-Yang 5 inputs, the hidden layers, 10
    classes (Yin-Yang 3)."""
    n_in = {"mnist": 784, "nmnist": 2 * 34 * 34, "yinyang": 5}[cfg.dataset]
    return (n_in, *cfg.hidden, 3 if cfg.dataset == "yinyang" else 10)


def exact_twin(cfg: BPTTConfig):
    """The spike-time scheme's config of the continuous network that ``cfg``'s exact grid discretizes:
    the same sizes, neuron (``tau_s``, thresholds in BATS's units), initial-weight rule and scale,
    data and count targets (``cfg``'s, as the grid fitted them), the grid's window, and a spike buffer
    of one spike per base bin."""
    theta = _thetas(cfg)
    per_layer = (theta[0], theta[-1]) if len(set(theta[:-1])) == 1 else tuple(theta)
    return spiketime.Config(dataset=cfg.dataset, hidden=cfg.hidden, t_in=cfg.t_in, t_max=(cfg.n_steps - 1) * cfg.dt,
                            tau_s=cfg.tau_s, theta_bats=tuple(t / 1000 for t in per_layer), weight_scale=cfg.weight_scale,
                            max_spikes=cfg.n_steps, targets=targets(cfg), n_train=cfg.n_train, n_val=cfg.n_val,
                            n_test=cfg.n_test, batch_size=cfg.batch_size, seed=cfg.seed, val_seed=cfg.val_seed)


class BPTTScheme:
    """BPTT with surrogate gradients on clock-driven networks (see :mod:`snnlib.training.driver` for the protocol)."""

    name = NAME
    config = BPTTConfig

    def data(self, cfg):
        return load(cfg)

    def encoder(self, cfg, split):
        return encoder(cfg, cfg.seed, split)

    def build(self, cfg, generator):
        uniform = cfg.init == "uniform"
        return ClockNetwork(sizes(cfg), neurons(cfg), surrogates(cfg),
                            weight_scale=1.0 if uniform else cfg.weight_scale, generator=generator,
                            discretization=clock_discretization(cfg),
                            init=(-cfg.weight_scale, cfg.weight_scale) if uniform else None)

    def loss(self, cfg):
        return _loss_and_predict(cfg)[0]

    def predict(self, cfg):
        return _loss_and_predict(cfg)[1]

    def default_lr(self, cfg):
        return 1e-3

    def probe(self, cfg, batches, model):
        """With ``probe_alignment``: :class:`snnlib.training.probes.SurrogateProbe` on the first 256
        validation samples (the twin of :func:`exact_twin`, the same samples as spike times)."""
        if not cfg.probe_alignment:
            return None
        twin_cfg = exact_twin(cfg)
        st = spiketime.SpikeTimeScheme()
        twin = st.build(twin_cfg, torch.Generator().manual_seed(0)).to(next(model.parameters()).device)
        inputs, labels = fixed_batch(batches["val"], 256)
        idx = np.arange(len(labels))
        twin_inputs = to_device(st.encoder(twin_cfg, "val")(batches["val"].x, idx), labels.device)
        return SurrogateProbe(twin, twin_inputs, st.loss(twin_cfg), inputs, labels, self.loss(cfg))

    def attrs(self, cfg):
        # the most hidden spikes a sample can draw: every hidden neuron spiking at every step
        capacity = sum(cfg.hidden) * grid_steps_of(cfg)
        extra = {"targets": str(targets(cfg))} if cfg.loss == "count_mse" else {}
        return dict(dataset=cfg.dataset, sizes=str(sizes(cfg)), step_ms=cfg.dt * cfg.k,
                    clock=clock_discretization(cfg).label, hidden_capacity=int(capacity), **extra)

