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


def test_search_config_refuses_unknown_sweeps_and_invalid_candidates(toy_sweep):
    with pytest.raises(ConfigError, match="sweep"):
        hpsearch.Config(sweep="no-such-sweep")
    with pytest.raises(ConfigError, match="theta"):
        hpsearch.Config(sweep="toy-bptt", grid={"theta": [-1.0]})
    with pytest.raises(ConfigError, match="grid"):
        hpsearch.Config(sweep="toy-bptt", grid={})


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
