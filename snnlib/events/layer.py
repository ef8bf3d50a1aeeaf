"""The one door into the event layers: (discretization, gradient, backend, device) -> implementation.

Every event layer of the library (the networks of :mod:`snnlib.events.network`, the training
schemes, the experiments, the benchmarks) goes through :func:`event_layer`, which takes every
choice as an argument (as diffrax's ``diffeqsolve`` does), validates it once, resolves the
backend and dtype once, and calls one implementation from :data:`IMPLEMENTATIONS`:

==============================  =========================  ===================================  ===========================
simulation                      ``backend="numba"``        ``backend="cuda"``                   ``backend="torch"``
==============================  =========================  ===================================  ===========================
``exact`` (closed form, BATS)   :mod:`.exact` kernels      :mod:`.kernels.exact_cuda`           the reference (autograd)
``grid`` (Euler, PS(k), the     :mod:`.integrated`         :mod:`.kernels.integrated_cuda`      the reference (autograd;
exact flow on a grid)           kernels                                                         no piggyback, no snap)
==============================  =========================  ===================================  ===========================

* gradients (:func:`check_gradient`; all three choices: :func:`check_choices`): the exact discretization trains with ``"exact"``
  (``input="exact"``) or ``"ste"`` (``input="grid"``: straight through the rounding of the
  inputs to the grid, :func:`snnlib.events.grid.quantize_times`); a grid simulation with
  ``"piggyback"`` or ``"adjusted"`` (:mod:`snnlib.events.integrated`); ``gradient=None`` is
  :func:`default_gradient`.
* ``backend="auto"``: the CUDA kernels for CUDA tensors when numba can use the GPU
  (:func:`snnlib.events.kernels.exact_cuda.supports`), else ``"numba"``. ``"numba"`` on tensors
  of another device makes a differentiable round trip through the CPU. ``"torch"`` differentiates
  the pure-PyTorch reference :func:`snnlib.events.reference.simulate_layer` itself (any device,
  slow; the independent check of the kernels): it has no piggyback gradient and none through
  snapped spike times.
* the kernels compute in float64 whatever the storage dtype (float32 or float64: the promotion
  of ``in_times`` and ``weights``); the output has that dtype.

:func:`spike_layer` is the exact layer's spike times alone (BATS's layer), through the same door.

**Packed runs** (:mod:`snnlib.training.packed`): ``weights [R, N_out, N_in]`` and ``in_times
[R, B, N_in, K_in]`` are ``R`` independent networks' layers, each with its own batch; the output is
``[R, B, N_out, K]``. The exact discretization on ``"numba"`` and ``"cuda"`` runs all of them in one
kernel launch (the samples laid out run-major, each reading its run's weights, the weight gradient
summed per run exactly as for the run alone); the other implementations simulate the runs one
after the other.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np
import torch
from torch import Tensor

from snnlib.events.exact import SpikeLayer
from snnlib.events.grid import grid_points, quantize_times
from snnlib.events.integrated import IntegratedLayer
from snnlib.events.kernels import exact_cuda
from snnlib.events.kernels.integrated_cuda import integrated_layer_cuda
from snnlib.events.reference import simulate_layer
from snnlib.model.discretization import Discretization
from snnlib.model.neuron import NeuronParams, check_closed_form

__all__ = ["BACKENDS", "GRADIENTS", "IMPLEMENTATIONS", "event_layer", "spike_layer", "default_gradient",
           "check_gradient", "check_backend", "check_choices", "check_layer_args"]

#: the backends of every event layer (module docstring)
BACKENDS = ("auto", "numba", "cuda", "torch")
#: the gradient schemes of the event layers
GRADIENTS = ("exact", "ste", "piggyback", "adjusted")


def default_gradient(d: Discretization) -> str:
    """``"exact"`` for the exact network, ``"ste"`` for grid-delivered inputs on the exact flow,
    ``"adjusted"`` for grid integrators."""
    if d.is_exact:
        return "exact" if d.input == "exact" else "ste"
    return "adjusted"


def check_gradient(d: Discretization, gradient: str) -> None:
    """Refuse a gradient scheme that does not apply to the discretization ``d``."""
    if gradient not in GRADIENTS:
        raise ValueError(f"gradient must be one of {GRADIENTS}, got {gradient!r}")
    if d.is_exact:
        want = "exact" if d.input == "exact" else "ste"
        if gradient != want:
            raise ValueError(f"the exact discretization with input={d.input!r} trains with gradient={want!r} "
                             f"(got {gradient!r}); 'piggyback' and 'adjusted' are for grid integrators")
    elif gradient not in ("piggyback", "adjusted"):
        raise ValueError(f"a grid integrator ({d.label}) trains with gradient='piggyback' or 'adjusted', "
                         f"got {gradient!r}")


def check_backend(d: Discretization, gradient: str, backend: str) -> None:
    """Refuse a backend unknown or unable to give ``gradient`` for ``d`` (the device is checked when
    the tensors arrive)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "torch" and (gradient == "piggyback" or d.spike_rule == "snap"):
        raise ValueError("backend='torch' differentiates the reference itself: it has no piggyback "
                         "gradient and no gradient through snapped spike times; use backend='numba'")


