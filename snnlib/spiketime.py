r"""Exact spike-time training (BATS; Bacho & Chu, "Exploring Trade-Offs in Spiking Neural
Networks", Neural Computation 35(10):1627-1656, 2023) on CPU, with numba kernels.

**Layer.** ``N_out`` CuBa-LIF neurons (:mod:`snnlib.neuron`, ``tau = 2 tau_s``, times in ms)
driven by ``W [N_out, N_in]``: input spike trains ``[B, N_in, K_in]`` (``+inf`` padded; inputs
outside ``[0, t_max)`` are ignored, as in :func:`snnlib.events.simulate_layer`) give output
trains ``[B, N_out, K]`` (sorted, ``+inf`` padded; a neuron is silenced after ``K`` spikes).
Between input events the closed-form crossing of :func:`snnlib.neuron.first_crossing` in
relative time, several spikes per interval if need be, reset ``V -= theta`` (``V = 0`` at an
exact crossing). Kernels: :mod:`snnlib.spiketime_kernels`.

**Units and BATS.** One input spike of weight ``w`` gives ``V(s) = w tau (x - x^2)``,
``x = exp(-s/tau)``. BATS writes the same model with time in *seconds* (``tau_s = 0.13``): its
threshold condition is ``sum w (x - x^2) = theta_BATS / tau[s]`` (``c = theta / tau`` in its
``LIFLayer``). With time in ms the same weights give ``V`` 1000 times larger, so we keep BATS's
weights (and so its initialisations and Adam learning rates) and scale the thresholds:
``theta_ours = theta_BATS * tau[ms] / tau[s] = 1000 theta_BATS`` (:class:`BatsConfig` holds
``theta_BATS``; 200 / 1300 for BATS's multi-spike 0.2 / 1.3).

**Gradients** (implicit function theorem). With input spikes ``e`` (time ``t_e``, source
``i_e``) and the neuron's own spikes ``t_1 < t_2 < ...``, before the reset at ``t_k``::

    V(t) = tau sum_{e: t_e < t} w_{i_e} (x_e - x_e^2) - theta sum_{j: t_j < t} x_j,
    x_e = exp(-(t - t_e)/tau),   V(t_k) = theta.

Differentiating ``V(t_k) = theta`` with ``Vdot_k = dV/dt(t_k^-) = I(t_k) - theta/tau``::

    dt_k = -(dV(t_k)/dp + sum_{j<k} dV(t_k)/dt_j dt_j) / Vdot_k,
    dV(t_k)/dt_j = -theta x_j(t_k)/tau     (reset coupling; BATS's recurrent errors).

With ``g_k = dL/dt_k`` (direct), the adjoint (Lagrange multiplier) ``mu_k`` of the constraint
``V(t_k) = theta`` solves, newest first (as BATS's ``propagate_recurrent_errors``)::

    mu_k = -(g_k - theta/tau sum_{l>k} mu_l x_k(t_l)) / Vdot_k,

and then ``dL/dp = sum_k mu_k dV(t_k)/dp``, with ``dV(t_k)/dw_i = tau sum_{e in i, t_e<t_k}
(x - x^2)`` and ``dV(t_k)/dt_e = w_{i_e} (x - 2 x^2)`` (``x = x_e(t_k)``). So
``dL/dW[n, i] = tau sum_{e in i} (A1 - A2)`` and ``dL/dt_e = sum_n W[n, i_e] (A1 - 2 A2)`` with
``A1 = sum_{k: t_k > t_e} mu_k x_e(t_k)``, ``A2 = sum mu_k x_e(t_k)^2``, accumulated by a
reverse-time sweep. ``|Vdot|`` is clamped by the library's one grazing guard (the rule of
:func:`snnlib.crossing.safe_slope` with ``GRAZING_EPS``). Padding slots get no gradient.

Backends: ``"numba"`` (CPU tensors; computes in float64 whatever the storage dtype),
``"torch"`` (autograd through :func:`snnlib.events.simulate_layer`: the independent
reference, any device, slow), ``"auto"`` (numba on CPU). The numba kernels run samples in
parallel on ``numba.get_num_threads()`` threads; on a shared or small machine
``numba.set_num_threads(1)`` (and ``torch.set_num_threads(1)``) is often faster, since
spinning thread pools compete for the cores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numba
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from . import spiketime_kernels as _k
from .crossing import GRAZING_EPS
from .discretization import Discretization
from .events import simulate_layer
from .integrated import quantize_times
from .network import EventNetwork
from .neuron import NeuronParams, check_closed_form

__all__ = [
    "BatsConfig", "spike_layer", "quantize_times", "SpikeTimeNetwork", "spike_count_loss",
    "first_spike_cross_entropy", "predict_by_count", "predict_by_first_spike", "spike_counts",
]

BACKENDS = ("auto", "numba", "torch")
MS_PER_S = 1000.0


@dataclass(frozen=True)
class BatsConfig:
    """BATS's MNIST hyper-parameters (``experiments/mnist/train_spike_count.py`` and
    ``train_ttfs.py`` of github.com/Florian-BACHO/bats), times in ms.

    Attributes:
        sizes: layer sizes, input first. tau_s: synaptic time constant (``tau = 2 tau_s``).
        theta_bats: per-layer thresholds in BATS's units (time in s; ours: ``1000 theta``).
        max_spikes: per-layer spike buffer ``K``. t_max: simulation window.
        init_low, init_high: per-layer ``U(low, high)`` weight initialisation.
        lr, batch_size: Adam learning rate and batch size.
        target_true, target_false: spike-count targets. tau_loss: first-spike CE temperature.
        loss: ``"spike_count"`` or ``"first_spike_ce"``.
    """

    sizes: tuple = (784, 800, 10)
    tau_s: float = 130.0
    theta_bats: tuple = (0.2, 1.3)
    max_spikes: tuple = (30, 30)
    t_max: float = 200.0
    init_low: tuple = (-1.0, -1.0)
    init_high: tuple = (1.0, 1.0)
    lr: float = 0.003
    batch_size: int = 50
    target_true: int = 15
    target_false: int = 3
    tau_loss: float = 5.0
    loss: str = "spike_count"

    def __post_init__(self) -> None:
        L = len(self.sizes) - 1
        for name in ("theta_bats", "max_spikes", "init_low", "init_high"):
            if len(getattr(self, name)) != L:
                raise ValueError(f"{name} needs one value per layer ({L}), got {getattr(self, name)!r}")
        if self.loss not in ("spike_count", "first_spike_ce"):
            raise ValueError(f"loss must be 'spike_count' or 'first_spike_ce', got {self.loss!r}")

    @classmethod
    def multi_spike(cls, **kw) -> "BatsConfig":
        """Multi-spike MNIST (the defaults): 0.2 / 1.3, K = 30 / 30, 200 ms, counts 15 / 3."""
        return cls(**kw)

    @classmethod
    def single_spike(cls, **kw) -> "BatsConfig":
        """Single-spike MNIST: 0.7 / 2.0, K = 1, 1000 ms, U(0, 1), first-spike CE, Adam 0.002."""
        base = dict(theta_bats=(0.7, 2.0), max_spikes=(1, 1), t_max=1000.0, init_low=(0.0, 0.0),
                    init_high=(1.0, 1.0), lr=0.002, loss="first_spike_ce")
        return cls(**{**base, **kw})

    @property
    def tau(self) -> float:
        return 2.0 * self.tau_s

    def params(self) -> list[NeuronParams]:
        """Per-layer :class:`NeuronParams` with ``theta = MS_PER_S * theta_bats`` (BATS's time unit
        is the second, ours the ms: see the module docstring)."""
        return [NeuronParams(tau_s=self.tau_s, theta=MS_PER_S * th) for th in self.theta_bats]


class _SpikeLayer(torch.autograd.Function):
    """Numba forward / backward of one layer; see the module docstring. Returns the spike
    times and (non-differentiable) counts ``[B, N_out]``."""

    @staticmethod
    def forward(ctx, in_times, weights, theta, tau, t_max, K, row_len=None):
        x = in_times.detach().contiguous().numpy()
        if row_len is None:
            row_len = np.full(x.shape[:2], x.shape[2], np.int64)
        W = weights.detach().numpy()
        if not np.isfinite(W).all():
            raise ValueError("weights contain NaN or inf")
        Wt = np.ascontiguousarray(W.T)
        n_ev, n_nan = _k.count_events(x, t_max, row_len)
        if n_nan:
            raise ValueError(f"in_times contain {n_nan} NaN entries (use +inf for padding)")
        E = int(n_ev.max()) if len(n_ev) else 0
        ev_t, ev_src, ev_flat, ev_h = _k.sort_events(x, t_max, n_ev, E, row_len)
        ev_x = np.exp(ev_h * (-1.0 / tau))  # decay over each interval (vectorised exp)
        B, N = x.shape[0], Wt.shape[1]
        out_t = np.full((B, N, K), np.inf, dtype=x.dtype)
        cnt = np.zeros((B, N), np.int32)
        # the spike log (np.empty: only the first n_log[b] entries of a row are written)
        log_j, log_n, log_k = (np.empty((B, N * K), np.int32) for _ in range(3))
        log_I, log_x = np.empty((B, N * K)), np.empty((B, N * K))
        n_log = np.zeros(B, np.int64)
        eps_round = 4.0 * float(np.finfo(x.dtype).eps)
        _k.forward_kernel(ev_t, ev_src, ev_x, n_ev, Wt, theta, tau, K, eps_round,
                          out_t, cnt, log_j, log_n, log_k, log_I, log_x, n_log)
        ctx.arrays = (log_j, log_n, log_k, log_I, log_x, n_log, ev_src, ev_flat, ev_x, n_ev, Wt)
        ctx.consts = (theta, tau, x.shape)
        counts = torch.from_numpy(cnt).to(torch.int64)
        ctx.mark_non_differentiable(counts)
        return torch.from_numpy(out_t), counts

    @staticmethod
    def backward(ctx, grad_out, _grad_counts):
        log_j, log_n, log_k, log_I, log_x, n_log, ev_src, ev_flat, ev_x, n_ev, Wt = ctx.arrays
        theta, tau, (B, N_in, K_in) = ctx.consts
        g = grad_out.detach().contiguous().numpy()
        need_in = bool(ctx.needs_input_grad[0])
        n_chunks = max(1, min(B, numba.get_num_threads()))
        dWt = np.zeros((n_chunks,) + Wt.shape, dtype=Wt.dtype)
        g_in = np.zeros((B, N_in * K_in) if need_in else (1, 1), dtype=g.dtype)
        _k.backward_kernel(g, log_j, log_n, log_k, log_I, log_x, n_log, ev_src, ev_flat, ev_x, n_ev,
                           Wt, theta, tau, GRAZING_EPS, need_in, n_chunks, dWt, g_in)
        dW = None
        if ctx.needs_input_grad[1]:
            dW = torch.from_numpy(np.ascontiguousarray((dWt[0] if n_chunks == 1 else dWt.sum(0)).T))
        gi = torch.from_numpy(g_in.reshape(B, N_in, K_in)) if need_in else None
        return gi, dW, None, None, None, None, None


def _layer(in_times: Tensor, weights: Tensor, params: NeuronParams, t_max: float, max_spikes: int,
           backend: str, in_counts: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
    """``(times [B, N_out, K], counts [B, N_out])``; see :func:`spike_layer`. ``in_counts
    [B, N_in]``: spikes per input train when ``in_times`` is a layer's output (its entries
    past the count are padding), so the numba path skips the padding."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    check_closed_form(params)
    if in_times.dim() != 3 or weights.dim() != 2 or in_times.shape[1] != weights.shape[1]:
        raise ValueError(f"need in_times [B, N_in, K_in] and weights [N_out, N_in] with matching N_in, "
                         f"got {tuple(in_times.shape)} and {tuple(weights.shape)}")
    if not (isinstance(max_spikes, int) and max_spikes >= 1):
        raise ValueError(f"max_spikes must be an int >= 1, got {max_spikes!r}")
    if not (math.isfinite(t_max) and t_max > 0):
        raise ValueError(f"t_max must be a positive finite time in ms, got {t_max!r}")
    dtype = torch.promote_types(in_times.dtype, weights.dtype)
    in_times, weights = in_times.to(dtype), weights.to(dtype)
    cpu = in_times.device.type == "cpu" and weights.device.type == "cpu"
    if backend == "numba" and not cpu:
        raise ValueError("backend='numba' needs CPU tensors; use 'torch' or 'auto' on other devices")
    if backend == "torch" or (backend == "auto" and not cpu):
        if not bool(torch.isfinite(weights).all()):
            raise ValueError("weights contain NaN or inf")
        if bool(torch.isnan(in_times).any()):
            raise ValueError("in_times contain NaN entries (use +inf for padding)")
        res = simulate_layer(in_times, weights, params, t_max=t_max, max_spikes=max_spikes)
        return res.times, res.counts
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"the numba backend needs float32 or float64 tensors, got {dtype}")
    row_len = None if in_counts is None else in_counts.detach().cpu().numpy().astype(np.int64, copy=False)
    return _SpikeLayer.apply(in_times, weights, float(params.theta), float(params.tau), t_max, max_spikes, row_len)


