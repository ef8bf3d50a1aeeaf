"""The one training loop, shared by every scheme: epochs, evaluation, metrics, checkpoints, seeding.

:func:`fit` trains a model whose ``forward(inputs)`` returns ``(output, hidden_counts)``
(``hidden_counts``: a list of ``[B]`` spike counts per hidden layer), with a scheme-specific
``loss(output, labels)`` and ``predict(output)``. It records, per epoch, the training loss and
accuracy, validation and test accuracy and loss, hidden spikes per sample and wall time, plus the
training loss of every ``log_every`` batches, into an :class:`xarray.Dataset`; and the validation
accuracy and loss ``evals_per_epoch`` times per epoch along the coordinate ``samples_seen`` (training
samples seen so far), for convergence-rate studies; with ``dense_epochs = k``, only in the first ``k``
epochs (each later one is recorded at its end).

Resumable: after every epoch the model, optimizer, history and epoch are written (atomically) to
``checkpoint``; a later call with the same checkpoint path continues after the last finished epoch.
A checkpoint records the code that trained it (``trained_by``: per training session, the git
commit, whether the tree was modified, the training-code digest of :mod:`snnlib.provenance`, the
epochs and wall time); resuming from a checkpoint of other training code raises
:class:`CheckpointError` saying how to retrain (delete the checkpoint) or, explicitly, resume anyway
(``SNNLIB_RESUME_ANYWAY=1``). The learning curves' ``attrs["trained_by"]`` (JSON) lists every
session that trained them, and a damaged checkpoint is named with the same fix.
Model selection uses the validation set only: the summary reports the test accuracy of the final
epoch and, separately, of the epoch with the best validation accuracy, whose weights are written
as float32 ``.npz`` (:func:`save_weights`) when training ends.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator, NamedTuple

import numpy as np
import torch
import xarray as xr
from tqdm.std import tqdm

from snnlib.device import to_device
from snnlib.memory import keep_freed_memory
from snnlib.metrics import mean_ci
from snnlib.provenance import code_state, describe

__all__ = ["Batches", "fit", "evaluate", "seed_everything", "NonFiniteLossError", "CheckpointError",
           "RESUME_ANYWAY", "SATURATED", "activity", "split_batches", "summarize_curves", "default_step", "state_arrays",
           "save_weights", "load_weights", "curves_dataset"]

#: set to 1 to resume from a checkpoint written by other training code (recorded in ``trained_by``)
RESUME_ANYWAY = "SNNLIB_RESUME_ANYWAY"

class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite: training stops, the last good checkpoint is kept."""


class CheckpointError(RuntimeError):
    """A checkpoint cannot be resumed: damaged, or written by other training code (the message says
    how to retrain or resume anyway)."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _load_checkpoint(ckpt: Path, where) -> dict:
    """The checkpoint's state, refused when damaged or written by other training code."""
    restart = f"delete it to restart that training from its first epoch (rm '{ckpt}')"
    try:
        state = torch.load(ckpt, weights_only=False, map_location=where)
        if not isinstance(state, dict) or "epoch" not in state or "model" not in state:
            raise ValueError("not a training checkpoint")
    except Exception as err:  # noqa: BLE001  zip, pickle and EOF errors of a truncated or foreign file
        raise CheckpointError(f"checkpoint {ckpt} cannot be read ({type(err).__name__}: "
                              f"{str(err).strip().splitlines()[0] if str(err).strip() else ''}); {restart}.") from None
    sessions = state.get("trained_by") or []
    now = code_state()
    made_by = sessions[-1] if sessions else {}
    if made_by.get("training_code") != now["training_code"] and os.environ.get(RESUME_ANYWAY) != "1":
        what = (f"{describe(made_by)}, training code {made_by['training_code'][:12]}" if sessions
                else "code that did not record itself (older than these records)")
        raise CheckpointError(
            f"checkpoint {ckpt} (after epoch {state['epoch'] + 1}) was written by other training code "
            f"({what}; this is {describe(now)}, training code {now['training_code'][:12]}): resuming "
            f"would mix the two. Retrain: {restart}; or resume anyway with {RESUME_ANYWAY}=1 "
            "(the run's meta.json then lists both).")
    return state


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch and numpy from the config and return a torch generator for the model's init."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    return torch.Generator().manual_seed(seed)