def check_choices(d: Discretization, gradient: Optional[str], backend: str) -> str:
    """Validate the three choices of an event layer (or network) and return the gradient scheme
    (:func:`default_gradient` for ``None``)."""
    if not isinstance(d, Discretization):
        raise TypeError(f"discretization must be a Discretization, got {type(d).__name__}")
    gradient = default_gradient(d) if gradient is None else gradient
    check_gradient(d, gradient)
    check_backend(d, gradient, backend)
    return gradient


def check_layer_args(in_times: Tensor, weights: Tensor, max_spikes, t_max) -> None:
    """The shapes, spike buffer and window of one event layer (or of ``R`` packed runs' layers:
    ``in_times [R, B, N_in, K_in]``, ``weights [R, N_out, N_in]``)."""
    if weights.dim() == 3:
        if in_times.dim() != 4 or in_times.shape[0] != weights.shape[0] or in_times.shape[2] != weights.shape[2]:
            raise ValueError(f"packed runs need in_times [R, B, N_in, K_in] and weights [R, N_out, N_in] with "
                             f"matching R and N_in, got {tuple(in_times.shape)} and {tuple(weights.shape)}")
    elif in_times.dim() != 3 or weights.dim() != 2 or in_times.shape[1] != weights.shape[1]:
        raise ValueError(f"need in_times [B, N_in, K_in] and weights [N_out, N_in] with matching N_in, "
                         f"got {tuple(in_times.shape)} and {tuple(weights.shape)}")
    if not (isinstance(max_spikes, int) and max_spikes >= 1):
        raise ValueError(f"max_spikes must be an int >= 1, got {max_spikes!r}")
    if not (math.isfinite(t_max) and t_max > 0):
        raise ValueError(f"t_max must be a positive finite time in ms, got {t_max!r}")


def _check_finite(in_times: Tensor, weights: Tensor) -> None:
    if not bool(torch.isfinite(weights).all()):
        raise ValueError("weights contain NaN or inf")
    if bool(torch.isnan(in_times).any()):
        raise ValueError("in_times contain NaN entries (use +inf for padding)")


def _row_len(in_counts: Optional[Tensor]):
    return None if in_counts is None else in_counts.detach().cpu().numpy().astype(np.int64, copy=False)


# --- the implementations: (in_times, weights, params, d, t_max, K, gradient, in_counts) -> (times, counts)
# (inputs already validated, of one float dtype and device; exact inputs already on the grid for "ste")

def _exact_numba(x, W, p, d, t_max, K, gradient, in_counts):
    # NaN inputs are found by the kernel's event count
    return SpikeLayer.apply(x, W, float(p.theta), float(p.tau), t_max, K, _row_len(in_counts))


def _exact_cuda(x, W, p, d, t_max, K, gradient, in_counts):
    _check_finite(x, W)
    return exact_cuda.spike_layer_cuda(x, W, float(p.theta), float(p.tau), t_max, K, in_counts)


def _exact_torch(x, W, p, d, t_max, K, gradient, in_counts):
    _check_finite(x, W)
    res = simulate_layer(x, W, p, t_max=t_max, max_spikes=K)
    return res.times, res.counts


def _grid_numba(x, W, p, d, t_max, K, gradient, in_counts):
    return IntegratedLayer.apply(x, W, p, d, t_max, K, gradient, _row_len(in_counts))


def _grid_cuda(x, W, p, d, t_max, K, gradient, in_counts):
    _check_finite(x, W)
    return integrated_layer_cuda(x, W, p, d, t_max, K, gradient, in_counts, grid_points(t_max, d.dt))


def _grid_torch(x, W, p, d, t_max, K, gradient, in_counts):
    _check_finite(x, W)
    res = simulate_layer(x, W, p, t_max=t_max, max_spikes=K, discretization=d)
    return res.times, res.counts


#: (simulation, backend) -> implementation; simulation ``"exact"`` (closed form) or ``"grid"``
IMPLEMENTATIONS: dict[tuple[str, str], Callable] = {
    ("exact", "numba"): _exact_numba, ("exact", "cuda"): _exact_cuda, ("exact", "torch"): _exact_torch,
    ("grid", "numba"): _grid_numba, ("grid", "cuda"): _grid_cuda, ("grid", "torch"): _grid_torch,
}


