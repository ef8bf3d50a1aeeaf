"""Measurements a training run takes at checkpoints (:func:`snnlib.training.loop.fit`'s ``probe``) for
event networks: how well the network's gradient points along the exact gradient (seed 001's
"noise", measured directly), and the time of a fixed reference workload that makes wall times of
runs made at different moments comparable.

**Comparable wall times.** A run's epoch time depends on the machine's state (the other worker on
the second core, the memory bus, turbo). Each probe therefore also times a *fixed* workload in the
same process and at the same moment: a forward and backward pass of the exact (continuous) network
at the run's *initial* weights on a fixed batch (``ref_step_s``, seconds per sample, median of
``repeats``). Dividing a run's epoch time by ``ref_step_s`` x samples per epoch expresses it in
units of that workload; runs of the same seed share the initial weights and batch, so the workload
is identical across points, and the exact benchmark's own ratio calibrates the scale.
"""

from __future__ import annotations

import copy
import statistics
import time

import numpy as np
import torch

from snnlib.device import to_device
from snnlib.model.discretization import Discretization

__all__ = ["loss_gradients", "alignment", "gradient_alignment", "finite_difference_check", "TrainingProbe",
           "SurrogateProbe", "fixed_batch"]

def loss_gradients(model, inputs, labels, loss):
    """The gradient of ``loss(model(inputs), labels)`` with respect to each of ``model``'s parameters
    (``None`` for a parameter the loss does not reach); ``.grad`` is left untouched."""
    params = list(model.parameters())
    out, _ = model(inputs)
    return torch.autograd.grad(loss(out, labels), params, allow_unused=True)


def gradient_alignment(net, inputs, labels, loss) -> dict:
    """How well the gradient of ``net`` (its discretization and gradient scheme) points along the
    exact scheme's gradient of the same weights on the same batch: the cosine similarity of the two
    gradients over all weights (``cosine``) and per layer (``cosine_per_layer``), and the ratio of
    their norms (``norm_ratio``). The network's own ``.grad`` are left untouched."""
    g, g0 = loss_gradients(net, inputs, labels, loss), loss_gradients(net.with_(Discretization()), inputs, labels, loss)
    return alignment(g, g0, list(net.parameters()))


#: how closely (relative) a direction's two one-sided differences must agree for it to count
#: (:func:`finite_difference_check`): no kink inside ``[-eps, eps]``
KINK_TOL = 1e-3


