"""Text the pages build from a run's config: it must describe the neuron that was simulated."""

from __future__ import annotations

from snnlib import report
from snnlib.study import plan as plan_
from snnlib.training.schemes import bptt


def test_clock_neuron_text_follows_the_config_of_the_simulated_neuron():
    leaky = bptt.Config(tau_s=0.0, tau=19.5, n_steps=25, t_in=25.0, theta=1.0)
    text = report.clock_neuron_text(leaky.to_dict())
    neuron = bptt.neuron(leaky)
    assert neuron.alpha == 0.0  # what is simulated: no synaptic current
    assert "Leaky" in text and "u[t]" not in text
    assert f"{neuron.beta:.3f}" in text and "subtraction" in text

    cuba = bptt.Config(tau_s=3.48, tau=32.8, k=2, reset="zero")
    text = report.clock_neuron_text(cuba.to_dict())
    neuron = bptt.neuron(cuba)
    assert "u[t]" in text and "Leaky" not in text
    assert f"{neuron.alpha:.3f}" in text and f"{neuron.beta:.3f}" in text  # decays of a k-bin step
    assert "\\Delta t = 2$ ms" in text and "reset to zero" in text


def test_runs_named_after_a_recipe_state_how_they_differ():
    from snnlib.study import plan

    note = report.recipe_note("bptt-nmnist-lava")
    assert "resets to zero" in note and "delays" in note and "weight normalisation" in note
    assert "recipe" not in plan.sweep("bptt-nmnist-lava").title  # named for what it is
    assert report.recipe_note("bptt-mnist-ttfs") is None


def test_small_test_caveat_gives_the_binomial_interval_beside_the_seed_spread():
    import xarray as xr

    ds = xr.Dataset({"test_accuracy": (("seed", "epoch"), [[0.5, 0.90], [0.5, 0.92], [0.5, 0.94]])},
                    attrs={"n_test": 100})
    text = report.small_test_caveat(ds)
    assert "Wilson 95% interval" in text and "85.0 to 95.9 %" in text  # 92 of 100: (0.9045 -+ 0.0544)
    assert report.small_test_caveat(ds.assign_attrs(n_test=10000)) == ""
    # an N-MNIST test split enlarged with held-out training recordings says how it is made
    text = report.small_test_caveat(ds.assign_attrs(n_test=300, config="test_from_train: 200\n"))
    assert "300 samples (100 official test recordings and 200 training recordings held out" in text


def test_search_note_links_the_search_that_chose_a_sweeps_settings():
    note = plan_.search_note("bptt-nmnist", "quick")
    assert "validation split only" in note and "../../hpsearch/bptt-nmnist/notebook.ipynb" in note
    assert plan_.search_note("bptt-nmnist-lava", "quick") is None


def _curves(final_spikes, seeds=(0, 1), capacity=100, sizes="(784, 50, 10)"):
    import numpy as np
    import xarray as xr

    spikes = np.array([[5.0, f] for f in final_spikes])
    return xr.Dataset({"hidden_spikes": (("seed", "epoch"), spikes)}, coords={"seed": list(seeds), "epoch": [1, 2]},
                      attrs={"sweep": "toy", "hidden_capacity": capacity, "sizes": sizes})


def test_silent_and_saturated_runs_are_flagged_in_the_summary_and_named_on_the_page():
    from snnlib.training.loop import activity

    ds = _curves([0.0, 99.0])
    assert list(activity(ds).values) == ["silent", "saturated"]
    note = report.dead_runs_note({"toy": ds})
    assert "2 of the runs" in note and "seed=0): silent" in note and "seed=1): saturated" in note
    assert "counted like every other run" in note
    assert report.dead_runs_note({"toy": _curves([3.0, 40.0])}) == ""
    # no hidden layer: nothing to be silent
    assert list(activity(_curves([0.0, 0.0], sizes="(784, 10)")).values) == ["", ""]


def test_runs_made_from_a_modified_tree_are_named_on_the_page():
    from types import SimpleNamespace
    from pathlib import Path

    ds = _curves([3.0, 4.0])
    ds.attrs.update(profile="quick", dirty=["seed=1"])
    run = SimpleNamespace(meta={"git_dirty": True}, path=Path("runs/hpsearch/bptt-nmnist"))
    clean = SimpleNamespace(meta={"git_dirty": False}, path=Path("runs/x/y"))
    note = report.provenance_note({"toy": ds, "run": run, "clean": clean})
    assert "2 of the runs" in note and "`toy/quick/seed=1`" in note and "`hpsearch/bptt-nmnist`" in note
    assert report.provenance_note({"clean": clean}) == ""
