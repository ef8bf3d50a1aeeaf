"""The shared training loop: learning, resuming from checkpoints, stopping on NaN; losses; encoders."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnlib.clock.network import ClockNetwork
from snnlib.clock.raster import sparse_projection
from snnlib.clock.recurrence import CubaDiscrete
from snnlib.data import encoding
from snnlib.training import losses
from snnlib.training.loop import Batches, NonFiniteLossError, fit, load_weights, summarize_curves


def _toy_problem(n=96, seed=0):
    """Two classes of 20-input rasters: class c makes inputs 10c..10c+9 spike early."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = np.zeros((n, 20), dtype=np.uint8)
    for i, c in enumerate(y):
        x[i, 10 * c : 10 * c + 10] = rng.integers(150, 256, 10)
        x[i, rng.integers(0, 20, 3)] = rng.integers(1, 80, 3)
    return x, y


def _encode(x, idx):
    return encoding.ttfs_raster(x[idx], n_steps=20, dt=1.0, t_in=20.0)


def _model(seed=0):
    return ClockNetwork((20, 16, 2), CubaDiscrete(0.5, 0.8, 1.0), generator=torch.Generator().manual_seed(seed))


def _fit(tmp_path, epochs, ckpt="c.pt", model=None, evals_per_epoch=1, weights=None, probe=None, dense_epochs=None):
    x, y = _toy_problem()
    train = Batches(x[:64], y[:64], 16, _encode, shuffle=True, seed=0)
    val = Batches(x[64:80], y[64:80], 16, _encode)
    test = Batches(x[80:], y[80:], 16, _encode)
    torch.manual_seed(0)
    return fit(model or _model(), losses.count_cross_entropy, losses.predict_by_count, train, val, test,
               epochs=epochs, lr=5e-2, log_every=2, checkpoint=tmp_path / ckpt, progress=False,
               evals_per_epoch=evals_per_epoch, weights=weights, probe=probe, dense_epochs=dense_epochs)


def test_training_lowers_the_loss_and_records_curves(tmp_path):
    ds = _fit(tmp_path, epochs=6)
    assert ds["train_loss"][-1] < 0.5 * ds["train_loss"][0]
    assert ds["val_accuracy"][-1] >= 0.9  # linearly separable toy task
    assert set(ds.data_vars) >= {"train_loss", "val_accuracy", "test_accuracy", "hidden_spikes",
                                 "epoch_time", "batch_loss"}
    assert ds["batch_loss"].shape == (6, 2)  # 4 batches per epoch logged every 2
    s = summarize_curves(ds)
    assert s["final_test_accuracy"] == float(ds["test_accuracy"][-1])
    assert s["best_val_epoch_per_seed"] == [int(ds["val_accuracy"].argmax("epoch")) + 1]


def test_resumed_training_equals_uninterrupted_training(tmp_path):
    whole = _fit(tmp_path, epochs=4, ckpt="whole.pt", evals_per_epoch=2, weights=tmp_path / "whole.npz")
    _fit(tmp_path, epochs=2, ckpt="resumed.pt", evals_per_epoch=2)  # "interrupted" after two epochs
    # weights come from the checkpoint, and so does the best-validation state of the first two epochs
    resumed = _fit(tmp_path, epochs=4, ckpt="resumed.pt", model=_model(seed=99), evals_per_epoch=2,
                   weights=tmp_path / "resumed.npz")
    for v in ("train_loss", "val_accuracy", "test_loss", "val_accuracy_curve", "val_loss_curve"):
        np.testing.assert_allclose(resumed[v].values, whole[v].values, rtol=1e-6)
    assert resumed.attrs["best_epoch"] == whole.attrs["best_epoch"]
    a, info_a = load_weights(tmp_path / "whole.npz")
    b, info_b = load_weights(tmp_path / "resumed.npz")
    assert info_a == info_b and all(torch.equal(a[k], b[k]) for k in a)


def _weight_norm_probe(model):
    return {"norm": float(sum(p.detach().double().norm() ** 2 for p in model.parameters()) ** 0.5)}


def test_probe_is_measured_before_training_and_after_each_epoch_and_survives_resuming(tmp_path):
    init = _weight_norm_probe(_model())["norm"]
    whole = _fit(tmp_path, epochs=3, ckpt="whole.pt", probe=_weight_norm_probe)
    assert whole["checkpoint"].values.tolist() == [0, 1, 2, 3]
    assert whole["probe_norm"].values[0] == pytest.approx(init) and len(set(whole["probe_norm"].values)) == 4
    _fit(tmp_path, epochs=1, ckpt="resumed.pt", probe=_weight_norm_probe)
    resumed = _fit(tmp_path, epochs=3, ckpt="resumed.pt", model=_model(seed=99), probe=_weight_norm_probe)
    np.testing.assert_allclose(resumed["probe_norm"].values, whole["probe_norm"].values, rtol=1e-6)
    assert "probe_norm" not in _fit(tmp_path, epochs=1, ckpt="none.pt")


