"""Every experiment family runs end to end on a tiny config and writes a run the book can load."""

from __future__ import annotations

import numpy as np
import pytest

from snnlib import runs
from snnlib.experiments import bptt, performance


def test_bptt_config_refuses_bad_values():
    with pytest.raises(runs.ConfigError, match="k"):
        bptt.Config(k=0)
    with pytest.raises(runs.ConfigError, match="surrogate"):
        bptt.Config(surrogate="relu")
    with pytest.raises(runs.ConfigError, match="seed"):
        bptt.Config(seed=-1)
    with pytest.raises(runs.ConfigError, match=r"n_train = 0 .*None \(all samples\)"):
        bptt.Config(n_train=0)
    with pytest.raises(runs.ConfigError, match="hidden"):
        bptt.Config.from_dict({"hidden": [0]})


def test_coarser_timestep_merges_input_bins():
    """k base bins per step: the encoder's raster has ceil(T/k) steps and no spike is lost
    except merged duplicates (OR binning)."""
    x = np.zeros((2, 28, 28), dtype=np.uint8)
    x[0, 5, 5:10] = [255, 200, 150, 100, 50]
    x[1, 20, 20] = 128
    fine = bptt.encoder(bptt.Config(k=1))(x, np.arange(2))
    coarse = bptt.encoder(bptt.Config(k=10))(x, np.arange(2))
    assert fine.shape[0] == 100 and coarse.shape[0] == 10
    assert sorted((fine.t // 10).tolist()) == sorted(coarse.t.tolist())


def test_performance_run_requires_benchmark_files(monkeypatch, tmp_path):
    monkeypatch.setenv("SNNLIB_BENCH_RESULTS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="make bench"):
        performance.run(performance.Config())


@pytest.mark.data
@pytest.mark.parametrize("dt", [None, 5.0])
def test_spiketime_tiny_run_learns_and_writes_a_loadable_run(data_dir, isolated_runs, dt):
    """BATS's multi-spike settings on 1,000 digits: two epochs lift the validation accuracy well
    above chance (10%) for the continuous and the discretized (dt = 5 ms) variants."""
    from snnlib.experiments import spiketime

    cfg = spiketime.Config(dt=dt, n_train=1000, n_test=200, n_val=200, epochs=2, seed=0, log_every=5)
    path = runs.run_dir("spiketime-tiny", "continuous" if dt is None else "dt5")
    runs.run_or_load(cfg, path, spiketime.run, spiketime.summarize)
    run = runs.load(path)
    assert run.summary["final_val_accuracy"] > 0.5
    assert run.results.attrs["dt_ms"] == ("none" if dt is None else dt)
    assert np.isfinite(run.results["train_loss"].values).all()


def test_spiketime_config_maps_bats_settings():
    from snnlib.experiments import spiketime

    assert spiketime.bats_config(spiketime.Config()).lr == 0.003  # lr = None: the variant's
    bc = spiketime.bats_config(spiketime.Config(hidden=(300, 200)))
    assert bc.sizes == (784, 300, 200, 10)
    assert bc.theta_bats == (0.2, 0.2, 1.3) and bc.max_spikes == (30, 30, 30) and bc.lr == 0.003
    single = spiketime.bats_config(spiketime.Config(variant="single", lr=0.01))
    assert single.loss == "first_spike_ce" and single.lr == 0.01
    with pytest.raises(runs.ConfigError, match="dt"):
        spiketime.Config(dt=0.0)
    with pytest.raises(runs.ConfigError, match="lr = 0 .*None"):
        spiketime.Config(lr=0)
