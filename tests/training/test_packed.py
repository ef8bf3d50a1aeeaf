"""Packed training (snnlib.training.packed): R runs trained in one pack equal, bit for bit on the CPU,
the same runs trained alone by the one loop (snnlib.training.loop.fit) and the one driver."""

import dataclasses
import math

import numba
import numpy as np
import pytest
import torch

from snnlib.events import exact
from snnlib.events.kernels import exact_cpu
from snnlib.events.layer import event_layer
from snnlib.events.network import EventNetwork, PackedEventNetwork
from snnlib.model.neuron import NeuronParams
from snnlib.training import driver
from snnlib.training.loop import Batches, fit, load_weights
from snnlib.training.losses import predict_events_by_count, spike_count_loss
from snnlib.training.packed import check_packable, fit_packed, run_packed
from snnlib.training.schemes.spiketime import SpikeTimeConfig

PARAMS = [NeuronParams(tau_s=130.0, theta=50.0), NeuronParams(tau_s=130.0, theta=300.0)]
CURVES = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy",
          "hidden_spikes", "batch_loss", "val_accuracy_curve", "val_loss_curve")


@pytest.fixture(autouse=True)
def one_numba_thread():
    n = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(n)


def _net(seed, dtype=torch.float32):
    return EventNetwork((20, 30, 5), PARAMS, max_spikes=[8, 8], t_max=200.0, init=[(-0.5, 1.0), (-0.5, 1.0)],
                        dtype=dtype, generator=torch.Generator().manual_seed(seed))