def test_validation_is_evaluated_at_fixed_numbers_of_training_samples(tmp_path):
    """64 samples in batches of 16 (4 batches), 2 evaluations per epoch: after 32 and 64 samples of
    each epoch; the epoch-end evaluation is the epoch's validation accuracy."""
    ds = _fit(tmp_path, epochs=2, evals_per_epoch=2)
    assert ds["samples_seen"].values.tolist() == [32, 64, 96, 128]
    np.testing.assert_array_equal(ds["val_accuracy_curve"].values[1::2], ds["val_accuracy"].values)
    assert ds["samples_seen"].attrs["units"] == "training samples"
    with pytest.raises(ValueError, match=r"evals_per_epoch = 5: expected an integer in \[1, 4\]"):
        _fit(tmp_path, epochs=1, ckpt="x.pt", evals_per_epoch=5)


def test_dense_epochs_keeps_the_records_of_the_first_epochs_and_the_epoch_ends_after(tmp_path):
    """4 evaluations per epoch (every batch of 16) in the first epoch only: after 16, 32, 48 and 64
    samples, then at 128 and 192; those records equal the run that records every epoch densely, and
    so does its training (the evaluations change nothing else)."""
    dense = _fit(tmp_path, epochs=3, ckpt="d.pt", evals_per_epoch=4)
    sparse = _fit(tmp_path, epochs=3, ckpt="s.pt", evals_per_epoch=4, dense_epochs=1)
    assert sparse["samples_seen"].values.tolist() == [16, 32, 48, 64, 128, 192]
    np.testing.assert_array_equal(sparse["val_accuracy_curve"].values,
                                  dense["val_accuracy_curve"].sel(samples_seen=[16, 32, 48, 64, 128, 192]).values)
    np.testing.assert_array_equal(sparse["train_loss"].values, dense["train_loss"].values)
    _fit(tmp_path, epochs=2, ckpt="r.pt", evals_per_epoch=4, dense_epochs=1)  # interrupted, then resumed
    resumed = _fit(tmp_path, epochs=3, ckpt="r.pt", model=_model(seed=99), evals_per_epoch=4, dense_epochs=1)
    assert resumed["samples_seen"].values.tolist() == sparse["samples_seen"].values.tolist()
    np.testing.assert_allclose(resumed["val_loss_curve"].values, sparse["val_loss_curve"].values, rtol=1e-6)
    with pytest.raises(ValueError, match=r"dense_epochs = 0: expected None \(records in every epoch\) or an integer >= 1"):
        _fit(tmp_path, epochs=1, ckpt="x.pt", dense_epochs=0)


def test_non_finite_loss_stops_with_a_clear_error(tmp_path):
    x, y = _toy_problem()
    train = Batches(x, y, 16, _encode)

    def bad_loss(out, labels):
        return out.sum() * float("nan")

    with pytest.raises(NonFiniteLossError, match="epoch 1, batch 1"):
        fit(_model(), bad_loss, losses.predict_by_count, train, train, train, epochs=1, lr=1e-3,
            checkpoint=tmp_path / "c.pt", progress=False)


def test_spike_rate_loss_is_zero_at_the_target_rates():
    T, B, C = 10, 2, 3
    raster = torch.zeros(T, B, C)
    labels = torch.tensor([1, 2])
    raster[:2, 0, 1] = 1  # rate 0.2 for the true class, 0 elsewhere
    raster[:2, 1, 2] = 1
    assert float(losses.spike_rate_loss(raster, labels, 0.2, 0.0)) == pytest.approx(0.0)
    assert float(losses.spike_rate_loss(raster, labels, 0.2, 0.1)) == pytest.approx(0.5 * 2 * 0.1**2)


def test_first_spike_step_and_its_straight_through_gradient():
    raster = torch.zeros(5, 1, 3)
    raster[2, 0, 0] = raster[4, 0, 0] = 1
    raster[1, 0, 1] = 1
    raster.requires_grad_()
    t = losses.first_spike_step(raster)
    assert t.tolist() == [[2.0, 1.0, 4.0]]  # silent neuron: last step
    (g,) = torch.autograd.grad(t.sum(), raster)
    assert g[2, 0, 0] == -1 and g[1, 0, 1] == -1 and g[4, 0, 2] == -1 and g.abs().sum() == 3
    assert losses.predict_by_first_spike(raster).tolist() == [1]


@pytest.mark.data
def test_events_raster_equals_tonic_frames(data_dir):
    from snnlib.data import datasets as data

    ds = data.NMNIST("test")
    recs = [ds[i][0] for i in range(3)]
    r = encoding.events_raster(recs, n_steps=300, dt=1.0).to_dense()
    frames = np.stack([encoding.events_to_bins(e, bin_ms=1.0, t_max_ms=300) for e in recs])  # [B, T, P, H, W]
    ref = torch.from_numpy((frames > 0).reshape(3, 300, -1).transpose(1, 0, 2).astype(np.float32))
    assert torch.equal(r, ref)


