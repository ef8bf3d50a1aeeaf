"""The one training driver: both schemes plug in, trained weights are run artifacts that reproduce
the recorded test accuracy, and the protocol refuses an incomplete scheme."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from snnlib.store import runs
from snnlib.training import driver
from snnlib.training.base import TrainConfig, check_scheme
from snnlib.training.schemes import SCHEMES, bptt, spiketime

TINY = {
    "bptt": lambda **kw: bptt.Config(hidden=(20,), n_train=96, n_test=32, n_val=32, epochs=2, batch_size=32,
                                      n_steps=30, t_in=30.0, log_every=1, **kw),
    "bptt-nmnist": lambda **kw: bptt.Config(dataset="nmnist", hidden=(20,), n_train=64, n_test=32, n_val=20,
                                            epochs=2, batch_size=32, n_steps=50, loss="rate", log_every=1, **kw),
    "spiketime": lambda **kw: spiketime.Config(hidden=(20,), n_train=100, n_test=50, n_val=50, epochs=2,
                                               batch_size=50, log_every=1, **kw),
}


def test_both_schemes_are_registered_with_their_configs():
    for name, config in (("bptt", bptt.Config), ("spiketime", spiketime.Config)):
        scheme = driver.scheme_of(name)
        assert scheme.config is config and issubclass(config, TrainConfig)
        assert driver.scheme_of(config()) is scheme
    with pytest.raises(KeyError, match="no training scheme 'euler'"):
        driver.scheme_of("euler")


def test_an_incomplete_scheme_is_refused():
    @dataclasses.dataclass(frozen=True)
    class C(TrainConfig):
        pass

    class NoLoss:
        name, config = "broken", C
        data = encoder = build = predict = default_lr = attrs = staticmethod(lambda *a: None)

    with pytest.raises(TypeError, match="lacks 'loss'"):
        check_scheme(NoLoss())
    assert "broken" not in SCHEMES


@pytest.mark.data
@pytest.mark.parametrize("name", ["bptt", "bptt-nmnist", "spiketime"])
def test_each_scheme_trains_through_the_one_driver(data_dir, isolated_runs, name):
    cfg = TINY[name](seed=1, evals_per_epoch=2)
    ds = driver.run(cfg, progress=False)
    assert ds.attrs["scheme"] == name.split("-")[0] and ds.attrs["seed"] == 1
    assert ds.attrs["device"] == ("cpu" if not torch.cuda.is_available() else torch.cuda.get_device_name())
    assert ds.attrs["n_train"] == cfg.n_train and ds.attrs["n_test"] == cfg.n_test
    assert np.isfinite(ds["train_loss"].values).all() and ds.sizes["epoch"] == 2
    # two validation evaluations per epoch: after 50 and 100 samples of each epoch (batches of 32 / 50)
    expected = {"bptt": [64, 96, 160, 192], "bptt-nmnist": [32, 64, 96, 128], "spiketime": [50, 100, 150, 200]}[name]
    assert ds["samples_seen"].values.tolist() == expected
    # the end-of-epoch evaluations are the per-epoch validation accuracy
    np.testing.assert_array_equal(ds["val_accuracy_curve"].values[1::2], ds["val_accuracy"].values)
    assert driver.checkpoint_file(cfg).is_file()
    assert driver.weights_file(type(cfg).SCHEME, cfg.to_dict()).is_file()


@pytest.mark.data
@pytest.mark.parametrize("name", ["bptt", "spiketime"])
def test_stored_weights_reproduce_the_runs_test_accuracy(data_dir, isolated_runs, name):
    cfg = TINY[name](seed=0)
    path = runs.run_dir(f"{name}-tiny", "w")
    run = runs.run_or_load(cfg, path, driver.run, driver.summarize)
    weights = driver.run_weights(run)
    with np.load(weights) as f:
        assert all(f[k].dtype == np.float32 for k in f.files if not k.startswith("__"))
        best = int(f["__epoch__"])
    assert best == run.results.attrs["best_epoch"] == run.summary["best_val_epoch_per_seed"][0]
    recorded = float(run.results["test_accuracy"].sel(epoch=best))
    assert driver.evaluate_run(path) == recorded == run.summary["test_accuracy_at_best_val"]
    # committed with the run (weights.npz in its folder), the artifact is no longer needed
    (path / driver.WEIGHTS).write_bytes(weights.read_bytes())
    weights.unlink()
    model, loaded_cfg = driver.load_model(path)
    assert loaded_cfg == cfg
    fresh = driver.scheme_of(name).build(cfg, torch.Generator().manual_seed(123))
    assert not all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), fresh.state_dict().values()))
    assert driver.evaluate_run(path) == recorded


def test_missing_weights_say_where_they_were_looked_for(isolated_runs):
    cfg = bptt.Config(hidden=(4,), seed=0)
    path = runs.run_dir("bptt-tiny", "noweights")
    import xarray as xr

    runs.save(path, cfg, xr.Dataset(attrs={"scheme": "bptt"}), {}, 0.0)
    with pytest.raises(FileNotFoundError, match="neither weights.npz there nor .*artifacts/weights/bptt"):
        driver.run_weights(path)
