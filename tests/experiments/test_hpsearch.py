"""Hyper-parameter searches on the validation split (snnlib.experiments.hpsearch)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from snnlib.config import ConfigError
from snnlib.experiments import hpsearch
from snnlib.store import runs
from snnlib.store.sweeps import Sweep, SweepProfile
from snnlib.study import plan


@pytest.fixture
def toy_sweep(monkeypatch):
    s = Sweep("toy-bptt", "train.ipynb", {"quick": SweepProfile(
        {"hidden": [12], "n_steps": 20, "t_in": 20.0, "n_val": 40, "n_train": 64, "batch_size": 32, "theta": 1.0,
         "lr": 2e-3}, {"seed": [0]})}, scheme="bptt")
    monkeypatch.setattr(plan, "SWEEPS", (s,))
    return s


@pytest.mark.data
def test_search_never_reads_the_test_split_and_picks_the_best_validation(data_dir, isolated_runs, toy_sweep):
    cfg = hpsearch.Config(sweep="toy-bptt", grid={"theta": [0.5, 1.0], "lr": [1e-3, 2e-3]}, epochs=1)
    assert all(c.n_test == 0 for c in map(cfg.training_config, cfg.candidates()))
    ds = hpsearch.run(cfg, progress=False)
    assert ds.sizes["candidate"] == 4 and list(ds["theta"].values) == [0.5, 0.5, 1.0, 1.0]
    s = hpsearch.summarize(ds)
    best = int(np.argmax(ds["best_val_accuracy"].values))
    assert s["chosen"] == {"theta": float(ds["theta"][best]), "lr": float(ds["lr"][best])}
    assert s["chosen_val_accuracy"] == float(ds["best_val_accuracy"].max())
    differs = hpsearch.matches_sweep(s, "toy-bptt", "quick")
    assert set(differs) == {k for k, v in s["chosen"].items() if v != toy_sweep.profiles["quick"].base[k]}


@pytest.mark.data
def test_a_search_in_two_processes_gives_the_same_accuracies(data_dir, isolated_runs, toy_sweep, monkeypatch):
    cfg = hpsearch.Config(sweep="toy-bptt", grid={"lr": [1e-3, 2e-3]}, epochs=1, n_seeds=2)
    one = hpsearch.run(cfg, progress=False, workers=1)
    monkeypatch.setenv(hpsearch.WORKERS, "2")
    two = hpsearch.run(cfg, progress=False)
    for v in ("best_val_accuracy", "final_val_accuracy", "hidden_spikes", "best_val_accuracy_per_seed"):
        np.testing.assert_array_equal(one[v].values, two[v].values)
    assert (two["wall_s"].values > 0).all()
    monkeypatch.setenv(hpsearch.WORKERS, "two")
    with pytest.raises(ValueError, match="SNNLIB_SEARCH_WORKERS='two'"):
        hpsearch.run(cfg, progress=False)
    with pytest.raises(ValueError, match="workers=0"):
        hpsearch.run(cfg, progress=False, workers=0)


def test_search_config_refuses_unknown_sweeps_and_invalid_candidates(toy_sweep):
    with pytest.raises(ConfigError, match="sweep"):
        hpsearch.Config(sweep="no-such-sweep")
    with pytest.raises(ConfigError, match="theta"):
        hpsearch.Config(sweep="toy-bptt", grid={"theta": [-1.0]})
    with pytest.raises(ConfigError, match="grid"):
        hpsearch.Config(sweep="toy-bptt", grid={})


def test_a_search_may_record_validation_less_often_than_its_sweep(toy_sweep):
    """``evals_per_epoch`` is budget, like ``epochs``: every candidate's training config takes it, and the
    sweep keeps its own (a choice never names it)."""
    base = hpsearch.Config(sweep="toy-bptt", grid={"lr": [1e-3]})
    cfg = hpsearch.Config(sweep="toy-bptt", grid={"lr": [1e-3]}, evals_per_epoch=3)
    assert cfg.training_config(cfg.candidates()[0]).evals_per_epoch == 3
    t = base.training_config(base.candidates()[0])
    assert t.evals_per_epoch == type(t)().evals_per_epoch != 3  # the toy sweep's: the config's default
    with pytest.raises(ConfigError, match="evals_per_epoch"):
        hpsearch.Config(sweep="toy-bptt", grid={"lr": [1e-3]}, evals_per_epoch=0)


def test_every_searched_sweep_uses_its_recorded_choice():
    """The book's BPTT sweeps whose settings were searched use the values their committed search
    chose on the validation split."""
    from conftest import ROOT

    searches = [r for r in plan.PLAN if r.experiment == "hpsearch"]
    for r in searches:
        path = runs.run_dir(r.experiment, r.run_id, ROOT / "runs")
        summary = json.loads((path / "summary.json").read_text())
        cfg = r.parameters["config"]
        assert hpsearch.matches_sweep(summary, cfg["sweep"], cfg["profile"]) == {}, r.key


def test_a_choice_at_the_edge_of_a_numeric_range_is_named():
    grid = {"theta": [1.0, 2.0, 4.0], "lr": [1e-3, 2e-3], "surrogate": ["a", "b", "c"]}
    assert hpsearch.at_edge({"chosen": {"theta": 4.0, "lr": 2e-3, "surrogate": "c"}}, grid) == ["theta"]
    assert hpsearch.at_edge({"chosen": {"theta": 2.0, "lr": 1e-3, "surrogate": "a"}}, grid) == []


@pytest.fixture
def toy_pair(monkeypatch):
    """The shared-neuron pair on Yin-Yang, tiny: the BPTT scheme's grid and the spike-time scheme's."""
    common = {"dataset": "yinyang", "hidden": [8], "t_in": 20.0, "n_val": 60, "n_train": 100, "batch_size": 50,
              "tau_s": 5.0, "targets": [4.0, 1.0], "lr": 1e-3}
    b = Sweep("toy-bptt", "train.ipynb", {"quick": SweepProfile(
        {**common, "dt": 1.0, "n_steps": 31, "tau": 10.0, "theta": [1.0, 2.0], "clock": "exact", "init": "uniform",
         "loss": "count_mse"}, {"seed": [0]})}, scheme="bptt")
    s = Sweep("toy-st", "train.ipynb", {"quick": SweepProfile(
        {**common, "t_max": 30.0, "theta_bats": [0.001, 0.002], "max_spikes": 31, "integration": "exact",
         "spike_rule": "snap", "input": "grid", "gradient": "piggyback"}, {"seed": [0]})}, scheme="integrated")
    monkeypatch.setattr(plan, "SWEEPS", (b, s))


def test_paired_choice_maximises_the_worse_scheme():
    """Neurons 0 and 2 are the first scheme's best but poor for the second; neuron 1 is good for both."""
    import xarray as xr

    acc = [0.9, 0.8, 0.7, 0.6, 0.95, 0.5, 0.3, 0.75, 0.72, 0.3]  # a: neurons 0, 0, 1, 1, 2; b: 0, 0, 1, 1, 2
    sweep = ["a"] * 5 + ["b"] * 5
    neuron = [0, 0, 1, 1, 2] * 2
    settings = [json.dumps({"n": n, "i": i}) for i, n in enumerate(neuron)]
    ds = xr.Dataset({"best_val_accuracy": ("candidate", acc)},
                    coords={"sweep": ("candidate", sweep), "neuron": ("candidate", neuron),
                            "settings": ("candidate", settings)})
    pc = hpsearch.paired_choice(ds)
    assert pc["scores"] == [0.5, 0.7, 0.3]
    assert pc["neuron"] == 1 and pc["chosen"] == {"n": 1, "i": 2} and pc["chosen_paired"] == {"n": 1, "i": 7}


