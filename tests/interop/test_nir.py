"""NIR export and import (snnlib.interop.nir): the round trip is the identity, the shipped test
vectors reproduce the exact network, graphs in other units and scalings give the same spikes, and
bad graphs and files are refused with a clear message."""

from __future__ import annotations

import numpy as np
import pytest
import torch

nir = pytest.importorskip("nir", reason="the NIR package is not installed (pip install nir)")

from snnlib.events.network import EventNetwork  # noqa: E402
from snnlib.interop import importers  # noqa: E402
from snnlib.interop import nir as snir  # noqa: E402
from snnlib.model.neuron import NeuronParams  # noqa: E402


def _net(seed=0, reset="subtract"):
    g = torch.Generator().manual_seed(seed)
    params = [NeuronParams(tau_s=10.0, theta=5.0, reset=reset), NeuronParams(tau_s=10.0, theta=10.0, reset=reset)]
    net = EventNetwork((40, 60, 5), params, max_spikes=[400, 400], t_max=60.0, init=(-0.3, 0.4), generator=g,
                       dtype=torch.float64)
    x = torch.rand(16, 40, 1, generator=g, dtype=torch.float64) * 30
    return net, x


def test_round_trip_is_the_identity_in_weights_parameters_and_spike_times(tmp_path):
    net, x = _net(reset="subtract")  # not NIR's reset: it must come back from the node's metadata
    path = snir.write(tmp_path / "net.nir", snir.to_nir(net, test_inputs=x))
    back = snir.from_nir(path)
    assert back.sizes == net.sizes and back.max_spikes == net.max_spikes and back.t_max == net.t_max
    assert back.params == net.params  # tau_s, tau, theta and the reset (kept in the node's metadata)
    for a, b in zip(net.weights, back.weights):
        assert torch.equal(a, b)
    with torch.no_grad():
        assert torch.equal(net(x)[0], back(x)[0])


def test_the_mapping_is_nirs_equations_with_our_parameters():
    """tau_syn = tau_s, tau_mem = tau, w_in = tau_s, r = tau, v_leak = v_reset = 0, v_threshold = theta,
    time in ms (module docstring): a delta of area 1 makes I jump by W, and dv/dt = -v/tau + I."""
    net, _ = _net()
    g = snir.to_nir(net)
    lif = g.nodes["lif0"]
    assert g.metadata["time_unit"] == "ms" and [type(g.nodes[k]).__name__ for k in
                                                ("input", "linear0", "lif0", "linear1", "lif1", "output")] == \
        ["Input", "Linear", "CubaLIF", "Linear", "CubaLIF", "Output"]
    np.testing.assert_array_equal(lif.tau_syn, 10.0)
    np.testing.assert_array_equal(lif.tau_mem, 20.0)
    np.testing.assert_array_equal(lif.w_in / lif.tau_syn, 1.0)  # jump of I per unit-area delta: W
    np.testing.assert_array_equal(lif.r / lif.tau_mem, 1.0)  # dv/dt = -v/tau + I
    np.testing.assert_array_equal(lif.v_threshold, 5.0)
    assert lif.metadata == {"reset": "subtract", "max_spikes": 400}


def test_shipped_test_vectors_are_the_exact_networks_output():
    net, x = _net()
    xi, yo = snir.test_vectors(snir.to_nir(net, test_inputs=x[:4]))
    with torch.no_grad():
        assert torch.equal(yo, net(x[:4])[0])
    assert torch.equal(xi, x[:4]) and int(torch.isfinite(yo).sum()) > 0  # the vectors hold spikes
    with pytest.raises(ValueError, match="no test vectors"):
        snir.test_vectors(snir.to_nir(net))


@pytest.mark.parametrize("unit_scale", [1e-3, 1e-4 / 0.7])
def test_a_graph_in_other_time_and_current_units_imports_to_the_same_spikes(unit_scale):
    """retime (time in a unit s times smaller) and rescale_current keep NIR's equations: the imported
    network's spikes are the same (times converted back to ms by the graph's unit)."""
    net, x = _net()
    g = importers.rescale_current(importers.retime(snir.to_nir(net), unit_scale), 37.0)
    g.metadata["time_unit"] = "ms"
    back = snir.from_nir(g, time_unit="ms", t_max=g.metadata["t_max"])
    with torch.no_grad():
        got = back(x * unit_scale)[0] / unit_scale
        want = net(x)[0]
    assert torch.equal(torch.isfinite(got), torch.isfinite(want))
    np.testing.assert_allclose(got[torch.isfinite(got)], want[torch.isfinite(want)], rtol=1e-9)


def test_seconds_are_read_as_nirs_common_unit():
    net, x = _net()
    g = importers.retime(snir.to_nir(net), 1e-3)
    del g.metadata["time_unit"]  # a graph from another library: no unit recorded, seconds assumed
    back = snir.from_nir(g)
    assert back.params[0].tau_s == pytest.approx(10.0) and back.t_max == pytest.approx(60.0)
    with torch.no_grad():
        np.testing.assert_allclose(back(x)[0], net(x)[0], rtol=1e-9)


def _chain(lin, lif):
    return nir.NIRGraph(nodes={"i": nir.Input(input_type={"input": np.array([2])}), "l": lin, "c": lif,
                               "o": nir.Output(output_type={"output": np.array([1])})},
                        edges=[("i", "l"), ("l", "c"), ("c", "o")], metadata={"t_max": 10.0, "time_unit": "ms"})


def _lif(**kw):
    base = dict(tau_syn=np.array([5.0]), tau_mem=np.array([10.0]), r=np.array([10.0]), v_leak=np.array([0.0]),
                v_threshold=np.array([1.0]), w_in=np.array([5.0]))
    return nir.CubaLIF(**{**base, **kw})


@pytest.mark.parametrize("lin, lif, match", [
    (nir.Affine(weight=np.ones((1, 2)), bias=np.array([0.5])), _lif(), "non-zero bias"),
    (nir.Linear(weight=np.ones((1, 2))), _lif(v_leak=np.array([0.1])), "v_leak"),
    (nir.Linear(weight=np.ones((1, 2))), _lif(v_reset=np.array([-1.0])), "v_reset"),
    (nir.Linear(weight=np.ones((1, 2))), nir.LIF(tau=np.array([1.0]), r=np.array([1.0]), v_leak=np.array([0.0]),
                                                  v_threshold=np.array([1.0])), "expected CubaLIF"),
    (nir.Linear(weight=np.ones((1, 2))), _lif(), "max_spikes"),
])
def test_graphs_it_cannot_represent_are_refused_with_the_reason(lin, lif, match):
    with pytest.raises(ValueError, match=match):
        snir.from_nir(_chain(lin, lif))


def test_missing_and_corrupt_files_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="no NIR file"):
        snir.read(tmp_path / "absent.nir")
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="not a readable NIR file"):
        snir.read(bad)
