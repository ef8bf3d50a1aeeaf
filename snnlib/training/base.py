"""What every training scheme shares: the training config, the scheme protocol, the config digest.

A training run is one network trained with one seed (a sweep's unit of work): data split,
optimiser, schedule, epochs, seed and evaluation cadence are the fields of :class:`TrainConfig`,
which every scheme's config extends with its own model fields. A scheme is an object with

``name``, ``config``
    its name (the config class's ``SCHEME``) and its config class (a :class:`TrainConfig` subclass);
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
    optional: one forward and backward pass (:func:`snnlib.training.loop.default_step` otherwise), for a
    scheme whose gradient is not autograd through the forward;
``probe(cfg, batches, model)``
    optional: ``probe(model) -> dict`` of scalars measured before training and after every epoch
    (``probe`` of :func:`snnlib.training.loop.fit`; ``batches``: the splits' :class:`~snnlib.training.loop.Batches`;
    ``model``: the freshly built network, before a checkpoint is loaded into it);
``attrs(cfg)``
    descriptive attributes of the results (sizes, step, ...).

A scheme's config class names its scheme in ``SCHEME`` (a class variable); the schemes are listed,
once, in :data:`snnlib.training.schemes.SCHEMES` (checked with :func:`check_scheme`), and the one
driver (:mod:`snnlib.training.driver`) trains any of them. :func:`config_digest` keys a run's
checkpoint and weight files by its config.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, Callable, ClassVar, Mapping, Protocol

import torch
import yaml

from snnlib.config import Config, is_positive, plain
from snnlib.device import valid_device

__all__ = ["TrainConfig", "Scheme", "REQUIRED", "check_scheme", "config_digest"]

@dataclasses.dataclass(frozen=True)
class TrainConfig(Config):
    """Training fields shared by every scheme:

    - ``lr``: Adam learning rate, ``None`` for the scheme's default; ``lr_schedule``: ``constant``
      or ``cosine`` (per epoch, to 0).
    - ``batch_size``, ``epochs``; ``evals_per_epoch``: validation evaluations per epoch (recorded
      along ``samples_seen``; 8 gives every 1/8 epoch); ``dense_epochs``: ``None`` for those records
      in every epoch, ``k`` for them in the first ``k`` epochs only (each later epoch is recorded at its
      end): a learning curve resolved where it rises, without paying for dense records after it.
    - ``n_train``, ``n_test``: first samples used, ``None`` for all (``n_test = 0``: no test
      evaluation at all, e.g. a hyper-parameter search); ``n_val`` samples held out of the training
      set (seeded by ``val_seed``) for model selection.
    - ``seed``: initial weights and batch order; ``log_every``: batches per logged training loss.
    - ``device``: ``auto`` (a GPU when one is visible), ``cpu``, ``cuda`` or ``cuda:<index>``
      (:mod:`snnlib.device`); where the run executes, not part of its identity.
    """

    #: the name of the scheme this config trains (each scheme's config class sets it)
    SCHEME: ClassVar[str] = ""
    EXECUTION: ClassVar[tuple[str, ...]] = ("device",)
    #: fields added after runs were made, with the value that does what the code did before: left
    #: out of :func:`config_digest` at that value (earlier checkpoints and weights are still found)
    ADDED: ClassVar[dict[str, Any]] = {"dense_epochs": None}

    lr: float | None = None
    lr_schedule: str = "constant"
    batch_size: int = 64
    epochs: int = 10
    evals_per_epoch: int = 1
    dense_epochs: int | None = None
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
        for f, least, none in (("n_train", 1, "all samples"), ("n_test", 0, "all samples"),
                               ("dense_epochs", 1, "records in every epoch")):
            v = getattr(self, f)
            c(f, v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= least),
              f"None ({none}) or an integer >= {least}")
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


#: what a scheme must provide (``step`` and ``probe`` are optional)
REQUIRED = ("name", "config", "data", "encoder", "build", "loss", "predict", "default_lr", "attrs")


def check_scheme(scheme: Scheme) -> Scheme:
    """Refuse (:class:`TypeError`) a scheme that lacks part of the protocol, whose config class does not
    extend :class:`TrainConfig`, or whose config class names another scheme; return it."""
    for attr in REQUIRED:
        if not hasattr(scheme, attr):
            raise TypeError(f"scheme {scheme!r} lacks {attr!r} (see snnlib.training.base)")
    if not issubclass(scheme.config, TrainConfig):
        raise TypeError(f"{scheme.config.__name__} must extend snnlib.training.base.TrainConfig")
    if scheme.config.SCHEME != scheme.name:
        raise TypeError(f"{scheme.config.__name__}.SCHEME = {scheme.config.SCHEME!r}, but its scheme is "
                        f"{scheme.name!r}: set the class variable SCHEME = {scheme.name!r}")
    return scheme


def config_digest(config: Mapping[str, Any], added: Mapping[str, Any] | None = None) -> str:
    """Short stable key of a config (its sorted YAML), for checkpoint and weight files; execution
    fields (the device) are left out, so a run resumes or finds its weights wherever it executes,
    and so are the fields of ``added`` (a config class's ``ADDED``) that hold the value given there:
    a field added to a class later, at the value that does what the code did before, keeps the
    digests of earlier configs."""
    added = added or {}
    kept = {k: v for k, v in config.items() if k not in TrainConfig.EXECUTION
            and not (k in added and plain(v) == plain(added[k]))}
    return hashlib.sha1(yaml.safe_dump(kept, sort_keys=True).encode()).hexdigest()[:12]
