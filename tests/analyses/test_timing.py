"""The time-shuffled control's aggregation (snnlib.analyses.timing) and figure."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from snnlib.analyses import sweep_plots, timing


def _sweep(real, shuffled, spikes=(300.0, 280.0)):
    acc = np.array([real, shuffled], float)[:, :, None] * np.array([0.5, 1.0])
    hs = np.broadcast_to(np.array(spikes)[:, None, None], acc.shape)
    return xr.Dataset({"test_accuracy": (("time_shuffle", "seed", "epoch"), acc),
                       "hidden_spikes": (("time_shuffle", "seed", "epoch"), hs)},
                      coords={"time_shuffle": [False, True], "seed": np.arange(len(real)), "epoch": [0, 1]})


def test_finals_pair_the_seeds_and_the_table_reads_the_paired_difference():
    ds = _sweep((0.90, 0.92, 0.94), (0.60, 0.61, 0.65))
    real, shuf = timing.finals(ds)
    np.testing.assert_allclose(real, [90, 92, 94])
    np.testing.assert_allclose(shuf, [60, 61, 65])
    t = timing.table({"bptt": ds, "spiketime": _sweep((0.8, 0.8, 0.8), (0.8, 0.8, 0.8))})
    assert list(t.index) == [timing.SCHEMES["bptt"], timing.SCHEMES["spiketime"]]
    assert t.loc[timing.SCHEMES["bptt"], "streams - shuffled (points)"].startswith("+30.0")
    assert t.loc[timing.SCHEMES["spiketime"], "streams - shuffled (points)"] == "+0.0 ± 0.0"
    assert t.loc[timing.SCHEMES["bptt"], "hidden spikes (streams / shuffled)"] == "300 / 280"
    assert t.loc[timing.SCHEMES["bptt"], "seeds"] == 3


def test_a_missing_point_leaves_its_seed_out_of_the_pairs():
    ds = _sweep((0.90, 0.92, np.nan), (0.60, 0.61, 0.65))
    t = timing.table({"bptt": ds})
    assert t.loc[timing.SCHEMES["bptt"], "seeds"] == 2
    assert t.loc[timing.SCHEMES["bptt"], "streams - shuffled (points)"].startswith("+30.5")


def test_finals_refuse_a_sweep_without_the_control_and_an_unknown_scheme():
    with pytest.raises(ValueError, match="time_shuffle"):
        timing.finals(_sweep((0.9, 0.9), (0.6, 0.6)).sel(time_shuffle=False))
    with pytest.raises(ValueError, match="expected one of"):
        timing.sweep_name("slayer")


def test_the_control_figure_draws_one_panel_per_scheme():
    fig = sweep_plots.timing_control({"bptt": _sweep((0.9, 0.92), (0.6, 0.62)),
                                      "spiketime": _sweep((0.8, 0.82), (0.79, 0.8))}, timing.SCHEMES, chance=10.0)
    assert len([a for a in fig.axes if a.has_data()]) == 2