@pytest.mark.data
def test_a_paired_search_trains_both_grids_with_one_budget(isolated_runs, toy_pair):
    grid_b = {"theta": [[1.0, 2.0], [2.0, 4.0]], "lr": [1e-3, 1e-2]}
    grid_s = {"theta_bats": [[0.001, 0.002], [0.002, 0.004]], "lr": [1e-3, 1e-2]}
    cfg = hpsearch.Config(sweep="toy-bptt", grid=grid_b, epochs=1, paired={"sweep": "toy-st", "grid": grid_s},
                          shared=("theta", "theta_bats"), n_seeds=2)
    cfg_s = cfg.training_config({"theta_bats": [0.002, 0.004], "lr": 1e-2}, paired=True)
    assert type(cfg_s).__name__ == "IntegratedConfig" and cfg_s.n_test == 0 and cfg_s.theta_bats == (0.002, 0.004)
    ds = hpsearch.run(cfg, progress=False)
    assert ds.sizes["candidate"] == 8 and ds["neuron"].values.tolist() == [0, 0, 1, 1] * 2
    # two seeds per candidate, scored by their mean
    np.testing.assert_allclose(ds["best_val_accuracy"].values, ds["best_val_accuracy_per_seed"].mean("search_seed").values)
    assert ds["search_seed"].values.tolist() == [0, 1]
    s = hpsearch.summarize(ds)
    pc = hpsearch.paired_choice(ds)
    assert s["neuron"] == pc["neuron"] and s["chosen"]["theta"] == grid_b["theta"][pc["neuron"]]
    assert s["chosen_paired"]["theta_bats"] == grid_s["theta_bats"][pc["neuron"]]
    assert set(hpsearch.matches_sweep(s, "toy-bptt", "quick")) <= {"theta", "lr", "toy-st.theta_bats", "toy-st.lr"}
    with pytest.raises(ConfigError, match="same search budget"):
        hpsearch.Config(sweep="toy-bptt", grid=grid_b, paired={"sweep": "toy-st", "grid": {"lr": [1e-3]}},
                        shared=("theta", "lr"))
    with pytest.raises(ConfigError, match="shared"):
        hpsearch.Config(sweep="toy-bptt", grid=grid_b, paired={"sweep": "toy-st", "grid": grid_s})


