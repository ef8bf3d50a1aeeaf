"""Seed 002 as published: snnTorch's tutorial 5 network, its two codings, and a tiny run end to end."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from snnlib.config import ConfigError
from snnlib.experiments import snntorch_tutorial as tut
from snnlib.store import runs
from snnlib.training.loop import Batches


def _tutorial_forward(net, x, num_steps):
    """Tutorial 5's ``Net.forward``, verbatim in substance: ``fc1(x)`` recomputed at every step."""
    mem1, mem2 = net.lif1.init_leaky(), net.lif2.init_leaky()
    spk2_rec, mem2_rec = [], []
    for _ in range(num_steps):
        cur1 = net.fc1(x)
        spk1, mem1 = net.lif1(cur1, mem1)
        cur2 = net.fc2(spk1)
        spk2, mem2 = net.lif2(cur2, mem2)
        spk2_rec.append(spk2)
        mem2_rec.append(mem2)
    return torch.stack(spk2_rec), torch.stack(mem2_rec)


def test_constant_current_network_is_the_tutorials_loop_with_the_same_gradients():
    torch.manual_seed(0)
    net = tut.TutorialNet(784, 50, 10, 0.95, 25)
    x = torch.rand(8, 784) * 3  # strong enough that both layers spike
    y = torch.arange(8) % 10
    loss, _ = tut.loss_and_predict(tut.Config(coding="rate"))
    out, (hidden,) = net(x)
    value = loss(out, y)
    value.backward()
    grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    spk, mem = _tutorial_forward(net, x, 25)
    ce = torch.nn.CrossEntropyLoss()
    reference = sum(ce(mem[t], y) for t in range(25))  # the tutorial's loss_val loop
    reference.backward()
    assert spk.sum() > 0 and hidden.sum() > 0
    assert torch.equal(out[0], spk) and torch.allclose(out[1], mem, atol=1e-5)
    assert float(value.detach()) == pytest.approx(float(reference.detach()), rel=1e-6)
    for g, p in zip(grads, net.parameters()):
        # float32: 25 products summed in another order; the same gradient to rounding
        assert float((g - p.grad).abs().max()) <= 1e-5 * float(g.abs().max())


def test_sparse_input_current_equals_fc1_of_the_raster():
    torch.manual_seed(1)
    net = tut.TutorialNet(784, 30, 10, 0.95, 25)
    x = np.random.default_rng(0).integers(0, 256, (4, 28, 28)).astype(np.uint8)
    raster = tut.encoder(tut.Config(coding="ttfs"))(x, np.arange(4))
    assert torch.allclose(net.input_current(raster), net.fc1(raster), atol=1e-5)


def test_latency_code_is_snntorch_tutorial_1s_linear_normalized_clipped_code():
    x = np.zeros((1, 28, 28), dtype=np.uint8)
    x[0, 0, :4] = [255, 128, 2, 0]  # 2/255 < threshold 0.01: silent, like the background
    raster = tut.encoder(tut.Config(coding="ttfs"))(x, np.arange(1))
    assert raster.shape == (25, 1, 784) and raster.sum() == 2  # one spike per pixel >= 0.01
    steps = {int(i): int(raster[:, 0, i].argmax()) for i in range(784) if raster[:, 0, i].any()}
    assert steps == {0: 0, 1: round(24 * (1 - 128 / 255))}


def test_predictions_follow_the_tutorial_and_accuracy_temporal():
    spikes = torch.zeros(5, 2, 3)
    spikes[1, 0, 2] = spikes[3, 0, 0] = spikes[4, 0, 0] = 1  # sample 0: class 2 first, class 0 most
    out = torch.stack([spikes, torch.zeros_like(spikes)])
    _, by_count = tut.loss_and_predict(tut.Config(coding="rate"))
    _, by_first = tut.loss_and_predict(tut.Config(coding="ttfs"))
    assert by_count(out)[0] == 0 and by_first(out)[0] == 2
    assert by_first(out)[1] == 0  # no spike at all: every class "fires" at the last step, first index wins


def test_training_batches_drop_the_incomplete_last_batch_like_the_tutorials_loader():
    x, y = np.zeros((300, 2)), np.arange(300)
    kept = Batches(x, y, 128, lambda x, idx: idx, shuffle=True, drop_last=True)
    assert len(kept) == 2 and [len(b[1]) for b in kept] == [128, 128]
    every = Batches(x, y, 128, lambda x, idx: idx, drop_last=False)
    assert sum(len(b[1]) for b in every) == 300


