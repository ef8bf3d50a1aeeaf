"""Other libraries' NIR importers running this project's exported networks (snnTorch, Norse).

Each importer turns a NIR graph into a clock-driven module with its own discretization, and each
reads NIR's equations its own way. What they do, measured on the shipped test vectors
(``tests/interop/test_importers.py``) and read in their sources (snnTorch 1.0.0
``snntorch/import_nir.py``, Norse 1.1.0 ``norse/torch/utils/import_nir.py``):

**snnTorch** (``snntorch.import_nir.import_from_nir``) builds ``snn.Synaptic`` layers with a fixed
step ``dt = 1e-4`` of the graph's time unit: ``syn <- alpha syn + x``, ``mem <- beta mem + syn``,
``alpha = 1 - dt / tau_syn``, ``beta = 1 - dt / tau_mem`` (forward Euler), spike when ``mem >
v_threshold / (w_in dt / tau_syn)``, reset to zero in the same step. It refuses a graph unless
``r = tau_mem / dt``. To run it at a step ``h`` (ms) the graph is re-expressed, without changing its
equations, in the time unit in which ``h`` is ``1e-4`` and the current unit in which ``r = tau_mem /
dt`` (:func:`retime`, :func:`rescale_current`). It then takes an input spike as ``x = W`` in its
step, where NIR's delta of area 1 adds ``w_in W / tau_syn`` to the current, and its threshold
scaling assumes the same: the membrane is driven ``1 / dt = 10^4`` times too weakly, and the
network is silent as imported. **The correction**: the threshold multiplied by ``dt`` (``1e-4``),
i.e. an input spike counted as a delta of area 1.

**Norse** (``norse.torch.from_nir(graph, dt=h)``) takes the step as an argument, in the graph's
time unit, and integrates ``tau_syn dI/dt = -I + w_in x``, ``tau_mem dv/dt = -v + r I`` by forward
Euler with ``x`` the spikes of the step as 0 / 1 values: a spike adds ``h w_in W / tau_syn`` to the
current where NIR's delta adds ``w_in W / tau_syn``, so every layer's input is ``h`` (in the graph's
unit) times too weak. **The correction**: ``w_in`` divided by ``h``, i.e. an input spike counted as a
delta of area 1. Reset to ``v_reset`` (0).

Both importers deliver no more than one spike per neuron and step and keep no spike cap (the
graph's ``max_spikes`` metadata is not part of NIR). Input spike times are put on the grid by the
project's rule (:func:`snnlib.model.discretization.grid_index`: a spike in ``((n-1) h, n h]`` is
delivered at step ``n``), and the importers' output spikes are read at the step's time ``n h``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import warnings
from typing import Callable

import numpy as np
import torch

from snnlib.model.discretization import grid_index

__all__ = ["IMPORTERS", "SNNTORCH_DT", "retime", "rescale_current", "correct", "prepare", "simulate"]

IMPORTERS = ("snntorch", "norse")
#: snnTorch's importer's fixed step, in the graph's time unit
SNNTORCH_DT = 1e-4


def retime(graph, s: float):
    """The same network with time measured in a unit ``s`` times smaller (``t' = s t``): the time
    constants and ``w_in`` times ``s`` (a delta of area 1 keeps its area), ``t_max`` and the test
    vectors' times too; the equations and spikes are unchanged."""
    g = copy.deepcopy(graph)
    for node in g.nodes.values():
        if type(node).__name__ == "CubaLIF":
            node.tau_syn = np.asarray(node.tau_syn) * s
            node.tau_mem = np.asarray(node.tau_mem) * s
            node.w_in = np.asarray(node.w_in) * s
    meta = g.metadata
    if "t_max" in meta:
        meta["t_max"] = float(meta["t_max"]) * s
    if "test_vectors" in meta:
        meta["test_vectors"] = {k: np.asarray(v) * s for k, v in meta["test_vectors"].items()}
    meta["time_scale"] = float(meta.get("time_scale", 1.0)) * s
    return g


def rescale_current(graph, c: float):
    """The same network with the synaptic current measured in a unit ``1 / c`` as large
    (``I' = c I``): ``w_in`` times ``c``, ``r`` divided by ``c``; spikes unchanged."""
    g = copy.deepcopy(graph)
    for node in g.nodes.values():
        if type(node).__name__ == "CubaLIF":
            node.w_in = np.asarray(node.w_in) * c
            node.r = np.asarray(node.r) / c
    return g


def correct(graph, importer: str, step: float):
    """``graph`` with the importer's one documented correction (module docstring) for a step
    ``step`` in the graph's time unit."""
    g = copy.deepcopy(graph)
    for node in g.nodes.values():
        if type(node).__name__ == "CubaLIF":
            if importer == "snntorch":
                node.v_threshold = np.asarray(node.v_threshold) * step
            elif importer == "norse":
                node.w_in = np.asarray(node.w_in) / step
            else:
                raise ValueError(f"importer = {importer!r}: expected one of {', '.join(IMPORTERS)}")
    return g


def prepare(graph, importer: str, h: float, corrected: bool = False) -> tuple:
    """``(graph, step)``: ``graph`` (time in ms, as :func:`snnlib.interop.nir.to_nir` writes it)
    expressed as ``importer`` needs it to run at the step ``h`` ms, with its correction if
    ``corrected``; ``step`` is the importer's step in that graph's time unit."""
    if importer == "snntorch":
        g, step = retime(graph, SNNTORCH_DT / h), SNNTORCH_DT
        for node in g.nodes.values():
            if type(node).__name__ == "CubaLIF":
                # each layer's current unit in which r = tau_mem / dt, which the importer requires
                c = np.asarray(node.r) * step / np.asarray(node.tau_mem)
                node.w_in, node.r = np.asarray(node.w_in) * c, np.asarray(node.r) / c
    elif importer == "norse":
        g, step = graph, h
    else:
        raise ValueError(f"importer = {importer!r}: expected one of {', '.join(IMPORTERS)}")
    return (correct(g, importer, step) if corrected else g), step


def _module(graph, importer: str, step: float) -> Callable:
    if importer == "snntorch":
        from snntorch.import_nir import import_from_nir  # optional: the snnTorch importer (pip install snntorch)
        with contextlib.redirect_stdout(io.StringIO()):  # it prints a warning per layer
            return import_from_nir(graph)
    from norse.torch import from_nir  # optional: the Norse importer (pip install norse)
    with warnings.catch_warnings():  # Norse 1.1.0 calls nirtorch.load, which nirtorch 2.6 deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        return from_nir(graph, dt=step)


def simulate(graph, importer: str, h: float, in_times: torch.Tensor, *, corrected: bool = False,
             batch_size: int = 500) -> torch.Tensor:
    """Output spike raster ``[T, B, C]`` (0 / 1, float32) of ``graph`` (exported by
    :func:`snnlib.interop.nir.to_nir`, time in ms) imported by ``importer`` and run at the step
    ``h`` (ms) for ``T = ceil(t_max / h) + 1`` steps (grid points ``0, h, ..., >= t_max``), on the
    input spike times ``in_times`` (``[B, N_in, K]`` ms, ``+inf`` padded), delivered on the grid.
    An importer has no shorter last step: where ``h`` does not divide the window its last step ends
    after ``t_max`` (this project's grids end the window with a shorter step)."""
    if importer not in IMPORTERS:
        raise ValueError(f"importer = {importer!r}: expected one of {', '.join(IMPORTERS)}")
    t_max = float(graph.metadata["t_max"])
    T = grid_index(t_max, h) + 1
    g, step = prepare(graph, importer, h, corrected)
    outs = []
    with torch.no_grad():
        for i in range(0, in_times.shape[0], batch_size):
            # a fresh module per batch: snnTorch's neurons keep their last state as attributes and
            # start the next call from it when none is passed (measured: the second batch began where
            # the first ended)
            module = _module(g, importer, step)
            x = in_times[i:i + batch_size].double()
            B, N = x.shape[:2]
            finite = torch.isfinite(x) & (x <= t_max)
            b, n, _ = torch.nonzero(finite, as_tuple=True)
            steps = grid_index(x[finite], h).long().clamp(max=T - 1)
            raster = torch.zeros(T, B, N, dtype=torch.float32)
            raster.index_put_((steps, b, n), torch.ones(len(steps)), accumulate=True)
            state, zs = None, []
            for t in range(T):
                z, state = module(raster[t], state)
                zs.append(z.float())
            outs.append(torch.stack(zs))
    return torch.cat(outs, dim=1)
