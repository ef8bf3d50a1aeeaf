"""Direct training of integrated networks (seed 001, experiment 2) through the one driver."""

import numpy as np
import pytest

from snnlib.store import runs
from snnlib.training import driver


@pytest.mark.data
@pytest.mark.parametrize("gradient", ["adjusted", "piggyback"])
def test_integrated_networks_train_through_the_driver(data_dir, isolated_runs, gradient):
    """Seed 001's experiment 2: the integrated network (Euler, linear, 2 ms) trained directly (100
    hidden neurons: fewer leave the output silent and every gradient zero); its
    stored weights load into the same integrated network and reproduce its test accuracy."""
    from snnlib.training.schemes import integrated as integrated_training

    cfg = integrated_training.Config(hidden=(100,), n_train=300, n_test=100, n_val=50, epochs=2, batch_size=50,
                                     integration="euler", dt=2.0, spike_rule="linear", gradient=gradient)
    path = runs.point_dir("integrated-tiny", "quick", f"gradient={gradient}")
    run = runs.run_or_load(cfg, path, lambda c: driver.run(c, progress=False), driver.summarize)
    assert run.results.attrs["discretization"] == "euler-linear-dt2-input=exact"
    assert np.isfinite(run.results["train_loss"].values).all()
    # the probe: alignment with the exact gradient and the reference timing, before training and
    # after each epoch; the reference workload (initial weights, fixed batch) is the same per seed
    res = run.results
    assert list(res["checkpoint"].values) == [0, 1, 2]
    cos = res["probe_cosine"].values
    assert np.isfinite(cos).all() and (np.abs(cos) <= 1 + 1e-12).all()
    assert {"probe_cosine_layer1", "probe_cosine_layer2", "probe_norm_ratio"} <= set(res.data_vars)
    assert (res["probe_ref_step_s"].values > 0).all()
    model, _ = driver.load_model(path)
    assert model.discretization == cfg.discretization() and model.gradient == gradient
    assert driver.evaluate_run(path) == run.summary["test_accuracy_at_best_val"]


def test_integrated_config_refuses_what_the_integration_cannot_do():
    from snnlib.training.schemes import integrated as integrated_training

    with pytest.raises(ValueError, match="spike_rule"):
        integrated_training.Config(integration="exact", spike_rule="newton")
    with pytest.raises(ValueError, match="gradient"):
        integrated_training.Config(gradient="exact")
    with pytest.raises(ValueError, match="dt"):
        integrated_training.Config(dt=None)


def _tiny(n: int, out_spikes: int):
    """A 20-16-3 event network (float64) and ``n`` random single-spike inputs with labels."""
    import torch

    from snnlib.events.network import EventNetwork
    from snnlib.model.neuron import NeuronParams

    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 20, 1, generator=g, dtype=torch.float64) * 30
    y = torch.randint(0, 3, (n,), generator=g)
    net = EventNetwork((20, 16, 3), NeuronParams(tau_s=10.0), max_spikes=[4, out_spikes], t_max=60.0,
                       init=[(-0.1, 0.3), (-0.1, 0.3)], dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    return net, x, y


def test_gradient_alignment_is_one_at_fine_steps_and_lower_for_coarse_piggyback():
    from snnlib.model.discretization import Discretization as D
    from snnlib.training.losses import first_spike_cross_entropy
    from snnlib.training.probes import gradient_alignment

    net, x, y = _tiny(16, 1)
    loss = lambda out, lab: first_spike_cross_entropy(out, lab, 5.0, t_silent=60.0)  # noqa: E731
    fine = gradient_alignment(net.with_(D("ps", 3, 0.05, "newton"), "adjusted"), x, y, loss)
    coarse = gradient_alignment(net.with_(D("euler", None, 4.0, "linear"), "piggyback"), x, y, loss)
    assert fine["cosine"] > 0.9999 and abs(fine["norm_ratio"] - 1) < 1e-3
    assert coarse["cosine"] < fine["cosine"] - 0.01
    assert len(fine["cosine_per_layer"]) == 2 and all(p.grad is None for p in net.parameters())


def test_probe_reference_is_the_initial_network_and_silent_layers_count_as_zero_gradients():
    import torch

    from snnlib.model.discretization import Discretization as D
    from snnlib.training.losses import spike_count_loss
    from snnlib.training.probes import TrainingProbe, gradient_alignment

    net, x, y = _tiny(8, 4)
    loss = lambda out, lab: spike_count_loss(out, lab, 3, 1)  # noqa: E731
    probe = TrainingProbe(x, y, loss, net.with_(D("euler", None, 1.0, "linear"), "adjusted"))
    initial = [w.detach().clone() for w in probe._reference.parameters()]
    with torch.no_grad():  # training moves the run's weights; the reference keeps the initial ones
        for w in net.parameters():
            w.mul_(3.0)
    assert all(torch.equal(a, b) for a, b in zip(initial, probe._reference.parameters()))
    out = probe(net.with_(D("euler", None, 1.0, "linear"), "adjusted"))
    assert out["ref_step_s"] > 0 and -1 <= out["cosine"] <= 1
    # a network whose hidden layer is silent: no gradient anywhere, cosines NaN rather than a crash
    with torch.no_grad():
        for w in net.parameters():
            w.zero_()
    a = gradient_alignment(net.with_(D("euler", None, 1.0, "linear"), "adjusted"), x, y, loss)
    assert len(a["cosine_per_layer"]) == 2