def test_adam_defaults_are_the_tutorials_betas():
    # snnlib.training.loop.fit builds Adam(params, lr): the tutorial passes betas=(0.9, 0.999) explicitly
    assert inspect.signature(torch.optim.Adam).parameters["betas"].default == (0.9, 0.999)


def test_config_refuses_bad_values():
    with pytest.raises(ConfigError, match="coding"):
        tut.Config(coding="poisson")
    with pytest.raises(ConfigError, match="beta"):
        tut.Config(beta=1.5)
    with pytest.raises(ConfigError, match="n_steps"):
        tut.Config(n_steps=0)
    with pytest.raises(ConfigError, match="latency_threshold"):
        tut.Config(latency_threshold=1.0)
    with pytest.raises(ConfigError, match="latency_normalize"):
        tut.Config(coding="ttfs", latency_normalize=False, latency_tau=50.0)
    with pytest.raises(ConfigError, match="seeds"):
        tut.Config.from_dict({"seeds": []})
    with pytest.raises(ConfigError, match="no field"):
        tut.Config.from_dict({"num_steps": 25})


@pytest.mark.data
def test_too_few_training_digits_for_one_full_batch_is_refused(data_dir):
    with pytest.raises(ConfigError, match="no full batch"):
        tut.load(tut.Config(n_train=100, n_val=10, n_test=10))


@pytest.mark.data
@pytest.mark.parametrize("coding", tut.CODINGS)
def test_tiny_run_writes_a_loadable_run(data_dir, isolated_runs, tmp_path, monkeypatch, coding):
    cfg = tut.Config(coding=coding, hidden=20, n_steps=6, n_train=200, n_val=40, n_test=50, batch_size=64,
                     seeds=(0, 1), log_every=1)
    path = runs.run_dir("seed002-tiny", coding)
    runs.run_or_load(cfg, path, tut.run, tut.summarize)
    run = runs.load(path)
    ds = run.results
    assert dict(ds.sizes) == {"seed": 2, "epoch": 1, "log_chunk": 3, "samples_seen": 1}  # 200 digits: 3 full batches of 64
    assert ds["samples_seen"].values.tolist() == [64, 128, 192]
    assert (ds.attrs["n_train"], ds.attrs["n_val"], ds.attrs["n_test"]) == (200, 40, 50)
    assert np.isfinite(ds["batch_loss"].values).all()
    assert run.summary["final_test_accuracy"] == pytest.approx(float(ds["test_accuracy"].isel(epoch=-1).mean()))
    assert run.summary["published_test_accuracy"] == tut.PUBLISHED[coding]
    assert run.config["coding"] == coding
    assert len(list((isolated_runs.parent / "checkpoints" / tut.NAME).glob("*.pt"))) == 2
    # the page glues its numbers from the run and this study's run of the same coding
    import myst_nb

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda key, value, display=True: glued.__setitem__(key, value))
    study = runs.Run(None, {}, None, {"final_test_accuracy": 0.9, "final_test_accuracy_ci95": 0.01, "epochs": 2,
                                      "final_test_accuracy_per_seed": [0.89, 0.9, 0.91]}, {})
    tut.glue_numbers(run, study)
    acc = 100 * np.asarray(run.summary["final_test_accuracy_per_seed"])
    assert glued["minus_published"] == pytest.approx(acc.mean() - 100 * tut.PUBLISHED[coding])
    assert glued["minus_published_lo"] <= glued["minus_published"] <= glued["minus_published_hi"]
    assert glued["n_seeds"] == 2 and glued["study_epochs"] == 2


def _run(coding_acc):
    from snnlib import metrics

    m, h = metrics.mean_ci(coding_acc)
    return runs.Run(None, {}, None, {"final_test_accuracy_per_seed": coding_acc, "final_test_accuracy": m,
                                     "final_test_accuracy_ci95": h, "epochs": 1}, {})


def test_compare_puts_the_codings_side_by_side_only_where_both_ran_and_decides_nothing():
    found = {"seed002-rate": _run([0.93, 0.94, 0.935]), "seed002-ttfs": _run([0.95, 0.955, 0.96]),
             "encoding-rate": _run([0.95, 0.96, 0.97])}

    def load(experiment):
        if experiment not in found:
            raise FileNotFoundError(experiment)
        return found[experiment]
    rows = tut.compare(load)
    assert rows["tutorial"]["diff"] == pytest.approx(2.0)
    assert "ttfs" not in rows["study"] and "diff" not in rows["study"]
    text = tut.comparison_markdown(rows)
    assert "+2.00" in text and tut.SETUP_NAMES["study"] not in text  # a setup with one coding is left out
    assert not any(w in text for w in ("holds", "reversed", "resolved", "confirmed", "refuted"))  # findings decide
