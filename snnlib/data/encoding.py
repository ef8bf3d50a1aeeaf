"""Input encodings: time-to-first-spike (latency), rate (Poisson), event streams to time bins.

Time in ms. Event trains are padded ``[B, N, K]`` with ``+inf``; dense rasters are time-major
``[T, B, N]``.
"""

from __future__ import annotations

import numpy as np
import torch

from snnlib.clock.raster import Raster
from snnlib.model.discretization import grid_index

__all__ = ["ttfs", "rate", "rate_fixed", "events_to_bins", "times_raster", "shuffle_times", "shuffled_recordings",
           "SPLIT_STREAMS"]

def ttfs(images, t_max: float = 100.0, dtype=torch.float64) -> torch.Tensor:
    """Time-to-first-spike code of 8-bit images: ``t = t_max * (1 - pixel/255)``; black pixels are silent.

    ``images``: ``[B, H, W]`` or ``[B, N]`` uint8 (numpy or torch). Returns spike times
    ``[B, N, 1]`` in ms with ``+inf`` for silent (zero) pixels (BATS, Bacho & Chu 2023, Sec. 4).
    """
    if t_max <= 0 or not np.isfinite(t_max):
        raise ValueError(f"t_max = {t_max} must be positive and finite (ms).")
    x = torch.tensor(np.asarray(images)).reshape(len(images), -1).to(torch.float64)
    if x.min() < 0 or x.max() > 255:
        raise ValueError("ttfs expects 8-bit pixel values in [0, 255].")
    # in float64, then rounded once to ``dtype``: a time on a grid point stays on it (in float32
    # arithmetic pixel 102 gave 60.000004 ms, delivered a step late by the grid's ceil rule)
    t = t_max * (1.0 - x / 255.0)
    return torch.where(x > 0, t, torch.full_like(t, float("inf"))).to(dtype).unsqueeze(-1)


def rate(images, n_steps: int, gain: float = 1.0, generator: torch.Generator | None = None,
         dtype=torch.float32) -> torch.Tensor:
    """Rate (Bernoulli/Poisson) code: in each of ``n_steps`` bins a pixel spikes with probability
    ``gain * pixel/255`` (snnTorch ``spikegen.rate``). Returns a raster ``[T, B, N]`` of 0/1."""
    if n_steps < 1:
        raise ValueError(f"n_steps = {n_steps} must be >= 1.")
    if not 0 < gain <= 1:
        raise ValueError(f"gain = {gain} must be in (0, 1].")
    p = torch.tensor(np.asarray(images)).reshape(len(images), -1).to(dtype) / 255.0 * gain
    u = torch.rand((n_steps, *p.shape), generator=generator, dtype=dtype)
    return (u < p).to(dtype)


#: the random stream of each split, for the codes fixed per sample (:func:`rate_fixed`,
#: :func:`shuffled_recordings`): every scheme encodes a split's sample the same way
SPLIT_STREAMS = {"train": 0, "val": 1, "test": 2}


def _sample_seed(seed: int, stream: int, key: int) -> int:
    return int(np.random.SeedSequence([seed, stream, key]).generate_state(1, np.uint64)[0] >> 1)


def rate_fixed(images, keys, n_steps: int, gain: float = 1.0, seed: int = 0, stream: int = 0,
               dtype=torch.float32) -> torch.Tensor:
    """:func:`rate` with each sample's spikes a fixed function of ``(seed, stream, key)``.

    ``keys``: one non-negative integer per image (its index in its split). Encoding the same
    samples again, in any batch or order, gives the same raster: an evaluation split seen every
    epoch is the same input every epoch. ``stream`` tells splits apart (e.g. 1 = validation,
    2 = test). Returns ``[T, B, N]`` of 0/1.
    """
    if n_steps < 1:
        raise ValueError(f"n_steps = {n_steps} must be >= 1.")
    keys = np.asarray(keys).reshape(-1)
    if len(keys) != len(images):
        raise ValueError(f"{len(keys)} keys for {len(images)} images: give one key per image.")
    out = [rate(images[i : i + 1], n_steps, gain,
                generator=torch.Generator().manual_seed(_sample_seed(seed, stream, int(k))), dtype=dtype)
           for i, k in enumerate(keys)]
    return torch.cat(out, dim=1) if out else rate(images, n_steps, gain, dtype=dtype)


