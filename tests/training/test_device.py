"""The training config's ``device``: resolved with clear errors, batches moved with their structure,
and never part of a run's identity (digest, stored config)."""

from __future__ import annotations

import pytest
import torch
import xarray as xr

from snnlib.clock.raster import Raster
from snnlib.config import ConfigError
from snnlib.device import resolve_device, to_device, valid_device
from snnlib.store import runs
from snnlib.training import base, driver
from snnlib.training.schemes import bptt

NO_GPU = not torch.cuda.is_available()


def test_device_values_and_their_errors():
    for ok in ("auto", "cpu", "cuda", "cuda:1"):
        assert valid_device(ok)
    for bad in ("gpu", "CUDA", "cuda:", "cuda:x", None, 0):
        assert not valid_device(bad)
    with pytest.raises(ValueError, match="device = 'gpu'"):
        resolve_device("gpu")
    with pytest.raises(ConfigError, match="device = 'gpu' is invalid"):
        bptt.Config(device="gpu")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(not NO_GPU, reason="a GPU is visible")
def test_asking_for_a_missing_gpu_is_an_error_not_a_cpu_run(isolated_runs):
    with pytest.raises(RuntimeError, match="torch sees no GPU"):
        resolve_device("cuda")
    with pytest.raises(RuntimeError, match="torch sees no GPU"):  # before any data is read
        driver.run(bptt.Config(hidden=(4,), device="cuda"), progress=False)


def test_batches_keep_their_structure_on_the_device():
    dev = torch.device("cpu")
    r = Raster((3, 2, 4), torch.tensor([0, 2]), torch.tensor([1, 0]), torch.tensor([3, 3]))
    batch = ((r, torch.ones(2)), {"y": torch.arange(2)}, [torch.zeros(1)], "label")
    moved = to_device(batch, dev)
    assert isinstance(moved[0][0], Raster) and moved[0][0].shape == (3, 2, 4)
    assert torch.equal(moved[0][0].to_dense(), r.to_dense())
    assert isinstance(moved[1], dict) and isinstance(moved[2], list) and moved[3] == "label"
    assert moved[0][1] is batch[0][1]  # already there: not copied


def test_the_device_is_not_part_of_a_runs_identity(isolated_runs):
    """Checkpoints and weights are found, and a stored run is loaded (not retrained or refused),
    whichever device the config names."""
    on_cpu, on_auto = bptt.Config(hidden=(4,), device="cpu"), bptt.Config(hidden=(4,), device="auto")
    # the digest this config had before the field existed (computed with the code of commit
    # 6f161da): checkpoints and weight artifacts made then are still found, also after fields were
    # added to the class (at their ADDED values)
    assert base.config_digest(on_cpu.to_dict(), bptt.Config.ADDED) == "238c82d2c753"
    assert driver.checkpoint_file(on_cpu).stem == "238c82d2c753"
    assert driver.weights_file("bptt", on_cpu.to_dict()).stem == "238c82d2c753"
    changed = bptt.Config(hidden=(4,), init="uniform").to_dict()
    assert base.config_digest(changed, bptt.Config.ADDED) != "238c82d2c753"  # a new field set: a new config
    assert driver.checkpoint_file(on_cpu) == driver.checkpoint_file(on_auto)
    assert driver.weights_file("bptt", on_cpu.to_dict()) == driver.weights_file("bptt", on_auto.to_dict())
    assert base.config_digest(on_cpu.to_dict()) != base.config_digest(bptt.Config(hidden=(5,)).to_dict())
    path = runs.run_dir("bptt-tiny", "device")
    runs.save(path, on_cpu, xr.Dataset(attrs={"scheme": "bptt"}), {}, 0.0)

    def never(cfg):
        raise AssertionError("retrained")

    assert runs.run_or_load(on_auto, path, never, driver.summarize).config["device"] == "cpu"
    with pytest.raises(ConfigError, match="fields differ: hidden"):
        runs.run_or_load(bptt.Config(hidden=(5,), device="cpu"), path, never, driver.summarize)


def test_layers_refuse_inputs_and_weights_on_different_devices():
    from snnlib.events.layer import event_layer, spike_layer
    from snnlib.model.discretization import Discretization
    from snnlib.model.neuron import NeuronParams

    x, W = torch.zeros(1, 2, 1, device="meta"), torch.zeros(3, 2)
    p = NeuronParams(tau_s=5.0)
    with pytest.raises(ValueError, match="in_times are on meta but weights on cpu"):
        spike_layer(x, W, p, t_max=10.0, max_spikes=1)
    with pytest.raises(ValueError, match="in_times are on meta but weights on cpu"):
        event_layer(x, W, p, Discretization("euler", dt=1.0, spike_rule="linear"), t_max=10.0, max_spikes=1)
