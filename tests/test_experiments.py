"""Every experiment family runs end to end on a tiny config and writes a run the book can load."""

from __future__ import annotations

import numpy as np
import pytest

from snnlib import runs
from snnlib.experiments import bptt, performance


@pytest.mark.data
@pytest.mark.parametrize("dataset, extra", [
    ("mnist", {"encoding": "ttfs"}),
    ("mnist", {"encoding": "rate", "tau_s": 0.0, "loss": "temporal_ce"}),
    ("nmnist", {"n_steps": 50, "loss": "rate", "n_val": 20}),
])
def test_bptt_tiny_run_writes_a_loadable_run(data_dir, isolated_runs, tmp_path, monkeypatch, dataset, extra):
    monkeypatch.setattr(bptt, "CHECKPOINTS", tmp_path / "ckpt")
    cfg = bptt.Config(dataset=dataset, hidden=(20,), n_train=96, n_test=32, n_val=extra.pop("n_val", 32),
                      epochs=2, batch_size=32, seeds=(0, 1), log_every=1, **extra)
    path = runs.run_dir("bptt-tiny", dataset)
    runs.run_or_load(cfg, path, bptt.run, bptt.summarize)
    run = runs.load(path)
    ds = run.results
    assert dict(ds.sizes)["seed"] == 2 and dict(ds.sizes)["epoch"] == 2
    assert np.isfinite(ds["train_loss"].values).all()
    assert run.summary["seeds"] == [0, 1]
    assert run.summary["final_test_accuracy"] == pytest.approx(float(ds["test_accuracy"].isel(epoch=-1).mean()))
    # checkpoints of both seeds exist: a rerun would resume instead of retraining
    assert len(list((tmp_path / "ckpt" / "bptt").glob("*.pt"))) == 2


def test_bptt_config_refuses_bad_values():
    with pytest.raises(runs.ConfigError, match="k"):
        bptt.Config(k=0)
    with pytest.raises(runs.ConfigError, match="surrogate"):
        bptt.Config(surrogate="relu")
    with pytest.raises(runs.ConfigError, match="seeds"):
        bptt.Config(seeds=())
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
    monkeypatch.setattr(performance, "RESULTS", tmp_path)
    with pytest.raises(FileNotFoundError, match="make bench"):
        performance.run(performance.Config())