def spike_layer(in_times: Tensor, weights: Tensor, params: NeuronParams, *, t_max: float,
                max_spikes: int, backend: str = "auto") -> Tensor:
    """Output spike times ``[B, N_out, K]`` (ms, sorted, ``+inf`` padded) of one layer.

    Args:
        in_times: ``[B, N_in, K_in]`` input spike times (ms), ``+inf`` padded, no NaN.
        weights: ``[N_out, N_in]``, finite. The computation dtype is the promotion of both.
        params: neuron parameters; ``tau`` must equal ``2 tau_s`` (closed form).
        t_max: window ``[0, t_max]`` (ms). max_spikes: ``K`` spikes kept per neuron.
        backend: ``"numba"`` (CPU only), ``"torch"`` (autograd through
            :func:`snnlib.events.simulate_layer`), ``"auto"`` (numba on CPU, else torch).
    Differentiable with respect to ``in_times`` and ``weights`` (module docstring).
    """
    return _layer(in_times, weights, params, float(t_max), max_spikes, backend)[0]


class SpikeTimeNetwork(EventNetwork):
    """BATS's network from a :class:`BatsConfig`: an :class:`~snnlib.network.EventNetwork` with
    the exact discretization, or with ``dt`` (ms) the discretized variant of seed 000: the
    input spike times of every layer are delayed to the grid (``Discretization(input="grid",
    dt=dt)``, straight-through backward) and the layer is simulated exactly on these. Weights
    ``U(low, high)`` per layer from ``generator``. ``backend``: ``"auto"`` / ``"numba"``
    (kernels) or ``"torch"`` (autograd through the reference)."""

    def __init__(self, config: BatsConfig = BatsConfig(), *, dt: Optional[float] = None,
                 backend: str = "auto", dtype: torch.dtype = torch.float32,
                 generator: Optional[torch.Generator] = None):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        d = Discretization() if dt is None else Discretization(input="grid", dt=dt)
        super().__init__(config.sizes, config.params(), max_spikes=list(config.max_spikes), t_max=config.t_max,
                         discretization=d, init=list(zip(config.init_low, config.init_high)),
                         backend="torch" if backend == "torch" else "numba", dtype=dtype, generator=generator)
        self.config, self.dt = config, dt


