"""Gradient quality at the trained weights of a directly trained integrated network
(:mod:`snnlib.experiments.gradients`), on a committed point of ``direct-yinyang-fast``."""

from __future__ import annotations

import numpy as np
import torch
import pytest

from snnlib.config import ConfigError
from snnlib.experiments import gradients

POINT = {"trained": "piggyback", "integration": "euler", "dt": 0.5, "seed": 0}


def test_finite_differences_of_the_discretized_forward_equal_adjusted_not_piggyback():
    """At weights trained by piggyback with Euler at h / tau_s = 0.1 (Yin-Yang, tau_s = 5 ms), along
    random directions where no spike appears or vanishes, central differences of the network's own
    forward equal the adjusted gradient to rounding level; piggyback's formulas are another vector."""
    ds = gradients.run(gradients.Config(**POINT, n_samples=64, n_directions=6), progress=False)
    assert ds.attrs["source"].endswith("gradient=piggyback,integration=euler,dt=0.5,seed=0")
    assert ds.attrs["tau_s_ms"] == 5.0 and ds.attrs["n_samples"] == 64
    assert int(ds["valid"].sum()) >= 4
    err = ds["relative_error"]
    assert float(err.sel(gradient="adjusted")) < 1e-5 and float(ds["max_relative_error"].sel(gradient="adjusted")) < 1e-3
    assert float(err.sel(gradient="piggyback")) > 1e-2
    cos = ds["cosine"].to_series()
    assert set(cos.index) == {"piggyback-adjusted", "piggyback-exact", "adjusted-exact"}
    assert np.all(np.abs(cos.values) <= 1 + 1e-12) and cos["piggyback-adjusted"] < 0.999
    assert ds["cosine_layer"].shape == (3, 2)
    s = gradients.summarize(ds)
    assert s["cosine_piggyback_adjusted"] == pytest.approx(cos["piggyback-adjusted"])


def test_a_point_not_made_and_bad_fields_are_one_line_errors():
    with pytest.raises(FileNotFoundError, match="no such training point"):
        gradients.load_point(gradients.Config(**{**POINT, "seed": 999}))
    with pytest.raises(ConfigError, match="trained"):
        gradients.Config(**{**POINT, "trained": "surrogate"})
    with pytest.raises(ConfigError, match="eps"):
        gradients.Config(**POINT, eps=0.5)
    assert gradients.Config(**POINT).point == "gradient=piggyback,integration=euler,dt=0.5,seed=0"


class _Kinked(torch.nn.Module):
    """A stand-in network whose one output 'spike time' is ``1 + |w|``: smooth except at ``w = 0``,
    where no spike appears or vanishes."""

    def __init__(self, w):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([w], dtype=torch.float64))

    def forward(self, x):
        return (1.0 + self.w.abs()).reshape(1, 1, 1).expand(x.shape[0], 1, 1), []


def test_a_kink_inside_the_difference_leaves_the_direction_out():
    """The spike pattern alone cannot see a kink (a crossing moving into another step); the one-sided
    differences can: at the kink the direction is left out, away from it it counts and agrees."""
    from snnlib.training.probes import finite_difference_check

    x = torch.zeros(3, 1)
    at_kink = finite_difference_check(_Kinked(0.3e-4), x, n_directions=4, eps=1e-4)
    assert not at_kink["valid"].any()
    smooth = finite_difference_check(_Kinked(0.5), x, n_directions=4, eps=1e-4)
    assert smooth["valid"].all() and smooth["max_relative_error"] < 1e-9


def test_the_worst_committed_network_is_a_kink_not_a_wrong_gradient():
    """Adjusted-trained Euler at h = tau_s (seed 5): at eps = 1e-6 some directions straddle a kink and
    are left out (the rest agree); at eps = 1e-7 every direction counts and agrees to 1e-5."""
    worst = {"trained": "adjusted", "integration": "euler", "dt": 5.0, "seed": 5}
    wide = gradients.run(gradients.Config(**worst, eps=1e-6), progress=False)
    assert 0 < int(wide["valid"].sum()) < 8
    assert float(wide["max_relative_error"].sel(gradient="adjusted")) < 1e-3
    narrow = gradients.run(gradients.Config(**worst, eps=1e-7), progress=False)
    assert bool(narrow["valid"].all()) and float(narrow["max_relative_error"].sel(gradient="adjusted")) < 1e-5
