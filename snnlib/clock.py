"""Clock-driven current-based LIF (Loihi / lava-dl CUBA ordering) with a fused BPTT backward.

Per step ``t`` (time-major rasters ``[T, B, N]``)::

    u[t] = (1 - a_u) u[t-1] + x[t]            current
    v[t] = (1 - a_v) v[t-1] + u[t]            voltage (before reset)
    s[t] = H(v[t] - theta)                     spike
    v[t] <- v[t] - theta s[t]   ("subtract")   or   v[t] (1 - s[t])   ("zero")

(Davies et al. 2018; Shrestha & Orchard 2018; lava-dl ``neuron.cuba``). With ``alpha = 1 - a_u``
and ``beta = 1 - a_v`` this is snnTorch's ``Synaptic`` neuron with ``reset_delay=False``.

The decays of a step of ``dt`` ms follow from the continuous model: ``alpha = exp(-dt/tau_s)``,
``beta = exp(-dt/tau)`` (:meth:`CubaDiscrete.from_neuron`); or they are given directly as in
lava-dl's recipes (:meth:`CubaDiscrete.from_loihi`), optionally quantised to Loihi's 12-bit decays.

Backward (:class:`_CubaBPTT`): the reset is detached (as in snnTorch and lava-dl), so the adjoint
is the surrogate plus two reverse-time filters, linear in ``T``::

    g_v[t] = g_s[t] sigma'(v[t] - theta) + beta r[t] g_v[t+1]      r = 1 ("subtract") or 1 - s ("zero")
    g_u[t] = g_v[t] + alpha g_u[t+1];     g_x[t] = g_u[t]

Other time discretizations of the same layer (seed 000's step skipping, the continuous neuron
integrated exactly on a grid of step ``h``) are in :mod:`snnlib.timebins`. Hidden layers read the
previous layer's spikes through :func:`spike_projection` (sparse forward and weight gradient).
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import torch
from torch import Tensor

from .surrogates import Surrogate, get_surrogate

__all__ = ["CubaDiscrete", "Raster", "cuba_sequence", "sparse_projection", "spike_projection", "rebin",
           "ClockNetwork"]


class Raster(NamedTuple):
    """A binary raster ``[T, B, N]`` stored by its spikes: step ``t``, sample ``b``, neuron ``n``.

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
        out[self.t, self.b, self.n] = 1
        return out


@dataclasses.dataclass(frozen=True)
class CubaDiscrete:
    """Decay factors per step (``alpha = 1 - a_u``, ``beta = 1 - a_v``), threshold and reset."""

    alpha: float
    beta: float
    theta: float = 1.0
    reset: str = "subtract"

    def __post_init__(self):
        for name in ("alpha", "beta"):
            v = getattr(self, name)
            if not (0.0 <= v <= 1.0):
                raise ValueError(f"CubaDiscrete.{name} = {v}: expected a decay factor in [0, 1].")
        if not (self.theta > 0 and math.isfinite(self.theta)):
            raise ValueError(f"CubaDiscrete.theta = {self.theta}: expected a positive number.")
        if self.reset not in ("subtract", "zero"):
            raise ValueError(f"CubaDiscrete.reset = {self.reset!r}: expected 'subtract' or 'zero'.")

    @classmethod
    def from_neuron(cls, tau_s: float, tau: float, dt: float, theta: float = 1.0,
                    reset: str = "subtract") -> "CubaDiscrete":
        """Decays of a step of ``dt`` ms of the continuous CuBa-LIF (time constants in ms)."""
        for name, v in (("tau_s", tau_s), ("tau", tau), ("dt", dt)):
            if not (v > 0 and math.isfinite(v)):
                raise ValueError(f"{name} = {v}: expected a positive number of ms.")
        return cls(math.exp(-dt / tau_s), math.exp(-dt / tau), theta, reset)

    @classmethod
    def from_loihi(cls, current_decay: float, voltage_decay: float, theta: float = 1.0,
                   reset: str = "subtract", quantize: bool = False) -> "CubaDiscrete":
        """lava-dl's parametrisation (``a_u``, ``a_v`` in [0, 1]); ``quantize`` rounds them to
        Loihi's 12-bit decays (multiples of 1/4096)."""
        if quantize:
            current_decay = round(current_decay * 4096) / 4096
            voltage_decay = round(voltage_decay * 4096) / 4096
        return cls(1.0 - current_decay, 1.0 - voltage_decay, theta, reset)

    def coarsen(self, k: int) -> "CubaDiscrete":
        """The same neuron advanced ``k`` base steps per step: decays ``alpha**k``, ``beta**k``.

        The input term of the recurrence has no ``dt``, so this keeps a unit input gain per step: the
        voltage a time ``t`` after one input is about ``k(t) / step`` (``k`` the continuous
        response, :func:`snnlib.neuron.propagator_kernel`): it grows as the step shrinks.
        For a model whose gain does not change with the step use the exact grid of
        :mod:`snnlib.timebins` (``ClockDiscretization("exact", h=...)``)."""
        if not (isinstance(k, int) and k >= 1):
            raise ValueError(f"k = {k}: expected an integer >= 1.")
        return dataclasses.replace(self, alpha=self.alpha**k, beta=self.beta**k)