def _data(n=48, seed=7):
    """Synthetic inputs: one spike per input neuron in [0, 100) ms (30% silent), 5 classes."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 20, 1, generator=g) * 100.0
    x[torch.rand(n, 20, 1, generator=g) < 0.3] = math.inf
    return x, torch.randint(0, 5, (n,), generator=g).numpy()


def _encode(x, idx):
    return x[torch.as_tensor(idx)]


def _loss(out, y):
    return spike_count_loss(out, y, 5, 1)


def _batches(seed, shuffle=True):
    x, y = _data()
    xv, yv = _data(16, seed=8)
    return (Batches(x, y, 12, _encode, shuffle=shuffle, seed=seed), Batches(xv, yv, 8, _encode),
            Batches(xv, yv, 16, _encode))


def _same_curves(a, b):
    for k in CURVES:
        assert np.array_equal(a[k].values, b[k].values, equal_nan=True), k
    assert np.array_equal(a["samples_seen"].values, b["samples_seen"].values)
    assert a.attrs["best_epoch"] == b.attrs["best_epoch"]


# ------------------------------------------------------------------ the layer
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("chunks,block", [(1, None), (3, None), (1, 1), (3, 2)])
def test_packed_layer_equals_separate_layers(dtype, chunks, block, monkeypatch):
    """Times, counts, dL/dW and dL/d(input) of each packed run equal that run's layer alone, also when
    the weight gradient is cut into several chunks of samples (as with several numba threads) and
    when the runs go through the kernels in blocks of ``block`` runs (large layers)."""
    monkeypatch.setattr(numba, "get_num_threads", lambda: chunks)  # the chunk count; results depend on it only
    R, B = 3, 5
    if block is not None:  # B samples of 5 neurons x 4 spikes of log: 8 bytes each
        monkeypatch.setattr(exact, "LOG_BLOCK_BYTES", block * B * 5 * 4 * 8)
        assert len(exact.run_blocks(R, B, 5 * 4)) == -(-R // block)
    g = torch.Generator().manual_seed(3)
    x = torch.rand(R, B, 6, 3, generator=g, dtype=dtype) * 100.0
    x[torch.rand(R, B, 6, 3, generator=g) < 0.3] = math.inf
    x = x.sort(-1).values
    W = (torch.rand(R, 5, 6, generator=g, dtype=dtype) * 1.5 - 0.5) * 2.0
    c = torch.randn(R, B, 5, 4, generator=g, dtype=dtype)
    P = NeuronParams(tau_s=130.0, theta=52.0)

    def run(x, W, c):
        x, W = x.clone().requires_grad_(True), W.clone().requires_grad_(True)
        out, n = event_layer(x, W, P, t_max=200.0, max_spikes=4, backend="numba")
        (torch.where(torch.isfinite(out), out, torch.zeros_like(out)) * c).sum().backward()
        return out.detach(), n, W.grad, x.grad

    packed = run(x, W, c)
    assert int(packed[1].sum()) > 0 and packed[2].abs().sum() > 0
    for r in range(R):
        alone = run(x[r], W[r], c[r])
        for p, a in zip(packed, alone):
            assert torch.equal(p[r], a)


def test_chunk_bounds_cut_each_run_as_alone():
    assert exact_cpu.chunk_bounds(5, 1, 2).tolist() == [0, 2, 5]
    assert exact_cpu.chunk_bounds(5, 3, 2).tolist() == [0, 2, 5, 7, 10, 12, 15]
    assert exact_cpu.chunk_bounds(0, 2, 1).tolist() == [0, 0, 0]


def test_packed_layer_refuses_mismatched_runs():
    P = NeuronParams(tau_s=130.0, theta=52.0)
    with pytest.raises(ValueError, match="matching R and N_in"):
        event_layer(torch.zeros(2, 3, 6, 1), torch.zeros(3, 5, 6), P, t_max=200.0, max_spikes=2)
    with pytest.raises(ValueError, match="matching R and N_in"):
        event_layer(torch.zeros(3, 6, 1), torch.zeros(3, 5, 6), P, t_max=200.0, max_spikes=2)
    with pytest.raises(ValueError, match=r"in_counts must be \[R, B, N_in\]"):
        event_layer(torch.zeros(2, 3, 6, 1), torch.zeros(2, 5, 6), P, t_max=200.0, max_spikes=2,
                    in_counts=torch.ones(6, 6, dtype=torch.int64))


def test_packed_network_refuses_other_shapes():
    with pytest.raises(ValueError, match="in sizes"):
        PackedEventNetwork([_net(0), EventNetwork((20, 31, 5), PARAMS, max_spikes=8, t_max=200.0)])
    with pytest.raises(ValueError, match="weights"):
        PackedEventNetwork([_net(0), _net(1, torch.float64)])
    with pytest.raises(ValueError, match=r"R = 2"):
        PackedEventNetwork([_net(0), _net(1)])(torch.zeros(3, 4, 20, 1))


# ------------------------------------------------------------------ training
@pytest.mark.parametrize("R", [2, 3])
def test_packed_training_equals_separate_training(R):
    """The acceptance criterion: every packed run's final weights and learning curves (losses,
    accuracies, hidden spikes) are those of the run trained alone by fit, bit for bit (different
    seeds: initial weights and batch order; different learning rates)."""
    seeds, lrs = [0, 1, 2][:R], [0.003, 0.01, 0.002][:R]
    alone = []
    for s, lr in zip(seeds, lrs):
        net = _net(s)
        tr, va, te = _batches(s)
        ds = fit(net, _loss, predict_events_by_count, tr, va, te, epochs=2, lr=lr, log_every=2,
                 evals_per_epoch=2, progress=False)
        alone.append((net, ds))
    model = PackedEventNetwork([_net(s) for s in seeds])
    parts = [_batches(s) for s in seeds]
    dss = fit_packed(model, _loss, predict_events_by_count, [p[0] for p in parts], [p[1] for p in parts],
                     [p[2] for p in parts], epochs=2, lrs=lrs, log_every=2, evals_per_epoch=2, progress=False)
    assert len(dss) == R
    for r, (net, ds) in enumerate(alone):
        for w_packed, w_alone, w_init in zip(model.runs[r].weights, net.weights, _net(seeds[r]).weights):
            assert torch.equal(w_packed, w_alone)
            assert not torch.equal(w_alone, w_init)  # it trained
        _same_curves(dss[r], ds)
    assert not np.array_equal(dss[0]["batch_loss"].values, dss[1]["batch_loss"].values)  # runs differ


def test_packed_training_with_dense_first_epochs_equals_separate_training():
    """``dense_epochs`` packed as alone: the same records (the first epoch's and the later epoch ends)."""
    net = _net(0)
    tr, va, te = _batches(0)
    ds = fit(net, _loss, predict_events_by_count, tr, va, te, epochs=3, lr=0.003, log_every=2,
             evals_per_epoch=2, dense_epochs=1, progress=False)
    tr0, va0, te0 = _batches(0)
    tr1, va1, te1 = _batches(1)
    dss = fit_packed(PackedEventNetwork([_net(0), _net(1)]), _loss, predict_events_by_count, [tr0, tr1], [va0, va1],
                     [te0, te1], epochs=3, lrs=[0.003, 0.01], log_every=2, evals_per_epoch=2, dense_epochs=1,
                     progress=False)
    assert ds.sizes["samples_seen"] == 4  # two in the first epoch, then the ends of epochs 2 and 3
    _same_curves(dss[0], ds)


def test_fit_packed_refuses_mismatched_arguments():
    model = PackedEventNetwork([_net(0), _net(1)])
    tr, va, te = _batches(0)
    with pytest.raises(ValueError, match=r"lrs needs one entry per run \(R = 2\)"):
        fit_packed(model, _loss, predict_events_by_count, [tr, tr], [va, va], [te, te], epochs=1, lrs=[0.1])
    short = Batches(*_data(24), 12, _encode)
    with pytest.raises(ValueError, match="training batches differ"):
        fit_packed(model, _loss, predict_events_by_count, [tr, short], [va, va], [te, te], epochs=1,
                   lrs=[0.1, 0.1])


def test_check_packable_names_the_differing_field():
    a = SpikeTimeConfig(seed=0)
    check_packable([a, dataclasses.replace(a, seed=3, lr=0.01)])
    with pytest.raises(ValueError, match="'batch_size'"):
        check_packable([a, dataclasses.replace(a, batch_size=10)])
    with pytest.raises(ValueError, match="at least one"):
        check_packable([])


def test_run_packed_equals_driver_runs(data_dir, isolated_runs):
    """The driver's spike-time runs of a few MNIST digits (784-30-10), seeds 0, 1, 2, alone and packed:
    the same learning curves and best-validation weights, bit for bit."""
    base = SpikeTimeConfig(hidden=(30,), n_train=60, n_val=20, n_test=20, batch_size=20, epochs=1, log_every=1,
                           device="cpu")
    cfgs = [dataclasses.replace(base, seed=s) for s in (0, 1, 2)]
    alone = []
    for cfg in cfgs:
        ds = driver.run(cfg, progress=False)
        alone.append((ds, load_weights(driver.weights_file("spiketime", cfg.to_dict()))[0]))
    packed = run_packed(cfgs, progress=False)
    for cfg, (ds, w), pds in zip(cfgs, alone, packed):
        _same_curves(pds, ds)
        for k in ("scheme", "seed", "lr", "n_train", "sizes"):
            assert pds.attrs[k] == ds.attrs[k], k
        wp = load_weights(driver.weights_file("spiketime", cfg.to_dict()))[0]
        assert wp.keys() == w.keys() and all(torch.equal(wp[k], w[k]) for k in w)