def event_layer(in_times: Tensor, weights: Tensor, params: NeuronParams,
                discretization: Discretization = Discretization(), *, t_max: float, max_spikes: int,
                gradient: Optional[str] = None, backend: str = "auto",
                in_counts: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
    """``(times [B, N_out, K], counts [B, N_out])`` of one event layer over ``[0, t_max]`` (ms).

    Args:
        in_times: ``[B, N_in, K_in]`` input spike times (ms), ``+inf`` padded, no NaN.
        weights: ``[N_out, N_in]``, finite; the output dtype is the promotion of both
            (float32 or float64).
        params: neuron parameters (any ``tau``, ``tau_s`` for ``"adjusted"`` and the reference;
            ``tau = 2 tau_s`` for the exact discretization and ``"piggyback"``).
        discretization: how the layer is simulated (default: exact, event-driven).
        t_max, max_spikes: the window and the spikes kept per neuron (``K``; a neuron is
            silenced after ``K`` spikes, as :func:`snnlib.events.reference.simulate_layer`).
        gradient: the gradient scheme (module docstring); ``None``: :func:`default_gradient`.
        backend: ``"auto"``, ``"numba"``, ``"cuda"`` or ``"torch"`` (module docstring).
        in_counts: ``[B, N_in]`` spikes per input train when ``in_times`` is a layer's output
            (entries past the count are padding and are skipped).
    Differentiable with respect to ``in_times`` and ``weights``. Packed runs (module docstring):
    ``in_times [R, B, N_in, K_in]``, ``weights [R, N_out, N_in]``, ``in_counts [R, B, N_in]`` give
    ``(times [R, B, N_out, K], counts [R, B, N_out])``.
    """
    d = discretization
    gradient = check_choices(d, gradient, backend)
    check_layer_args(in_times, weights, max_spikes, t_max)
    if d.is_exact or gradient == "piggyback":
        check_closed_form(params)
    dtype = torch.promote_types(in_times.dtype, weights.dtype)
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"need float32 or float64 tensors, got {dtype}")
    if in_times.device != weights.device:
        raise ValueError(f"in_times are on {in_times.device} but weights on {weights.device}")
    in_times, weights = in_times.to(dtype), weights.to(dtype)
    if backend == "auto":
        backend = "cuda" if in_times.device.type == "cuda" and exact_cuda.supports(in_times) else "numba"
    if backend == "cuda" and not exact_cuda.supports(in_times):
        raise ValueError("backend='cuda' needs CUDA tensors and a GPU that numba can use (numba-cuda, "
                         "`pip install .[gpu]`), or CPU tensors under NUMBA_ENABLE_CUDASIM=1")
    if backend == "numba" and in_times.device.type != "cpu":  # a differentiable round trip to the CPU
        dev = in_times.device
        times, counts = event_layer(in_times.cpu(), weights.cpu(), params, d, t_max=t_max, max_spikes=max_spikes,
                                    gradient=gradient, backend="numba",
                                    in_counts=None if in_counts is None else in_counts.cpu())
        return times.to(dev), counts.to(dev)
    if d.is_exact and d.input == "grid":  # exact flow on inputs delayed to the grid, straight through
        in_times = quantize_times(in_times, d.dt)
    impl = IMPLEMENTATIONS[("exact" if d.is_exact else "grid", backend)]
    if weights.dim() == 2:
        return impl(in_times, weights, params, d, float(t_max), max_spikes, gradient, in_counts)
    if in_counts is not None and in_counts.shape != in_times.shape[:3]:
        raise ValueError(f"in_counts must be [R, B, N_in] = {tuple(in_times.shape[:3])} for packed runs, "
                         f"got {tuple(in_counts.shape)}")
    R, B = in_times.shape[:2]
    if d.is_exact and backend in ("numba", "cuda"):  # one launch, samples run-major
        flat = None if in_counts is None else in_counts.reshape(R * B, -1)
        _, _, N_in, K_in = in_times.shape
        times, counts = impl(in_times.reshape(R * B, N_in, K_in), weights, params, d, float(t_max),
                             max_spikes, gradient, flat)
        return times.reshape(R, B, *times.shape[1:]), counts.reshape(R, B, -1)
    outs = [impl(in_times[r], weights[r], params, d, float(t_max), max_spikes, gradient,
                 None if in_counts is None else in_counts[r]) for r in range(R)]
    return torch.stack([t for t, _ in outs]), torch.stack([c for _, c in outs])


def spike_layer(in_times: Tensor, weights: Tensor, params: NeuronParams, *, t_max: float,
                max_spikes: int, backend: str = "auto") -> Tensor:
    """Output spike times ``[B, N_out, K]`` (ms, sorted, ``+inf`` padded) of one exact layer
    (BATS's layer, ``tau = 2 tau_s``): :func:`event_layer` with the exact discretization."""
    return event_layer(in_times, weights, params, Discretization(), t_max=t_max, max_spikes=max_spikes,
                       backend=backend)[0]
