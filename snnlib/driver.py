"""The one training driver: a shared training config and a small protocol every scheme plugs into.

A training run is one network trained with one seed (a sweep's unit of work): data split,
optimiser, schedule, epochs, seed and evaluation cadence are the fields of :class:`TrainConfig`,
which every scheme's config extends with its own model fields. A scheme is an object with

``name``, ``config``
    its registry name and its config class (a :class:`TrainConfig` subclass);
``data(cfg)``
    ``{"train": (x, y), "val": ..., "test": ...}``;
``encoder(cfg, split)``
    ``encode(x, idx)``: the network input of samples ``idx`` of ``split`` (one per split, so that a
    random code's evaluation input does not depend on the training stream);
``build(cfg, generator)``
    the network: ``forward(inputs) -> (output, hidden_counts)``;
``loss(cfg)``, ``predict(cfg)``
    ``loss(output, labels)`` (a scalar tensor), ``predict(output) -> labels``;
``default_lr(cfg)``
    the learning rate when ``cfg.lr`` is ``None``;
``step``
    optional: one forward and backward pass (:func:`snnlib.train.default_step` otherwise), for a
    scheme whose gradient is not autograd through the forward;
``probe(cfg, batches, model)``
    optional: ``probe(model) -> dict`` of scalars measured before training and after every epoch
    (``probe`` of :func:`snnlib.train.fit`; ``batches``: the splits' :class:`~snnlib.train.Batches`;
    ``model``: the freshly built network, before a checkpoint is loaded into it);
``attrs(cfg)``
    descriptive attributes of the results (sizes, step, ...).

Register it with :func:`register`; :func:`run` then trains any config of that scheme with the one
loop :func:`snnlib.train.fit`, writing per-epoch checkpoints (``$SNNLIB_CHECKPOINTS``) and the
best-validation weights (``$SNNLIB_ARTIFACTS/weights/<scheme>/<digest>.npz``, keyed by the config).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Protocol

import numpy as np
import torch
import xarray as xr
import yaml

from . import data as data_
from .device import device_name, resolve_device, valid_device
from .paths import artifacts_root, checkpoints_root
from .runs import Config, ConfigError, Run, is_positive, load
from .train import evaluate, fit, load_weights, seed_everything, split_batches, summarize_curves

__all__ = ["TrainConfig", "Scheme", "register", "scheme_of", "SCHEMES", "run", "summarize",
           "checkpoint_file", "weights_file", "run_weights", "load_model", "evaluate_run", "mnist_splits"]

WEIGHTS = "weights.npz"


@dataclasses.dataclass(frozen=True)
class TrainConfig(Config):
    """Training fields shared by every scheme:

    - ``lr``: Adam learning rate, ``None`` for the scheme's default; ``lr_schedule``: ``constant``
      or ``cosine`` (per epoch, to 0).
    - ``batch_size``, ``epochs``; ``evals_per_epoch``: validation evaluations per epoch (recorded
      along ``samples_seen``; 8 gives every 1/8 epoch).
    - ``n_train``, ``n_test``: first samples used, ``None`` for all (``n_test = 0``: no test
      evaluation at all, e.g. a hyper-parameter search); ``n_val`` samples held out of the training
      set (seeded by ``val_seed``) for model selection.
    - ``seed``: initial weights and batch order; ``log_every``: batches per logged training loss.
    - ``device``: ``auto`` (a GPU when one is visible), ``cpu``, ``cuda`` or ``cuda:<index>``
      (:mod:`snnlib.device`); where the run executes, not part of its identity.
    """

    SCHEME: ClassVar[str] = ""
    EXECUTION: ClassVar[tuple[str, ...]] = ("device",)

    lr: float | None = None
    lr_schedule: str = "constant"
    batch_size: int = 64
    epochs: int = 10
    evals_per_epoch: int = 1
    n_train: int | None = None
    n_val: int = 5000
    val_seed: int = 0
    n_test: int | None = None
    seed: int = 0
    log_every: int = 50
    device: str = "auto"

    def validate(self) -> None:
        super().validate()
        c = self._check
        c("lr", self.lr is None or is_positive(self.lr), "None (the scheme's default) or a positive learning rate")
        c("lr_schedule", self.lr_schedule in ("constant", "cosine"), "'constant' or 'cosine'")
        for f in ("batch_size", "epochs", "evals_per_epoch", "log_every"):
            v = getattr(self, f)
            c(f, isinstance(v, int) and not isinstance(v, bool) and v >= 1, "an integer >= 1")
        for f, least in (("n_train", 1), ("n_test", 0)):
            v = getattr(self, f)
            c(f, v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= least),
              f"None (all samples) or an integer >= {least}")
        self._check_non_negative_int("n_val", "val_seed", "seed")
        c("device", valid_device(self.device), "'auto', 'cpu', 'cuda' or 'cuda:<index>'")


class Scheme(Protocol):
    """What a training scheme provides to the driver (see the module docstring)."""

    name: str
    config: type[TrainConfig]

    def data(self, cfg) -> dict: ...
    def encoder(self, cfg, split: str) -> Callable: ...
    def build(self, cfg, generator: torch.Generator) -> torch.nn.Module: ...
    def loss(self, cfg) -> Callable: ...
    def predict(self, cfg) -> Callable: ...
    def default_lr(self, cfg) -> float: ...
    def attrs(self, cfg) -> dict: ...


SCHEMES: dict[str, Scheme] = {}


def register(scheme: Scheme) -> Scheme:
    """Add ``scheme`` to the registry (its config class learns its scheme's name)."""
    for attr in ("name", "config", "data", "encoder", "build", "loss", "predict", "default_lr", "attrs"):
        if not hasattr(scheme, attr):
            raise TypeError(f"scheme {scheme!r} lacks {attr!r} (see snnlib.driver)")
    if not issubclass(scheme.config, TrainConfig):
        raise TypeError(f"{scheme.config.__name__} must extend snnlib.driver.TrainConfig")
    scheme.config.SCHEME = scheme.name
    SCHEMES[scheme.name] = scheme
    return scheme


def scheme_of(cfg_or_name: TrainConfig | str) -> Scheme:
    name = cfg_or_name if isinstance(cfg_or_name, str) else type(cfg_or_name).SCHEME
    if name not in SCHEMES:
        # the built-in schemes register themselves when their modules are imported
        from .experiments import bptt, integrated_training, spiketime  # noqa: F401
    if name not in SCHEMES:
        raise KeyError(f"no training scheme {name!r}; registered: {', '.join(sorted(SCHEMES))}")
    return SCHEMES[name]


def config_digest(config: Mapping[str, Any]) -> str:
    """Short stable key of a config (its sorted YAML), for checkpoint and weight files; execution
    fields (the device) are left out, so a run resumes or finds its weights wherever it executes."""
    kept = {k: v for k, v in config.items() if k not in TrainConfig.EXECUTION}
    return hashlib.sha1(yaml.safe_dump(kept, sort_keys=True).encode()).hexdigest()[:12]


def checkpoint_file(cfg: TrainConfig) -> Path:
    """Per-epoch checkpoint, keyed by the scheme and the config (not by the run folder), so rerunning
    the same config resumes wherever it was started from."""
    return checkpoints_root() / type(cfg).SCHEME / f"{config_digest(cfg.to_dict())}.pt"


def weights_file(scheme: str, config: Mapping[str, Any]) -> Path:
    """The best-validation weights of the run of ``config`` in the artifacts folder."""
    return artifacts_root() / "weights" / scheme / f"{config_digest(config)}.npz"


def mnist_splits(cfg: TrainConfig) -> dict:
    """MNIST train / val / test with ``n_val`` training digits held out and ``n_train`` / ``n_test``
    first samples kept (``None``: all)."""
    sets = {s: data_.load_mnist(s, n_val=cfg.n_val, val_seed=cfg.val_seed) for s in ("train", "val", "test")}
    for split, n in (("train", cfg.n_train), ("test", cfg.n_test)):
        if n is not None:
            sets[split] = (sets[split][0][:n], sets[split][1][:n])
    return sets


def nmnist_splits(cfg) -> dict:
    """N-MNIST train / val / test of ``cfg.nmnist_subset``: ``n_val`` recordings and ``test_from_train``
    more held out of the training recordings (seeded by ``val_seed``; the latter appended to the
    official test recordings), then the first ``n_train`` / ``n_test`` of each kept."""
    train, test = data_.NMNIST("train", subset=cfg.nmnist_subset), data_.NMNIST("test", subset=cfg.nmnist_subset)
    if cfg.n_val + cfg.test_from_train >= len(train):
        raise ConfigError(f"{type(cfg).__name__}.n_val = {cfg.n_val}, test_from_train = {cfg.test_from_train}: N-MNIST "
                          f"({cfg.nmnist_subset}) has only {len(train)} training recordings to hold them out of.")
    tr, va, *extra = data_.split_indices(len(train), cfg.n_val, cfg.val_seed, cfg.test_from_train)
    sets = {"train": (_Subset(train, tr), train.targets[tr]), "val": (_Subset(train, va), train.targets[va]),
            "test": (test, test.targets)}
    if extra:  # the official test recordings, then the held-out training recordings
        ex = extra[0]
        sets["test"] = (_Concat(test, _Subset(train, ex)), np.concatenate([test.targets, train.targets[ex]]))
    for split, n in (("train", cfg.n_train), ("test", cfg.n_test)):
        if n is not None:
            x, y = sets[split]
            sets[split] = (_Subset(x, np.arange(min(n, len(y)))), y[:n])
    return sets


class _Concat:
    """Two datasets one after the other."""

    def __init__(self, a, b):
        self.a, self.b = a, b

    def __len__(self):
        return len(self.a) + len(self.b)

    def __getitem__(self, i):
        i = int(i)
        return self.a[i] if i < len(self.a) else self.b[i - len(self.a)]


class _Subset:
    def __init__(self, base, idx):
        self.base, self.idx = base, np.asarray(idx)

    def __len__(self):
        return len(self.idx)

    def __getitem__(self, i):
        return self.base[int(self.idx[i])]

def run(cfg: TrainConfig, progress: bool = True) -> xr.Dataset:
    """Train the network of ``cfg`` (one seed) with its scheme; the learning curves with the scheme,
    seed, sample counts and the scheme's attributes in ``attrs``."""
    scheme = scheme_of(cfg)
    dev = resolve_device(cfg.device)
    gen = seed_everything(cfg.seed)
    sets = scheme.data(cfg)
    model = scheme.build(cfg, gen).to(dev)  # built on the CPU: the same initial weights everywhere
    batches = split_batches(sets, cfg.batch_size, lambda s: scheme.encoder(cfg, s), cfg.seed, device=dev)
    lr = cfg.lr if cfg.lr is not None else scheme.default_lr(cfg)
    extra = {"step": scheme.step} if hasattr(scheme, "step") else {}
    if hasattr(scheme, "probe"):
        extra["probe"] = scheme.probe(cfg, batches, model)  # before any checkpoint is loaded
    ds = fit(model, scheme.loss(cfg), scheme.predict(cfg), batches["train"], batches["val"], batches["test"],
             epochs=cfg.epochs, lr=lr, lr_schedule=cfg.lr_schedule, log_every=cfg.log_every,
             evals_per_epoch=cfg.evals_per_epoch, checkpoint=checkpoint_file(cfg),
             weights=weights_file(scheme.name, cfg.to_dict()), progress=progress,
             description=f"{scheme.name} seed={cfg.seed}", **extra)
    ds.attrs.update({f"n_{split}": len(y) for split, (_, y) in sets.items()})
    ds.attrs.update(scheme=scheme.name, seed=cfg.seed, lr=lr, device=device_name(dev), **scheme.attrs(cfg))
    return ds


def summarize(ds: xr.Dataset) -> dict:
    """Headline numbers of one training run (or of a sweep with a ``seed`` dim)."""
    if "seed" not in ds.dims:
        ds = ds.expand_dims(seed=[int(ds.attrs.get("seed", 0))])
    return summarize_curves(ds)


def _run_of(run_or_path: Run | str | os.PathLike) -> Run:
    return run_or_path if isinstance(run_or_path, Run) else load(run_or_path)


def run_weights(run_or_path: Run | str | os.PathLike) -> Path:
    """The weights file of a training run: ``weights.npz`` in its run folder when committed there,
    else the artifact written when it was trained. Raises :class:`FileNotFoundError` saying which."""
    run = _run_of(run_or_path)
    if run.path is not None and (run.path / WEIGHTS).is_file():
        return run.path / WEIGHTS
    path = weights_file(run.results.attrs["scheme"], run.config)
    if not path.is_file():
        raise FileNotFoundError(
            f"no trained weights for the run in {run.path}: neither {WEIGHTS} there nor {path} "
            "(retrain it: delete its run folder and `make runs`, or set SNNLIB_ARTIFACTS).")
    return path


def load_model(run_or_path: Run | str | os.PathLike) -> tuple[torch.nn.Module, TrainConfig]:
    """The network of a training run with its best-validation weights (on the CPU), and its config."""
    run = _run_of(run_or_path)
    scheme = scheme_of(run.results.attrs["scheme"])
    cfg = scheme.config.from_dict(run.config)
    model = scheme.build(cfg, torch.Generator().manual_seed(cfg.seed))
    state, _ = load_weights(run_weights(run))
    like = model.state_dict()
    model.load_state_dict({k: v.to(like[k].dtype) for k, v in state.items()})
    return model, cfg


def evaluate_run(run_or_path: Run | str | os.PathLike, split: str = "test", device: str = "auto") -> float:
    """Accuracy of a training run's stored weights on ``split`` of its own data (exactly the recorded
    one for deterministic encodings; rate coding draws new input spikes), on ``device`` (not the
    device the run was trained on: a GPU run is evaluated on a CPU machine)."""
    model, cfg = load_model(run_or_path)
    dev = resolve_device(device)
    scheme = scheme_of(cfg)
    sets = scheme.data(cfg)
    batches = split_batches({split: sets[split]}, cfg.batch_size, lambda s: scheme.encoder(cfg, s), cfg.seed,
                            device=dev)
    model = model.to(dev)
    return evaluate(model, batches[split], scheme.loss(cfg), scheme.predict(cfg)).accuracy
