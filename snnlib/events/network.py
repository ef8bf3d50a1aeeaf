"""Fully connected event networks: spike trains in, spike trains out, any discretization.

One entry point, the three axes as separate arguments (``ARCHITECTURE.md``)::

    net = EventNetwork(sizes, params, max_spikes=..., t_max=..., discretization=d, gradient="adjusted")

* the neuron: :class:`~snnlib.model.neuron.NeuronParams` per layer;
* the discretization: :class:`~snnlib.model.discretization.Discretization` (what is simulated);
* the gradient scheme: ``"exact"`` (BATS, exact discretization), ``"ste"`` (exact dynamics of
  grid-delivered inputs, straight through the rounding), ``"piggyback"`` or ``"adjusted"``
  (grid integrators; :mod:`snnlib.events.integrated`).

The same weights can be simulated under another discretization with :meth:`EventNetwork.with_`
(a view sharing the parameters): that is how weights trained in continuous time are
*transferred* to integrated networks (seed 001's first experiment).

:class:`PackedEventNetwork` simulates ``R`` networks of the same shape (independent weights, e.g.
the seeds of a sweep) together: one kernel launch per layer for all of them
(:mod:`snnlib.training.packed` trains them).
"""

from __future__ import annotations

import copy
from typing import Optional, Sequence, Union

import torch
from torch import Tensor

from snnlib.events.layer import check_choices, event_layer
from snnlib.model.discretization import Discretization
from snnlib.model.neuron import NeuronParams

__all__ = ["EventNetwork", "PackedEventNetwork"]


class EventNetwork(torch.nn.Module):
    """Fully connected layers of CuBa-LIF neurons driven by spike trains.

    Args:
        sizes: layer sizes, input first (e.g. ``(784, 800, 10)``).
        params: one :class:`NeuronParams` for all layers or one per layer.
        max_spikes: spike buffer ``K`` per layer (one value or one per layer).
        t_max: simulation window ``[0, t_max]`` (ms).
        discretization: how the network is simulated (default: exact, event-driven).
        gradient: the gradient scheme (default :func:`snnlib.events.layer.default_gradient`).
        init: ``(low, high)`` of the uniform weight initialisation, one pair or one per layer.
        backend: one of :data:`snnlib.events.layer.BACKENDS`: ``"auto"`` (the compiled kernels:
            numba on the CPU, CUDA on a GPU that numba can use), ``"numba"``, ``"cuda"`` or
            ``"torch"`` (autograd through the reference :func:`snnlib.events.reference.simulate_layer`;
            slow; its gradient is the true derivative of the reference, so it exists for
            ``"exact"`` and for grid integrators with ``linear`` / ``newton`` as ``"adjusted"``).
        dtype, generator: weight dtype and the generator of the initialisation.

    ``forward(in_times [B, N_in, K_in]) -> (out_times [B, N_out, K_out], [hidden counts [B]])``.
    """

    def __init__(self, sizes: Sequence[int], params: Union[NeuronParams, Sequence[NeuronParams]], *,
                 max_spikes: Union[int, Sequence[int]], t_max: float,
                 discretization: Discretization = Discretization(), gradient: Optional[str] = None,
                 init=(-1.0, 1.0), backend: str = "auto", dtype: torch.dtype = torch.float32,
                 generator: Optional[torch.Generator] = None):
        super().__init__()
        L = len(sizes) - 1
        if L < 1:
            raise ValueError(f"sizes needs an input and at least one layer, got {tuple(sizes)}")
        self.sizes = tuple(int(s) for s in sizes)
        self.params = [params] * L if isinstance(params, NeuronParams) else list(params)
        self.max_spikes = [int(max_spikes)] * L if isinstance(max_spikes, int) else [int(k) for k in max_spikes]
        inits = [tuple(init)] * L if isinstance(init[0], (int, float)) else [tuple(i) for i in init]
        for name, v in (("params", self.params), ("max_spikes", self.max_spikes), ("init", inits)):
            if len(v) != L:
                raise ValueError(f"{name} needs one value per layer ({L}), got {len(v)}")
        self.t_max, self.backend = float(t_max), backend
        self._set(discretization, gradient)
        self.weights = torch.nn.ParameterList()
        for (n_in, n_out), (lo, hi) in zip(zip(self.sizes[:-1], self.sizes[1:]), inits):
            w = torch.empty(n_out, n_in, dtype=dtype)
            w.uniform_(lo, hi, generator=generator)
            self.weights.append(torch.nn.Parameter(w))

    def _set(self, d: Discretization, gradient: Optional[str]) -> None:
        # refused when the network is built, not at its first forward (the device comes then)
        self.discretization, self.gradient = d, check_choices(d, gradient, self.backend)

    def with_(self, discretization: Discretization, gradient: Optional[str] = None) -> "EventNetwork":
        """The same weights (shared, not copied) simulated with ``discretization``."""
        other = copy.copy(self)
        other._modules = dict(self._modules)
        other._set(discretization, gradient)
        return other

    def forward(self, in_times: Tensor) -> tuple[Tensor, list[Tensor]]:
        x = in_times.to(self.weights[0].dtype)
        hidden, counts = [], None
        for l, (W, p, K) in enumerate(zip(self.weights, self.params, self.max_spikes)):
            x, counts = event_layer(x, W, p, self.discretization, t_max=self.t_max, max_spikes=K,
                                    gradient=self.gradient, backend=self.backend, in_counts=counts)
            if l < len(self.weights) - 1:
                hidden.append(counts.sum(1))
        return x, hidden

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}, t_max={self.t_max}, discretization={self.discretization.label}, " \
               f"gradient={self.gradient!r}, backend={self.backend!r}"