def shuffle_times(events: np.ndarray, seed: int) -> np.ndarray:
    """The time-shuffled control of one event recording: a copy whose event times are permuted among
    its events (seeded), then put in time order. Each address ``(x, y, p)`` keeps its number of events
    and the recording keeps its set of times (so its event rate over time); only which address fires
    when is random. A network that does as well on shuffled recordings does not use their timing."""
    ev = np.array(events, copy=True)
    if ev.dtype.names is None or "t" not in ev.dtype.names:
        raise ValueError("events: expected a structured array with a 't' field (tonic's event recordings).")
    ev["t"] = np.random.default_rng(seed).permutation(ev["t"])
    return ev[np.argsort(ev["t"], kind="stable")]


def shuffled_recordings(x, idx, seed: int, stream: int) -> list:
    """The event recordings ``x[i][0]`` for ``i`` in ``idx``, each time-shuffled
    (:func:`shuffle_times`) with a seed fixed by ``(seed, stream, i)``: the same control every epoch
    and in any batch (``stream`` tells splits apart, as in :func:`rate_fixed`)."""
    return [shuffle_times(x[int(i)][0], _sample_seed(seed, stream, int(i))) for i in idx]


def events_to_bins(events: np.ndarray, sensor_size=(34, 34, 2), n_bins: int | None = None,
                   bin_ms: float | None = None, t_max_ms: float | None = None) -> np.ndarray:
    """Bin an event stream (tonic structured array, ``t`` in µs) into frames ``[T, P, H, W]`` of counts.

    Give ``n_bins`` (equal bins over the recording) or ``bin_ms`` (fixed bin width from t = 0, over
    ``t_max_ms`` when given). Uses :class:`tonic.transforms.ToFrame`.
    """
    import tonic.transforms as T  # optional: tonic (slow to import), only for N-MNIST

    if (n_bins is None) == (bin_ms is None):
        raise ValueError("give exactly one of n_bins and bin_ms.")
    if bin_ms is not None:
        if bin_ms <= 0:
            raise ValueError(f"bin_ms = {bin_ms} must be positive.")
        if t_max_ms is not None:
            events = events[events["t"] < t_max_ms * 1000.0]
        frames = T.ToFrame(sensor_size=sensor_size, time_window=bin_ms * 1000.0, start_time=0,
                           end_time=None if t_max_ms is None else t_max_ms * 1000.0)(events)
    else:
        frames = T.ToFrame(sensor_size=sensor_size, n_time_bins=n_bins)(events)
    return np.asarray(frames)


def _step_index(t, dt: float, rounding: str):
    """Bin of times ``t`` (ms): ``floor(t / dt)`` (the bin that contains it) or ``ceil(t / dt)`` (the
    next grid point, where the exact grid of :mod:`snnlib.clock.stepping` delivers it,
    :func:`snnlib.model.discretization.grid_index`; a time on the
    grid up to rounding stays on its point) or ``round(t / dt)`` (``"nearest"``: seed 000's binning of
    N-MNIST's events)."""
    if rounding == "floor":
        return np.floor(t / dt) if isinstance(t, np.ndarray) else torch.floor(t / dt)
    if rounding == "ceil":
        return grid_index(t, dt)
    if rounding == "nearest":  # the nearest bin (half-way times to the even one, as numpy and torch round)
        return np.round(t / dt) if isinstance(t, np.ndarray) else torch.round(t / dt)
    raise ValueError(f"rounding = {rounding!r}: expected 'floor', 'ceil' or 'nearest'.")


def ttfs_raster(images, n_steps: int, dt: float = 1.0, t_in: float = 100.0, rounding: str = "floor"):
    """Time-to-first-spike code on a clock: the spike of :func:`ttfs` falls in bin ``floor(t / dt)``
    (``rounding="ceil"``: at grid point ``ceil(t / dt)``, for the exact grid).

    Returns a sparse :class:`snnlib.clock.raster.Raster` ``[n_steps, B, H*W]``; spikes past the window
    are dropped (none when ``n_steps * dt > t_in``).
    """
    return times_raster(ttfs(images, t_in), n_steps, dt, rounding)