def test_several_shared_fields_number_the_neurons_over_their_product(toy_pair):
    """Thresholds (2 candidates) and the initial-weight scale (2), shared by both schemes: 4 neurons,
    numbered threshold-major; both grids must list the same number of candidates for each pair."""
    grid_b = {"theta": [[1.0, 2.0], [2.0, 4.0]], "weight_scale": [1.0, 2.0], "lr": [1e-3]}
    grid_s = {"theta_bats": [[0.001, 0.002], [0.002, 0.004]], "weight_scale": [1.0, 2.0], "lr": [1e-3]}
    pairs = [("theta", "theta_bats"), ("weight_scale", "weight_scale")]
    cfg = hpsearch.Config(sweep="toy-bptt", grid=grid_b, paired={"sweep": "toy-st", "grid": grid_s}, shared=pairs)
    assert hpsearch.shared_pairs(cfg.shared) == pairs
    assert hpsearch.shared_pairs(("theta", "theta_bats")) == [("theta", "theta_bats")]
    fields = ["theta", "weight_scale"]
    got = [hpsearch._neuron_index(c, grid_b, fields) for c in hpsearch._combinations(grid_b)]
    assert sorted(got) == [0, 1, 2, 3]
    assert hpsearch._neuron_index({"theta": [2.0, 4.0], "weight_scale": 1.0, "lr": 1e-3}, grid_b, fields) == 2
    assert hpsearch.neuron_labels(cfg)[2] == "theta [2.0, 4.0], weight_scale 1.0"  # the page's label of neuron 2
    assert hpsearch.shared_text(cfg) == "`theta` and `theta_bats`; `weight_scale` and `weight_scale`"
    with pytest.raises(ConfigError, match="shared"):
        hpsearch.Config(sweep="toy-bptt", grid=grid_b, shared=pairs,  # the same budget, one scale fewer
                        paired={"sweep": "toy-st", "grid": {**grid_s, "weight_scale": [1.0], "lr": [1e-3, 2e-3]}})


def _searched(acc, activity, floor=None):
    """A search's results without training: candidates lr 1e-3 .. 4e-3 with these accuracies and activities."""
    import xarray as xr

    ds = xr.Dataset({"best_val_accuracy": ("candidate", acc), "activity": ("candidate", activity),
                     "hidden_spikes": ("candidate", 12 * np.asarray(activity)), "wall_s": ("candidate", [1.0] * len(acc))},
                    coords={"candidate": np.arange(len(acc))},
                    attrs={"grid": json.dumps({"lr": [1e-3, 2e-3, 3e-3, 4e-3][:len(acc)]})})
    if floor is not None:
        ds.attrs["min_activity"] = floor
    return ds


def test_an_activity_floor_restricts_the_choice_to_the_networks_that_reach_it(toy_sweep):
    acc, activity = [0.95, 0.90, 0.80, 0.60], [0.5, 1.5, 3.2, 4.0]
    free = hpsearch.summarize(_searched(acc, activity))
    assert free["chosen"] == {"lr": 1e-3} and "eligible" not in free
    s = hpsearch.summarize(_searched(acc, activity, floor=3.0))
    assert s["chosen"] == {"lr": 3e-3} and s["chosen_val_accuracy"] == 0.80  # the best of the eligible, not 0.95
    assert s["eligible"] == 2 and s["chosen_activity"] == 3.2 and s["min_activity"] == 3.0
    none = hpsearch.summarize(_searched(acc, activity, floor=5.0))
    assert none["chosen"] is None and none["eligible"] == 0 and np.isnan(none["chosen_val_accuracy"])
    assert hpsearch.at_edge(none, {"lr": [1e-3, 2e-3, 3e-3, 4e-3]}) == []
    with pytest.raises(ValueError, match="chose nothing: no candidate reached its activity floor of 5.0"):
        hpsearch.matches_sweep(none, "toy-bptt", "quick")


def test_an_activity_floor_must_be_a_positive_number_and_not_paired(toy_sweep):
    for bad in (0, -1.0, float("nan"), True, "3"):
        with pytest.raises(ConfigError, match="min_activity"):
            hpsearch.Config(sweep="toy-bptt", min_activity=bad)
    assert hpsearch.Config(sweep="toy-bptt", min_activity=2.5).min_activity == 2.5


@pytest.mark.data
def test_a_search_records_each_candidates_activity_per_hidden_neuron(data_dir, isolated_runs, toy_sweep):
    cfg = hpsearch.Config(sweep="toy-bptt", grid={"lr": [1e-3, 2e-3]}, epochs=1, min_activity=1e-6)
    ds = hpsearch.run(cfg, progress=False)
    np.testing.assert_allclose(ds["activity"].values, ds["hidden_spikes"].values / 12)  # hidden [12]
    assert ds.attrs["min_activity"] == 1e-6
