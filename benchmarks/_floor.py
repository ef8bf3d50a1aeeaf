"""What this machine can do, measured where the benchmark runs, and the floor model of each workload.

A benchmark's ratio to snnTorch says how far ahead of a peer it is; its **fraction of floor** says how
far it is from what the machine allows. The floor of a workload is a lower bound on its time: each
operation the computation cannot avoid, counted at the measured throughput of the primitive that
does it, nothing overlapped, everything not counted free. ``fraction = floor / measured time``
(1 would mean the implementation does nothing but the counted work at the primitives' speed).

**Primitives** (one thread, float32 unless stated, median of rounds; :func:`primitives`):

* ``gemm(m, k, n)``: FLOP/s of ``torch.matmul`` of ``[m, k] @ [k, n]`` at the layer shapes.
* ``stream(nbytes)``: bytes/s of a triad ``a = b + s c`` (numba, contiguous) on arrays of the size
  of the workload's state arrays (``nbytes`` each), counting 12 bytes per element (2 reads, 1 write).
  On this machine's large L3 the relevant level is the one the state actually lives in, so the
  triad is run at that size, not at a fixed size beyond the caches.
* ``scatter(row, n_src, n_dst)``: adds/s of ``dst[r_k, :] += src[s_k, :]`` with random row
  indices, rows of ``row`` floats (the per-event work of a sparse projection and of an event layer:
  one weight row added into one state row).
* ``grid(n, k)``: (point, neuron) updates/s of an order-``k`` polynomial step of the CuBa-LIF state
  ``(v, i)`` over ``n`` neurons held in cache, float64 (the integrated network's spike-free work):
  ``v <- A(h) v + B(h) i``, ``i <- C(h) i`` with ``A, B, C`` evaluated once per step.

**Floor models** (seconds per training step; each model's docstring lists what it counts).
"""

from __future__ import annotations

import statistics
import time

import numba as nb
import numpy as np

__all__ = ["primitives", "Primitives", "bptt_floor", "event_floor", "grid_floor"]


def _median_seconds(fn, rounds: int = 7, min_s: float = 0.02) -> float:
    """Median over ``rounds`` of the time of one call of ``fn``, each round repeating it for at least
    ``min_s`` seconds (one call first, not timed: compilation, first-touch)."""
    fn()
    out = []
    for _ in range(rounds):
        n, t0 = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            dt = time.perf_counter() - t0
            if dt >= min_s:
                break
        out.append(dt / n)
    return statistics.median(out)


@nb.njit(cache=True, fastmath=False)
def _triad(a, b, c, s):
    for j in range(a.shape[0]):
        a[j] = b[j] + s * c[j]


@nb.njit(cache=True, fastmath=False)
def _scatter(dst, dst_rows, src, src_rows):
    for k in range(dst_rows.shape[0]):
        d = dst[dst_rows[k]]
        s = src[src_rows[k]]
        for j in range(d.shape[0]):
            d[j] += s[j]


@nb.njit(cache=True, fastmath=False)
def _grid(v, i, cf, n_points):
    # an order-k Taylor step of (v, i): coefficients of A, B, C at one step, applied at every point
    k = cf.shape[1]
    for p in range(n_points):
        a = 0.0
        b = 0.0
        c = 0.0
        x = 1.0 + 1e-9 * p
        for j in range(k - 1, -1, -1):  # Horner (evaluated once per point: the step may vary)
            a = a * x + cf[0, j]
            b = b * x + cf[1, j]
            c = c * x + cf[2, j]
        for n in range(v.shape[0]):
            vn = a * v[n] + b * i[n]
            i[n] = c * i[n]
            v[n] = vn


