"""Packed training: ``R`` independent trainings of one network shape in one process, one kernel launch
per layer for all of them.

A sweep is many small independent trainings (seeds, learning rates) of one network shape; one
of them leaves a GPU idle. Packing runs them together: the batches of the ``R`` runs are one
``[R, B, ...]`` input of a :class:`snnlib.events.network.PackedEventNetwork` (the run as an extra
batch axis, per-run weights), each run keeps its own network, its own Adam optimiser (Adam is
elementwise: ``R`` optimisers are the one of each separate run), its own learning rate and its own
data order, and the schedule (epochs, batches, evaluations) is shared.

**Equality.** On the CPU a packed run equals the same run trained alone by
:func:`snnlib.training.loop.fit` (or :func:`snnlib.training.driver.run`) bit for bit: weights,
losses, accuracies (``tests/training/test_packed.py``). The kernels simulate each sample with its
run's weights exactly as alone, and sum each run's weight gradient over the chunks of samples a
separate run would have (:func:`snnlib.events.kernels.exact_cpu.chunk_bounds`); the per-run losses
are separate graphs joined by ``unbind``. On a GPU the weight gradient is summed by atomic adds,
in an order that is not fixed, alone or packed alike.

* :func:`fit_packed`: the loop, :func:`~snnlib.training.loop.fit`'s counterpart for a packed
  network; one :class:`xarray.Dataset` per run, in :func:`~snnlib.training.loop.fit`'s form.
* :func:`run_packed`: :func:`snnlib.training.driver.run`'s counterpart for configs that differ
  only in :data:`PACKABLE` fields (:func:`check_packable`).

What packing leaves out (a documented subset of :func:`~snnlib.training.loop.fit`): no
checkpoints (a packed training is not resumable; an interrupted pack restarts) and no probes; the
best-validation weights are written where ``weights`` says (:func:`run_packed`: each config's weight
file, as the driver). ``epoch_time`` is the pack's wall time per epoch (shared by its runs). A
non-finite loss in any run stops the whole pack.
Networks: :class:`~snnlib.events.network.EventNetwork` s (the ``spiketime`` and ``integrated``
schemes); the exact discretization on ``"numba"``/``"cuda"`` is the one-launch path, other
simulations run their runs one after another inside each layer (correct, not faster).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
import xarray as xr
from tqdm.std import tqdm

from snnlib.device import device_name, resolve_device
from snnlib.memory import keep_freed_memory
from snnlib.events.network import EventNetwork, PackedEventNetwork
from snnlib.provenance import code_state
from snnlib.training.base import TrainConfig
from snnlib.training.driver import scheme_of, weights_file
from snnlib.training.loop import (
    Batches,
    NonFiniteLossError,
    _eval_batches,
    _now,
    _records_epoch,
    activity,
    curves_dataset,
    make_adam,
    save_weights,
    seed_everything,
    split_batches,
    state_arrays,
)

__all__ = ["PACKABLE", "check_packable", "evaluate_packed", "fit_packed", "run_packed"]

#: the config fields in which packed runs may differ (everything else is shared)
PACKABLE = ("seed", "lr")


def check_packable(cfgs: Sequence[TrainConfig]) -> None:
    """Refuse (:class:`ValueError`) configs that cannot be trained as one pack: none, of different
    classes, or differing in a field other than :data:`PACKABLE` (the message names the field)."""
    cfgs = list(cfgs)
    if not cfgs:
        raise ValueError("need at least one config to pack")
    first = cfgs[0]
    for r, cfg in enumerate(cfgs[1:], 1):
        if type(cfg) is not type(first):
            raise ValueError(f"config {r} is a {type(cfg).__name__}, config 0 a {type(first).__name__}: "
                             "a pack trains one scheme")
        for f in dataclasses.fields(first):
            if f.name not in PACKABLE and getattr(cfg, f.name) != getattr(first, f.name):
                raise ValueError(f"config {r} differs from config 0 in {f.name!r} ({getattr(cfg, f.name)!r} != "
                                 f"{getattr(first, f.name)!r}): packed runs differ only in {', '.join(PACKABLE)}")


def _zip_batches(batches: Sequence[Iterable]):
    """``(inputs [R, B, ...], labels [R, B])`` from the runs' own batches, batch by batch."""
    for parts in zip(*batches):
        yield torch.stack([x for x, _ in parts]), torch.stack([y for _, y in parts])