def spike_counts(out_times: Tensor) -> Tensor:
    """Spikes per output ``[B, C]`` (finite entries)."""
    return torch.isfinite(out_times).sum(-1)


class _SpikeCountLoss(torch.autograd.Function):
    @staticmethod
    def forward(ctx, out_times, targets):
        finite = torch.isfinite(out_times)
        n = finite.sum(-1).to(targets.dtype)
        ctx.save_for_backward(finite, (targets - n) / out_times.shape[0])
        return 0.5 * ((n - targets) ** 2).sum(1).mean()

    @staticmethod
    def backward(ctx, g):
        finite, err = ctx.saved_tensors
        return g * err.unsqueeze(-1) * finite, None


def spike_count_loss(out_times: Tensor, labels: Tensor, target_true: float = 15.0,
                     target_false: float = 3.0) -> Tensor:
    """BATS ``SpikeCountClassLoss``: ``L = mean_b 1/2 sum_c (n_bc - y_bc)^2`` with ``n`` the spike
    counts and ``y`` = ``target_true`` for the label, ``target_false`` otherwise.

    Counts are piecewise constant in the spike times, so, as BATS does, the count error is
    given to every emitted spike as its time gradient: ``dL/dt_bck = (y_bc - n_bc) / B`` for each
    spike ``k`` (``0`` for padding). BATS's ``errors = targets - counts`` repeated over the spike
    buffer, with its batch-averaged gradient, is exactly this: too few spikes (``y > n``) push
    every spike earlier, which lets more of them fit in the window.
    """
    C = out_times.shape[1]
    targets = torch.full((out_times.shape[0], C), float(target_false), dtype=out_times.dtype,
                         device=out_times.device)
    targets[torch.arange(len(labels)), labels] = float(target_true)
    return _SpikeCountLoss.apply(out_times, targets)


