"""Rate code: each split has its own random stream; evaluation input is the same every epoch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnlib.data import encoding
from snnlib.training.loop import Batches
from snnlib.training.schemes import bptt


def _images(n=12, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28), dtype=np.uint8)


def _dense(r):
    return r.to_dense() if hasattr(r, "to_dense") else r


def _rate_cfg(**kw):
    return bptt.Config(dataset="mnist", encoding="rate", tau_s=0.0, n_steps=20, **kw)


def test_test_split_encoded_twice_gives_identical_spikes_the_training_stream_advances():
    x, cfg = _images(), _rate_cfg()
    idx = np.arange(len(x))
    test = bptt.encoder(cfg, seed=0, split="test")
    first, second = _dense(test(x, idx)), _dense(test(x, idx))
    assert first.sum() > 0
    assert torch.equal(first, second)
    train = bptt.encoder(cfg, seed=0, split="train")
    assert not torch.equal(_dense(train(x, idx)), _dense(train(x, idx)))  # fresh spikes every epoch
    # splits differ from each other, and another seed gives another fixed code
    assert not torch.equal(first, _dense(bptt.encoder(cfg, seed=0, split="val")(x, idx)))
    assert not torch.equal(first, _dense(bptt.encoder(cfg, seed=1, split="test")(x, idx)))


def test_evaluation_epochs_see_the_same_batches_even_after_training_batches():
    """What fit() does each epoch: train batches, then the test split; the test input never changes."""
    x, y, cfg = _images(10), np.arange(10) % 10, _rate_cfg()
    train = Batches(x, y, 4, bptt.encoder(cfg, 0, "train"), shuffle=True, seed=0)
    test = Batches(x, y, 4, bptt.encoder(cfg, 0, "test"))
    epochs = []
    for epoch in range(2):
        train.epoch = epoch
        for _ in train:
            pass
        epochs.append([_dense(inp) for inp, _ in test])
    assert all(torch.equal(a, b) for a, b in zip(*epochs))


def test_fixed_code_does_not_depend_on_batch_composition_and_keeps_the_rate():
    x = _images(8)
    whole = encoding.rate_fixed(x, np.arange(8), 30, seed=3, stream=2)
    part = encoding.rate_fixed(x[5:], np.arange(5, 8), 30, seed=3, stream=2)
    assert torch.equal(whole[:, 5:], part)
    # a pixel of value p spikes with probability p / 255 per bin: check on a large flat image
    flat = np.full((1, 100, 100), 51, dtype=np.uint8)  # p = 0.2
    r = encoding.rate_fixed(flat, [0], 50, seed=0)
    n = r.numel()
    # 5 standard errors of a binomial proportion
    assert abs(float(r.mean()) - 0.2) < 5 * np.sqrt(0.2 * 0.8 / n)
    with pytest.raises(ValueError, match="one key per image"):
        encoding.rate_fixed(x, [0, 1], 30)


def _recording(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, dtype=[("x", np.int16), ("y", np.int16), ("p", np.int8), ("t", np.int64)])
    ev["x"], ev["y"], ev["p"] = rng.integers(0, 34, n), rng.integers(0, 34, n), rng.integers(0, 2, n)
    ev["t"] = np.sort(rng.integers(0, 300_000, n))
    return ev


def test_the_time_shuffled_control_changes_nothing_but_the_times():
    """Same addresses with the same counts, same set of times, time order kept; which address fires
    when is new; the same seed gives the same control."""
    from collections import Counter

    from snnlib.data.encoding import shuffle_times

    ev = _recording(500, 0)
    sh = shuffle_times(ev, seed=7)
    assert sh.dtype == ev.dtype and len(sh) == len(ev)
    addr = lambda e: Counter(zip(e["x"].tolist(), e["y"].tolist(), e["p"].tolist()))  # noqa: E731
    assert addr(sh) == addr(ev)
    np.testing.assert_array_equal(sh["t"], ev["t"])  # the same times, in order
    pairs = lambda e: set(zip(e["x"].tolist(), e["y"].tolist(), e["p"].tolist(), e["t"].tolist()))  # noqa: E731
    assert len(pairs(sh) & pairs(ev)) < 0.05 * len(ev)  # almost every event moved
    np.testing.assert_array_equal(shuffle_times(ev, seed=7), sh)
    assert not np.array_equal(shuffle_times(ev, seed=8), sh)
    np.testing.assert_array_equal(ev, _recording(500, 0))  # the input is not changed in place


def test_both_schemes_see_the_same_time_shuffled_recordings():
    """The BPTT scheme's raster and the spike-time scheme's input times of the control hold the same
    events (binned at 1 ms), fixed per (seed, split, index) whatever the batch."""
    import torch

    from snnlib.data import encoding
    from snnlib.training.schemes import bptt, spiketime

    x = [(_recording(200, i), 0) for i in range(4)]
    cb = bptt.BPTTConfig(dataset="nmnist", hidden=(8,), n_steps=300, time_shuffle=True, seed=3, clock="exact", tau_s=5.0)
    cs = spiketime.SpikeTimeConfig(dataset="nmnist", hidden=(8,), t_max=300.0, time_shuffle=True, seed=3)
    r = bptt.encoder(cb, cb.seed, "val")(x, [2, 3]).to_dense()
    t = spiketime.SpikeTimeScheme().encoder(cs, "val")(x, [2, 3])
    again = spiketime.SpikeTimeScheme().encoder(cs, "val")(x, [3])
    from_times = encoding.times_raster(t.double(), 300, 1.0, "ceil").to_dense()
    assert torch.equal(from_times, r)
    alone = encoding.times_raster(again.double(), 300, 1.0, "ceil").to_dense()
    assert torch.equal(alone[:, 0], from_times[:, 1])  # recording 3 alone: the same control
    plain = bptt.encoder(bptt.BPTTConfig(dataset="nmnist", hidden=(8,), n_steps=300, seed=3, clock="exact", tau_s=5.0),
                         3, "val")(x, [2, 3]).to_dense()
    assert not torch.equal(plain, r)
    with pytest.raises(Exception, match="time_shuffle"):
        bptt.BPTTConfig(dataset="mnist", time_shuffle=True)


def test_ttfs_times_are_rounded_once_to_their_dtype():
    """float32 times are the float64 times rounded once: a time on a grid point stays on it (pixel 102
    is 60 ms, not 60.000004), so the grid's ceil rule delivers it at 60 ms in every scheme."""
    img = np.arange(256, dtype=np.uint8)[None]
    t32, t64 = encoding.ttfs(img, 100.0, dtype=torch.float32), encoding.ttfs(img, 100.0)
    assert t32.dtype == torch.float32 and torch.equal(t32, t64.to(torch.float32))
    assert t32[0, [51, 102, 153, 204], 0].tolist() == [80.0, 60.0, 40.0, 20.0]
