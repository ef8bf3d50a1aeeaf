"""Losses and read-outs shared by the training schemes.

Clock-driven outputs are rasters ``[T, B, C]``; event-driven outputs are spike times ``[B, C, K]``
(``+inf`` padded). Each loss has the matching prediction rule (``predict_*``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "spike_rate_loss",
    "count_cross_entropy",
    "count_mse",
    "fit_targets",
    "predict_by_count_then_first",
    "first_spike_step",
    "temporal_cross_entropy",
    "predict_by_count",
    "predict_by_first_spike",
    "spike_counts",
    "spike_count_loss",
    "first_spike_cross_entropy",
    "predict_events_by_count",
    "predict_events_by_first_spike",
]

def _targets(labels: Tensor, n_classes: int, true_value: float, false_value: float, like: Tensor) -> Tensor:
    t = torch.full((labels.shape[0], n_classes), false_value, dtype=like.dtype, device=like.device)
    t[torch.arange(labels.shape[0]), labels] = true_value
    return t


def spike_rate_loss(raster: Tensor, labels: Tensor, true_rate: float = 0.2, false_rate: float = 0.03) -> Tensor:
    """lava-dl's spike-rate loss: ``mean_b 1/2 sum_c (r_bc - r*_bc)^2`` with ``r`` the fraction of
    time bins in which output ``c`` spiked and ``r*`` = ``true_rate`` for the label, ``false_rate``
    for the other classes (lava-dl ``loss.SpikeRate``; 0.2 / 0.03 in its N-MNIST recipe)."""
    rate = raster.mean(0)
    target = _targets(labels, rate.shape[1], true_rate, false_rate, rate)
    return 0.5 * ((rate - target) ** 2).sum(1).mean()


def count_cross_entropy(raster: Tensor, labels: Tensor) -> Tensor:
    """Softmax cross-entropy on output spike counts (snnTorch ``ce_count_loss``)."""
    return F.cross_entropy(raster.sum(0), labels)


def count_mse(raster: Tensor, labels: Tensor, target_true: float = 15.0, target_false: float = 3.0) -> Tensor:
    """BATS's spike-count loss on a raster: ``mean_b 1/2 sum_c (n_bc - y_bc)^2``, ``n`` the output
    spike counts (the same value as :func:`spike_count_loss` on the same spikes as event times)."""
    n = raster.sum(0)
    target = _targets(labels, n.shape[1], target_true, target_false, n)
    return 0.5 * ((n - target) ** 2).sum(1).mean()


def fit_targets(target_true: float, target_false: float, capacity: int, fraction: float = 0.5) -> tuple[float, float]:
    """Count targets an output can reach: both scaled by one factor so that the true class's target
    is at most ``fraction`` of the output's ``capacity`` (the most spikes it can emit,
    :func:`snnlib.model.discretization.grid_capacity`), unchanged where it already is.

    Why a half: BATS's own targets (15 / 3) are half its spike buffer of 30, so the rule keeps
    BATS's targets wherever the grid allows 30 spikes or more, and keeps the true/false ratio."""
    if not (0 < fraction <= 1) or capacity < 1:
        raise ValueError(f"fraction = {fraction}, capacity = {capacity}: expected 0 < fraction <= 1 and a "
                         "capacity of at least one spike (no target is reachable by a neuron that cannot fire).")
    if not (target_true > target_false >= 0):
        raise ValueError(f"targets ({target_true}, {target_false}): expected true > false >= 0.")
    scale = min(1.0, fraction * capacity / target_true)
    return target_true * scale, target_false * scale


class _FirstSpikeStep(torch.autograd.Function):
    """First spike step of each output ``[B, C]`` (``T - 1`` when silent); backward: a spike one
    step earlier is worth ``-1`` step (snnTorch's linearisation ``dt/dS = -1`` at that step)."""

    @staticmethod
    def forward(ctx, raster):
        T = raster.shape[0]
        spiked = raster > 0
        first = torch.where(spiked.any(0), spiked.float().argmax(0), torch.full_like(spiked[0], T - 1, dtype=torch.long))
        ctx.save_for_backward(first)
        ctx.shape = raster.shape
        return first.to(raster.dtype)

    @staticmethod
    def backward(ctx, g):
        (first,) = ctx.saved_tensors
        grad = g.new_zeros(ctx.shape)
        grad.scatter_(0, first.unsqueeze(0), -g.unsqueeze(0))
        return grad


def first_spike_step(raster: Tensor) -> Tensor:
    return _FirstSpikeStep.apply(raster)


def temporal_cross_entropy(raster: Tensor, labels: Tensor, tau_steps: float = 1.0) -> Tensor:
    """Cross-entropy of ``-t_first / tau`` (snnTorch ``ce_temporal_loss``; with the event-driven
    scheme the same loss on exact first-spike times in ms is BATS's single-spike loss)."""
    return F.cross_entropy(-first_spike_step(raster) / tau_steps, labels)


