"""Event networks to and from NIR graphs (the Neuromorphic Intermediate Representation, ``nir`` 1.0).

**The mapping.** NIR's ``CubaLIF`` node is::

    tau_syn dI/dt = -I + w_in S(t)
    tau_mem dv/dt = (v_leak - v) + r I,        spike when v > v_threshold, then v = v_reset

with ``S`` the node's input, a sum of Dirac deltas weighted by the preceding ``Linear`` node. This
project's CuBa-LIF (:mod:`snnlib.model.neuron`, times in ms) is ``dI/dt = -I/tau_s + sum W delta``,
``dV/dt = -V/tau + I``, spike at ``V = theta``. An exported graph keeps the time unit ms (its
metadata says ``time_unit: ms``) and our current and voltage, so that NIR's equations are ours:

======================  =============================  ==============================================
NIR                     ours                           why
======================  =============================  ==============================================
``Linear.weight``       ``W`` (``[N_out, N_in]``)      the same weights
``tau_syn``             ``tau_s``                      ms
``tau_mem``             ``tau`` (BATS: ``2 tau_s``)    ms
``w_in``                ``tau_s``                      a delta of area 1 makes ``I`` jump by ``w_in W / tau_syn = W``
``r``                   ``tau``                        ``dv/dt = -v/tau + (r / tau_mem) I = -v/tau + I``
``v_leak``, ``v_reset`` ``0``                          ``V`` rests at 0; reset: below
``v_threshold``         ``theta``                      the same units as ``V``
======================  =============================  ==============================================

**Reset.** The exact flow is continuous, so ``V = theta`` at a crossing and both of our resets
(subtract ``theta``, or set ``V = 0``) leave ``V = 0``: NIR's ``v_reset = 0`` is exact for the
continuous network. On a time grid the two differ; the node's metadata keeps ours (``reset``).
**Spike cap.** Each layer keeps at most ``max_spikes`` spikes per neuron in the window (BATS's buffer),
which NIR cannot state; it is in the node's metadata (``max_spikes``), as the window ``t_max`` is
in the graph's. An importer that ignores them simulates the uncapped network.

**Import** (:func:`from_nir`) reads any chain ``Input -> (Linear | Affine with zero bias ->
CubaLIF)+ -> Output`` in any time unit (``time_unit`` in ms per unit; the graph's metadata, else
seconds, NIR's common unit): times are converted to ms, ``v`` stays in the graph's units
(``theta = v_threshold``) and the current scale ``w_in r / (tau_syn tau_mem)`` is folded into the
weights' rows, which gives the same spikes. Export then import is the identity.

**Test vectors.** Every export carries a few input spike trains and the exact network's output
spike times (graph metadata ``test_vectors``), so that an importer can check itself
(:func:`test_vectors`).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from snnlib.events.network import EventNetwork
from snnlib.model.discretization import Discretization
from snnlib.model.neuron import NeuronParams

__all__ = ["FORMAT", "TIME_UNITS_MS", "to_nir", "from_nir", "write", "read", "test_vectors", "make_test_vectors"]

#: written in every export's metadata: the producer and its conventions
FORMAT = "snnlib-cubalif-1"
#: ms per time unit of a graph
TIME_UNITS_MS = {"ms": 1.0, "s": 1000.0, "us": 1e-3}


def _nir():
    import nir  # optional: only export and import need the NIR package (pip install nir)
    return nir


def _arr(v, n: int) -> np.ndarray:
    return np.full(n, float(v), dtype=np.float64)


def make_test_vectors(net: EventNetwork, in_times: torch.Tensor) -> dict:
    """``{"input": [n, N_in, K_in], "output": [n, C, K]}`` spike times (ms, ``+inf`` padded): the
    exact (event-driven) network's output for ``in_times``, in float64."""
    exact = copy.deepcopy(net).double().with_(Discretization())
    with torch.no_grad():
        out, _ = exact(in_times.double())
    return {"input": in_times.double().numpy(), "output": out.double().numpy()}


