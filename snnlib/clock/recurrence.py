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
integrated exactly on a grid of step ``h``) are in :mod:`snnlib.clock.stepping`. Hidden layers read the
previous layer's spikes through :func:`snnlib.clock.raster.spike_projection` (sparse forward and weight
gradient).
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import Tensor

from snnlib.clock import kernels as K
from snnlib.model.surrogates import Surrogate, get_surrogate

__all__ = ["BACKENDS", "CubaDiscrete", "cuba_sequence"]

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
        response, :func:`snnlib.model.neuron.propagator_kernel`): it grows as the step shrinks.
        For a model whose gain does not change with the step use the exact grid of
        :mod:`snnlib.clock.stepping` (``ClockDiscretization("exact", h=...)``)."""
        if not (isinstance(k, int) and k >= 1):
            raise ValueError(f"k = {k}: expected an integer >= 1.")
        return dataclasses.replace(self, alpha=self.alpha**k, beta=self.beta**k)


#: the backends of the clock layers: the numba loops (CPU float tensors), torch's tensor operations, or
#: ``"auto"`` (numba where it applies)
BACKENDS = ("auto", "numba", "torch")


def _use_kernels(x: Tensor, backend: str) -> bool:
    if backend not in BACKENDS:
        raise ValueError(f"backend = {backend!r}: expected 'auto', 'numba' or 'torch'.")
    ok = x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
    if backend == "numba" and not ok:
        raise ValueError("the numba kernels take float32/float64 CPU tensors.")
    return ok and backend != "torch"


class _CubaBPTT(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, u0, v0, p: CubaDiscrete, surrogate: Surrogate, backend: str = "auto", nonzero=None,
                nonzero_max_density: float = 1.0):
        ctx.p, ctx.surrogate = p, surrogate
        ctx.kernels = _use_kernels(x, backend)
        if ctx.kernels:
            T = x.shape[0]
            arrays = [t.detach().contiguous().reshape(T, -1).numpy() for t in (x,)] + \
                     [t.detach().contiguous().reshape(-1).numpy() for t in (u0, v0)]
            n_cols = x.shape[-1] if nonzero is not None else 0
            s, vp, ue, ve, nz = K.forward(*arrays, p.alpha, p.beta, p.theta, p.reset == "zero", n_cols,
                                          nonzero_max_density)
            if nz is not None:
                nonzero.append(tuple(torch.from_numpy(a) for a in nz))
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
            T = v_pre.shape[0]
            flat = lambda t: t.detach().contiguous().reshape(T, -1).numpy()  # noqa: E731
            vec = lambda t: t.detach().contiguous().reshape(-1).numpy()  # noqa: E731
            gx, gu0, gv0 = K.backward(flat(g_s), flat(v_pre), flat(spikes), p.alpha, p.beta, p.theta,
                                      p.reset == "zero", ctx.surrogate, vec(g_u_end), vec(g_v_end))
            shape = v_pre.shape
            return (torch.from_numpy(gx).reshape(shape), torch.from_numpy(gu0).reshape(shape[1:]),
                    torch.from_numpy(gv0).reshape(shape[1:]), None, None, None, None, None)
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
        return g_x, g_u, g_v, None, None, None, None, None


def cuba_sequence(x: Tensor, p: CubaDiscrete, surrogate: Surrogate | str = "slayer",
                  state: tuple[Tensor, Tensor] | None = None,
                  backend: str = "auto", nonzero: list | None = None,
                  nonzero_max_density: float = 1.0) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """Run the layer over the input current ``x`` ``[T, B, N]``; returns spikes ``[T, B, N]`` (0/1
    in ``x``'s dtype) and the final state ``(u, v)`` to carry into the next chunk.

    ``backend``: ``"numba"`` (compiled loops, CPU float tensors), ``"torch"`` (tensor operations,
    any device) or ``"auto"`` (numba where it applies).

    ``nonzero``: a list to which the numba forward appends the spikes' ``(rows, cols)`` in
    ``spikes.reshape(-1, N)`` (row-major, as ``nonzero``), found as the spikes are produced, for
    :func:`snnlib.clock.raster.spike_projection`; nothing is appended on the torch backend, nor when a
    block of the kernel's columns has more than ``nonzero_max_density`` of its entries spiking (the
    projection then takes the dense matmul: collecting stops there)."""
    if x.dim() != 3:
        raise ValueError(f"x must be time-major [T, B, N], got shape {tuple(x.shape)}.")
    if state is None:
        z = x.new_zeros(x.shape[1:])
        state = (z, z)
    spikes, u, v = _CubaBPTT.apply(x, state[0], state[1], p, get_surrogate(surrogate), backend, nonzero,
                                   nonzero_max_density)
    return spikes, (u, v)