class _Eval:
    def __init__(self, R: int):
        self.loss, self.accuracy, self.hidden_spikes = np.full(R, np.nan), np.full(R, np.nan), np.full(R, np.nan)


@torch.no_grad()
def evaluate_packed(model: PackedEventNetwork, batches: Sequence[Iterable], loss: Callable, predict: Callable) -> _Eval:
    """Per run (arrays ``[R]``): the mean loss, accuracy and hidden spikes per sample over that run's
    ``batches[r]``, as :func:`snnlib.training.loop.evaluate` of the run alone (NaN without batches)."""
    R = model.R
    total = 0
    loss_sum, correct, spikes = np.zeros(R), np.zeros(R, np.int64), np.zeros(R)
    model.eval()
    for inputs, labels in _zip_batches(batches):
        out, hidden = model(inputs)
        n = labels.shape[1]
        for r in range(R):
            loss_sum[r] += float(loss(out[r], labels[r])) * n
            correct[r] += int((predict(out[r]) == labels[r]).sum())
            spikes[r] += float(sum(h[r].sum() for h in hidden)) if hidden else 0.0
        total += n
    model.train()
    res = _Eval(R)
    if total:
        res.loss, res.accuracy, res.hidden_spikes = loss_sum / total, correct / total, spikes / total
    return res


