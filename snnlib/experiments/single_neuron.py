"""Single-neuron experiments: convergence orders, cost, and the traces of seed 001 Figs. 1-2.

All times in ms. Neurons are CuBa-LIF (:mod:`snnlib.model.neuron`); the reference is the
exact event-driven simulation (closed form, ``tau = 2 tau_s``).

* :func:`convergence`: error vs ``dt`` per order ``k`` of Parker-Sochacki (PS(1) =
  Euler). (a) end-of-window ``V`` of sub-threshold neurons with random inputs, split
  at the input times (global error ``O(dt^k)``); (b) first-spike-time error per spike
  rule: ``snap`` ``O(dt)``, ``linear`` ``O(dt^min(k, 2))``, ``newton`` ``O(dt^k)``.
  Fitted log-log slopes by :func:`fit_slope`.
* :func:`cost`: wall time per simulated second against spike-time error, per order.
* :func:`traces`: dense membrane traces for Fig. 1 (analytic vs Euler with and
  without interpolation) and Fig. 2 (PS(5) with different intermediate points).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Sequence

import numpy as np
import torch
import xarray as xr

from snnlib.config import Config
from snnlib.events.reference import simulate_layer, simulate_neuron
from snnlib.model.discretization import Discretization as D
from snnlib.model.neuron import NeuronParams

NAME = "single-neuron"
F64 = torch.float64


def fit_slope(dts: Sequence[float], errs: Sequence[float]) -> float:
    """Least-squares slope of ``log(err)`` against ``log(dt)`` (the convergence order).

    Points with a non-finite or non-positive error are ignored; NaN if fewer than two remain.
    """
    d, e = np.asarray(dts, dtype=float), np.asarray(errs, dtype=float)
    ok = np.isfinite(e) & (e > 0) & np.isfinite(d) & (d > 0)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(d[ok]), np.log(e[ok]), 1)[0])


def subthreshold_problem(seed: int, t_max: float, params: NeuronParams, n_samples=4, n_in=6, n_out=8):
    """Random inputs ``[n_samples, n_in, 1]`` uniform in ``[0, t_max)`` with signed weights
    scaled so the total positive weight ``W+`` of every neuron gives ``W+ tau/4 = 0.8 theta``:
    the exact ``V`` peaks at most at ``W+ tau / 4`` (kernel maximum at ``x = 1/2``), so no spike."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n_samples, n_in, 1, generator=g, dtype=F64) * t_max
    W = torch.randn(n_out, n_in, generator=g, dtype=F64)
    W = W * (0.8 * params.theta * 4 / params.tau) / W.clamp(min=0).sum(1, keepdim=True).clamp(min=1e-12)
    return x, W