def to_nir(net: EventNetwork, test_inputs: Optional[torch.Tensor] = None, metadata: Optional[dict] = None):
    """The NIR graph of ``net`` (see the module docstring for the mapping): ``input``, then per layer
    ``linear<l>`` and ``lif<l>``, then ``output``. ``test_inputs`` (``[n, N_in, K]`` spike times, ms):
    shipped with the exact network's output as the graph's test vectors. ``metadata``: added to
    the graph's."""
    nir = _nir()
    nodes = {"input": nir.Input(input_type={"input": np.array([net.sizes[0]])})}
    edges, prev = [], "input"
    for l, (W, p, K) in enumerate(zip(net.weights, net.params, net.max_spikes)):
        n = W.shape[0]
        tau_s, tau = p.tau_s, p.tau
        nodes[f"linear{l}"] = nir.Linear(weight=W.detach().double().cpu().numpy())
        nodes[f"lif{l}"] = nir.CubaLIF(
            tau_syn=_arr(tau_s, n), tau_mem=_arr(tau, n), r=_arr(tau, n), v_leak=_arr(0.0, n),
            v_threshold=_arr(p.theta, n), v_reset=_arr(0.0, n), w_in=_arr(tau_s, n),
            metadata={"reset": p.reset, "max_spikes": int(K)})
        edges += [(prev, f"linear{l}"), (f"linear{l}", f"lif{l}")]
        prev = f"lif{l}"
    nodes["output"] = nir.Output(output_type={"output": np.array([net.sizes[-1]])})
    edges.append((prev, "output"))
    meta = {"format": FORMAT, "time_unit": "ms", "t_max": float(net.t_max), **(metadata or {})}
    if test_inputs is not None:
        meta["test_vectors"] = make_test_vectors(net, test_inputs)
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def _chain(graph) -> list:
    """The node names from ``Input`` to ``Output`` of a graph that is a single chain."""
    nir = _nir()
    nxt = {}
    for a, b in graph.edges:
        if a in nxt:
            raise ValueError(f"NIR graph: node {a!r} has two successors; only a chain of layers can be imported")
        nxt[a] = b
    inputs = [k for k, v in graph.nodes.items() if isinstance(v, nir.Input)]
    if len(inputs) != 1:
        raise ValueError(f"NIR graph: expected one Input node, found {len(inputs)}")
    order = [inputs[0]]
    while order[-1] in nxt:
        order.append(nxt[order[-1]])
        if len(order) > len(graph.nodes):
            raise ValueError("NIR graph: the edges contain a cycle (recurrent networks are not imported)")
    if not isinstance(graph.nodes[order[-1]], nir.Output):
        raise ValueError(f"NIR graph: the chain from the Input ends at {order[-1]!r}, not at an Output node")
    return order


def _uniform(name: str, v, node: str) -> float:
    v = np.asarray(v, dtype=np.float64).ravel()
    if not np.allclose(v, v[0], rtol=1e-12, atol=0):
        raise ValueError(f"NIR graph: {name} of {node!r} differs between neurons; a layer shares one value")
    return float(v[0])