def first_spike_cross_entropy(out_times: Tensor, labels: Tensor, tau_loss: float = 5.0,
                              t_silent: float = 1000.0) -> Tensor:
    """BATS ``TTFSSoftmaxCrossEntropy``: ``CE(softmax(-t_first / tau_loss), label)``, batch mean.

    ``dL/dt_first,bc = (softmax_bc - [c = label]) * (-1/tau_loss) / B`` (ms^-1): BATS's errors
    ``(onehot - softmax)/tau``. Silent outputs count as firing at ``t_silent`` ms (BATS's
    single-spike window) without gradient; BATS would give an infinite loss when the label
    is silent. Computed in log space, so ``-t/tau_loss`` never underflows.
    """
    t = out_times[..., 0]
    t = torch.where(torch.isfinite(t), t, torch.full_like(t, float(t_silent)))
    return F.cross_entropy(-t / tau_loss, labels)


def _lexi_argbest(primary: Tensor, secondary: Tensor) -> Tensor:
    """Per row, the index minimising ``(primary, secondary, index)`` lexicographically."""
    idx = torch.argsort(secondary, dim=1, stable=True)
    idx2 = torch.argsort(primary.gather(1, idx), dim=1, stable=True)
    return idx.gather(1, idx2[:, :1]).squeeze(1)


def predict_by_count(out_times: Tensor) -> Tensor:
    """Class with most spikes; ties: earliest first spike, then lowest index."""
    n = spike_counts(out_times).to(torch.float64)
    return _lexi_argbest(-n, out_times[..., 0].detach().to(torch.float64))


def predict_by_first_spike(out_times: Tensor) -> Tensor:
    """Class that spikes first; ties: more spikes, then lowest index (as
    :func:`snnlib.losses.predict_by_first_spike`)."""
    n = spike_counts(out_times).to(torch.float64)
    return _lexi_argbest(out_times[..., 0].detach().to(torch.float64), -n)