def spiking_problem(seed: int, params: NeuronParams, n_samples=16, n_in=4, n_out=16, t_in=20.0):
    """Inputs in ``[0, t_in)`` ms with positive weights; first spikes well after ``t_in``
    (with the defaults and ``tau_s = 130``: 20-45 ms), so steps are ``dt`` long there."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n_samples, n_in, 1, generator=g, dtype=F64) * t_in
    W = (torch.rand(n_out, n_in, generator=g, dtype=F64) + 0.5) * 0.012 * (params.theta * 260.0 / params.tau)
    return x, W


def convergence(
    orders: Sequence[int] = (1, 2, 3, 4, 5),
    dts: Sequence[float] = (1.0, 2.0, 4.0, 8.0),
    spike_dts: Sequence[float] = (0.5, 1.0, 2.0, 4.0),
    rules: Sequence[str] = ("snap", "linear", "newton"),
    t_max: float = 200.0,
    seed: int = 0,
    params: NeuronParams = NeuronParams(),
) -> xr.Dataset:
    """Errors against the exact solution per ``(order, dt)`` and ``(order, dt, rule)``.

    ``v_error[order, dt]``: max over neurons of ``|V(t_max) - V_exact(t_max)|`` for
    :func:`subthreshold_problem`. ``spike_error[order, spike_dt, rule]``: mean over
    neurons of ``|t_first - t_first_exact|`` (ms) for :func:`spiking_problem` (window
    ``[0, 100]``). ``v_slope[order]`` and ``spike_slope[order, rule]`` from :func:`fit_slope`.
    """
    xs, Ws = subthreshold_problem(seed, t_max, params)
    v_ref = simulate_layer(xs, Ws, params, t_max=t_max, max_spikes=1).state.V
    xp, Wp = spiking_problem(seed, params)
    ref = simulate_layer(xp, Wp, params, t_max=100.0, max_spikes=1)
    if not bool(torch.isfinite(ref.times).all()):
        raise RuntimeError("spiking_problem: some reference neurons do not spike; adjust params")
    v_err = np.full((len(orders), len(dts)), np.nan)
    s_err = np.full((len(orders), len(spike_dts), len(rules)), np.nan)
    for i, k in enumerate(orders):
        for j, dt in enumerate(dts):
            r = simulate_layer(xs, Ws, params, t_max=t_max, max_spikes=1,
                               discretization=D("ps", k, dt, "snap"))  # subthreshold: no spikes
            if int(r.counts.sum()) == 0:
                v_err[i, j] = (r.state.V - v_ref).abs().max().item()
        for j, dt in enumerate(spike_dts):
            for m, rule in enumerate(rules):
                r = simulate_layer(xp, Wp, params, t_max=100.0, max_spikes=1, discretization=D("ps", k, dt, rule))
                if bool(torch.isfinite(r.times).all()):
                    s_err[i, j, m] = (r.times - ref.times).abs().mean().item()
    ds = xr.Dataset(
        {
            "v_error": (("order", "dt"), v_err),
            "spike_error": (("order", "spike_dt", "rule"), s_err),
            "v_slope": (("order",), [fit_slope(dts, v_err[i]) for i in range(len(orders))]),
            "spike_slope": (
                ("order", "rule"),
                [[fit_slope(spike_dts, s_err[i, :, m]) for m in range(len(rules))] for i in range(len(orders))],
            ),
            "expected_spike_slope": (
                ("order", "rule"),
                [[{"snap": 1, "linear": min(k, 2), "newton": k}.get(r, np.nan) for r in rules] for k in orders],
            ),
        },
        coords={"order": list(orders), "dt": list(dts), "spike_dt": list(spike_dts), "rule": list(rules)},
    )
    ds["dt"].attrs["units"] = ds["spike_dt"].attrs["units"] = "ms"
    ds["v_error"].attrs.update(units="theta", long_name="max |V(t_max) - V_exact(t_max)|")
    ds["spike_error"].attrs.update(units="ms", long_name="mean |first spike time - exact|")
    ds["v_slope"].attrs["long_name"] = "log-log slope of v_error vs dt (theory: order)"
    ds["spike_slope"].attrs["long_name"] = "log-log slope of spike_error vs spike_dt"
    ds.attrs.update(_param_attrs(params), t_max_ms=float(t_max), seed=int(seed), time_unit="ms",
                    reference="exact event-driven (closed form)")
    return ds


def cost(
    orders: Sequence[int] = (1, 2, 3, 4, 5),
    dts: Sequence[float] = (0.25, 0.5, 1.0, 2.0, 4.0),
    spike_rule: str = "newton",
    repeats: int = 3,
    seed: int = 0,
    params: NeuronParams = NeuronParams(),
) -> xr.Dataset:
    """Wall time per simulated second (best of ``repeats``, ``time.perf_counter``) and
    mean first-spike-time error (ms) per ``(order, dt)`` on :func:`spiking_problem`
    (a ``[16, 16]`` layer over ``[0, 100]`` ms). ``exact_wall_s_per_s``: the event-driven
    closed form on the same problem. Timings depend on the machine and its load."""
    xp, Wp = spiking_problem(seed, params)
    T = 100.0

    def timed(d=D()):
        best, res = np.inf, None
        for _ in range(max(1, repeats)):
            t0 = time.perf_counter()
            res = simulate_layer(xp, Wp, params, t_max=T, max_spikes=1, discretization=d)
            best = min(best, time.perf_counter() - t0)
        return best * 1000.0 / T, res

    exact_wall, ref = timed()
    wall = np.full((len(orders), len(dts)), np.nan)
    err = np.full_like(wall, np.nan)
    for i, k in enumerate(orders):
        for j, dt in enumerate(dts):
            wall[i, j], r = timed(D("ps", k, dt, spike_rule))
            if bool((torch.isfinite(r.times) == torch.isfinite(ref.times)).all()):
                m = torch.isfinite(ref.times)
                err[i, j] = (r.times - ref.times)[m].abs().mean().item()
    ds = xr.Dataset(
        {"wall_s_per_s": (("order", "dt"), wall), "spike_error": (("order", "dt"), err)},
        coords={"order": list(orders), "dt": list(dts)},
    )
    ds["dt"].attrs["units"] = "ms"
    ds["wall_s_per_s"].attrs.update(units="s / simulated s", long_name="wall time per simulated second")
    ds["spike_error"].attrs.update(units="ms", long_name="mean |first spike time - exact|")
    ds.attrs.update(_param_attrs(params), spike_rule=spike_rule, repeats=int(repeats), seed=int(seed),
                    exact_wall_s_per_s=float(exact_wall), layer="16 samples x 16 neurons, 4 inputs",
                    time_unit="ms")
    return ds


FIG_INPUTS = ([5.0, 12.0, 20.0, 33.0, 41.0], [0.08, 0.06, 0.07, 0.05, 0.09])


def traces(
    t_max: float = 100.0,
    dt: float = 4.0,
    record_dt: float = 0.05,
    tau_s: float = 20.0,
    ps_state0: tuple[float, float] = (0.2, 0.05),
    ps_dt: float = 40.0,
    ps_splits: Sequence[float] = (5.0, 12.0, 20.0),
) -> xr.Dataset:
    """Dense traces for seed 001's figures (``V`` on a ``record_dt`` grid, ms).

    ``fig1_V[trace, time]``: analytic, and Euler at ``dt`` with spike rules snap /
    linear / newton, all driven by :data:`FIG_INPUTS`; ``fig1_spikes[trace, k]``.
    ``fig2_V[split, time]``: PS(5) from ``ps_state0`` without inputs over one step of
    ``ps_dt`` split once at each of ``ps_splits`` (``split = -1``: no split), plus the
    exact flow as ``fig2_exact``: the exact flow ignores the split, PS(5) does not.
    (Splits at ``a`` and ``ps_dt - a`` end at the same value: the truncated
    exponentials ``T(aA)`` and ``T((h - a)A)`` commute; only the path differs.)
    """
    p = NeuronParams(tau_s=tau_s)
    runs = {"analytic": D()}
    runs.update({f"euler-{r}": D("euler", dt=dt, spike_rule=r) for r in ("snap", "linear", "newton")})
    tr = {k: simulate_neuron(*FIG_INPUTS, p, t_max, d, record_dt=record_dt) for k, d in runs.items()}
    n_spk = max(len(t.spikes) for t in tr.values())
    spk = np.full((len(tr), max(n_spk, 1)), np.nan)
    for i, t in enumerate(tr.values()):
        spk[i, : len(t.spikes)] = t.spikes.numpy()
    p2 = NeuronParams(tau_s=tau_s, theta=1e3)
    splits = [-1.0] + [float(s) for s in ps_splits]
    ps = [simulate_neuron([], [], p2, ps_dt, D("ps", 5, ps_dt, "snap"), record_dt=record_dt, state0=ps_state0,
                          split_points=() if s < 0 else (s,)) for s in splits]
    ex = simulate_neuron([], [], p2, ps_dt, D(), record_dt=record_dt, state0=ps_state0)
    ds = xr.Dataset(
        {
            "fig1_V": (("trace", "time"), np.stack([t.V.numpy() for t in tr.values()])),
            "fig1_spikes": (("trace", "k"), spk),
            "fig2_V": (("split", "time2"), np.stack([t.V.numpy() for t in ps])),
            "fig2_exact": (("time2",), ex.V.numpy()),
        },
        coords={"trace": list(tr), "time": tr["analytic"].t.numpy(), "split": splits, "time2": ex.t.numpy()},
    )
    for c in ("time", "time2", "split"):
        ds[c].attrs["units"] = "ms"
    ds["fig1_spikes"].attrs["units"] = "ms"
    ds.attrs.update(_param_attrs(p), dt_ms=float(dt), ps_dt_ms=float(ps_dt), theta=p.theta, time_unit="ms")
    return ds


def _param_attrs(p: NeuronParams) -> dict:
    return {"tau_s_ms": p.tau_s, "tau_ms": p.tau, "theta": p.theta, "reset": p.reset}


@dataclasses.dataclass(frozen=True)
class SingleNeuronConfig(Config):
    """Fields:

    - ``orders``: Parker-Sochacki orders (1 = Euler).
    - ``dts``: steps (ms) of the end-of-window ``V`` study; ``spike_dts``: of the spike-time study.
    - ``rules``: spike rules (``snap``, ``linear``, ``newton``).
    - ``t_max``: window of the sub-threshold study (ms).
    - ``cost_dts``, ``cost_repeats``: steps (ms) and timing repeats of the cost study.
    - ``seed``: of the random inputs and weights.
    """

    seed: int = 0
    orders: tuple = (1, 2, 3, 4, 5)
    dts: tuple = (1.0, 2.0, 4.0, 8.0)
    spike_dts: tuple = (0.5, 1.0, 2.0, 4.0)
    rules: tuple = ("snap", "linear", "newton")
    t_max: float = 200.0
    cost_dts: tuple = (0.25, 0.5, 1.0, 2.0, 4.0)
    cost_repeats: int = 3

    def validate(self) -> None:
        super().validate()
        self._check_non_negative_int("seed")
        self._check("orders", all(isinstance(k, int) and k >= 1 for k in self.orders) and len(self.orders) > 0, "integers >= 1")
        for f in ("dts", "spike_dts", "cost_dts"):
            self._check(f, len(getattr(self, f)) >= 2 and all(float(d) > 0 for d in getattr(self, f)), "at least two positive steps in ms")
        self._check("rules", set(self.rules) <= {"snap", "linear", "newton"} and len(self.rules) > 0, "a subset of snap, linear, newton")
        self._check("t_max", float(self.t_max) > 0, "a positive number of ms")
        self._check("cost_repeats", isinstance(self.cost_repeats, int) and self.cost_repeats >= 1, "an integer >= 1")


def run(cfg: SingleNeuronConfig) -> xr.Dataset:
    """Convergence, cost (variables prefixed ``cost_``) and the figure traces in one Dataset."""
    conv = convergence(cfg.orders, cfg.dts, cfg.spike_dts, cfg.rules, cfg.t_max, cfg.seed)
    c = cost(cfg.orders, cfg.cost_dts, repeats=cfg.cost_repeats, seed=cfg.seed)
    c = c.rename({"dt": "cost_dt", "wall_s_per_s": "cost_wall_s_per_s", "spike_error": "cost_spike_error"})
    tr = traces()
    ds = xr.merge([conv, c, tr], combine_attrs="override")
    ds.attrs.update(conv.attrs)
    ds.attrs["cost_exact_wall_s_per_s"] = c.attrs["exact_wall_s_per_s"]
    ds.attrs["trace_tau_s_ms"] = tr.attrs["tau_s_ms"]
    ds.attrs["trace_dt_ms"] = tr.attrs["dt_ms"]
    ds.attrs["trace_ps_dt_ms"] = tr.attrs["ps_dt_ms"]
    return ds


def summarize(ds: xr.Dataset) -> dict:
    """The fitted convergence orders (theory: ``k`` for V; 1 / min(k, 2) / k for spike times with
    snap / linear / newton) and the largest overshoot of V above threshold in Fig. 1 per rule."""
    out = {f"v_slope_order{int(k)}": float(ds["v_slope"].sel(order=k)) for k in ds["order"].values}
    for k in ds["order"].values:
        for r in ds["rule"].values:
            out[f"spike_slope_order{int(k)}_{r}"] = float(ds["spike_slope"].sel(order=k, rule=r))
    theta = float(ds.attrs["theta"])
    for m in ds["trace"].values:  # (not "method": that name is a keyword of xarray's .sel)
        out[f"fig1_max_v_minus_theta_{str(m).replace('-', '_')}"] = float(ds["fig1_V"].sel(trace=m).max()) - theta
    return out


Config = SingleNeuronConfig
