"""The Yin-Yang dataset (Kriener, Göltz & Petrovici 2021, arXiv:2102.08211), generated from its
published definition, and its spike-time encoding.

**Definition** (the authors' generator, ``lkriener/yin_yang_data_set``, ``dataset.py``): radii
``r_big = 0.5`` and ``r_small = 0.1``. A point ``(x, y)`` is drawn uniformly in the square
``[0, 2 r_big]^2`` and kept if it lies in the big circle (centre ``(r_big, r_big)``). With
``d_l, d_r`` its distances to the left and right dots' centres ``(r_big/2, r_big)`` and
``(3 r_big/2, r_big)``:

* class 2 (*dots*) if ``d_r < r_small`` or ``d_l < r_small``;
* else class 1 (*yin*) if ``d_r <= r_small`` or ``r_small < d_l <= r_big/2`` or
  (``y > r_big`` and ``d_r > r_big/2``);
* else class 0 (*yang*).

(The authors' ``class_names`` list reads ``['yin', 'yang', 'dot']`` while their ``which_class``
returns 1 for yin; the numbers here are theirs, the names follow the geometry.) Classes are balanced
by rejection sampling: each sample first draws its class uniformly from the three, then draws points
until one of that class. Each sample's features are ``(x, y, 1 - x, 1 - y)``, all in ``[0, 1]``.
The published splits are seeds 42 (training, 5,000), 41 (validation, 1,000) and 40 (test, 1,000);
this generator uses numpy's ``default_rng(seed)``, not the authors' global legacy RNG, so its points
are drawn from the same distribution but are not the same points.

**Encoding** (:func:`spike_times`): each feature ``f`` fires once at ``t_early + f (t_late - t_early)``,
and a bias input fires at ``t_bias`` (jaxsnn's Yin-Yang settings: ``t_late = 2 tau_s``, bias at 0).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

__all__ = ["YinYang", "generate", "which_class", "spike_times", "SPLITS", "CLASS_NAMES"]

R_BIG, R_SMALL = 0.5, 0.1
#: split -> (seed, size), the published choice
SPLITS = {"train": (42, 5000), "val": (41, 1000), "test": (40, 1000)}
CLASS_NAMES = ("yang", "yin", "dots")


class YinYang(NamedTuple):
    """Features ``x [n, 4]`` (float64, ``(x, y, 1-x, 1-y)``) and labels ``y [n]`` (int64, 0..2)."""

    x: np.ndarray
    y: np.ndarray


def which_class(x, y, r_big: float = R_BIG, r_small: float = R_SMALL) -> np.ndarray:
    """Class of points ``(x, y)`` inside the big circle (arrays; the definition above)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    d_r = np.hypot(x - 1.5 * r_big, y - r_big)
    d_l = np.hypot(x - 0.5 * r_big, y - r_big)
    yin = (d_r <= r_small) | ((d_l > r_small) & (d_l <= 0.5 * r_big)) | ((y > r_big) & (d_r > 0.5 * r_big))
    dots = (d_r < r_small) | (d_l < r_small)
    return np.where(dots, 2, yin.astype(np.int64))


def generate(n: int, seed: int, r_big: float = R_BIG, r_small: float = R_SMALL) -> YinYang:
    """``n`` samples, class drawn uniformly per sample, then points drawn until one of that class."""
    if not (isinstance(n, (int, np.integer)) and n >= 1):
        raise ValueError(f"n = {n!r}: expected a positive number of samples.")
    if not (0 < r_small < r_big / 2):
        raise ValueError(f"r_small = {r_small}, r_big = {r_big}: expected 0 < r_small < r_big / 2.")
    rng = np.random.default_rng(seed)
    goal = rng.integers(0, 3, n)
    out = np.empty((n, 2))
    todo = np.arange(n)
    while todo.size:  # batched rejection sampling: the same law as one sample at a time
        xy = rng.random((todo.size, 2)) * 2.0 * r_big
        inside = np.hypot(xy[:, 0] - r_big, xy[:, 1] - r_big) <= r_big
        ok = inside & (which_class(xy[:, 0], xy[:, 1], r_big, r_small) == goal[todo])
        out[todo[ok]] = xy[ok]
        todo = todo[~ok]
    x = np.column_stack([out, 1.0 - out])
    return YinYang(x, goal.astype(np.int64))


def load(split: str) -> YinYang:
    """The split ``"train"``, ``"val"`` or ``"test"`` at its published seed and size."""
    if split not in SPLITS:
        raise ValueError(f"split = {split!r}: expected one of {', '.join(SPLITS)}.")
    seed, size = SPLITS[split]
    return generate(size, seed)


def spike_times(features, t_late: float, t_early: float = 0.0, t_bias: float | None = 0.0,
                dtype=torch.float64) -> torch.Tensor:
    """Event-network input ``[B, 4 (+1), 1]`` (ms): feature ``f`` fires at ``t_early + f (t_late -
    t_early)``; with ``t_bias`` not None a fifth input fires at ``t_bias``."""
    f = np.asarray(features, float)
    if f.ndim != 2 or f.shape[1] != 4:
        raise ValueError(f"features of shape {f.shape}: expected [n, 4] (x, y, 1-x, 1-y).")
    if not (np.isfinite(t_late) and np.isfinite(t_early) and t_late > t_early >= 0):
        raise ValueError(f"t_early = {t_early}, t_late = {t_late}: expected 0 <= t_early < t_late, finite.")
    if f.min() < 0 or f.max() > 1:
        raise ValueError("Yin-Yang features lie in [0, 1].")
    t = t_early + f * (t_late - t_early)
    if t_bias is not None:
        if not (np.isfinite(t_bias) and t_bias >= 0):
            raise ValueError(f"t_bias = {t_bias}: expected a finite time >= 0 (or None for no bias input).")
        t = np.column_stack([t, np.full(len(t), float(t_bias))])
    return torch.as_tensor(t, dtype=dtype).unsqueeze(-1)
