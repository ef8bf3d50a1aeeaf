"""Surrogate against exact gradients by depth (snnlib.analyses.surrogate), its figures, and the
findings' two decisions on it, on synthetic sweeps."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

from snnlib.analyses import findings, surrogate, sweep_plots
from snnlib.study import plan

SEEDS = np.arange(10)
EPOCHS = 6


def _sweep(acc: float, depth: int, cosines=None, seed: int = 0) -> xr.Dataset:
    """One sweep's dataset (load_sweep's layout): final accuracies ``acc`` (fraction) with seed noise;
    BPTT's probe: ``cosines[l]`` per layer (1-based order), the overall cosine their mean."""
    rng = np.random.default_rng(seed)
    a = acc + 0.002 * rng.standard_normal(len(SEEDS))
    ep = np.repeat(a[:, None], EPOCHS, axis=1)
    data = {"test_accuracy": (("seed", "epoch"), ep), "val_accuracy": (("seed", "epoch"), ep),
            "hidden_spikes": (("seed", "epoch"), np.full_like(ep, 300.0 * depth))}
    if cosines is not None:
        assert len(cosines) == depth + 1
        for layer, c in enumerate(cosines, start=1):
            vals = c + 0.01 * rng.standard_normal((len(SEEDS), EPOCHS + 1))
            data[f"probe_cosine_layer{layer}"] = (("seed", "checkpoint"), np.clip(vals, -1, 1))
        data["probe_cosine"] = (("seed", "checkpoint"), np.mean([data[f"probe_cosine_layer{l}"][1]
                                                                 for l in range(1, depth + 2)], axis=0))
    return xr.Dataset(data, coords={"seed": SEEDS, "epoch": np.arange(1, EPOCHS + 1), "checkpoint": np.arange(EPOCHS + 1)})


def _parts(bptt_acc: dict, exact_acc: dict, first_cos: dict) -> dict:
    out = {}
    for d in plan.DEPTHS:
        out[(d, "bptt")] = _sweep(bptt_acc[d], d, [first_cos[d]] + [0.95] * d, seed=d)
        out[(d, "exact")] = _sweep(exact_acc[d], d, seed=10 + d)
    return out


def _loader(parts: dict):
    runs = {surrogate.sweep_name(d, s): SimpleNamespace(results=ds) for (d, s), ds in parts.items()}
    return runs.__getitem__


GROWS = _parts({1: 0.93, 2: 0.90, 3: 0.85}, {1: 0.95, 2: 0.95, 3: 0.95}, {1: 0.90, 2: 0.70, 3: 0.40})
FLAT = _parts({1: 0.95, 2: 0.95, 3: 0.95}, {1: 0.95, 2: 0.95, 3: 0.95}, {1: 0.90, 2: 0.90, 3: 0.90})


def test_combine_lays_the_depths_and_layers_out_and_the_table_reads_them():
    ds = surrogate.combine(GROWS, plan.DEPTHS, SEEDS)
    assert ds["final_test"].dims == ("depth", "scheme", "seed") and list(ds["layer"].values) == [1, 2, 3, 4]
    assert np.isnan(ds["cosine_layer"].sel(depth=1, layer=3)).all()  # a 1-hidden-layer network has 2 layers
    np.testing.assert_allclose(surrogate.layer_cosine(ds).mean("seed"), [0.90, 0.70, 0.40], atol=0.01)
    gap = surrogate.accuracy_gap(ds).mean("seed")
    np.testing.assert_allclose(gap, [2.0, 5.0, 10.0], atol=0.5)
    t = surrogate.table(ds)
    assert list(t.index) == [1, 2, 3] and abs(float(t.loc[3, "cosine, first layer"].split(" ")[0]) - 0.40) < 0.01
    runs = surrogate.runs_table(ds)  # every run, by depth and scheme, a column per seed
    assert runs.shape == (6, len(SEEDS)) and runs.index.names == ["hidden layers", "scheme"]
    np.testing.assert_allclose(runs.loc[(3, "exact")].values, ds["final_test"].sel(depth=3, scheme="exact").round(1))
    fig = sweep_plots.surrogate_depth(ds)
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel().startswith("cosine")
    assert len(sweep_plots.surrogate_training(ds).axes[0].get_lines()) >= 3


def test_a_missing_sweep_is_nan_and_the_cosine_needs_the_probe():
    parts = {k: v for k, v in FLAT.items() if k != (2, "exact")}
    ds = surrogate.combine(parts, plan.DEPTHS, SEEDS)
    assert np.isnan(ds["final_test"].sel(depth=2, scheme="exact")).all()
    no_probe = {k: v.drop_vars([x for x in v.data_vars if x.startswith("probe_")]) for k, v in FLAT.items()}
    with pytest.raises(ValueError, match="probe_alignment"):
        surrogate.layer_cosine(surrogate.combine(no_probe, plan.DEPTHS, SEEDS))


@pytest.mark.parametrize("parts, degrades, accumulates, low", [
    (GROWS, "confirmed", "confirmed", "confirmed"),
    (FLAT, "refuted", "refuted", "refuted")])
def test_findings_decide_the_surrogate_claims_from_the_depth_sweeps(parts, degrades, accumulates, low):
    load = _loader(parts)
    assert findings.decide_one("s003_surrogate", load)[0] == degrades
    verdict, tree = findings.decide_one("s003_surrogate_depth", load)
    assert findings._verdict(tree[1]["accumulates through layers"]) == accumulates
    assert findings._verdict(tree[1]["low accuracy"]) == low


def test_the_depth_sweeps_train_one_network_two_ways():
    """At every depth the BPTT sweep's continuous twin (the network its probe compares against) is the
    exact sweep's network: sizes, per-layer thresholds (by fan-in), initial scale, neuron, window."""
    from snnlib.training import driver
    from snnlib.training.schemes.bptt import exact_twin

    for d in plan.DEPTHS:
        b = plan.sweep(surrogate.sweep_name(d, "bptt")).profiles["quick"].base
        e = plan.sweep(surrogate.sweep_name(d, "exact")).profiles["quick"].base
        twin = exact_twin(driver.scheme_of("bptt").config.from_dict({**b, "seed": 0}))
        exact = driver.scheme_of("spiketime").config.from_dict({**e, "seed": 0})
        for field in ("dataset", "hidden", "theta_bats", "weight_scale", "tau_s", "t_in", "t_max", "max_spikes"):
            assert getattr(twin, field) == getattr(exact, field), (d, field)
        assert len(exact.hidden) == d and exact.theta_bats[1:] == (exact.theta_bats[-1],) * d  # the fan-in rule
        assert b["probe_alignment"] is True and b["dt"] == 1.0 and b["tau_s"] / b["dt"] >= 100  # a fine step
