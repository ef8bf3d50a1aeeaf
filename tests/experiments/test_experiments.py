"""Every experiment family runs end to end on a tiny config and writes a run the book can load."""

from __future__ import annotations

import numpy as np
import pytest

from snnlib.config import ConfigError
from snnlib.experiments import performance
from snnlib.store import runs
from snnlib.training import driver as driver_
from snnlib.training.schemes import bptt


def test_bptt_config_refuses_bad_values():
    with pytest.raises(ConfigError, match="k"):
        bptt.Config(k=0)
    with pytest.raises(ConfigError, match="surrogate"):
        bptt.Config(surrogate="relu")
    with pytest.raises(ConfigError, match="seed"):
        bptt.Config(seed=-1)
    with pytest.raises(ConfigError, match=r"n_train = 0 .*None \(all samples\)"):
        bptt.Config(n_train=0)
    with pytest.raises(ConfigError, match="hidden"):
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


def test_performance_gathers_a_gpu_run_with_its_device_and_failures(monkeypatch, tmp_path):
    """bench_gpu.py's file (written only on a GPU) joins the page: rates per method, the GPU's name,
    and the methods that failed (kept, not hidden)."""
    import json

    monkeypatch.setenv("SNNLIB_BENCH_RESULTS", str(tmp_path))
    (tmp_path / "gpu.json").write_text(json.dumps({
        "device": "NVIDIA H100 80GB HBM3", "finished": "2026-11-26T12:00:00Z", "machine": {"cpus": 16},
        "first_loss_gap": 0.0, "euler_first_loss_gap": 1e-6,
        "results": [{"method": "spiketime_cpu_1", "samples_per_s": 480.0},
                    {"method": "spiketime_cuda", "samples_per_s": 9000.0},
                    {"method": "bptt_cuda", "samples_per_s": 1000.0},
                    {"method": "bptt_cuda_compiled", "error": "TorchRuntimeError: x"}]}))
    ds = performance.run(performance.Config())
    assert ds.attrs["benchmarks"] == "gpu" and ds.attrs["gpu_device"] == "NVIDIA H100 80GB HBM3"
    assert ds["gpu_samples_per_s"].sel(gpu_method="spiketime_cuda") == 9000.0
    assert json.loads(ds.attrs["gpu_failed"]) == {"bptt_cuda_compiled": "TorchRuntimeError: x"}
    s = performance.summarize(ds)  # ratios only where both methods ran
    assert s["gpu_spiketime_over_cpu_1"] == 9000.0 / 480.0 and "gpu_bptt_compiled_over_eager" not in s
    assert "gpu_compile_break_even_samples" not in s


def test_performance_gathers_the_direct_training_steps_by_round(monkeypatch, tmp_path):
    """bench_direct.py's file: each training step's cost per round, so that ratios pair the two steps
    of one round; the table gives the median of the per-round ratios to the exact step."""
    import json

    monkeypatch.setenv("SNNLIB_BENCH_RESULTS", str(tmp_path))
    label = performance.direct_label("euler", 5.0, "adjusted")
    assert label == "euler dt=5 adjusted"
    (tmp_path / "direct.json").write_text(json.dumps({
        "finished": "2026-12-06T21:00:00Z", "tau_s": 5.0, "weights": "w", "sweep": "direct-yinyang-fast", "batch": 50,
        "results": [{"method": "exact", "s_per_sample": 1e-4, "rounds_s_per_sample": [1e-4, 2e-4, 1e-4],
                     "hidden_spikes_per_sample": 100.0},
                    {"method": label, "s_per_sample": 3e-4, "rounds_s_per_sample": [3e-4, 6e-4, 4e-4],
                     "hidden_spikes_per_sample": 120.0}]}))
    ds = performance.run(performance.Config())
    assert ds.attrs["benchmarks"] == "direct" and ds.attrs["direct_tau_s"] == 5.0
    np.testing.assert_allclose(performance.direct_step_log_ratios(ds, label, "exact"), np.log([3.0, 3.0, 4.0]))
    t = performance.direct_table(ds)
    assert t.loc[label, "/ exact (median of rounds)"] == pytest.approx(3.0) and t.loc[label, "ms per sample"] == 0.3
    with pytest.raises(ValueError, match="bench_direct"):
        performance.direct_step_log_ratios(ds.drop_vars("direct_rounds_s_per_sample"), label, "exact")


