"""The train / validation / test splits of the training runs, from a config's data fields.

A config (any object with the fields below; every training config has them) says which samples:
``n_val`` held out of the training set for model selection (seeded by ``val_seed``), then the
first ``n_train`` / ``n_test`` samples kept (``None``: all); for N-MNIST also ``nmnist_subset``
and ``test_from_train`` (training recordings held out and appended to the test recordings).
"""

from __future__ import annotations

import numpy as np

from snnlib.data import datasets as data_
from snnlib.data import yinyang

__all__ = ["mnist_splits", "nmnist_splits", "yinyang_splits"]
from snnlib.config import ConfigError


def mnist_splits(cfg) -> dict:
    """MNIST train / val / test with ``n_val`` training digits held out and ``n_train`` / ``n_test``
    first samples kept (``None``: all)."""
    sets = {s: data_.load_mnist(s, n_val=cfg.n_val, val_seed=cfg.val_seed) for s in ("train", "val", "test")}
    for split, n in (("train", cfg.n_train), ("test", cfg.n_test)):
        if n is not None:
            sets[split] = (sets[split][0][:n], sets[split][1][:n])
    return sets


def nmnist_splits(cfg) -> dict:
    """N-MNIST train / val / test of ``cfg.nmnist_subset``: ``n_val`` recordings and ``test_from_train``
    more held out of the training recordings (seeded by ``val_seed``; the latter appended to the
    official test recordings), then the first ``n_train`` / ``n_test`` of each kept."""
    train, test = data_.NMNIST("train", subset=cfg.nmnist_subset), data_.NMNIST("test", subset=cfg.nmnist_subset)
    if cfg.n_val + cfg.test_from_train >= len(train):
        raise ConfigError(f"{type(cfg).__name__}.n_val = {cfg.n_val}, test_from_train = {cfg.test_from_train}: N-MNIST "
                          f"({cfg.nmnist_subset}) has only {len(train)} training recordings to hold them out of.")
    tr, va, *extra = data_.split_indices(len(train), cfg.n_val, cfg.val_seed, cfg.test_from_train)
    sets = {"train": (_Subset(train, tr), train.targets[tr]), "val": (_Subset(train, va), train.targets[va]),
            "test": (test, test.targets)}
    if extra:  # the official test recordings, then the held-out training recordings
        ex = extra[0]
        sets["test"] = (_Concat(test, _Subset(train, ex)), np.concatenate([test.targets, train.targets[ex]]))
    for split, n in (("train", cfg.n_train), ("test", cfg.n_test)):
        if n is not None:
            x, y = sets[split]
            sets[split] = (_Subset(x, np.arange(min(n, len(y)))), y[:n])
    return sets


class _Concat:
    """Two datasets one after the other."""

    def __init__(self, a, b):
        self.a, self.b = a, b

    def __len__(self):
        return len(self.a) + len(self.b)

    def __getitem__(self, i):
        i = int(i)
        return self.a[i] if i < len(self.a) else self.b[i - len(self.a)]


class _Subset:
    def __init__(self, base, idx):
        self.base, self.idx = base, np.asarray(idx)

    def __len__(self):
        return len(self.idx)

    def __getitem__(self, i):
        return self.base[int(self.idx[i])]


def yinyang_splits(cfg) -> dict:
    """Yin-Yang's published splits (:data:`snnlib.data.yinyang.SPLITS`: 5,000 / 1,000 / 1,000 points,
    seeds 42 / 41 / 40): features ``[n, 4]`` and labels. The validation split is its own set, not
    held out of the training points: ``n_val`` keeps its first ``n_val`` points (at most 1,000;
    ``val_seed`` plays no part), ``n_train`` / ``n_test`` the first points of the others."""
    size = yinyang.SPLITS["val"][1]
    if not 1 <= cfg.n_val <= size:
        raise ConfigError(f"{type(cfg).__name__}.n_val = {cfg.n_val}: Yin-Yang's validation split has {size} points; "
                          f"expected 1 to {size}.")
    sets = {s: tuple(yinyang.load(s)) for s in ("train", "val", "test")}
    for split, n in (("train", cfg.n_train), ("val", cfg.n_val), ("test", cfg.n_test)):
        if n is not None:
            sets[split] = (sets[split][0][:n], sets[split][1][:n])
    return sets