def _use_kernels(x: Tensor, backend: str) -> bool:
    if backend not in ("auto", "numba", "torch"):
        raise ValueError(f"backend = {backend!r}: expected 'auto', 'numba' or 'torch'.")
    ok = x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
    if backend == "numba" and not ok:
        raise ValueError("the numba kernels take float32/float64 CPU tensors.")
    return ok and backend != "torch"


class _CubaBPTT(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, u0, v0, p: CubaDiscrete, surrogate: Surrogate, backend: str = "auto"):
        ctx.p, ctx.surrogate = p, surrogate
        ctx.kernels = _use_kernels(x, backend)
        if ctx.kernels:
            from . import clock_kernels as K

            T = x.shape[0]
            arrays = [t.detach().contiguous().reshape(T, -1).numpy() for t in (x,)] + \
                     [t.detach().contiguous().reshape(-1).numpy() for t in (u0, v0)]
            s, vp, ue, ve = K.forward(*arrays, p.alpha, p.beta, p.theta, p.reset == "zero")
            spikes, v_pre = (torch.from_numpy(a).reshape(x.shape) for a in (s, vp))
            u, v = (torch.from_numpy(a).reshape(x.shape[1:]) for a in (ue, ve))
            ctx.save_for_backward(v_pre, spikes)
            return spikes, u, v
        u, v = u0.clone(), v0.clone()
        v_pre = torch.empty_like(x)
        spikes = torch.empty_like(x)
        for xt, vt, st in zip(x.unbind(0), v_pre.unbind(0), spikes.unbind(0)):
            u.mul_(p.alpha).add_(xt)
            v.mul_(p.beta).add_(u)
            vt.copy_(v)
            st.copy_(v >= p.theta)
            if p.reset == "subtract":
                v.sub_(st, alpha=p.theta)
            else:
                v.mul_(1.0 - st)
        ctx.save_for_backward(v_pre, spikes)
        return spikes, u, v

    @staticmethod
    def backward(ctx, g_s, g_u_end, g_v_end):
        v_pre, spikes = ctx.saved_tensors
        p = ctx.p
        if ctx.kernels:
            from . import clock_kernels as K

            T = v_pre.shape[0]
            flat = lambda t: t.detach().contiguous().reshape(T, -1).numpy()  # noqa: E731
            vec = lambda t: t.detach().contiguous().reshape(-1).numpy()  # noqa: E731
            gx, gu0, gv0 = K.backward(flat(g_s), flat(v_pre), flat(spikes), p.alpha, p.beta, p.theta,
                                      p.reset == "zero", ctx.surrogate, vec(g_u_end), vec(g_v_end))
            shape = v_pre.shape
            return (torch.from_numpy(gx).reshape(shape), torch.from_numpy(gu0).reshape(shape[1:]),
                    torch.from_numpy(gv0).reshape(shape[1:]), None, None, None)
        # the surrogate of every step at once: one vectorised op instead of T small ones
        g_vpre = g_s * ctx.surrogate.derivative(v_pre - p.theta)
        carry = None if p.reset == "subtract" else (1.0 - spikes)
        g_x = torch.empty_like(v_pre)
        g_v = g_v_end.clone()  # gradient into v after the reset of step t (from step t+1 on)
        g_u = g_u_end.clone()  # gradient into u[t] from step t+1 on (alpha g_u[t+1])
        for t in range(v_pre.shape[0] - 1, -1, -1):
            # v_post[t] = r v_pre[t] (reset detached)  =>  g_vpre[t] += r g_vpost[t]
            gv_t = g_vpre[t].add_(g_v if carry is None else g_v * carry[t])
            gu_t = g_x[t]
            torch.add(gv_t, g_u, out=gu_t)  # u[t] feeds v_pre[t] and u[t+1]
            g_u = gu_t * p.alpha
            g_v = gv_t * p.beta  # v_pre[t] = beta v_post[t-1] + u[t]
        return g_x, g_u, g_v, None, None, None


def cuba_sequence(x: Tensor, p: CubaDiscrete, surrogate: Surrogate | str = "slayer",
                  state: tuple[Tensor, Tensor] | None = None,
                  backend: str = "auto") -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """Run the layer over the input current ``x`` ``[T, B, N]``; returns spikes ``[T, B, N]`` (0/1
    in ``x``'s dtype) and the final state ``(u, v)`` to carry into the next chunk.

    ``backend``: ``"numba"`` (compiled loops, CPU float tensors), ``"torch"`` (tensor operations,
    any device) or ``"auto"`` (numba where it applies)."""
    if x.dim() != 3:
        raise ValueError(f"x must be time-major [T, B, N], got shape {tuple(x.shape)}.")
    if state is None:
        z = x.new_zeros(x.shape[1:])
        state = (z, z)
    spikes, u, v = _CubaBPTT.apply(x, state[0], state[1], p, get_surrogate(surrogate), backend)
    return spikes, (u, v)


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
        from . import clock_kernels as K

        K.gather_add(dst.numpy(), dst_rows.numpy(), src.numpy(), src_rows.numpy())
    else:
        dst.index_add_(0, dst_rows, src.index_select(0, src_rows))