def fit_packed(model: PackedEventNetwork, loss: Callable, predict: Callable, trains: Sequence[Batches],
               vals: Sequence[Iterable], tests: Sequence[Iterable], *, epochs: int, lrs: Sequence[float],
               lr_schedule: str = "constant", log_every: int = 50, evals_per_epoch: int = 1,
               dense_epochs: int | None = None, weights: Sequence | None = None, progress: bool = True,
               description: str = "packed") -> list[xr.Dataset]:
    """Train the ``R`` runs of ``model`` with Adam for ``epochs`` epochs and return each run's
    learning curves (:func:`snnlib.training.loop.fit`'s form, without probes).

    Run ``r`` has its own optimiser with learning rate ``lrs[r]`` (``lr_schedule`` applied to each),
    draws its batches from ``trains[r]`` (its own order; every run's must have the same length and
    batch size) and is evaluated on ``vals[r]``, ``tests[r]``. ``weights[r]``: where run ``r``'s
    best-validation weights go (float32 ``.npz``, :func:`snnlib.training.loop.save_weights`), or
    ``None``. Each run's results equal :func:`~snnlib.training.loop.fit` of it alone (module
    docstring); there are no checkpoints.
    """
    R = model.R
    lrs = [float(v) for v in lrs]
    for name, seq in (("lrs", lrs), ("trains", trains), ("vals", vals), ("tests", tests)):
        if len(seq) != R:
            raise ValueError(f"{name} needs one entry per run (R = {R}), got {len(seq)}")
    if weights is not None and len(weights) != R:
        raise ValueError(f"weights needs one path (or None) per run (R = {R}), got {len(weights)}")
    if epochs < 1 or not all(v > 0 for v in lrs):
        raise ValueError(f"epochs = {epochs}, lrs = {lrs}: expected epochs >= 1 and every lr > 0.")
    if lr_schedule not in ("constant", "cosine"):
        raise ValueError(f"lr_schedule = {lr_schedule!r}: expected 'constant' or 'cosine'.")
    shape = {(len(t), t.batch_size, getattr(t, "samples_per_epoch", len(t.y))) for t in trains}
    if len(shape) != 1:
        raise ValueError(f"the runs' training batches differ in (batches, batch size, samples per epoch): {shape}")
    n_batches, batch_size, n_samples = shape.pop()
    eval_at = _eval_batches(n_samples, batch_size, evals_per_epoch)
    _records_epoch(0, dense_epochs)  # checks it before any training
    keep_freed_memory()  # as fit
    opts = [make_adam(net.parameters(), lr) for net, lr in zip(model.runs, lrs)]  # as fit: the same Adam
    n_chunks = math.ceil(n_batches / log_every)
    hist = [{k: np.full(epochs, np.nan) for k in (
        "train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy",
        "hidden_spikes", "epoch_time")} for _ in range(R)]
    batch_loss = np.full((R, epochs, n_chunks), np.nan)
    curve = [{k: np.full((epochs, evals_per_epoch), np.nan) for k in ("val_accuracy", "val_loss", "samples_seen")}
             for _ in range(R)]
    best = [{"epoch": 0, "val_accuracy": -1.0, "state": None} for _ in range(R)]
    session = {**code_state(), "first_epoch": 1, "last_epoch": 0, "started": _now(), "finished": None,
               "wall_time_s": 0.0, "packed_runs": R}
    t_session = time.perf_counter()
    for epoch in range(epochs):
        for t in trains:
            t.epoch = epoch
        if lr_schedule == "cosine":
            for opt, lr in zip(opts, lrs):
                for group in opt.param_groups:
                    group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
        t0 = time.perf_counter()
        loss_sum, correct = np.zeros(R), np.zeros(R, np.int64)
        seen = 0
        chunk_sum, chunk_n = np.zeros(R), 0
        j = 0
        bar = tqdm(_zip_batches(trains), total=n_batches, desc=f"{description} epoch {epoch + 1}/{epochs}",
                   disable=not progress, mininterval=10, file=sys.stderr, leave=False)
        for b, (inputs, labels) in enumerate(bar):
            for opt in opts:
                opt.zero_grad(set_to_none=True)
            out, _ = model(inputs)
            outs = out.unbind(0)  # separate graphs per run: each loss's gradient reaches its run only
            values = [loss(outs[r], labels[r]) for r in range(R)]
            bad = [r for r, v in enumerate(values) if not torch.isfinite(v)]
            if bad:
                raise NonFiniteLossError(
                    f"loss is {float(values[bad[0]])} in run {bad[0]} at epoch {epoch + 1}, batch {b + 1}: the "
                    "packed training stopped (lower that run's lr or check the input scaling).")
            torch.autograd.backward(values)
            for opt in opts:
                opt.step()
            n = labels.shape[1]
            for r in range(R):
                v = float(values[r].detach())
                loss_sum[r] += v * n
                correct[r] += int((predict(outs[r].detach()) == labels[r]).sum())
                chunk_sum[r] += v
            seen += n
            chunk_n += 1
            if chunk_n == log_every or b == n_batches - 1:
                batch_loss[:, epoch, b // log_every] = chunk_sum / chunk_n
                bar.set_postfix(loss=f"{float(np.mean(chunk_sum / chunk_n)):.4f}")
                chunk_sum, chunk_n = np.zeros(R), 0
            while j < evals_per_epoch and b == eval_at[j]:
                if b == n_batches - 1 or _records_epoch(epoch, dense_epochs):
                    if b < n_batches - 1:  # the epoch's last evaluation is the epoch-end one below
                        e = evaluate_packed(model, vals, loss, predict)
                        for r in range(R):
                            curve[r]["val_loss"][epoch, j], curve[r]["val_accuracy"][epoch, j] = e.loss[r], e.accuracy[r]
                    for r in range(R):
                        curve[r]["samples_seen"][epoch, j] = epoch * n_samples + seen
                j += 1
        bar.close()
        elapsed = time.perf_counter() - t0
        v, t = evaluate_packed(model, vals, loss, predict), evaluate_packed(model, tests, loss, predict)
        for r in range(R):
            h = hist[r]
            h["epoch_time"][epoch] = elapsed  # the pack's wall time: every run's epoch took it
            h["train_loss"][epoch], h["train_accuracy"][epoch] = loss_sum[r] / seen, correct[r] / seen
            h["val_loss"][epoch], h["val_accuracy"][epoch], h["hidden_spikes"][epoch] = \
                v.loss[r], v.accuracy[r], v.hidden_spikes[r]
            h["test_loss"][epoch], h["test_accuracy"][epoch] = t.loss[r], t.accuracy[r]
            curve[r]["val_loss"][epoch, -1], curve[r]["val_accuracy"][epoch, -1] = v.loss[r], v.accuracy[r]
            if v.accuracy[r] > best[r]["val_accuracy"]:
                best[r] = {"epoch": epoch + 1, "val_accuracy": float(v.accuracy[r]),
                           "state": state_arrays(model.runs[r])}
        print(f"{description} epoch {epoch + 1}: train loss {np.array2string(loss_sum / seen, precision=4)}, "
              f"val acc {np.array2string(v.accuracy, precision=4)}, {elapsed:.0f} s", file=sys.stderr)
        session.update(last_epoch=epoch + 1, finished=_now(), wall_time_s=time.perf_counter() - t_session)

    out = []
    for r in range(R):
        if weights is not None and weights[r] is not None:
            save_weights(weights[r], best[r]["state"], epoch=best[r]["epoch"], val_accuracy=best[r]["val_accuracy"])
        ds = curves_dataset(hist[r], batch_loss[r], curve[r], log_every, best_epoch=best[r]["epoch"],
                            trained_by=[dict(session, packed_index=r)])
        out.append(ds)
    return out


def run_packed(cfgs: Sequence[TrainConfig], progress: bool = True, save: bool = True) -> list[xr.Dataset]:
    """Train the configs ``cfgs`` (one scheme, differing only in :data:`PACKABLE` fields:
    :func:`check_packable`) as one pack: :func:`snnlib.training.driver.run`'s counterpart, one
    :class:`xarray.Dataset` per config with the same ``attrs`` (scheme, seed, lr, sample counts, the
    scheme's attributes). The scheme must build :class:`~snnlib.events.network.EventNetwork` s and
    use the default training step. ``save``: write each run's best-validation weights to its weight
    file (:func:`snnlib.training.driver.weights_file`), as the driver does; no checkpoints."""
    cfgs = list(cfgs)
    check_packable(cfgs)
    cfg0 = cfgs[0]
    scheme = scheme_of(cfg0)
    if hasattr(scheme, "step"):
        raise ValueError(f"scheme {scheme.name!r} has its own training step: it cannot be packed")
    dev = resolve_device(cfg0.device)
    sets = scheme.data(cfg0)  # the data do not depend on the packable fields
    nets = []
    for cfg in cfgs:
        gen = seed_everything(cfg.seed)
        net = scheme.build(cfg, gen)
        if not isinstance(net, EventNetwork):
            raise ValueError(f"scheme {scheme.name!r} builds a {type(net).__name__}: packing needs EventNetworks")
        nets.append(net.to(dev))  # built on the CPU: the same initial weights everywhere
    model = PackedEventNetwork(nets)
    batches = [split_batches(sets, cfg.batch_size, lambda s, c=cfg: scheme.encoder(c, s), cfg.seed, device=dev)
               for cfg in cfgs]
    lrs = [cfg.lr if cfg.lr is not None else scheme.default_lr(cfg) for cfg in cfgs]
    seeds = ",".join(str(c.seed) for c in cfgs)
    dss = fit_packed(model, scheme.loss(cfg0), scheme.predict(cfg0), [b["train"] for b in batches],
                     [b["val"] for b in batches], [b["test"] for b in batches], epochs=cfg0.epochs, lrs=lrs,
                     lr_schedule=cfg0.lr_schedule, log_every=cfg0.log_every, evals_per_epoch=cfg0.evals_per_epoch,
                     dense_epochs=cfg0.dense_epochs,
                     weights=[weights_file(scheme.name, c.to_dict()) if save else None for c in cfgs],
                     progress=progress, description=f"{scheme.name} packed seeds={seeds}")
    for cfg, lr, ds in zip(cfgs, lrs, dss):
        ds.attrs.update({f"n_{split}": len(y) for split, (_, y) in sets.items()})
        ds.attrs.update(scheme=scheme.name, seed=cfg.seed, lr=lr, device=device_name(dev), packed_runs=len(cfgs),
                        **scheme.attrs(cfg))
        state = str(activity(ds).item())
        if state:
            print(f"snnlib: {scheme.name} seed={cfg.seed} (packed): the network is {state}", file=sys.stderr)
    return dss
