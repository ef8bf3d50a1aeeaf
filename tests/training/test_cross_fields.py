"""Configs whose fields cannot be meant together are refused before any compute, with the fix in the
message; a combination that can be meant (no hidden layer) is said in the run's log."""

from __future__ import annotations

import pytest

from snnlib.config import ConfigError
from snnlib.pipeline.checks import check_configs
from snnlib.study import plan
from snnlib.training import driver
from snnlib.training.schemes import bptt, integrated, spiketime


def test_bptt_input_times_beyond_the_window_are_refused():
    # 10 bins of 1 ms hold 10% of a 100 ms TTFS window: most input spikes would silently be dropped
    with pytest.raises(ConfigError, match=r"t_in = 100.0 is invalid: .*window n_steps \* dt = 10 ms.*n_steps to 100"):
        bptt.Config(n_steps=10, t_in=100.0)
    with pytest.raises(ConfigError, match="t_in"):
        bptt.Config(n_steps=50, dt=1.0, k=5, t_in=60.0)
    bptt.Config(n_steps=10, dt=10.0, t_in=100.0)  # the window is 100 ms: fine
    bptt.Config(n_steps=10, t_in=100.0, encoding="rate")  # t_in is no window of the rate code
    bptt.Config(dataset="nmnist", n_steps=10, t_in=100.0)  # nor of N-MNIST's events


def test_spike_time_step_as_long_as_the_window_is_refused():
    with pytest.raises(ConfigError, match=r"dt = 500.0 is invalid: expected a step smaller than the window t_max = 150 ms"):
        spiketime.Config(dt=500.0, t_max=150.0)
    with pytest.raises(ConfigError, match="window t_max = 200 ms"):  # the multi-spike variant's window
        spiketime.Config(dt=200.0)
    with pytest.raises(ConfigError, match="dt = 150.0"):
        integrated.Config(dt=150.0, t_max=150.0)
    spiketime.Config(dt=50.0, t_max=150.0)
    spiketime.Config(variant="single", dt=500.0)  # the single-spike window is 1 s


def test_spike_time_inputs_beyond_the_window_are_refused():
    with pytest.raises(ConfigError, match=r"t_in = 300.0 is invalid: .*window t_max = 200 ms.*raise t_max to at least 300 ms"):
        spiketime.Config(t_in=300.0)
    spiketime.Config(t_in=300.0, t_max=300.0)
    spiketime.Config(dataset="mnist-threshold", t_in=300.0)  # every input spike at t = 0


def test_every_planned_point_still_validates():
    for profile in plan.PROFILES:
        for s in plan.sweeps(profile, in_progress=True):
            check_configs(s.points(profile))


def test_a_network_without_hidden_layer_is_said_in_the_log(data_dir, isolated_runs, capsys):
    cfg = bptt.Config(hidden=(), n_train=64, n_test=32, n_val=32, epochs=1, batch_size=32, n_steps=20,
                      t_in=20.0, log_every=1)
    ds = driver.run(cfg, progress=False)
    assert "hidden = () builds no hidden layer" in capsys.readouterr().err
    assert ds.attrs["scheme"] == "bptt"


def test_spike_time_thresholds_are_two_or_one_per_layer():
    two = spiketime.bats_config(spiketime.Config(hidden=(20, 20), theta_bats=(0.1, 0.5)))
    assert two.theta_bats == (0.1, 0.1, 0.5)  # every hidden layer the hidden threshold
    each = spiketime.bats_config(spiketime.Config(hidden=(20, 20), theta_bats=(0.1, 0.3, 0.5)))
    assert each.theta_bats == (0.1, 0.3, 0.5) and [p.theta for p in each.params()] == [100.0, 300.0, 500.0]
    with pytest.raises(ConfigError, match=r"one per layer \(3\)"):
        spiketime.Config(hidden=(20, 20), theta_bats=(0.1, 0.2, 0.3, 0.5))
