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
    "first_spike_step",
    "temporal_cross_entropy",
    "predict_by_count",
    "predict_by_first_spike",
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


def predict_by_first_spike(raster: Tensor) -> Tensor:
    """Class whose output spikes first (ties: the one with more spikes, then the lowest index)."""
    first = first_spike_step(raster.detach())
    counts = raster.detach().sum(0)
    score = -first * (raster.shape[0] + 1) + counts
    return score.argmax(1)