def from_nir(graph, *, time_unit: Optional[str] = None, max_spikes: Optional[int] = None,
             t_max: Optional[float] = None, backend: str = "auto",
             dtype: torch.dtype = torch.float64) -> EventNetwork:
    """An :class:`~snnlib.events.network.EventNetwork` (exact discretization) from a NIR graph (or a
    path to a ``.nir`` file): see the module docstring. ``time_unit`` (``"ms"``, ``"s"``, ``"us"``),
    ``max_spikes`` (per neuron and layer) and ``t_max`` (ms) default to the graph's metadata (its
    ``t_max`` in the graph's time unit);
    ``max_spikes`` and ``t_max`` must be given for a graph that has none."""
    nir = _nir()
    if isinstance(graph, (str, Path)):
        graph = read(graph)
    meta = dict(graph.metadata or {})
    unit = time_unit or meta.get("time_unit", "s")
    if unit not in TIME_UNITS_MS:
        raise ValueError(f"time_unit = {unit!r}: expected one of {', '.join(TIME_UNITS_MS)}")
    f = TIME_UNITS_MS[unit]
    order = _chain(graph)
    weights, params, caps, sizes = [], [], [], None
    body = order[1:-1]
    if len(body) % 2 or not body:
        raise ValueError(f"NIR graph: expected (Linear, CubaLIF) pairs between Input and Output, got {body}")
    for lin_name, lif_name in zip(body[::2], body[1::2]):
        lin, lif = graph.nodes[lin_name], graph.nodes[lif_name]
        if not isinstance(lin, (nir.Linear, nir.Affine)):
            raise ValueError(f"NIR graph: {lin_name!r} is a {type(lin).__name__}; expected Linear or Affine")
        if isinstance(lin, nir.Affine) and lin.bias is not None and np.any(np.asarray(lin.bias) != 0):
            raise ValueError(f"NIR graph: {lin_name!r} has a non-zero bias (a constant input current), "
                             "which this CuBa-LIF network does not have")
        if not isinstance(lif, nir.CubaLIF):
            raise ValueError(f"NIR graph: {lif_name!r} is a {type(lif).__name__}; expected CubaLIF")
        if np.any(np.asarray(lif.v_leak) != 0):
            raise ValueError(f"NIR graph: v_leak of {lif_name!r} is not 0; this CuBa-LIF rests at V = 0")
        if lif.v_reset is not None and np.any(np.asarray(lif.v_reset) != 0):
            raise ValueError(f"NIR graph: v_reset of {lif_name!r} is not 0; this CuBa-LIF resets to V = 0")
        W = np.asarray(lin.weight, dtype=np.float64)
        tau_syn_u = np.asarray(lif.tau_syn, dtype=np.float64) * np.ones(W.shape[0])
        tau_mem_u = np.asarray(lif.tau_mem, dtype=np.float64) * np.ones(W.shape[0])
        # I_ours = I (r / tau_mem[ms]) jumps by W w_in / tau_syn[unit] * r / tau_mem[ms]
        scale = (np.asarray(lif.w_in, dtype=np.float64) * np.asarray(lif.r, dtype=np.float64)
                 / (tau_syn_u * tau_mem_u * f)) * np.ones(W.shape[0])
        lmeta = dict(lif.metadata or {})
        params.append(NeuronParams(tau_s=_uniform("tau_syn", tau_syn_u, lif_name) * f,
                                   tau=_uniform("tau_mem", tau_mem_u, lif_name) * f,
                                   theta=_uniform("v_threshold", lif.v_threshold, lif_name),
                                   reset=lmeta.get("reset", "zero")))
        weights.append(W * (1.0 if np.allclose(scale, 1.0, rtol=1e-12, atol=0) else scale[:, None]))
        cap = max_spikes if max_spikes is not None else lmeta.get("max_spikes")
        if cap is None:
            raise ValueError(f"NIR graph: {lif_name!r} has no max_spikes in its metadata; pass max_spikes")
        caps.append(int(cap))
        sizes = [W.shape[1]] if sizes is None else sizes
        if W.shape[1] != sizes[-1]:
            raise ValueError(f"NIR graph: {lin_name!r} takes {W.shape[1]} inputs, the layer before has {sizes[-1]}")
        sizes.append(W.shape[0])
    window = t_max if t_max is not None else (None if meta.get("t_max") is None else float(meta["t_max"]) * f)
    if window is None:
        raise ValueError("NIR graph: no t_max in its metadata; pass t_max (ms)")
    net = EventNetwork(sizes, params, max_spikes=caps, t_max=float(window), backend=backend, dtype=dtype)
    with torch.no_grad():
        for p, W in zip(net.weights, weights):
            p.copy_(torch.as_tensor(W, dtype=dtype))
    return net


def write(path, graph) -> Path:
    """Write ``graph`` to ``path`` (HDF5, ``nir.write``) atomically; returns the path."""
    nir = _nir()
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    nir.write(tmp, graph)
    tmp.replace(path)
    return path


def read(path):
    """The NIR graph in ``path`` (``nir.read``); a clear error for a missing or unreadable file."""
    nir = _nir()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no NIR file at {path}")
    try:
        return nir.read(path)
    except Exception as e:  # h5py raises several types for a corrupt file
        raise ValueError(f"{path}: not a readable NIR file ({type(e).__name__}: {e})") from e


def test_vectors(graph) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input, output)`` spike times (ms, ``+inf`` padded, float64) shipped with ``graph``."""
    tv = (graph.metadata or {}).get("test_vectors")
    if tv is None:
        raise ValueError("NIR graph: it carries no test vectors (export with test_inputs)")
    return torch.as_tensor(np.asarray(tv["input"])), torch.as_tensor(np.asarray(tv["output"]))
