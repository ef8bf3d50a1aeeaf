"""Event inputs on a grid: the grid points of a window, inputs delivered to them, and the
straight-through rounding of spike times to the grid (times in ms).

Every rule here is :func:`snnlib.model.discretization.grid_index` (an input at ``t`` reaches the
grid point at or after it); these are its event-layer forms, shared by the compiled kernels'
callers (:mod:`snnlib.events.integrated`), the reference (:mod:`snnlib.events.reference`) and the
door (:mod:`snnlib.events.layer`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from snnlib.model.discretization import Discretization, grid_index, grid_steps

__all__ = ["grid_points", "delivered_times", "quantize_times"]

def grid_points(t_max: float, dt: float) -> np.ndarray:
    """``[0, dt, 2 dt, ..., t_max]`` (float64); the last step is shorter if ``dt`` does not
    divide ``t_max`` (as :func:`snnlib.events.reference.simulate_layer`)."""
    n = grid_steps(t_max, dt)
    return np.array([i * dt for i in range(n)] + [float(t_max)], dtype=np.float64)


def delivered_times(x: np.ndarray, d: Discretization, t_max: float) -> np.ndarray:
    """Times at which the inputs ``x`` (ms, ``+inf`` padded) reach the layer: unchanged for
    ``input="exact"``, else ``ceil(t/dt) dt`` on the grid; ``+inf`` where not delivered in
    ``[0, t_max)``."""
    x = np.asarray(x, dtype=np.float64)
    if d.input == "exact":
        ok = np.isfinite(x) & (x >= 0) & (x < t_max)
        return np.where(ok, x, np.inf)
    g = grid_points(t_max, d.dt)
    with np.errstate(invalid="ignore"):
        n = grid_index(x, d.dt)
    ok = np.isfinite(x) & (n >= 0) & (n < len(g) - 1)
    return np.where(ok, g[np.where(ok, n, 0).astype(np.int64)], np.inf)


class _Quantize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, t, dt):
        return grid_index(t, dt) * dt  # times on the grid stay put

    @staticmethod
    def backward(ctx, g):
        return g, None  # straight-through estimator


def quantize_times(t: Tensor, dt: float) -> Tensor:
    """``ceil(t / dt) dt`` (spikes delayed to the grid; ``+inf`` stays); backward: identity (STE)."""
    if not (dt is not None and math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive finite step in ms, got {dt!r}")
    return _Quantize.apply(t, float(dt))