class Primitives:
    """Throughputs of the primitives on this machine, measured on first use and cached per shape."""

    def __init__(self, rounds: int = 7):
        self.rounds = rounds
        self.measured: dict[str, float] = {}

    def _get(self, key: str, measure) -> float:
        if key not in self.measured:
            self.measured[key] = measure()
        return self.measured[key]

    def gemm(self, m: int, k: int, n: int) -> float:
        """FLOP/s of a float32 ``[m, k] @ [k, n]`` (torch, current thread count)."""
        import torch

        def measure():
            g = torch.Generator().manual_seed(0)
            a, b = torch.rand(m, k, generator=g), torch.rand(k, n, generator=g)
            out = torch.empty(m, n)
            return 2.0 * m * k * n / _median_seconds(lambda: torch.matmul(a, b, out=out), self.rounds)
        return self._get(f"gemm {m}x{k}x{n}", measure)

    def stream(self, nbytes: int) -> float:
        """Bytes/s of a float32 triad on three arrays of ``nbytes`` each (12 bytes per element)."""
        n = max(int(nbytes) // 4, 1 << 14)

        def measure():
            rng = np.random.default_rng(0)
            a, b, c = np.empty(n, np.float32), rng.random(n, np.float32), rng.random(n, np.float32)
            return 12.0 * n / _median_seconds(lambda: _triad(a, b, c, np.float32(0.5)), self.rounds)
        return self._get(f"stream {4 * n}", measure)

    def scatter(self, row: int, n_src: int, n_dst: int, n_ops: int = 20000) -> float:
        """Adds/s of random row scatter-adds ``dst[r] += src[s]`` (float32 rows of ``row``)."""
        def measure():
            rng = np.random.default_rng(0)
            src = rng.random((n_src, row), np.float32)
            dst = np.zeros((n_dst, row), np.float32)
            s = rng.integers(0, n_src, n_ops)
            d = np.sort(rng.integers(0, n_dst, n_ops))  # projections write their rows in order
            return float(n_ops) * row / _median_seconds(lambda: _scatter(dst, d, src, s), self.rounds)
        return self._get(f"scatter {row} {n_src} {n_dst}", measure)

    def grid(self, n: int, k: int, n_points: int = 2000) -> float:
        """(point, neuron) updates/s of an order-``k`` polynomial CuBa-LIF step over ``n`` neurons."""
        def measure():
            v, i = np.zeros(n), np.ones(n)
            cf = np.full((3, k + 1), 1e-3)
            return float(n_points) * n / _median_seconds(lambda: _grid(v, i, cf, n_points), self.rounds)
        return self._get(f"grid {n} {k}", measure)

    def as_dict(self) -> dict:
        """The measured throughputs (for the result file)."""
        return dict(self.measured)


_CACHE: Primitives | None = None


def primitives() -> Primitives:
    """The process's primitive measurements (one set per benchmark process)."""
    global _CACHE
    if _CACHE is None:
        _CACHE = Primitives()
    return _CACHE


def _sum(parts: dict) -> dict:
    return {"floor_s": sum(parts.values()), "parts_s": parts}


def bptt_floor(p: Primitives, sizes, B: int, T: int, spikes) -> dict:
    """Sparse floor of a clock-driven BPTT training step (forward, backward, Adam) of a layer stack
    ``sizes`` at batch ``B`` and ``T`` steps, given ``spikes[l]``: the spikes per batch entering
    projection ``l`` (``spikes[0]`` the input's, then each hidden layer's, measured in the run).

    Counted, for projection ``l`` (``N_in -> N_out``, ``TB`` rows):

    * forward and weight gradient: each the cheaper of ``spikes[l] * N_out`` scatter-adds (a
      binary input adds one weight row per spike) and the dense GEMM ``2 TB N_in N_out``;
    * input gradient (past the first projection; the surrogate makes every step's gradient count):
      the dense GEMM ``2 TB N_out N_in``;
    * the neuron's state traffic, ``TB N_out`` elements of 28 bytes (forward reads the input current
      and writes spikes and voltage, 12 B; backward reads the spike gradient, voltage and spikes and
      writes the current gradient, 16 B), at the triad bandwidth of arrays that size;
    * Adam: 28 bytes per parameter (reads weight, gradient, two moments; writes weight, two moments).

    Not counted: the loss, the surrogate's arithmetic, index building, allocation, Python.
    """
    parts = {}
    rows = T * B
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        sparse = spikes[l] * n_out / p.scatter(n_out, n_in, rows)
        dense = 2.0 * rows * n_in * n_out / p.gemm(rows, n_in, n_out)
        parts[f"projection {l} forward"] = min(sparse, dense)
        dense_wg = 2.0 * rows * n_in * n_out / p.gemm(n_out, rows, n_in)
        parts[f"projection {l} weight gradient"] = min(sparse, dense_wg)
        if l > 0:
            parts[f"projection {l} input gradient"] = 2.0 * rows * n_in * n_out / p.gemm(rows, n_out, n_in)
        parts[f"neurons {l} state"] = 28.0 * rows * n_out / p.stream(4 * rows * n_out)
    n_par = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    parts["adam"] = 28.0 * n_par / p.stream(4 * n_par)
    return _sum(parts)


def _pairs(p: Primitives, sizes, B: int, events) -> dict:
    """Scatter-adds of the (event, neuron) pairs: forward, weight gradient and, past the first
    layer, input gradient (each one row of ``N_out`` per event and sample)."""
    parts = {}
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        passes = 3 if l > 0 else 2
        parts[f"layer {l} pairs"] = passes * B * events[l] * n_out / p.scatter(n_out, n_in, 64)
    return parts


def event_floor(p: Primitives, sizes, B: int, events) -> dict:
    """Event floor of an exact spike-time training step at batch ``B``, given ``events[l]``: the spikes
    per sample entering layer ``l`` (the input's, then each hidden layer's, measured in the run).

    Counted, per sample, for layer ``l`` (``N_in -> N_out``), per (event, neuron) pair
    (``events[l] * N_out`` of them): in the forward, one scatter-add (the event's weight row into the
    neurons' currents) and one first-order state step (the decay of ``(v, i)`` to the event's time,
    at the grid rate with ``k = 1``); in the backward, one scatter-add for the weight gradient (the
    adjoint read at the event, added into the weight row) and one adjoint step; past the first
    layer, one more scatter-add for the input gradient.

    Not counted: the threshold tests and crossing solves (a few transcendental functions per output
    spike), sorting and merging the events, Adam and the loss.
    """
    parts = _pairs(p, sizes, B, events)
    for l, n_out in enumerate(sizes[1:]):
        parts[f"layer {l} decay steps"] = 2.0 * B * events[l] * n_out / p.grid(n_out, 1)
    return _sum(parts)


def grid_floor(p: Primitives, sizes, B: int, events, points, order: int) -> dict:
    """Grid floor of an integrated event network's training step (adjusted or piggyback gradient)
    at batch ``B``: the scatter-adds of the (event, neuron) pairs (as in :func:`event_floor`), plus,
    per sample and layer, ``points[l] * N_out`` order-``order`` polynomial steps of the state in the
    forward and as many adjoint steps in the backward, at the measured grid rate (``points[l]``: the
    grid points the layer visits per sample, the step grid merged with its input's distinct event
    times, so that the decay to each event is one of these steps).

    Not counted: the spike rule's crossing solves, recording, Adam and the loss.
    """
    parts = _pairs(p, sizes, B, events)
    for l, n_out in enumerate(sizes[1:]):
        parts[f"layer {l} grid"] = 2.0 * B * points[l] * n_out / p.grid(n_out, order)
    return _sum(parts)
