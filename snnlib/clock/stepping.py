"""How the clock layer advances time: the three discretizations of the time-bin sweep (seed 000).

The clock layer's neuron, discretization and gradient are three separate arguments
(``ARCHITECTURE.md``): :func:`clock_sequence` ``(x, neuron, discretization, surrogate)``. A
:class:`ClockDiscretization` is one of

* ``"loihi"``: the discrete recurrence of :mod:`snnlib.clock.recurrence` as it stands (one step per bin);
  ``neuron`` is a :class:`~snnlib.clock.recurrence.CubaDiscrete`.
* ``"skip"`` (step ``k`` base bins): seed 000's own step skipping in lava-dl
  (:func:`skip_sequence`); ``neuron`` is the base-step :class:`~snnlib.clock.recurrence.CubaDiscrete`.
* ``"exact"`` (step ``h`` ms): the continuous CuBa-LIF integrated exactly on a grid
  (:func:`exact_grid_sequence`); ``neuron`` is the continuous :class:`~snnlib.model.neuron.NeuronParams`.

Exact grid, derivation. Between grid points the model ``dI/dt = -I/tau_s``,
``dV/dt = -V/tau + I`` has the exact flow (:func:`snnlib.model.neuron.propagate`) over ``h``::

    I(t + h) = a I(t),   V(t + h) = b V(t) + k(h) I(t),   a = e^{-h/tau_s}, b = e^{-h/tau},
    k(h) = tau tau_s / (tau - tau_s) (b - a)           (snnlib.model.neuron.propagator_kernel)

Grid point ``j`` (time ``j h``): the threshold is checked on ``V_j^-``, the reset applied
(``V_j^+ = V_j^- - theta s_j`` or ``(1 - s_j) V_j^-``), then the inputs delivered there
(an input at ``t`` arrives at ``ceil(t/h) h``) are added: ``I_j^+ = I_j^- + x_j``. So::

    I_j^+ = a I_{j-1}^+ + x_j
    V_j^- = b V_{j-1}^+ + k(h) I_{j-1}^+

With ``u_j = k(h) I_{j-1}^+`` this is the Loihi recurrence ``u_j = a u_{j-1} + x'_j``,
``v_j = b v_{j-1}^+ + u_j`` driven by ``x'_j = k(h) x_{j-1}`` (all ``[B, N]`` per step): the input
*delayed by one step and scaled by k(h)* (exact integration of a linear ODE on a grid: Rotter &
Diesmann, Biol. Cybern. 81:381-402, 1999). The gain ``k(h) = h + O(h^2)`` is what the Loihi
recurrence lacks (its input term has no ``dt``): coarsening only its decays
(``CubaDiscrete.coarsen``) leaves a unit input gain, so its voltage ``t`` ms after one unit input
is ``sum_{n <= t/h} b^{t/h - n} a^n ~ k(t) / h``, growing as the step shrinks, while here it is the
continuous ``V(t) = k(t)``: at grid points, with inputs on grid points and no spikes, this
recurrence equals the continuous flow exactly. Spike times converge at ``O(h)`` (inputs delayed by
less than ``h``, crossings snapped to the next grid point). Backward: BPTT with the surrogate
through this recurrence (:class:`snnlib.clock.recurrence._CubaBPTT`), for every layer including the output.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from snnlib.clock import kernels as K
from snnlib.clock.raster import Raster
from snnlib.clock.recurrence import CubaDiscrete, _use_kernels, cuba_sequence
from snnlib.model.discretization import SKIP_BACKWARDS, ClockDiscretization, grid_index
from snnlib.model.neuron import NeuronParams, propagator_kernel
from snnlib.model.surrogates import Surrogate, get_surrogate

__all__ = ["clock_sequence", "skip_sequence", "exact_grid_sequence", "exact_grid_excess",
           "exact_grid_constants", "grid_raster", "check_neuron"]

def clock_sequence(x: Tensor, neuron, discretization: ClockDiscretization = ClockDiscretization(),
                   surrogate: Surrogate | str = "slayer", state=None, nonzero: list | None = None,
                   nonzero_max_density: float = 1.0):
    """Run one clock layer on the input current ``x [T, B, N]``: spikes ``[T, B, N]`` and final state.

    ``neuron``: :class:`~snnlib.clock.recurrence.CubaDiscrete` (``"loihi"``, ``"skip"``) or
    :class:`~snnlib.model.neuron.NeuronParams` (``"exact"``). ``nonzero``, ``nonzero_max_density``: see
    :func:`~snnlib.clock.recurrence.cuba_sequence` (``"loihi"`` on the numba backend fills it; the
    others leave it empty)."""
    d = discretization
    check_neuron(neuron, d)
    if d.method == "exact":
        return exact_grid_sequence(x, neuron, d.h, surrogate, state)
    if d.method == "loihi":
        return cuba_sequence(x, neuron, surrogate, state, nonzero=nonzero, nonzero_max_density=nonzero_max_density)
    if state is not None:
        raise ValueError("method='skip' starts from rest (lava-dl's layer within one sample); no state.")
    return skip_sequence(x, neuron, d.k, surrogate, d.skip_backward), None


def check_neuron(neuron, discretization: ClockDiscretization) -> None:
    """Refuse a neuron of the wrong kind for the discretization, saying what to pass."""
    if discretization.method == "exact":
        if not isinstance(neuron, NeuronParams):
            raise TypeError("method='exact' integrates the continuous neuron: pass snnlib.model.neuron.NeuronParams "
                            f"(got {type(neuron).__name__}).")
    elif not isinstance(neuron, CubaDiscrete):
        raise TypeError(f"method={discretization.method!r} runs the discrete recurrence: pass "
                        "snnlib.clock.recurrence.CubaDiscrete (e.g. CubaDiscrete.from_neuron(tau_s, tau, dt) for a base "
                        f"bin of dt ms; got {type(neuron).__name__}).")


# ----------------------------------------------------------------------------------------------
# seed 000's step skipping (LubovCh/Lava-dlSLayer, commit 7587024 "Final changes")

def _li_backward(g_out: Tensor, decay: float, k: int, variant: str) -> Tensor:
    """One leaky integrator's backward, transcribed from the fork (time-major ``[T, ...]``).

    ``cuda`` (``LIDynamicsBwdKernel``)::

        n kept:      g_in[n] = g_out[n] + d g_in[n+1]     (g_in[T-1] = g_out[T-1] if T-1 kept)
        n not kept:  g_in[n] = g_in[n+1]                   (g_in[T-1] = 0)

    ``cpu`` (``_li_dynamics_bwd``)::

        g_in[T-1] = g_out[T-1];  n kept: g_in[n] = g_out[n];  else g_in[n] = d g_in[n+1] (n < T-1)
    """
    T = g_out.shape[0]
    g_in = torch.zeros_like(g_out)
    if variant == "cpu":
        g_in[T - 1] = g_out[T - 1]
    for n in range(T - 1, -1, -1):
        if n % k == 0:
            g_in[n] = g_out[n] if (variant == "cpu" or n == T - 1) else g_out[n] + decay * g_in[n + 1]
        elif n < T - 1:
            g_in[n] = g_in[n + 1] * (decay if variant == "cpu" else 1.0)
    return g_in


class _SkipBPTT(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, p: CubaDiscrete, k: int, surrogate: Surrogate, variant: str, backend: str = "auto"):
        ctx.p, ctx.k, ctx.surrogate, ctx.variant = p, k, surrogate, variant
        ctx.kernels = _use_kernels(x, backend)
        if ctx.kernels:  # the same loops compiled (snnlib.clock.kernels.skip_forward)
            s, vo = K.skip(x.detach().contiguous().reshape(x.shape[0], -1).numpy(), p.alpha, p.beta, p.theta,
                           p.reset == "zero", k)
            spikes, v_out = (torch.from_numpy(a).reshape(x.shape) for a in (s, vo))
            ctx.save_for_backward(v_out)
            return spikes
        T = x.shape[0]
        u = x.new_zeros(x.shape[1:])
        v = x.new_zeros(x.shape[1:])
        v_out = torch.zeros_like(x)
        spikes = torch.zeros_like(x)
        for n in range(T):
            u = p.alpha * u + x[n]                      # current integrator: runs every base step
            u_out = u if n % k == 0 else torch.zeros_like(u)  # ... its output kept at kept steps only
            v = p.beta * v + u_out                      # voltage integrator on the kept current
            if n % k == 0:
                v_out[n] = v
                s = (v >= p.theta).to(x.dtype)
                spikes[n] = s
                v = v - p.theta * s if p.reset == "subtract" else v * (1 - s)
        ctx.save_for_backward(v_out)
        return spikes

    @staticmethod
    def backward(ctx, g_s):
        (v_out,) = ctx.saved_tensors
        p, k, variant = ctx.p, ctx.k, ctx.variant
        if ctx.kernels:
            flat = lambda t: t.detach().contiguous().reshape(t.shape[0], -1).numpy()  # noqa: E731
            g_x = K.skip_grad(flat(g_s), flat(v_out), p.alpha, p.beta, p.theta, k, variant == "cpu", ctx.surrogate)
            return torch.from_numpy(g_x).reshape(v_out.shape), None, None, None, None, None
        # Spike.backward: the surrogate at every step, also where the output was masked to 0
        g_v = g_s * ctx.surrogate.derivative(v_out - p.theta)
        g_u = _li_backward(g_v, p.beta, k, variant)   # through the voltage integrator (reset ignored)
        return _li_backward(g_u, p.alpha, k, variant), None, None, None, None, None


def skip_sequence(x: Tensor, p: CubaDiscrete, k: int, surrogate: Surrogate | str = "slayer",
                  backward: str = "cuda", backend: str = "auto") -> Tensor:
    """Seed 000's discretized SLAYER: lava-dl's CUBA neuron with every leaky integrator's output kept
    only at base steps ``n`` with ``n % k == 0``. ``x``: input current ``[T, B, N]`` per base step
    (decays of ``p`` per base step); returns spikes ``[T, B, N]``, zero off the kept steps.

    Forward (``m_n = 1`` if ``n % k == 0`` else 0; state from rest)::

        u[n] = alpha u[n-1] + x[n],         u_out[n] = m_n u[n]          current: never stops
        v[n] = beta v+[n-1] + u_out[n],     v_out[n] = m_n v[n]          voltage
        s[n] = m_n H(v_out[n] - theta),     v+[n] = v[n] - theta s[n]  or  (1 - s[n]) v[n]

    Backward (``backward``): the spike's surrogate at every step, ``g_v = g_s sigma'(v_out - theta)``,
    then each integrator's backward of the fork (:func:`_li_backward`), voltage then current, the
    reset ignored (gradient carried through it unchanged, as in lava-dl).

    Interpretations (the fork's code, read at its final commit 7587024):

    * It has two backward kernels that disagree: the CUDA kernel (``leaky_integrator.cu``) and the
      CPU path (``leaky_integrator.py``). The final commit builds ``Dynamics`` on the CUDA module
      (it raises without CUDA), so the seed's runs used the CUDA kernel: ``backward="cuda"``
      (default). It is the exact gradient of a coarse recurrence with *one* decay ``alpha``,
      ``beta`` per kept step and the bin's inputs summed undecayed, not of the forward above
      (whose decays between kept steps are ``alpha**k``, ``beta**k``). ``"cpu"`` is the other
      kernel: truncated BPTT, the gradient at a kept step carried back through the per-step decay
      to the previous kept step only (and the last step's gradient taken even when not kept).
    * The two forwards differ too: the CPU one resets wherever ``v >= theta``, the CUDA one only
      at kept steps. With lava-dl's zero reset they agree (off the kept steps ``v`` only decays from
      below ``theta``). Here the reset is applied at kept steps (CUDA), also for ``"subtract"``.
    * lava-dl computes in fixed point (``w_scale``, 12-bit decays, truncating shifts) and adds
      ``0.01 / s_scale`` to the threshold; this is the same recurrence in floating point
      (quantised decays: ``CubaDiscrete.from_loihi(..., quantize=True)``; pass the threshold).

    The seed's training script (``tutorials/lava/lib/dl/slayer/nmnist/nmnist.py`` at 7587024) uses
    this with more around it, which a reproduction must set up outside this layer: the events are
    binned at ``dt`` ms (``sampling_time=dt``, 300 / dt bins, times rounded to the *nearest* bin,
    OR binning), the skip is applied with ``k = dt`` on those already coarse bins, in training only
    (``Assistant.test`` calls the network without ``dt``: no skipping at evaluation), with lava-dl's
    N-MNIST neuron (threshold 1.25, decays 0.25 / 0.03, ``tau_grad`` 0.03, ``scale_grad`` 3), weight
    normalisation and learnable axonal delays.

    ``backend``: ``"torch"`` (the reference loops above), ``"numba"`` (the same loops compiled,
    :func:`snnlib.clock.kernels.skip_forward` / ``skip_backward``) or ``"auto"``.
    """
    if x.dim() != 3:
        raise ValueError(f"x must be time-major [T, B, N], got shape {tuple(x.shape)}.")
    if not (isinstance(k, int) and k >= 1):
        raise ValueError(f"k = {k!r}: expected an integer >= 1.")
    if backward not in SKIP_BACKWARDS:
        raise ValueError(f"backward = {backward!r}: expected 'cuda' or 'cpu'.")
    return _SkipBPTT.apply(x, p, k, get_surrogate(surrogate), backward, backend)


# ----------------------------------------------------------------------------------------------
# the continuous neuron integrated exactly on a grid

def exact_grid_constants(params: NeuronParams, h: float) -> tuple[float, float, float]:
    """``(a, b, k(h))`` of one grid step of ``h`` ms: ``e^{-h/tau_s}``, ``e^{-h/tau}``, the kernel."""
    if not (math.isfinite(h) and h > 0):
        raise ValueError(f"h = {h!r}: expected a positive grid step in ms.")
    kh = float(propagator_kernel(torch.tensor(h, dtype=torch.float64), params))
    return math.exp(-h / params.tau_s), math.exp(-h / params.tau), kh


def exact_grid_sequence(x: Tensor, params: NeuronParams, h: float, surrogate: Surrogate | str = "slayer",
                        state: tuple[Tensor, Tensor] | None = None, backend: str = "auto"):
    """The continuous CuBa-LIF on the grid ``t_j = j h`` (module docstring). ``x [T, B, N]``: the
    summed weights of the inputs delivered at grid point ``j`` (added to ``I`` after its threshold
    check). Returns spikes ``[T, B, N]`` (spike at ``t_j``) and the state ``(I_{T-1}^+, V_{T-1}^+)``
    after the last point, to pass as ``state`` to the next chunk (rest when ``None``)."""
    if x.dim() != 3:
        raise ValueError(f"x must be time-major [T, B, N], got shape {tuple(x.shape)}.")
    a, b, kh = exact_grid_constants(params, h)
    cell = CubaDiscrete(a, b, params.theta, params.reset)
    i0, v0 = (x.new_zeros(x.shape[1:]), x.new_zeros(x.shape[1:])) if state is None else state
    # x'_0 = k I_{-1}^+ (the carried current), x'_j = k x_{j-1}: cell state u starts at 0
    x_shift = kh * torch.cat([i0.unsqueeze(0), x[:-1]])
    spikes, (u_end, v_end) = cuba_sequence(x_shift, cell, surrogate, (torch.zeros_like(v0), v0), backend)
    return spikes, (u_end * (a / kh) + x[-1], v_end)  # I_{T-1}^+ = a I_{T-2}^+ + x_{T-1}, u_end = k I_{T-2}^+


@torch.no_grad()
def exact_grid_excess(x: Tensor, params: NeuronParams, h: float) -> tuple[Tensor, Tensor]:
    """The exact grid's spikes and, per point, the spikes its one-spike-per-point rule withholds:
    ``(spikes, excess)``, both ``[T, B, N]``; ``excess`` = ``floor(V_j^- / theta) - 1`` where a spike is
    emitted (the further thresholds ``V`` stands above at ``t_j``: the continuous neuron crossed them
    within the step too, up to its decay between the crossings), else 0. The reference loop of the
    recurrence (:func:`exact_grid_sequence`, reset by subtraction or to zero; no gradient): a
    measurement of what the cap costs, not a simulation to train."""
    if x.dim() != 3:
        raise ValueError(f"x must be time-major [T, B, N], got shape {tuple(x.shape)}.")
    a, b, kh = exact_grid_constants(params, h)
    i = x.new_zeros(x.shape[1:])
    v = x.new_zeros(x.shape[1:])
    spikes, excess = torch.zeros_like(x), torch.zeros_like(x)
    for j in range(x.shape[0]):
        if j > 0:
            v = b * v + kh * i  # V_j^- from the state after point j - 1
            i = a * i
        s = (v >= params.theta).to(x.dtype)
        spikes[j] = s
        excess[j] = s * (torch.floor(v / params.theta) - 1).clamp_min(0)
        v = v - params.theta * s if params.reset == "subtract" else v * (1 - s)
        i = i + x[j]
    return spikes, excess


def grid_raster(times: Tensor, n_steps: int, h: float, sparse: bool = True):
    """Input spike times ``[B, N, K]`` (ms, ``+inf`` padded) delivered on the grid: an input at
    ``t`` arrives at point ``ceil(t / h)`` (a time on the grid stays there). Inputs past the last
    point ``n_steps - 1`` are dropped. A :class:`~snnlib.clock.raster.Raster` ``[n_steps, B, N]`` (several
    spikes of one neuron in one step are kept as one: binary) or, ``sparse=False``, a dense count
    raster."""
    if not (isinstance(n_steps, int) and n_steps >= 1 and math.isfinite(h) and h > 0):
        raise ValueError(f"n_steps = {n_steps}, h = {h}: expected n_steps >= 1 and h > 0 (ms).")
    B, N, _ = times.shape
    b, n, kk = torch.isfinite(times).nonzero(as_tuple=True)
    t = times[b, n, kk].double()
    step = grid_index(t, h).long().clamp_min(0)
    keep = step < n_steps
    step, b, n = step[keep], b[keep], n[keep]
    if not sparse:
        out = torch.zeros(n_steps, B, N, dtype=torch.float64, device=times.device)
        out.index_put_((step, b, n), torch.ones_like(step, dtype=torch.float64), accumulate=True)
        return out
    key = torch.unique((step * B + b) * N + n)
    tb = key // N
    return Raster((n_steps, B, N), tb // B, tb % B, key % N)
