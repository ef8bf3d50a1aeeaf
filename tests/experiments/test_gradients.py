"""Gradient quality at the trained weights of a directly trained integrated network
(:mod:`snnlib.experiments.gradients`), on a committed point of ``direct-yinyang-fast``."""

from __future__ import annotations

import numpy as np
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