def test_gpu_compile_break_even_is_the_first_call_over_the_saving_per_sample():
    """120 s of compilation, eager 1000 samples/s, compiled 4000: 1/1000 - 1/4000 = 0.75 ms saved per
    sample, so 160,000 samples make up the first call."""
    import xarray as xr

    ds = xr.Dataset({"gpu_samples_per_s": ("gpu_method", [1000.0, 4000.0])},
                    coords={"gpu_method": ["bptt_cuda", "bptt_cuda_compiled"]}, attrs={"gpu_compiled_wall_s": 120.0})
    r = performance.gpu_ratios(ds)
    assert r["gpu_bptt_compiled_over_eager"] == 4.0
    assert abs(r["gpu_compile_break_even_samples"] - 160_000.0) < 1e-6


@pytest.mark.data
@pytest.mark.parametrize("dt", [None, 5.0])
def test_spiketime_tiny_run_learns_and_writes_a_loadable_run(data_dir, isolated_runs, dt):
    """BATS's multi-spike settings on 1,000 digits: two epochs lift the validation accuracy well
    above chance (10%) for the continuous and the discretized (dt = 5 ms) variants."""
    from snnlib.training.schemes import spiketime

    cfg = spiketime.Config(dt=dt, n_train=1000, n_test=200, n_val=200, epochs=2, seed=0, log_every=5)
    path = runs.run_dir("spiketime-tiny", "continuous" if dt is None else "dt5")
    runs.run_or_load(cfg, path, driver_.run, driver_.summarize)
    run = runs.load(path)
    assert run.summary["final_val_accuracy"] > 0.5
    assert run.results.attrs["dt_ms"] == ("none" if dt is None else dt)
    assert np.isfinite(run.results["train_loss"].values).all()


def test_spiketime_config_maps_bats_settings():
    from snnlib.training.schemes import spiketime

    assert spiketime.bats_config(spiketime.Config()).lr == 0.003  # lr = None: the variant's
    bc = spiketime.bats_config(spiketime.Config(hidden=(300, 200)))
    assert bc.sizes == (784, 300, 200, 10)
    assert bc.theta_bats == (0.2, 0.2, 1.3) and bc.max_spikes == (30, 30, 30) and bc.lr == 0.003
    single = spiketime.bats_config(spiketime.Config(variant="single", lr=0.01))
    assert single.loss == "first_spike_ce" and single.lr == 0.01
    with pytest.raises(ConfigError, match="dt"):
        spiketime.Config(dt=0.0)
    with pytest.raises(ConfigError, match="lr = 0 .*None"):
        spiketime.Config(lr=0)


@pytest.mark.data
@pytest.mark.parametrize("clock,dataset", [("skip", "mnist"), ("exact", "mnist"), ("exact", "nmnist")])
def test_bptt_trains_with_seed000s_skip_and_on_the_exact_grid(data_dir, isolated_runs, clock, dataset):
    """The two discretizations of the time-bin chapter through the one driver: seed 000's step
    skipping (base bins in, every k-th step kept) and the exact grid of h = k dt (ceil delivery)."""
    from snnlib.training import driver

    extra = dict(n_steps=60, t_in=60.0) if dataset == "mnist" else dict(n_steps=100, loss="rate")
    cfg = bptt.Config(dataset=dataset, hidden=(16,), n_train=64, n_test=32, n_val=32, epochs=1, batch_size=32,
                      k=5, clock=clock, log_every=1, **extra)
    x, y = driver.scheme_of(cfg).data(cfg)["train"]
    inp = bptt.encoder(cfg, 0, "train")(x, np.arange(2))
    steps = cfg.n_steps if clock == "skip" else -(-cfg.n_steps // cfg.k)
    assert inp.shape[0] == steps
    ds = driver.run(cfg, progress=False)
    assert ds.attrs["clock"] == ("skip-k5" if clock == "skip" else "exact-h5")
    assert np.isfinite(ds["train_loss"].values).all()


def test_bptt_clock_options_are_checked():
    with pytest.raises(ValueError, match="tau_s"):
        bptt.Config(clock="exact", tau_s=0.0)
    with pytest.raises(ValueError, match="encoding"):
        bptt.Config(clock="exact", encoding="rate")
    with pytest.raises(ValueError, match="clock"):
        bptt.Config(clock="euler")