class Batches:
    """Mini-batches of ``(encode(x[idx]), labels[idx])``, reshuffled each epoch from ``(seed, epoch)``
    so that a resumed run sees exactly the batches of an uninterrupted one. ``drop_last``: leave out
    the incomplete last batch (PyTorch ``DataLoader``'s option). ``device``: where the batches go
    (encoded on the CPU, copied through pinned memory to a GPU; :func:`snnlib.device.to_device`)."""

    def __init__(self, x, y, batch_size: int, encode: Callable, shuffle: bool = False, seed: int = 0,
                 drop_last: bool = False, device: torch.device | str | None = None):
        if batch_size < 1:
            raise ValueError(f"batch_size = {batch_size}: expected >= 1.")
        self.x, self.y = x, np.asarray(y)
        self.batch_size, self.encode, self.shuffle, self.seed = batch_size, encode, shuffle, seed
        self.drop_last = drop_last
        self.device = torch.device(device) if device is not None else None
        if drop_last and len(self.y) < batch_size:
            raise ValueError(f"drop_last with {len(self.y)} samples and batch_size = {batch_size}: no batch left.")
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.y) // self.batch_size if self.drop_last else math.ceil(len(self.y) / self.batch_size)

    @property
    def samples_per_epoch(self) -> int:
        """Samples one pass yields (all of them unless ``drop_last``)."""
        return len(self) * self.batch_size if self.drop_last else len(self.y)

    def __iter__(self) -> Iterator:
        n = len(self.y)
        order = (np.random.default_rng([self.seed, self.epoch]).permutation(n) if self.shuffle
                 else np.arange(n))
        for start in range(0, self.samples_per_epoch, self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = self.encode(self.x, idx), torch.as_tensor(self.y[idx])
            yield batch if self.device is None else to_device(batch, self.device)


def split_batches(sets: dict, batch_size: int, encoder: Callable, seed: int, device=None) -> dict:
    """:class:`Batches` of every split of ``sets`` (``{"train": (x, y), "val": ..., "test": ...}``),
    each with its own ``encoder(split)``, on ``device``; only the training split is shuffled."""
    return {s: Batches(*xy, batch_size, encoder(s), shuffle=(s == "train"), seed=seed, device=device)
            for s, xy in sets.items()}


class _Eval(NamedTuple):
    loss: float
    accuracy: float
    hidden_spikes: float


@torch.no_grad()
def evaluate(model, batches: Iterable, loss, predict) -> _Eval:
    """Mean loss, accuracy and hidden spikes per sample over ``batches`` (NaN when there are none:
    a split left out, e.g. the test split of a hyper-parameter search)."""
    model.eval()
    total = correct = 0
    loss_sum = spikes = 0.0
    for inputs, labels in batches:
        out, hidden = model(inputs)
        n = len(labels)
        loss_sum += float(loss(out, labels)) * n
        correct += int((predict(out) == labels).sum())
        spikes += float(sum(h.sum() for h in hidden)) if hidden else 0.0
        total += n
    model.train()
    if total == 0:
        return _Eval(math.nan, math.nan, math.nan)
    return _Eval(loss_sum / total, correct / total, spikes / total)


def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def state_arrays(model: torch.nn.Module) -> dict[str, np.ndarray]:
    """The model's parameters and buffers as float32 numpy arrays (what a weights file stores)."""
    return {k: v.detach().cpu().to(torch.float32).numpy().copy() for k, v in model.state_dict().items()}


def save_weights(path: str | os.PathLike, arrays: dict[str, np.ndarray], **info) -> Path:
    """Write ``arrays`` (float32) and scalar ``info`` (e.g. the epoch) to a ``.npz`` file atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    extra = {f"__{k}__": np.asarray(v) for k, v in info.items()}
    np.savez(tmp, **{k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}, **extra)
    os.replace(tmp, path)
    return path


def load_weights(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """``(state_dict, info)`` of a weights file written by :func:`save_weights`."""
    with np.load(path) as f:
        state = {k: torch.from_numpy(f[k]) for k in f.files if not k.startswith("__")}
        info = {k.strip("_"): f[k].item() for k in f.files if k.startswith("__")}
    return state, info


def _eval_batches(n_samples: int, batch_size: int, evals_per_epoch: int) -> list[int]:
    """Batch indices after which the validation set is evaluated: the first batch whose cumulative
    sample count reaches ``ceil(j n / E)``, ``j = 1..E`` (the last one ends the epoch)."""
    n_batches = math.ceil(n_samples / batch_size)
    if not (isinstance(evals_per_epoch, int) and 1 <= evals_per_epoch <= n_batches):
        raise ValueError(f"evals_per_epoch = {evals_per_epoch!r}: expected an integer in [1, {n_batches}] "
                         f"(the number of batches of an epoch).")
    targets = [math.ceil(j * n_samples / evals_per_epoch) for j in range(1, evals_per_epoch + 1)]
    return [min(math.ceil(t / batch_size), n_batches) - 1 for t in targets]


def _records_epoch(epoch: int, dense_epochs: int | None) -> bool:
    """Whether epoch ``epoch`` (from 0) takes its records within the epoch, or only at its end."""
    if dense_epochs is not None and not (isinstance(dense_epochs, int) and dense_epochs >= 1):
        raise ValueError(f"dense_epochs = {dense_epochs!r}: expected None (records in every epoch) or an integer >= 1.")
    return dense_epochs is None or epoch < dense_epochs


def make_adam(params, lr: float) -> torch.optim.Adam:
    """Adam, fused where torch has a fused kernel for the parameters (CPU and CUDA floating tensors).

    The fused step updates each weight with the same formula in one pass (five to six times faster
    than the per-tensor loop on one CPU thread: 1.1 against 6-7 ms for 784-800-10, about 15% of an
    exact spike-time training step); its results differ from the loop's in the last bit of some
    weights (float32 rounding of the same arithmetic), so runs trained before this choice are not
    reproduced bit for bit. A checkpoint restores the optimizer it was saved with (``fused`` is part
    of the saved parameter groups), so a resumed run continues as it started.
    """
    params = list(params)
    fused = bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
    return torch.optim.Adam(params, lr=lr, fused=fused or None)


def default_step(model, inputs, labels, loss) -> tuple[torch.Tensor, torch.Tensor]:
    """One training step's forward and backward: ``out = model(inputs)``, ``loss(out, labels)``,
    autograd backward. A scheme with its own gradient may pass another ``step`` to :func:`fit`."""
    out, _ = model(inputs)
    value = loss(out, labels)
    if torch.isfinite(value):
        value.backward()
    return value.detach(), out.detach()


def fit(
    model: torch.nn.Module,
    loss: Callable,
    predict: Callable,
    train: Batches,
    val: Iterable,
    test: Iterable,
    *,
    epochs: int,
    lr: float,
    lr_schedule: str = "constant",
    log_every: int = 50,
    evals_per_epoch: int = 1,
    dense_epochs: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    weights: str | os.PathLike | None = None,
    step: Callable = default_step,
    probe: Callable[[torch.nn.Module], dict] | None = None,
    progress: bool = True,
    description: str = "train",
) -> xr.Dataset:
    """Train with Adam for ``epochs`` epochs and return the learning curves (see the module doc).

    ``lr_schedule``: ``"constant"`` or ``"cosine"`` (per-epoch cosine decay from ``lr`` to 0 over
    ``epochs``; a resumed run continues the same schedule). ``evals_per_epoch``: validation
    evaluations per epoch (dim ``samples_seen``; the last at the epoch's end), in the first
    ``dense_epochs`` epochs only when it is given (:func:`_records_epoch`). ``weights``: where the
    best-validation weights (model selection at epoch ends, where the test set is evaluated too) are
    written as float32 ``.npz`` when training ends. ``probe(model)``: a dict of scalar measurements
    taken before training and after every epoch (after its evaluation), recorded as ``probe_<key>``
    along the dim ``checkpoint`` (epochs finished: 0 .. ``epochs``); it must leave the model's
    weights and gradients as it found them.
    """
    if epochs < 1 or not (lr > 0):
        raise ValueError(f"epochs = {epochs}, lr = {lr}: expected epochs >= 1 and lr > 0.")
    if lr_schedule not in ("constant", "cosine"):
        raise ValueError(f"lr_schedule = {lr_schedule!r}: expected 'constant' or 'cosine'.")
    n_samples = getattr(train, "samples_per_epoch", len(train.y))
    eval_at = _eval_batches(n_samples, train.batch_size, evals_per_epoch)
    _records_epoch(0, dense_epochs)  # checks it before any training
    keep_freed_memory()  # a training step's large arrays reused, not faulted in afresh at every step
    opt = make_adam(model.parameters(), lr)
    n_batches = len(train)
    n_chunks = math.ceil(n_batches / log_every)
    hist = {k: np.full(epochs, np.nan) for k in (
        "train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy",
        "hidden_spikes", "epoch_time")}
    batch_loss = np.full((epochs, n_chunks), np.nan)
    curve = {k: np.full((epochs, evals_per_epoch), np.nan) for k in ("val_accuracy", "val_loss", "samples_seen")}
    best = {"epoch": 0, "val_accuracy": -1.0, "state": None}
    probes: list[dict] = []  # probes[c]: after c finished epochs
    start_epoch = 0
    ckpt = Path(checkpoint) if checkpoint is not None else None
    sessions: list[dict] = []  # the training sessions before this one (from the checkpoint)
    if ckpt is not None and ckpt.is_file():
        # a checkpoint written on another device loads onto this model's
        where = next(iter(model.parameters()), torch.empty(0)).device
        state = _load_checkpoint(ckpt, where)
        sessions = list(state.get("trained_by") or [])
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start_epoch = state["epoch"] + 1
        for k, v in state["history"].items():
            hist[k][: len(v)] = v[:epochs]
        batch_loss[: state["batch_loss"].shape[0]] = state["batch_loss"][:epochs]
        for k, v in state["curve"].items():
            curve[k][: len(v)] = v[:epochs]
        best = state["best"]
        probes = list(state.get("probes", []))
        print(f"resuming after epoch {start_epoch} from {ckpt}", file=sys.stderr)

    session = {**code_state(), "first_epoch": start_epoch + 1, "last_epoch": start_epoch,
               "started": _now(), "finished": None, "wall_time_s": 0.0}
    t_session = time.perf_counter()
    if probe is not None:
        if start_epoch == 0 and not probes:
            probes.append(dict(probe(model)))
        else:  # a checkpoint from before the probe (or without it): those checkpoints stay NaN
            probes += [{}] * max(0, start_epoch + 1 - len(probes))
    for epoch in range(start_epoch, epochs):
        train.epoch = epoch
        if lr_schedule == "cosine":
            for group in opt.param_groups:
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
        t0 = time.perf_counter()
        loss_sum = correct = seen = 0
        chunk_sum, chunk_n = 0.0, 0
        j = 0
        bar = tqdm(train, total=n_batches, desc=f"{description} epoch {epoch + 1}/{epochs}",
                   disable=not progress, mininterval=10, file=sys.stderr, leave=False)
        for b, (inputs, labels) in enumerate(bar):
            opt.zero_grad(set_to_none=True)
            value, out = step(model, inputs, labels, loss)
            if not torch.isfinite(value):
                raise NonFiniteLossError(
                    f"loss is {float(value)} at epoch {epoch + 1}, batch {b + 1}: training stopped "
                    f"(lower lr or check the input scaling); the last finished epoch is kept in {ckpt}."
                )
            opt.step()
            n, v = len(labels), float(value)
            loss_sum += v * n
            correct += int((predict(out) == labels).sum())
            seen += n
            chunk_sum += v
            chunk_n += 1
            if chunk_n == log_every or b == n_batches - 1:
                batch_loss[epoch, b // log_every] = chunk_sum / chunk_n
                bar.set_postfix(loss=f"{chunk_sum / chunk_n:.4f}")
                chunk_sum, chunk_n = 0.0, 0
            while j < evals_per_epoch and b == eval_at[j]:
                if b == n_batches - 1 or _records_epoch(epoch, dense_epochs):
                    if b < n_batches - 1:  # the epoch's last evaluation is the epoch-end one below
                        e = evaluate(model, val, loss, predict)
                        curve["val_loss"][epoch, j], curve["val_accuracy"][epoch, j] = e.loss, e.accuracy
                    curve["samples_seen"][epoch, j] = epoch * n_samples + seen
                j += 1
        bar.close()
        hist["epoch_time"][epoch] = time.perf_counter() - t0
        hist["train_loss"][epoch] = loss_sum / seen
        hist["train_accuracy"][epoch] = correct / seen
        v, t = evaluate(model, val, loss, predict), evaluate(model, test, loss, predict)
        hist["val_loss"][epoch], hist["val_accuracy"][epoch], hist["hidden_spikes"][epoch] = v
        hist["test_loss"][epoch], hist["test_accuracy"][epoch] = t.loss, t.accuracy
        curve["val_loss"][epoch, -1], curve["val_accuracy"][epoch, -1] = v.loss, v.accuracy
        if v.accuracy > best["val_accuracy"]:
            best = {"epoch": epoch + 1, "val_accuracy": v.accuracy, "state": state_arrays(model)}
        if probe is not None:
            probes[epoch + 1:] = [dict(probe(model))]
        print(f"{description} epoch {epoch + 1}: train loss {loss_sum / seen:.4f}, "
              f"val acc {v.accuracy:.4f}, test acc {t.accuracy:.4f}, "
              f"{hist['epoch_time'][epoch]:.0f} s", file=sys.stderr)
        session.update(last_epoch=epoch + 1, finished=_now(), wall_time_s=time.perf_counter() - t_session)
        if ckpt is not None:
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            _atomic_save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch,
                          "history": {k: h[: epoch + 1] for k, h in hist.items()},
                          "batch_loss": batch_loss[: epoch + 1],
                          "curve": {k: c[: epoch + 1] for k, c in curve.items()}, "best": best,
                          "probes": probes, "trained_by": [*sessions, session]}, ckpt)

    if weights is not None:
        save_weights(weights, best["state"], epoch=best["epoch"], val_accuracy=best["val_accuracy"])
    # every session that trained these curves (this one only if it trained an epoch)
    trained_by = [*sessions, *([session] if session["last_epoch"] > start_epoch else [])]
    return curves_dataset(hist, batch_loss, curve, log_every, best_epoch=best["epoch"], trained_by=trained_by,
                          probes=probes if probe is not None else None)


def curves_dataset(hist: dict, batch_loss: np.ndarray, curve: dict, log_every: int, *, best_epoch: int,
                   trained_by: list, probes: list | None = None) -> xr.Dataset:
    """The learning curves :func:`fit` returns, from its records: ``hist`` (per-epoch arrays),
    ``batch_loss [epochs, log chunks]``, ``curve`` (``[epochs, evals_per_epoch]`` arrays of
    ``val_accuracy``, ``val_loss``, ``samples_seen``), the best-validation epoch, the training
    sessions and, if a probe ran, ``probes`` (one dict per checkpoint)."""
    epochs = len(hist["train_loss"])
    units = {"epoch_time": "s", "hidden_spikes": "spikes per sample"}
    data = {k: (("epoch",), v, {"units": units.get(k, "1")}) for k, v in hist.items()}
    data["batch_loss"] = (("epoch", "log_chunk"), batch_loss,
                          {"long_name": f"mean training loss of each {log_every} batches"})
    taken = np.isfinite(curve["samples_seen"].ravel())  # records an epoch beyond dense_epochs did not take
    for k in ("val_accuracy", "val_loss"):
        data[f"{k}_curve"] = (("samples_seen",), curve[k].ravel()[taken],
                              {"units": "1", "long_name": f"{k.replace('_', ' ')} at fixed numbers of training samples"})
    coords = {"epoch": np.arange(1, epochs + 1),
              "samples_seen": ("samples_seen", curve["samples_seen"].ravel()[taken].astype(np.int64),
                               {"units": "training samples"})}
    if probes is not None:
        coords["checkpoint"] = ("checkpoint", np.arange(epochs + 1), {"long_name": "epochs finished"})
        for k in dict.fromkeys(k for p in probes for k in p):
            data[f"probe_{k}"] = (("checkpoint",), np.array([p.get(k, np.nan) for p in probes], dtype=float))
    ds = xr.Dataset(data, coords=coords)
    ds.attrs["best_epoch"] = int(best_epoch)
    ds.attrs["trained_by"] = json.dumps(trained_by)
    return ds


#: the fraction of its hidden capacity above which a network counts as saturated
SATURATED = 0.95


def activity(ds: xr.Dataset) -> xr.DataArray:
    """Per run (every dim but ``epoch``): ``"silent"`` when the hidden layers emitted no spike in the
    last epoch (the output then hears nothing: a dead run), ``"saturated"`` when they emitted at least
    :data:`SATURATED` of ``attrs["hidden_capacity"]`` (every hidden neuron at nearly every chance to
    spike: no information in which neuron spikes), else ``""``. A network without hidden layers
    (``attrs["sizes"]`` of two layers) is never silent."""
    final = ds["hidden_spikes"].isel(epoch=-1)
    sizes = ds.attrs.get("sizes")
    has_hidden = sizes is None or len(str(sizes).strip("()").split(",")) > 2
    flags = xr.full_like(final, "", dtype=object)
    if has_hidden:
        flags = flags.where(~(final == 0), "silent")
    cap = ds.attrs.get("hidden_capacity")
    if cap:
        flags = flags.where(~(final >= SATURATED * float(cap)), "saturated")
    return flags


def summarize_curves(ds: xr.Dataset) -> dict:
    """Headline numbers of learning curves (one run or a ``seed`` dimension): the final-epoch test
    accuracy, and the test accuracy of the best-validation epoch (model selection on validation
    only), as means with 95% confidence half-widths over seeds, plus the per-seed values, and each
    seed's :func:`activity` (``"ok"``, ``"silent"``, ``"saturated"``: counted in the means)."""
    if "seed" not in ds.dims:
        ds = ds.expand_dims(seed=[0])
    final = ds["test_accuracy"].isel(epoch=-1).values
    best = ds["val_accuracy"].fillna(-1).argmax("epoch")
    at_best = ds["test_accuracy"].isel(epoch=best).values
    out = {"seeds": [int(s) for s in ds["seed"].values], "epochs": int(ds.sizes["epoch"])}
    for name, values in (("final_test_accuracy", final), ("test_accuracy_at_best_val", at_best),
                         ("final_val_accuracy", ds["val_accuracy"].isel(epoch=-1).values),
                         ("train_time_s", ds["epoch_time"].sum("epoch").values),
                         ("final_hidden_spikes", ds["hidden_spikes"].isel(epoch=-1).values)):
        mean, half = mean_ci(values)
        out[name] = mean
        out[f"{name}_ci95"] = half
        out[f"{name}_per_seed"] = [float(v) for v in values]
    out["best_val_epoch_per_seed"] = [int(b) + 1 for b in best.values]
    # dead runs are counted in the numbers above (a network a scheme fails to train is its result)
    # and named here, so that a reader sees them
    out["activity_per_seed"] = [str(a) or "ok" for a in activity(ds).values]
    return out
