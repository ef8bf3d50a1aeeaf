"""Text the pages build from a run's config: it must describe the neuron that was simulated."""

from __future__ import annotations

from snnlib import report
from snnlib.study import plan as plan_
from snnlib.training.schemes import bptt


def test_clock_neuron_text_follows_the_config_of_the_simulated_neuron():
    leaky = bptt.Config(tau_s=0.0, tau=19.5, n_steps=25, theta=1.0)
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
