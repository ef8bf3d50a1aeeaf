"""The one training driver: any config of any scheme, trained by the one loop, with its files.

:func:`run` trains a config of a scheme of :data:`snnlib.training.schemes.SCHEMES` (the protocol
is :class:`snnlib.training.base.Scheme`) with :func:`snnlib.training.loop.fit`, writing per-epoch
checkpoints (``$SNNLIB_CHECKPOINTS/<scheme>/<digest>.pt``) and the best-validation weights
(``$SNNLIB_ARTIFACTS/weights/<scheme>/<digest>.npz``), both keyed by the config
(:func:`snnlib.training.base.config_digest`). :func:`load_model` and :func:`evaluate_run` rebuild
a stored run's network with its weights.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Mapping

import torch
import xarray as xr

from snnlib.device import device_name, resolve_device
from snnlib.paths import artifacts_root, checkpoints_root
from snnlib.store.runs import Run, load
from snnlib.training.base import Scheme, TrainConfig, config_digest
from snnlib.training.loop import activity, evaluate, fit, load_weights, seed_everything, split_batches, summarize_curves
from snnlib.training.schemes import SCHEMES

__all__ = ["WEIGHTS", "scheme_of", "run", "summarize", "checkpoint_file", "weights_file", "run_weights",
           "load_model", "evaluate_run"]

WEIGHTS = "weights.npz"


def scheme_of(cfg_or_name: TrainConfig | str) -> Scheme:
    """The scheme of a config (its class's ``SCHEME``) or of a name."""
    name = cfg_or_name if isinstance(cfg_or_name, str) else type(cfg_or_name).SCHEME
    if name not in SCHEMES:
        raise KeyError(f"no training scheme {name!r}; known: {', '.join(sorted(SCHEMES))}")
    return SCHEMES[name]


def checkpoint_file(cfg: TrainConfig) -> Path:
    """Per-epoch checkpoint, keyed by the scheme and the config (not by the run folder), so rerunning
    the same config resumes wherever it was started from."""
    return checkpoints_root() / type(cfg).SCHEME / f"{config_digest(cfg.to_dict(), type(cfg).ADDED)}.pt"


def weights_file(scheme: str, config: Mapping[str, Any]) -> Path:
    """The best-validation weights of the run of ``config`` in the artifacts folder."""
    return artifacts_root() / "weights" / scheme / f"{config_digest(config, scheme_of(scheme).config.ADDED)}.npz"


def run(cfg: TrainConfig, progress: bool = True) -> xr.Dataset:
    """Train the network of ``cfg`` (one seed) with its scheme; the learning curves with the scheme,
    seed, sample counts and the scheme's attributes in ``attrs``."""
    scheme = scheme_of(cfg)
    if getattr(cfg, "hidden", None) == ():  # can be meant, but easily is not: say so in the run's log
        print(f"snnlib: {scheme.name} seed={cfg.seed}: hidden = () builds no hidden layer: the inputs connect "
              "straight to the output layer", file=sys.stderr)
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
             evals_per_epoch=cfg.evals_per_epoch, dense_epochs=cfg.dense_epochs, checkpoint=checkpoint_file(cfg),
             weights=weights_file(scheme.name, cfg.to_dict()), progress=progress,
             description=f"{scheme.name} seed={cfg.seed}", **extra)
    ds.attrs.update({f"n_{split}": len(y) for split, (_, y) in sets.items()})
    ds.attrs.update(scheme=scheme.name, seed=cfg.seed, lr=lr, device=device_name(dev), **scheme.attrs(cfg))
    state = str(activity(ds).item())
    if state:
        spikes = float(ds["hidden_spikes"].isel(epoch=-1))
        print(f"snnlib: {scheme.name} seed={cfg.seed}: the network is {state} (hidden spikes per sample in the "
              f"last epoch: {spikes:g} of at most {ds.attrs.get('hidden_capacity')}); the run counts, and its "
              "summary and chapter name it", file=sys.stderr)
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