def finite_difference_check(net, inputs, n_directions: int = 8, eps: float = 1e-4, seed: int = 0,
                            also: tuple = (), kink_tol: float = KINK_TOL) -> dict:
    """The network's gradient (its discretization and gradient scheme) against central finite
    differences of its own forward, at its current weights, along random directions of all weights.

    The functional differentiated is smooth in the spike times, ``L = sum c * t`` over the output
    spikes (``c`` fixed random weights per sample, neuron and spike slot): a count-based loss is
    piecewise constant in the weights and has no finite difference to compare with. A direction counts
    only where no spike of any layer appears or vanishes between ``w - eps v`` and ``w + eps v``, and
    where its two one-sided differences agree to ``kink_tol`` (relative): an integrated network's spike
    time is only piecewise smooth, with a kink where a threshold crossing moves into another step,
    and a kink inside ``[-eps, eps]`` spoils the central difference without changing the spike
    pattern. Returns ``fd`` and ``analytic`` (the directional derivatives,
    ``[n_directions]``), ``valid`` (booleans) and their relative error on the valid directions. The
    network's weights are restored exactly and its ``.grad`` left untouched; use float64 networks.
    ``also``: networks with the same forward and weights but another gradient (``net.with_(d, other)``);
    their directional derivatives along the same directions come back as ``analytic_also`` (one array
    each), against the same finite differences (the forward is evaluated once for all)."""
    g = torch.Generator().manual_seed(seed)
    params = list(net.parameters())
    out, hidden = net(inputs)
    c = torch.randn(out.shape, generator=g, dtype=out.dtype).to(out.device)

    def functional(out):
        m = torch.isfinite(out)
        return (torch.where(m, out, torch.zeros_like(out)) * c).sum()

    def pattern(out, hidden):
        return [torch.isfinite(out)] + [torch.isfinite(h) if h.is_floating_point() and h.dim() == 3 else h
                                        for h in hidden]

    base = pattern(out.detach(), hidden)
    f0 = float(functional(out.detach()))
    grads = torch.autograd.grad(functional(out), params, allow_unused=True)
    grads_also = [torch.autograd.grad(functional(other(inputs)[0]), list(other.parameters()), allow_unused=True)
                  for other in also]
    analytic_also = [[] for _ in also]
    weights = [p.detach().clone() for p in params]
    fd, analytic, valid = [], [], []
    for _ in range(n_directions):
        v = [torch.randn(p.shape, generator=g, dtype=p.dtype).to(p.device) for p in params]
        norm = torch.sqrt(sum((x * x).sum() for x in v))
        v = [x / norm for x in v]
        values, same = [], True
        for sign in (1.0, -1.0):
            with torch.no_grad():
                for p, w, x in zip(params, weights, v):
                    p.copy_(w + sign * eps * x)
                o, h = net(inputs)
                for p, w in zip(params, weights):  # restored exactly, not by subtracting the step again
                    p.copy_(w)
            same = same and all(torch.equal(a, b) for a, b in zip(pattern(o, h), base))
            values.append(float(functional(o)))
        up, down = (values[0] - f0) / eps, (f0 - values[1]) / eps  # one-sided: equal where smooth
        same = same and abs(up - down) <= kink_tol * max(abs(up), abs(down), 1e-300)
        fd.append((values[0] - values[1]) / (2 * eps))
        analytic.append(float(sum((gr * x).sum() for gr, x in zip(grads, v) if gr is not None)))
        for a, gs in zip(analytic_also, grads_also):
            a.append(float(sum((gr * x).sum() for gr, x in zip(gs, v) if gr is not None)))
        valid.append(same)
    fd, analytic, valid = (np.asarray(a) for a in (fd, analytic, valid))
    err = np.abs(fd - analytic)[valid] / np.maximum(np.abs(fd[valid]), 1e-12) if valid.any() else np.array([])
    return {"fd": fd, "analytic": analytic, "valid": valid, "analytic_also": [np.asarray(a) for a in analytic_also],
            "max_relative_error": float(err.max()) if err.size else float("nan")}


def alignment(g, g0, params) -> dict:
    """Cosines (all weights, per layer) and norm ratio of the gradients ``g`` against ``g0``."""
    def vec(x, p):  # a parameter without gradient (unused by a silent layer) counts as zeros
        return (x if x is not None else torch.zeros_like(p)).reshape(-1).double()

    def flat(gs):
        return torch.cat([vec(x, p) for x, p in zip(gs, params)])

    def cos(u, v):
        n = float(u.norm() * v.norm())
        return float(u @ v) / n if n > 0 else float("nan")

    a, b = flat(g), flat(g0)
    return {"cosine": cos(a, b), "norm_ratio": float(a.norm() / b.norm()) if float(b.norm()) > 0 else float("nan"),
            "cosine_per_layer": [cos(vec(u, p), vec(v, p)) for u, v, p in zip(g, g0, params)]}


def fixed_batch(batches, n: int):
    """The first ``n`` samples of an unshuffled :class:`snnlib.training.loop.Batches` (e.g. validation),
    encoded: ``(inputs, labels)``, on the batches' device."""
    if getattr(batches, "shuffle", False):
        raise ValueError("fixed_batch needs unshuffled batches (validation or test), not the training stream.")
    n = min(n, len(batches.y))
    idx = torch.arange(n).numpy()
    batch = batches.encode(batches.x, idx), torch.as_tensor(batches.y[idx])
    dev = getattr(batches, "device", None)
    return batch if dev is None else to_device(batch, dev)