def test_events_raster_without_merging_counts_every_event_on_the_exact_grid():
    """``merge=False``: a pixel's events in one step each count (the event network's grid input); the sparse
    projection and the dense raster add the repeated entries up."""
    ev = np.zeros(5, dtype=[("x", np.int16), ("y", np.int16), ("p", np.int8), ("t", np.int64)])
    ev["x"], ev["y"], ev["p"] = [1, 1, 1, 2, 2], [0, 0, 0, 3, 3], [0, 0, 0, 1, 1]
    ev["t"] = [1500, 2000, 2400, 0, 9999]  # µs: pixel 1 at 1.5, 2.0, 2.4 ms; pixel p=1 (2, 3) at 0 and 9.999 ms
    a, b = 1, 34 * 34 + 3 * 34 + 2
    merged = encoding.events_raster([ev], n_steps=6, dt=2.0, rounding="ceil").to_dense()
    counts = encoding.events_raster([ev], n_steps=6, dt=2.0, rounding="ceil", merge=False).to_dense()
    assert counts[1, 0, a] == 2 and counts[2, 0, a] == 1 and merged[1, 0, a] == 1  # 1.5, 2.0 -> point 1
    assert counts[0, 0, b] == 1 and counts[5, 0, b] == 1 and counts.sum() == 5 and merged.sum() == 4
    r = encoding.events_raster([ev], n_steps=6, dt=2.0, rounding="ceil", merge=False)
    w = torch.randn(3, 2 * 34 * 34, dtype=torch.float64)
    torch.testing.assert_close(sparse_projection(r, w), counts.double() @ w.t())


def test_ttfs_raster_puts_each_pixel_in_its_bin():
    img = np.array([[0, 255, 128, 1]], dtype=np.uint8)
    r = encoding.ttfs_raster(img, n_steps=100, dt=1.0, t_in=100.0)
    times = dict(zip(r.n.tolist(), r.t.tolist()))
    assert times == {1: 0, 2: int(100 * (1 - 128 / 255)), 3: int(100 * (1 - 1 / 255))}


def test_mean_ci_is_the_student_t_interval():
    from snnlib.metrics import mean_ci

    mean, half = mean_ci([1.0, 2.0, 3.0])
    # sample sd 1, n = 3: half-width t_{0.975, 2} / sqrt(3) = 4.3027 / 1.7321
    assert mean == 2.0 and half == pytest.approx(4.302653 / 3**0.5, rel=1e-6)
    assert np.isnan(mean_ci([0.5])[1])  # one run has no spread to report


def test_a_checkpoint_without_probes_resumes_with_nan_for_the_epochs_it_lacks(tmp_path):
    _fit(tmp_path, epochs=1, ckpt="old.pt")  # made without a probe
    ds = _fit(tmp_path, epochs=3, ckpt="old.pt", probe=_weight_norm_probe)
    assert ds["checkpoint"].values.tolist() == [0, 1, 2, 3]
    assert np.isnan(ds["probe_norm"].values[:2]).all() and np.isfinite(ds["probe_norm"].values[2:]).all()


def test_a_checkpoint_records_the_code_that_trained_it_and_the_curves_list_every_session(tmp_path):
    import json

    import torch as _torch

    _fit(tmp_path, epochs=1)
    state = _torch.load(tmp_path / "c.pt", weights_only=False)
    (made,) = state["trained_by"]
    assert {"git_commit", "git_dirty", "training_code", "wall_time_s"} <= set(made)
    ds = _fit(tmp_path, epochs=3)  # resumes: same code
    sessions = json.loads(ds.attrs["trained_by"])
    assert [(s["first_epoch"], s["last_epoch"]) for s in sessions] == [(1, 1), (2, 3)]


def test_resuming_a_checkpoint_of_other_training_code_is_refused_unless_asked(tmp_path, monkeypatch):
    import torch as _torch

    from snnlib.training.loop import CheckpointError

    _fit(tmp_path, epochs=1)
    state = _torch.load(tmp_path / "c.pt", weights_only=False)
    state["trained_by"][0].update(training_code="0" * 64, git_commit="1" * 40)
    _torch.save(state, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match=r"other training code.*commit 11111111.*rm .*c\.pt.*SNNLIB_RESUME_ANYWAY=1"):
        _fit(tmp_path, epochs=2)
    monkeypatch.setenv("SNNLIB_RESUME_ANYWAY", "1")
    ds = _fit(tmp_path, epochs=2)
    import json

    assert [s["git_commit"][0] for s in json.loads(ds.attrs["trained_by"])][0] == "1"


def test_a_checkpoint_from_before_these_records_is_refused(tmp_path):
    import torch as _torch

    from snnlib.training.loop import CheckpointError

    _fit(tmp_path, epochs=1)
    state = _torch.load(tmp_path / "c.pt", weights_only=False)
    del state["trained_by"]
    _torch.save(state, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match="did not record itself"):
        _fit(tmp_path, epochs=2)


def test_a_truncated_checkpoint_is_named_with_the_fix(tmp_path):
    from snnlib.training.loop import CheckpointError

    _fit(tmp_path, epochs=1)
    data = (tmp_path / "c.pt").read_bytes()
    (tmp_path / "c.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"checkpoint .*c\.pt cannot be read.*delete it to restart"):
        _fit(tmp_path, epochs=2)