def predict_by_count(raster: Tensor) -> Tensor:
    """Class with most output spikes; ties go to the lowest index (argmax)."""
    return raster.sum(0).argmax(1)


def predict_by_count_then_first(raster: Tensor) -> Tensor:
    """Class with most output spikes; ties: the earliest first spike, then the lowest index (the rule
    of :func:`predict_events_by_count`, so a clock network and an event network with the same spikes
    predict the same class)."""
    first = first_spike_step(raster.detach())
    counts = raster.detach().sum(0)
    score = counts * (raster.shape[0] + 1) - first
    return score.argmax(1)


def predict_by_first_spike(raster: Tensor) -> Tensor:
    """Class whose output spikes first (ties: the one with more spikes, then the lowest index)."""
    first = first_spike_step(raster.detach())
    counts = raster.detach().sum(0)
    score = -first * (raster.shape[0] + 1) + counts
    return score.argmax(1)


# ------------------------------------------------ event outputs: spike times [B, C, K], +inf padded
def spike_counts(out_times: Tensor) -> Tensor:
    """Spikes per output ``[B, C]`` (finite entries)."""
    return torch.isfinite(out_times).sum(-1)


class _SpikeCountLoss(torch.autograd.Function):
    @staticmethod
    def forward(ctx, out_times, targets):
        finite = torch.isfinite(out_times)
        n = finite.sum(-1).to(targets.dtype)
        ctx.save_for_backward(finite, (targets - n) / out_times.shape[0])
        return 0.5 * ((n - targets) ** 2).sum(1).mean()

    @staticmethod
    def backward(ctx, g):
        finite, err = ctx.saved_tensors
        return g * err.unsqueeze(-1) * finite, None


def spike_count_loss(out_times: Tensor, labels: Tensor, target_true: float = 15.0,
                     target_false: float = 3.0) -> Tensor:
    """BATS ``SpikeCountClassLoss``: ``L = mean_b 1/2 sum_c (n_bc - y_bc)^2`` with ``n`` the spike
    counts and ``y`` = ``target_true`` for the label, ``target_false`` otherwise.

    Counts are piecewise constant in the spike times, so, as BATS does, the count error is
    given to every emitted spike as its time gradient: ``dL/dt_bck = (y_bc - n_bc) / B`` for each
    spike ``k`` (``0`` for padding). BATS's ``errors = targets - counts`` repeated over the spike
    buffer, with its batch-averaged gradient, is exactly this: too few spikes (``y > n``) push
    every spike earlier, which lets more of them fit in the window.
    """
    C = out_times.shape[1]
    targets = torch.full((out_times.shape[0], C), float(target_false), dtype=out_times.dtype,
                         device=out_times.device)
    targets[torch.arange(len(labels)), labels] = float(target_true)
    return _SpikeCountLoss.apply(out_times, targets)


def first_spike_cross_entropy(out_times: Tensor, labels: Tensor, tau_loss: float = 5.0,
                              t_silent: float = 1000.0) -> Tensor:
    """BATS ``TTFSSoftmaxCrossEntropy``: ``CE(softmax(-t_first / tau_loss), label)``, batch mean.

    ``dL/dt_first,bc = (softmax_bc - [c = label]) * (-1/tau_loss) / B`` (ms^-1): BATS's errors
    ``(onehot - softmax)/tau``. Silent outputs count as firing at ``t_silent`` ms (BATS's
    single-spike window) without gradient; BATS would give an infinite loss when the label
    is silent. Computed in log space, so ``-t/tau_loss`` never underflows.
    """
    t = out_times[..., 0]
    t = torch.where(torch.isfinite(t), t, torch.full_like(t, float(t_silent)))
    return F.cross_entropy(-t / tau_loss, labels)


def _lexi_argbest(primary: Tensor, secondary: Tensor) -> Tensor:
    """Per row, the index minimising ``(primary, secondary, index)`` lexicographically."""
    idx = torch.argsort(secondary, dim=1, stable=True)
    idx2 = torch.argsort(primary.gather(1, idx), dim=1, stable=True)
    return idx.gather(1, idx2[:, :1]).squeeze(1)


def predict_events_by_count(out_times: Tensor) -> Tensor:
    """Class with most spikes; ties: earliest first spike, then lowest index."""
    n = spike_counts(out_times).to(torch.float64)
    return _lexi_argbest(-n, out_times[..., 0].detach().to(torch.float64))


def predict_events_by_first_spike(out_times: Tensor) -> Tensor:
    """Class that spikes first; ties: more spikes, then lowest index (as
    :func:`predict_by_first_spike` on rasters)."""
    n = spike_counts(out_times).to(torch.float64)
    return _lexi_argbest(out_times[..., 0].detach().to(torch.float64), -n)