class TrainingProbe:
    """``probe(model) -> dict`` for :func:`snnlib.training.loop.fit` on an :class:`snnlib.events.network.EventNetwork`.

    ``ref_step_s``: seconds per sample of a forward and backward pass of the exact network at the
    weights of ``initial`` (the freshly built model of the run, before training or resuming: a
    frozen copy is taken here) on ``(inputs, labels)``, median of ``repeats``. With ``alignment``:
    :func:`gradient_alignment` of the current model on the same batch, as ``cosine``,
    ``norm_ratio`` and ``cosine_layer<l>`` (1-based).
    """

    def __init__(self, inputs, labels, loss, initial, alignment: bool = True, repeats: int = 5):
        if repeats < 1:
            raise ValueError(f"repeats = {repeats}: expected >= 1.")
        self.inputs, self.labels, self.loss = inputs, labels, loss
        self.alignment, self.repeats = alignment, repeats
        self._reference = copy.deepcopy(initial).with_(Discretization())

    def _time_reference(self) -> float:
        times = []
        gpu = self.labels.device.type == "cuda"
        for _ in range(self.repeats):
            t0 = time.perf_counter()
            loss_gradients(self._reference, self.inputs, self.labels, self.loss)
            if gpu:  # kernels run asynchronously: time them to their end
                torch.cuda.synchronize(self.labels.device)
            times.append(time.perf_counter() - t0)
        return statistics.median(times) / len(self.labels)

    def __call__(self, model) -> dict:
        out = {"ref_step_s": self._time_reference()}
        if self.alignment:
            a = gradient_alignment(model, self.inputs, self.labels, self.loss)
            out.update(cosine=a["cosine"], norm_ratio=a["norm_ratio"],
                       **{f"cosine_layer{l + 1}": c for l, c in enumerate(a["cosine_per_layer"])})
        return out


class SurrogateProbe:
    """``probe(model) -> dict`` for a BPTT network on the exact grid (:class:`snnlib.clock.network.ClockNetwork`,
    ``clock="exact"``): how well its surrogate gradient points along the exact spike-time gradient of
    the continuous network with the same neuron and the same weights (``twin``, an
    :class:`snnlib.events.network.EventNetwork` of the spike-time scheme), on the same samples with the
    same loss: :func:`gradient_alignment`'s ``cosine``, ``norm_ratio`` and ``cosine_layer<l>`` (1-based;
    layer 1 reads the input). The grid's own forward differs from the continuous one by its step (a
    fine step makes the two networks' spikes agree); the surrogate is what the measurement isolates.

    ``inputs``: the BPTT network's raster of the samples; ``twin_inputs``: the same samples as input
    spike times. The twin's weights are overwritten with the model's at every call; the model's
    ``.grad`` are left untouched."""

    def __init__(self, twin, twin_inputs, twin_loss, inputs, labels, loss):
        self.twin, self.twin_inputs, self.twin_loss = twin, twin_inputs, twin_loss
        self.inputs, self.labels, self.loss = inputs, labels, loss

    def __call__(self, model) -> dict:
        if len(self.twin.weights) != len(model.weights):
            raise ValueError(f"the twin has {len(self.twin.weights)} layers, the model {len(model.weights)}.")
        with torch.no_grad():
            for w_twin, w in zip(self.twin.weights, model.weights):
                w_twin.copy_(w.to(w_twin.dtype))
        g = loss_gradients(model, self.inputs, self.labels, self.loss)
        g0 = loss_gradients(self.twin, self.twin_inputs, self.labels, self.twin_loss)
        a = alignment(g, [x.to(p.dtype) if x is not None else None for x, p in zip(g0, model.parameters())],
                       list(model.parameters()))
        return {"cosine": a["cosine"], "norm_ratio": a["norm_ratio"],
                **{f"cosine_layer{l + 1}": c for l, c in enumerate(a["cosine_per_layer"])}}
