"""snnTorch's and Norse's NIR importers on this project's exported graphs: what they do as imported,
and that after the one documented correction (snnlib.interop.importers) both converge to the exact
network as the step shrinks, at first order (forward Euler), with the same spikes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("nir", reason="the NIR package is not installed (pip install nir)")
pytest.importorskip("snntorch", reason="snnTorch is not installed")
pytest.importorskip("norse", reason="Norse is not installed (pip install --no-deps norse, requirements-nodeps.txt)")

from snnlib.events.network import EventNetwork  # noqa: E402
from snnlib.experiments.across_simulators import raster_times  # noqa: E402
from snnlib.interop import importers  # noqa: E402
from snnlib.interop import nir as snir  # noqa: E402
from snnlib.model.neuron import NeuronParams  # noqa: E402


@pytest.fixture(scope="module")
def graph():
    g = torch.Generator().manual_seed(0)
    params = [NeuronParams(tau_s=10.0, theta=5.0), NeuronParams(tau_s=10.0, theta=10.0)]
    net = EventNetwork((40, 60, 5), params, max_spikes=[400, 400], t_max=60.0, init=(-0.3, 0.4), generator=g,
                       dtype=torch.float64)
    x = torch.rand(32, 40, 1, generator=g, dtype=torch.float64) * 30
    return snir.to_nir(net, test_inputs=x)


def _errors(graph, imp, h, corrected):
    x, y = snir.test_vectors(graph)
    got = raster_times(importers.simulate(graph, imp, h, x, corrected=corrected), h)
    f, ref = got[..., 0], y[..., 0]
    both = torch.isfinite(f) & torch.isfinite(ref)
    n_got, n_ref = torch.isfinite(got).sum(-1), torch.isfinite(y).sum(-1)
    return float((f - ref)[both].abs().mean()), float((n_got - n_ref).abs().double().mean()), int(n_got.sum())


@pytest.mark.parametrize("imp", importers.IMPORTERS)
def test_corrected_importers_converge_to_the_exact_network_at_first_order(graph, imp):
    e1, c1, _ = _errors(graph, imp, 0.1, True)
    e2, c2, _ = _errors(graph, imp, 0.01, True)
    assert 5 < e1 / e2 < 20  # tenfold smaller step, tenfold smaller error: first order
    assert e2 < 0.03 and c2 < 0.02  # nearly every count right at 0.01 ms


def test_as_imported_snntorch_is_silent_and_norse_is_right_only_at_one_graph_time_unit(graph):
    """snnTorch takes a spike as 1 per step where NIR's delta carries 1 / dt (10^4 at its fixed step):
    no output spike at all. Norse drives each layer h times too weakly: silent at 0.1 ms, equal to its
    corrected self at h = 1 (the graph's unit, ms)."""
    assert _errors(graph, "snntorch", 1.0, False)[2] == 0
    assert _errors(graph, "norse", 0.1, False)[2] == 0
    as_imported = importers.simulate(graph, "norse", 1.0, snir.test_vectors(graph)[0])
    corrected = importers.simulate(graph, "norse", 1.0, snir.test_vectors(graph)[0], corrected=True)
    assert torch.equal(as_imported, corrected) and int(corrected.sum()) > 0


def test_the_two_corrected_importers_are_the_same_scheme(graph):
    x = snir.test_vectors(graph)[0]
    a = importers.simulate(graph, "snntorch", 0.5, x, corrected=True)
    b = importers.simulate(graph, "norse", 0.5, x, corrected=True)
    assert a.shape == b.shape and float((a != b).double().mean()) < 1e-3  # float32 rounding at most


def test_prepared_snntorch_graph_is_accepted_and_keeps_the_equations(graph):
    """The re-expressed graph (time unit where h = 1e-4, current unit where r = tau_mem / dt) is what
    snnTorch's importer demands, and it is the same network: imported back here it gives the same spikes."""
    g, step = importers.prepare(graph, "snntorch", 0.5)
    lif = g.nodes["lif0"]
    assert step == importers.SNNTORCH_DT
    np.testing.assert_allclose(lif.r, lif.tau_mem / step)
    s = importers.SNNTORCH_DT / 0.5
    x, y = snir.test_vectors(graph)
    back = snir.from_nir(g, time_unit="ms", t_max=g.metadata["t_max"])
    with torch.no_grad():
        got = back(x * s)[0] / s
    np.testing.assert_allclose(got[torch.isfinite(got)], y[torch.isfinite(y)], rtol=1e-8)


@pytest.mark.parametrize("imp", importers.IMPORTERS)
def test_batches_are_independent(graph, imp):
    """Simulated in batches of 5 or all at once, the same rasters: no state carries from one batch to the next."""
    x = snir.test_vectors(graph)[0]
    whole = importers.simulate(graph, imp, 1.0, x, corrected=True)
    batched = importers.simulate(graph, imp, 1.0, x, corrected=True, batch_size=5)
    assert int(whole.sum()) > 0 and torch.equal(whole, batched)


def test_unknown_importer_is_refused(graph):
    with pytest.raises(ValueError, match="importer"):
        importers.simulate(graph, "brian2", 1.0, torch.zeros(1, 40, 1))
