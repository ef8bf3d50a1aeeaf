"""NEST as an independent oracle: its iaf_psc_exp_ps (precise spike times) against the exact event
network (tau = 2 tau_s) and PS(4) with Newton's rule at a small step (tau = 15 ms, no closed form)
on a random network. Runs when nest-simulator is installed; skips with the reason otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from snnlib.experiments.across_simulators import nest_check  # the comparison the chapter records
from snnlib.interop import nest
from snnlib.model.neuron import NeuronParams

pytestmark = pytest.mark.skipif(not nest.available(), reason="NEST is not installed (pip install nest-simulator)")


def test_first_spikes_equal_and_later_spikes_converge_with_the_resolution():
    """First spikes of the first layer: to 1e-9 ms (NEST's refractory hold does not enter them).
    All output spikes: the same counts, and errors that shrink with NEST's resolution (its hold of
    one resolution step after a spike is the only difference): fourfold finer, at least 2.5x smaller."""
    got = nest_check((4e-3, 1e-3))
    for model in ("closed_form", "tau15"):
        coarse, fine = got[(model, 4e-3)], got[(model, 1e-3)]
        assert fine["first_error"] < 1e-9 and coarse["first_error"] < 1e-9
        assert coarse["count_differs"] == 0 and fine["count_differs"] == 0
        assert 0 < fine["all_error"] < coarse["all_error"] / 2.5
        assert fine["all_error"] < 0.2


def test_inputs_at_time_zero_are_refused():
    with pytest.raises(ValueError, match="t > 0"):
        nest.simulate([np.ones((1, 1))], [NeuronParams(tau_s=5.0)], [[[0.0]]], 10.0)
