"""Feed-forward networks of clock-driven CuBa-LIF layers (the BPTT scheme's networks).

The three axes are separate arguments: the neurons, the time discretization
(:class:`snnlib.model.discretization.ClockDiscretization`, stepped by
:func:`snnlib.clock.stepping.clock_sequence`) and the surrogate gradient.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from snnlib.clock.raster import Raster, _is_binary, dense_threshold, sparse_projection, spike_projection
from snnlib.clock.stepping import check_neuron, clock_sequence
from snnlib.model.discretization import ClockDiscretization
from snnlib.model.surrogates import get_surrogate

__all__ = ["ClockNetwork"]


class ClockNetwork(torch.nn.Module):
    """Feed-forward network of clock-driven CuBa-LIF layers, e.g. sizes ``(784, 800, 10)``.

    ``forward(raster [T, B, N_in])`` returns the output spikes ``[T, B, N_out]`` and the spike
    count of every hidden layer ``[B]`` (summed over neurons and time). The first projection is
    sparse when the input is binary and sparse (time-to-first-spike or event input).

    Three separate axes: ``neurons`` (one per layer or shared), ``discretization``
    (:class:`snnlib.model.discretization.ClockDiscretization`: ``"loihi"`` by default, seed 000's ``"skip"``,
    or the ``"exact"`` grid, which takes :class:`snnlib.model.neuron.NeuronParams`) and ``surrogate``
    (one, or a list with one per layer).
    ``sparse_hidden``: project hidden spikes, and a dense input raster that is binary, with
    :func:`spike_projection` (same values and gradients as the dense matmul, faster at the usual
    few-percent spike densities, the dense matmul above a density threshold,
    :func:`snnlib.clock.raster.dense_threshold`); the spikes' indices come from the layer's forward
    kernel where it runs (no scan of the raster). A non-binary dense input (event counts) takes the
    dense matmul. Initial weights: Kaiming-uniform times ``weight_scale``, or with ``init``
    ``U(low, high)`` (one pair, or one per layer: the event network's rule).
    """

    def __init__(self, sizes, neurons, surrogate="slayer",
                 weight_scale: float = 1.0, generator: torch.Generator | None = None, dtype=torch.float32,
                 discretization=None, sparse_hidden: bool = True, init=None):
        super().__init__()
        self.sparse_hidden = bool(sparse_hidden)

        self.discretization = ClockDiscretization() if discretization is None else discretization
        if len(sizes) < 2:
            raise ValueError(f"sizes = {sizes}: need at least input and output sizes.")
        self.sizes = tuple(int(s) for s in sizes)
        n_layers = len(self.sizes) - 1
        self.neurons = list(neurons) if isinstance(neurons, (list, tuple)) else [neurons] * n_layers
        if len(self.neurons) != n_layers:
            raise ValueError(f"{len(self.neurons)} neuron settings for {n_layers} layers.")
        for p in self.neurons:
            check_neuron(p, self.discretization)
        if isinstance(surrogate, list):  # one per layer (e.g. widths in units of each layer's threshold)
            if len(surrogate) != n_layers:
                raise ValueError(f"{len(surrogate)} surrogates for {n_layers} layers.")
            self.surrogates = [get_surrogate(s) for s in surrogate]
        else:
            self.surrogates = [get_surrogate(surrogate)] * n_layers
        if init is not None:
            inits = [tuple(init)] * n_layers if isinstance(init[0], (int, float)) else [tuple(i) for i in init]
            if len(inits) != n_layers or not all(len(i) == 2 and i[0] < i[1] for i in inits):
                raise ValueError(f"init = {init!r}: expected (low, high) with low < high, or one pair per layer "
                                 f"({n_layers}).")
            if weight_scale != 1.0:
                raise ValueError("init gives the weights' bounds; weight_scale scales Kaiming's: pass one of the two.")
        self.weights = torch.nn.ParameterList()
        for i, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            w = torch.empty(n_out, n_in, dtype=dtype)
            if init is None:  # Kaiming-uniform bound (as torch.nn.Linear), scaled
                bound = weight_scale * math.sqrt(6.0 / n_in)
                w.uniform_(-bound, bound, generator=generator)
            else:  # U(low, high), as the event network (BATS's rule)
                w.uniform_(*inits[i], generator=generator)
            self.weights.append(torch.nn.Parameter(w))

    def forward(self, raster: "Raster | Tensor"):
        """``raster``: a dense ``[T, B, N_in]`` tensor or a sparse :class:`Raster` (first layer
        through :func:`sparse_projection`)."""
        x = raster
        d = self.discretization
        if d.method == "skip" and not d.eval_skip and not self.training:
            d = ClockDiscretization()  # seed 000's evaluation: the base recurrence on every bin
        hidden_counts = []
        nonzero = []  # the spikes of the layer just run, as its kernel found them (numba "loihi")
        last = len(self.weights) - 1
        for i, (w, p, sg) in enumerate(zip(self.weights, self.neurons, self.surrogates)):
            if isinstance(x, Raster):
                cur = sparse_projection(x, w)
            elif self.sparse_hidden and (i > 0 or _is_binary(x)):  # spikes: binary and mostly zero
                cur = spike_projection(x, w, nonzero[0] if nonzero else None)
            else:
                cur = x @ w.t()
            if d.method == "skip" and d.skip_gain and d.k > 1:  # the gain skipping loses (a control)
                cur = cur * ((1.0 - p.beta ** d.k) / (1.0 - p.beta) if p.beta != 1.0 else float(d.k))
            nonzero = [] if (self.sparse_hidden and i < last) else None
            # no indices past the density at which the next projection goes dense
            x, _ = clock_sequence(cur, p, d, sg, nonzero=nonzero,
                                  nonzero_max_density=dense_threshold(self.sizes[i + 2]) if i < last else 1.0)
            if i < last:
                if nonzero:  # from the indices: rows are t B + b
                    B = x.shape[1]
                    hidden_counts.append(torch.bincount(nonzero[0][0] % B, minlength=B).to(x.dtype))
                else:
                    hidden_counts.append(x.detach().sum((0, 2)))
        return x, hidden_counts