class PackedEventNetwork(torch.nn.Module):
    """``R`` :class:`EventNetwork` s of one shape simulated together, each with its own weights.

    ``forward(in_times) -> (out_times [R, B, N_out, K_out], [hidden counts [R, B]])`` with
    ``in_times [R, B, N_in, K_in]`` (run ``r``'s batch in row ``r``), or ``[B, N_in, K_in]`` given
    to every run. Each layer is one call of :func:`snnlib.events.layer.event_layer` with the
    stacked weights ``[R, N_out, N_in]`` (for the exact discretization on ``"numba"`` and
    ``"cuda"``: one kernel launch for all runs). Run ``r``'s results equal ``nets[r]``'s alone bit
    for bit on the CPU (``tests/training/test_packed.py``).

    The networks are not copied: ``self.runs[r]`` is ``nets[r]``, whose parameters are the ones
    trained (one optimiser per run, :func:`snnlib.training.packed.fit_packed`); the weights are
    stacked at every forward. They must agree in everything but their weights (sizes, neuron
    parameters, spike buffers, window, discretization, gradient, backend, dtype, device).
    """

    def __init__(self, nets: Sequence[EventNetwork]):
        super().__init__()
        nets = list(nets)
        if not nets or not all(isinstance(n, EventNetwork) for n in nets):
            raise ValueError("PackedEventNetwork needs one or more EventNetworks")
        first = nets[0]
        for r, net in enumerate(nets[1:], 1):
            for name in ("sizes", "params", "max_spikes", "t_max", "discretization", "gradient", "backend"):
                if getattr(net, name) != getattr(first, name):
                    raise ValueError(f"run {r} differs from run 0 in {name} ({getattr(net, name)!r} != "
                                     f"{getattr(first, name)!r}): packed networks differ only in their weights")
            for l, (w, w0) in enumerate(zip(net.weights, first.weights)):
                if w.shape != w0.shape or w.dtype != w0.dtype or w.device != w0.device:
                    raise ValueError(f"run {r}'s layer {l} weights ({tuple(w.shape)}, {w.dtype}, {w.device}) differ "
                                     f"from run 0's ({tuple(w0.shape)}, {w0.dtype}, {w0.device})")
        self.runs = torch.nn.ModuleList(nets)

    @property
    def R(self) -> int:
        """The number of runs."""
        return len(self.runs)

    def stacked_weights(self, l: int) -> Tensor:
        """``[R, N_out, N_in]``: layer ``l``'s weights of every run (differentiable)."""
        return torch.stack([net.weights[l] for net in self.runs])

    def forward(self, in_times: Tensor) -> tuple[Tensor, list[Tensor]]:
        net = self.runs[0]
        if in_times.dim() == 3:
            in_times = in_times.unsqueeze(0).expand(self.R, *in_times.shape)
        if in_times.dim() != 4 or in_times.shape[0] != self.R:
            raise ValueError(f"need in_times [R = {self.R}, B, N_in, K_in] or [B, N_in, K_in], "
                             f"got {tuple(in_times.shape)}")
        x = in_times.to(net.weights[0].dtype)
        hidden, counts = [], None
        L = len(net.weights)
        for l, (p, K) in enumerate(zip(net.params, net.max_spikes)):
            x, counts = event_layer(x, self.stacked_weights(l), p, net.discretization, t_max=net.t_max,
                                    max_spikes=K, gradient=net.gradient, backend=net.backend, in_counts=counts)
            if l < L - 1:
                hidden.append(counts.sum(-1))
        return x, hidden

    def extra_repr(self) -> str:
        return f"R={self.R}"