def sparse_projection(raster: "Raster | Tensor", weight: Tensor) -> Tensor:
    """Binary ``raster`` ``[T, B, N_in]`` times ``weight.T`` (``[N_out, N_in]``), exploiting sparsity.

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
    ``g_s = g_x W``, is a dense matmul (the surrogate makes every step's gradient count)."""

    @staticmethod
    def forward(ctx, weight, spikes):
        T, B, N_in = spikes.shape
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
        return g_w, g_s


def _nonzero(x: Tensor) -> tuple[Tensor, Tensor]:
    """Row and column indices of the nonzero entries of a 2-d tensor (compiled loop on CPU)."""
    if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64):
        from . import clock_kernels as K

        rows, cols = K.binary_nonzero(x.contiguous().numpy())
        return torch.from_numpy(rows), torch.from_numpy(cols)
    return x.nonzero(as_tuple=True)


def _is_binary(x: Tensor) -> bool:
    return bool(((x == 0) | (x == 1)).all())


def spike_projection(spikes: Tensor, weight: Tensor) -> Tensor:
    """``spikes @ weight.T`` for a dense binary (0/1) raster ``[T, B, N_in]`` that may need a gradient
    (a hidden layer's output), exploiting its sparsity in the forward pass and the weight gradient:
    equal to the dense matmul, values and gradients. The caller guarantees 0/1 entries (a clock
    layer's spikes); :func:`sparse_projection` checks its input."""
    if spikes.dim() != 3 or spikes.shape[2] != weight.shape[1]:
        raise ValueError(f"spikes must be [T, B, {weight.shape[1]}], got {tuple(spikes.shape)}.")
    return _SpikeProjection.apply(weight, spikes)


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


class ClockNetwork(torch.nn.Module):
    """Feed-forward network of clock-driven CuBa-LIF layers, e.g. sizes ``(784, 800, 10)``.

    ``forward(raster [T, B, N_in])`` returns the output spikes ``[T, B, N_out]`` and the spike
    count of every hidden layer ``[B]`` (summed over neurons and time). The first projection is
    sparse when the input is binary and sparse (time-to-first-spike or event input).

    Three separate axes: ``neurons`` (one per layer or shared), ``discretization``
    (:class:`snnlib.timebins.ClockDiscretization`: ``"loihi"`` by default, seed 000's ``"skip"``,
    or the ``"exact"`` grid, which takes :class:`snnlib.neuron.NeuronParams`) and ``surrogate``.
    ``sparse_hidden``: project hidden spikes, and a dense input raster that is binary, with
    :func:`spike_projection` (same values and gradients as the dense matmul, faster at the usual
    few-percent spike densities); a non-binary dense input (event counts) takes the dense matmul.
    """

    def __init__(self, sizes, neurons, surrogate="slayer",
                 weight_scale: float = 1.0, generator: torch.Generator | None = None, dtype=torch.float32,
                 discretization=None, sparse_hidden: bool = True):
        super().__init__()
        self.sparse_hidden = bool(sparse_hidden)
        from .timebins import ClockDiscretization, check_neuron

        self.discretization = ClockDiscretization() if discretization is None else discretization
        if len(sizes) < 2:
            raise ValueError(f"sizes = {sizes}: need at least input and output sizes.")
        self.sizes = tuple(int(s) for s in sizes)
        n_layers = len(self.sizes) - 1
        self.neurons = list(neurons) if isinstance(neurons, (list, tuple)) else [neurons] * n_layers
        if len(self.neurons) != n_layers:
            raise ValueError(f"{len(self.neurons)} neuron settings for {n_layers} layers.")
        for p in self.neurons:
            check_neuron(p, self.discretization)
        self.surrogate = get_surrogate(surrogate)
        self.weights = torch.nn.ParameterList()
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            w = torch.empty(n_out, n_in, dtype=dtype)
            # Kaiming-uniform bound (as torch.nn.Linear), scaled
            bound = weight_scale * math.sqrt(6.0 / n_in)
            w.uniform_(-bound, bound, generator=generator)
            self.weights.append(torch.nn.Parameter(w))

    def forward(self, raster: "Raster | Tensor"):
        """``raster``: a dense ``[T, B, N_in]`` tensor or a sparse :class:`Raster` (first layer
        through :func:`sparse_projection`)."""
        from .timebins import clock_sequence

        x = raster
        hidden_counts = []
        for i, (w, p) in enumerate(zip(self.weights, self.neurons)):
            if isinstance(x, Raster):
                cur = sparse_projection(x, w)
            elif self.sparse_hidden and (i > 0 or _is_binary(x)):  # spikes: binary and mostly zero
                cur = spike_projection(x, w)
            else:
                cur = x @ w.t()
            x, _ = clock_sequence(cur, p, self.discretization, self.surrogate)
            if i < len(self.weights) - 1:
                hidden_counts.append(x.detach().sum((0, 2)))
        return x, hidden_counts
