"""Sparse spike rasters of the clock-driven layers and the projections that exploit their sparsity.

A :class:`Raster` stores a binary raster ``[T, B, N]`` by its spikes; :func:`sparse_projection`
(the first layer's input) and :func:`spike_projection` (a hidden layer's spikes, which need a
gradient) multiply a binary raster by ``W^T`` at a cost proportional to the spikes, with the same
values and gradients as the dense matmul (which :func:`spike_projection` takes itself above a measured
spike density, :func:`dense_threshold`); :func:`rebin` merges time bins.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from snnlib.clock import kernels as K

__all__ = ["Raster", "sparse_projection", "spike_projection", "dense_threshold", "rebin"]


class Raster(NamedTuple):
    """A binary raster ``[T, B, N]`` stored by its spikes: step ``t``, sample ``b``, neuron ``n`` (an
    entry repeated ``m`` times is a count of ``m``: :func:`sparse_projection` and :meth:`to_dense` add
    them up; :func:`snnlib.data.encoding.events_raster` with ``merge=False``).

    Sparse inputs (time-to-first-spike digits, event-camera recordings) are a few percent of
    the dense raster or less; the first layer reads them with :func:`sparse_projection`.
    """

    shape: tuple[int, int, int]
    t: Tensor
    b: Tensor
    n: Tensor

    @classmethod
    def from_dense(cls, raster: Tensor) -> "Raster":
        if not bool(((raster == 0) | (raster == 1)).all()):
            raise ValueError("a Raster holds a binary (0/1) raster; use a dense matmul for counts.")
        t, b, n = raster.nonzero(as_tuple=True)
        return cls(tuple(raster.shape), t, b, n)

    def to_dense(self, dtype=torch.float32) -> Tensor:
        out = torch.zeros(self.shape, dtype=dtype, device=self.t.device)
        out.index_put_((self.t, self.b, self.n), torch.ones(len(self.t), dtype=dtype, device=self.t.device),
                       accumulate=True)
        return out


class _SparseProjection(torch.autograd.Function):
    """``x[t, b] = sum_i W[:, i] in[t, b, i]`` for a 0/1 input given by its events (embedding-bag)."""

    @staticmethod
    def forward(ctx, weight, rows, cols, n_rows):
        wt = weight.detach().t().contiguous()  # rows of W^T are contiguous: a cheap gather per event
        out = weight.new_zeros(n_rows, weight.shape[0])
        _gather_add(out, rows, wt, cols)
        ctx.save_for_backward(rows, cols)
        ctx.n_in = weight.shape[1]
        return out

    @staticmethod
    def backward(ctx, g):
        rows, cols = ctx.saved_tensors
        gwt = g.new_zeros(ctx.n_in, g.shape[1])
        _gather_add(gwt, cols, g.contiguous(), rows)
        return gwt.t(), None, None, None


def _gather_add(dst: Tensor, dst_rows: Tensor, src: Tensor, src_rows: Tensor) -> None:
    """``dst[dst_rows[k]] += src[src_rows[k]]``: compiled loop on CPU, ``index_add_`` elsewhere."""
    if dst.device.type == "cpu" and dst.dtype in (torch.float32, torch.float64):
        K.gather_add(dst.numpy(), dst_rows.numpy(), src.numpy(), src_rows.numpy())
    else:
        dst.index_add_(0, dst_rows, src.index_select(0, src_rows))


def sparse_projection(raster: "Raster | Tensor", weight: Tensor) -> Tensor:
    """Binary ``raster`` ``[T, B, N_in]`` (a :class:`Raster`'s repeated entries: counts) times ``weight.T``
    (``[N_out, N_in]``), exploiting sparsity.

    Cost is proportional to the number of input spikes times ``N_out`` instead of
    ``T B N_in N_out``; equal to ``raster @ weight.T``.
    """
    if not isinstance(raster, Raster):
        raster = Raster.from_dense(raster)
    T, B, _ = raster.shape
    rows = raster.t * B + raster.b
    out = _SparseProjection.apply(weight, rows, raster.n, T * B)
    return out.reshape(T, B, weight.shape[0])


class _SpikeProjection(torch.autograd.Function):
    """``x[t, b] = W s[t, b]`` for a dense binary spike raster ``s`` of a hidden layer, computed from its
    spikes (forward and weight gradient: cost ~ spikes x N_out); the gradient into the spikes,
    ``g_s = g_x W``, is a dense matmul (the surrogate makes every step's gradient count). ``rows``,
    ``cols``: the spikes of ``s.reshape(T B, N_in)``, row-major (``None``: found here)."""

    @staticmethod
    def forward(ctx, weight, spikes, rows=None, cols=None):
        T, B, N_in = spikes.shape
        if rows is None:
            rows, cols = _nonzero(spikes.detach().reshape(T * B, N_in))
        wt = weight.detach().t().contiguous()
        out = weight.new_zeros(T * B, weight.shape[0])
        _gather_add(out, rows, wt, cols)
        ctx.save_for_backward(weight, rows, cols)
        ctx.shape = spikes.shape
        return out.reshape(T, B, weight.shape[0])

    @staticmethod
    def backward(ctx, g):
        weight, rows, cols = ctx.saved_tensors
        T, B, N_in = ctx.shape
        g2 = g.reshape(T * B, -1).contiguous()
        g_w = g_s = None
        if ctx.needs_input_grad[0]:
            gwt = g.new_zeros(N_in, g2.shape[1])
            _gather_add(gwt, cols, g2, rows)
            g_w = gwt.t()
        if ctx.needs_input_grad[1]:
            g_s = (g2 @ weight.detach()).reshape(T, B, N_in)
        return g_w, g_s, None, None


def _nonzero(x: Tensor) -> tuple[Tensor, Tensor]:
    """Row and column indices of the nonzero entries of a 2-d tensor (compiled loop on CPU)."""
    if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64):
        rows, cols = K.binary_nonzero(x.contiguous().numpy())
        return torch.from_numpy(rows), torch.from_numpy(cols)
    return x.nonzero(as_tuple=True)


def _is_binary(x: Tensor) -> bool:
    return bool(((x == 0) | (x == 1)).all())


#: spike densities above which :func:`spike_projection` takes the dense matmul, by output width:
#: ``(N_out below, density)`` pairs, first match, else ``DENSE_ABOVE_WIDE``. Measured (one thread,
#: float32, rows R = T B = 9600, N_in = 512, the spikes' indices given; forward plus weight gradient,
#: the compiled gather-add against torch's matmuls, medians of 11 interleaved runs): sparse / dense
#: time 0.78, 0.95, 1.08, 1.59 at densities 0.05, 0.10, 0.14, 0.20 for N_out = 10; 0.19, 0.74, 0.77,
#: 0.94 for N_out = 32; and about 1 at 0.2 for N_out = 128 and 512.
DENSE_ABOVE_NARROW = ((16, 0.12),)
DENSE_ABOVE_WIDE = 0.2


def dense_threshold(n_out: int) -> float:
    """The spike density above which a projection into ``n_out`` neurons is faster as a dense matmul."""
    for width, density in DENSE_ABOVE_NARROW:
        if n_out < width:
            return density
    return DENSE_ABOVE_WIDE


def spike_projection(spikes: Tensor, weight: Tensor, nonzero: "tuple[Tensor, Tensor] | None" = None,
                     dense_above: float | None = None) -> Tensor:
    """``spikes @ weight.T`` for a dense binary (0/1) raster ``[T, B, N_in]`` that may need a gradient
    (a hidden layer's output), exploiting its sparsity in the forward pass and the weight gradient:
    equal to the dense matmul, values and gradients (up to the order of the float sums). The caller
    guarantees 0/1 entries (a clock layer's spikes); :func:`sparse_projection` checks its input.

    ``nonzero``: the spikes' ``(rows, cols)`` in ``spikes.reshape(T B, N_in)``, row-major, when the
    layer that produced them found them already (``cuba_sequence(..., nonzero=[])``); else they
    are found here. ``dense_above``: the spike density above which the dense matmul is used instead
    (default :func:`dense_threshold` of ``N_out``; 1 never, 0 always, for tests)."""
    if spikes.dim() != 3 or spikes.shape[2] != weight.shape[1]:
        raise ValueError(f"spikes must be [T, B, {weight.shape[1]}], got {tuple(spikes.shape)}.")
    if dense_above is None:
        dense_above = dense_threshold(weight.shape[0])
    n = spikes.numel()
    if n == 0:
        return spikes @ weight.t()
    count = len(nonzero[0]) if nonzero is not None else int(torch.count_nonzero(spikes.detach()))
    if count > dense_above * n:
        return spikes @ weight.t()
    rows, cols = nonzero if nonzero is not None else (None, None)
    return _SpikeProjection.apply(weight, spikes, rows, cols)


def rebin(raster: Tensor, k: int, mode: str = "or") -> Tensor:
    """Merge every ``k`` time bins of ``[T, B, N]`` into one (``T`` padded with empty bins).

    ``mode="count"`` sums the events (the total input is preserved); ``mode="or"`` keeps one
    event per bin and neuron (binary, as a coarser sensor would report).
    """
    if not (isinstance(k, int) and k >= 1):
        raise ValueError(f"k = {k}: expected an integer >= 1.")
    if mode not in ("or", "count"):
        raise ValueError(f"mode = {mode!r}: expected 'or' or 'count'.")
    if k == 1:
        return raster
    T = raster.shape[0]
    pad = (-T) % k
    if pad:
        raster = torch.cat([raster, raster.new_zeros(pad, *raster.shape[1:])])
    summed = raster.reshape(-1, k, *raster.shape[1:]).sum(1)
    return summed if mode == "count" else (summed > 0).to(raster.dtype)