def times_raster(times, n_steps: int, dt: float = 1.0, rounding: str = "floor"):
    """Input spike times ``[B, N, K]`` (ms, ``+inf`` padded; an event network's input) on a clock:
    a spike at ``t`` falls in bin ``floor(t / dt)`` (``rounding="ceil"``: at grid point
    ``ceil(t / dt)``, for the exact grid), one spike per (bin, input) at most (OR).

    Returns a sparse :class:`snnlib.clock.raster.Raster` ``[n_steps, B, N]``; spikes past the window
    are dropped.
    """
    if n_steps < 1 or not (dt > 0):
        raise ValueError(f"n_steps = {n_steps}, dt = {dt}: expected n_steps >= 1 and dt > 0 (ms).")
    t = torch.as_tensor(times)
    if t.dim() != 3:
        raise ValueError(f"times of shape {tuple(t.shape)}: expected [B, N, K] spike times (ms).")
    B, N, K = t.shape
    b, n, k = torch.isfinite(t).nonzero(as_tuple=True)
    step = _step_index(t[b, n, k], dt, rounding).long().clamp_min(0)
    keep = step < n_steps
    step, b, n = step[keep], b[keep], n[keep]
    if K > 1:  # several spikes of one input in one bin: one
        key = torch.unique((step * B + b) * N + n)
        step, b, n = key // (B * N), (key // N) % B, key % N
    return Raster((n_steps, B, N), step, b, n)


def events_raster(recordings, n_steps: int, dt: float = 1.0, sensor_size=(34, 34, 2), rounding: str = "floor",
                  merge: bool = True):
    """Event-camera recordings (tonic structured arrays, ``t`` in µs) binned into ``dt``-ms bins,
    one spike per (bin, pixel, polarity) at most (OR binning; ``merge=False``: every event, a count
    raster whose repeated entries :func:`snnlib.clock.raster.sparse_projection` adds up);
    ``rounding="ceil"``: an event goes to grid point ``ceil(t / dt)`` instead of bin ``floor(t / dt)``
    (the exact grid's delivery). Neuron index ``p * H * W + y * W + x`` (the order of tonic's
    ``ToFrame``). Events past the window are dropped. Returns a sparse
    :class:`snnlib.clock.raster.Raster` ``[n_steps, B, 2 H W]``."""
    if n_steps < 1 or not (dt > 0):
        raise ValueError(f"n_steps = {n_steps}, dt = {dt}: expected n_steps >= 1 and dt > 0 (ms).")
    _step_index(np.zeros(0), dt, rounding)  # refuses an unknown rounding before any work
    W, H, P = sensor_size
    n_in = W * H * P
    keys = []
    for b, ev in enumerate(recordings):
        step = _step_index(np.asarray(ev["t"], dtype=np.float64) / 1000.0, dt, rounding).astype(np.int64)
        keep = step < n_steps
        n = ev["p"][keep].astype(np.int64) * (H * W) + ev["y"][keep].astype(np.int64) * W + ev["x"][keep]
        key = (step[keep] * len(recordings) + b) * n_in + n
        keys.append(np.unique(key) if merge else np.sort(key))
    key = torch.from_numpy(np.concatenate(keys)) if keys else torch.zeros(0, dtype=torch.long)
    n = key % n_in
    tb = key // n_in
    return Raster((n_steps, len(recordings), n_in), tb // len(recordings), tb % len(recordings), n)


def event_times(recordings, t_max: float, sensor_size=(34, 34, 2), max_per_input: int | None = None,
                dtype=torch.float32) -> torch.Tensor:
    """Event-camera recordings (tonic structured arrays, ``t`` in µs) as multi-spike input times in
    ms for an event-driven network: ``[B, 2 H W, K]``, each input's events in time order, ``inf``
    padding, ``K`` the most events of one input in the batch (at most ``max_per_input``: later
    events of a busier input are dropped). Input index ``p * H * W + y * W + x`` (as
    :func:`events_raster`); events at or after ``t_max`` are dropped."""
    if not (t_max > 0):
        raise ValueError(f"t_max = {t_max}: expected a positive window (ms).")
    if max_per_input is not None and max_per_input < 1:
        raise ValueError(f"max_per_input = {max_per_input}: expected >= 1 or None.")
    W, H, P = sensor_size
    n_in = W * H * P
    per = []
    for ev in recordings:
        t = np.asarray(ev["t"], dtype=np.float64) / 1000.0
        keep = t < t_max
        n = (ev["p"][keep].astype(np.int64) * (H * W) + ev["y"][keep].astype(np.int64) * W
             + ev["x"][keep].astype(np.int64))
        order = np.lexsort((t[keep], n))  # by input, then time
        n, t = n[order], t[keep][order]
        rank = np.arange(len(n)) - np.searchsorted(n, n, side="left")  # index among the input's events
        per.append((n, t, rank))
    k = max((int(r.max()) + 1 for _, _, r in per if len(r)), default=1)
    if max_per_input is not None:
        k = min(k, max_per_input)
    out = np.full((len(recordings), n_in, k), np.inf)
    for b, (n, t, r) in enumerate(per):
        m = r < k
        out[b, n[m], r[m]] = t[m]
    return torch.as_tensor(out, dtype=dtype)
