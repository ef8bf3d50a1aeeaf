"""Figures of the sweep chapters (transfer, ...): each takes the sweep's Dataset
(:func:`snnlib.study.loading.load_sweep`) and returns a Figure, at most two panels per row
(:func:`snnlib.plotting.panel_grid`), intervals over seeds cut at the quantity's bounds."""

from __future__ import annotations

import math
import textwrap

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import xarray as xr
import yaml

from snnlib.analyses import surrogate, timing
from snnlib.analyses.transfer import cell_text, with_drop
from snnlib.metrics import mean_ci
from snnlib.metrics import mean_ci_along as ci
from snnlib.plotting import panel_grid, readable, value_bounds

__all__ = ["transfer_heatmaps", "transfer_lines", "direct_lines", "direct_fig4", "direct_curves", "direct_alignment",
           "timebins_lrr", "timebins_lines", "timebins_curves", "neuron_lines", "timing_control", "variant_curves", "paired_arms", "surrogate_depth", "surrogate_training", "breakdown_map",
           "breakdown_lines"]

_LABELS = {"accuracy": "test accuracy (%)", "hidden_spikes": "hidden spikes / sample",
           "first_spike_error": "first output spike error (ms)", "agreement": "agreement with analytic (%)",
           "wall_ms_per_sample": "wall time (ms / sample)"}
_PERCENT = ("accuracy", "agreement")


def transfer_heatmaps(ds: xr.Dataset, source: str, input: str = "exact", split: str = "test",
                      limit: float | None = None) -> plt.Figure:
    """Mean accuracy drop against the analytic network (points, over seeds) per integration (rows) and
    step (columns), one panel per spike rule; colours saturate at ``+-limit`` points (default: the
    largest drop, at least 1), the numbers are written in the cells."""
    import seaborn as sns  # optional: seaborn, only for these figures


    d = with_drop(ds)["drop"].sel(source=source, input=input, split=split).mean("seed")
    if limit is None:
        limit = max(1.0, float(np.ceil(np.nanmax(np.abs(d.values))))) if bool(np.isfinite(d).any()) else 1.0
    rules = [str(r) for r in d["rule"].values]
    fig, axes = panel_grid(len(rules), panel=(6.0, 3.6))
    for ax, rule in zip(axes, rules):
        m = d.sel(rule=rule).to_pandas()
        m.columns = [f"{c:g}" for c in m.columns]
        sns.heatmap(m, ax=ax, annot=True, fmt=".1f", annot_kws={"size": 9}, cmap="RdBu", center=0.0,
                    vmin=-limit, vmax=limit, cbar_kws={"label": "points vs analytic"})
        ax.set_title(f"spike rule: {rule}")
        ax.set_xlabel("dt (ms)")
        ax.set_ylabel("integration")
    fig.suptitle(f"{source}, input={input}: accuracy - analytic accuracy ({split})")
    fig.tight_layout()
    return readable(fig)


def transfer_lines(ds: xr.Dataset, var: str, source: str, input: str = "exact", split: str = "test",
                   integrations=None) -> plt.Figure:
    """``var`` against ``dt`` (log axis) per integration, mean and 95% interval over seeds, one panel
    per spike rule; the analytic network's mean as a dashed line."""
    rules_in = [r for r in ("snap", "linear", "newton") if r in ds["rule"].values]
    sel = ds.sel(source=source, input=input, split=split).reindex(rule=rules_in)
    scale = 100.0 if var in _PERCENT else 1.0
    mean, half = ci(sel[var] * scale)
    rules = [str(r) for r in sel["rule"].values]
    integrations = [str(m) for m in (integrations or sel["integration"].values)]
    fig, axes = panel_grid(len(rules), panel=(5.5, 3.8))
    exact = f"exact_{var}"
    lo, hi = value_bounds(var, sel[var].values * scale)
    if var in _PERCENT:
        hi = 100.0
    for ax, rule in zip(axes, rules):
        for m in integrations:
            mu, h = mean.sel({"integration": m, "rule": rule}), half.sel({"integration": m, "rule": rule})
            if not bool(np.isfinite(mu).any()):
                continue
            line, = ax.plot(sel["dt"], mu, "o-", ms=3, label=m)
            ax.fill_between(sel["dt"], np.clip(mu - h, lo, hi), np.clip(mu + h, lo, hi), alpha=0.2,
                            color=line.get_color())
        if exact in sel and var != "agreement":
            ax.axhline(float(sel[exact].mean()) * scale, color="k", ls="--", lw=1, label="analytic")
        ax.set_xscale("log")
        ax.set_xlabel("dt (ms)")
        ax.set_ylabel(_LABELS.get(var, var.replace("_", " ")))
        ax.set_title(f"spike rule: {rule}")
    axes[0].legend(ncol=2)
    fig.suptitle(f"{source}, input={input} ({split}; mean and 95% interval over seeds)")
    fig.tight_layout()
    return readable(fig)


# ------------------------------------------------------------- direct training (seed 001, exp. 2)
_DIRECT_LABELS = {"final_test": "test accuracy (%)", "best_test": "test accuracy at best validation (%)",
                  "spikes": "hidden spikes / digit", "time_ratio": "time per epoch / exact scheme's",
                  "n_q": "training samples to the target", "time_to_q_ratio": "time to the target / exact scheme's",
                  "cosine": "cosine with the exact gradient", "test_drop": "points vs exact scheme"}
_GRADIENT_STYLE = {"adjusted": "-", "piggyback": "--"}


def _band(ax, x, mu, half, lo=-np.inf, hi=np.inf, **kw):
    line, = ax.plot(x, mu, **kw)
    ax.fill_between(x, np.clip(mu - half, lo, hi), np.clip(mu + half, lo, hi), alpha=0.15, color=line.get_color())
    return line


def _bench_line(ax, m: dict, var: str):
    if var in m["direct-exact"]:
        ax.axhline(float(m["direct-exact"][var].mean()), color="k", ls=":", lw=1.2, label="exact scheme")


def direct_lines(m: dict, var: str, gradients=("piggyback", "adjusted"), integrations=None,
                 log_y: bool = False) -> plt.Figure:
    """``var`` of :func:`snnlib.analyses.direct.point_metrics` against dt (log axis), one panel
    per gradient, a line per integration (mean and 95% interval over seeds); Newton's rule at its
    one step as diamonds; the exact scheme's mean as a dotted line."""
    d = m["direct"]
    mean, half = ci(d[var])
    integrations = [str(i) for i in (integrations or d["integration"].values)]
    lo = 0.0 if var not in ("test_drop", "cosine") else -np.inf
    if log_y:
        pos = d[var].values[np.isfinite(d[var].values) & (d[var].values > 0)]
        log_y, lo = len(pos) > 0, float(pos.min()) / 2 if len(pos) else lo
    hi = 100.0 if var in ("final_test", "best_test") else 1.0 if var == "cosine" else np.inf
    fig, axes = panel_grid(len(gradients), panel=(5.5, 3.8), sharey=True)
    colors = dict(zip(integrations, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for ax, g in zip(axes, gradients):
        for i in integrations:
            mu, h = mean.sel(gradient=g, integration=i), half.sel(gradient=g, integration=i)
            if bool(np.isfinite(mu).any()):
                _band(ax, d["dt"].values, mu.values, np.nan_to_num(h.values), lo, hi, marker="o", ms=3,
                      color=colors[i], label=i)
        if "direct-newton" in m and var in m["direct-newton"]:
            nm, nh = ci(m["direct-newton"][var])
            dt_n = float(yaml.safe_load(m["direct-newton"].attrs["config"])["dt"])
            for i in integrations:
                if i in nm["integration"].values and bool(np.isfinite(nm.sel(gradient=g, integration=i))):
                    ax.errorbar(dt_n * 1.08, float(nm.sel(gradient=g, integration=i)),
                                yerr=np.nan_to_num(float(nh.sel(gradient=g, integration=i))),
                                fmt="D", ms=4, color=colors[i], mfc="none")
        _bench_line(ax, m, var)
        ax.set_xscale("log")
        ax.set_xlim(d["dt"].values.min() / 1.4, d["dt"].values.max() * 1.4)
        if log_y:
            ax.set_yscale("log")
        ax.set_xticks(d["dt"].values, [f"{v:g}" for v in d["dt"].values])
        ax.minorticks_off()
        ax.set_xlabel("dt (ms)")
        ax.set_ylabel(_DIRECT_LABELS.get(var, var))
        ax.set_title(f"{g} gradient")
    axes[0].legend(ncol=2, fontsize="small")
    newton = "; open diamonds: Newton's spike rule" if "direct-newton" in m and var in m["direct-newton"] else ""
    fig.suptitle(f"mean and 95% interval over seeds{newton}")
    fig.tight_layout()
    return readable(fig)


def direct_fig4(m: dict) -> plt.Figure:
    """Seed 001's Fig. 4: hidden spikes per digit (solid, left axis) and training time per epoch
    relative to the exact scheme (dashed, right axis) against dt, per integration; one panel per
    gradient (mean over seeds, 95% intervals as bars)."""
    d = m["direct"]
    s_mu, s_h = ci(d["spikes"])
    t_mu, t_h = ci(d["time_ratio"])
    fig, axes = panel_grid(2, panel=(6.4, 4.0))
    colors = dict(zip([str(i) for i in d["integration"].values], plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    x = d["dt"].values
    for ax, g in zip(axes, ("piggyback", "adjusted")):
        tw = ax.twinx()
        for i, c in colors.items():
            sel = {"gradient": g, "integration": i}
            ax.errorbar(x, s_mu.sel(sel), yerr=np.nan_to_num(s_h.sel(sel).values), fmt="o-", ms=3, color=c, label=i,
                        capsize=2)
            tw.errorbar(x * 1.04, t_mu.sel(sel), yerr=np.nan_to_num(t_h.sel(sel).values), fmt="s--", ms=3, color=c,
                        capsize=2, alpha=0.8)
        ax.axhline(float(m["direct-exact"]["spikes"].mean()), color="k", ls=":", lw=1.2, label="exact scheme")
        tw.axhline(1.0, color="grey", ls="-.", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlim(x.min() / 1.4, x.max() * 1.4)
        ax.set_xticks(x, [f"{v:g}" for v in x])
        ax.minorticks_off()
        ax.set_xlabel("dt (ms)")
        ax.set_ylabel("hidden spikes / digit (solid)")
        tw.set_ylabel("time per epoch / exact's (dashed)")
        tw.set_ylim(0, max(2.0, float(np.nanmax(t_mu.values + np.nan_to_num(t_h.values), initial=0)) * 1.1))
        ax.set_ylim(0, max(float(m["direct-exact"]["spikes"].max()),
                           float(np.nanmax(s_mu.values + np.nan_to_num(s_h.values), initial=0))) * 1.1)
        ax.set_title(f"{g} gradient")
    axes[0].legend(fontsize="small", loc="lower left")
    fig.tight_layout(w_pad=3.0)
    return readable(fig)


def direct_curves(sweeps: dict, dts=None, integrations=None) -> plt.Figure:
    """Validation accuracy against training samples seen, one panel per dt, a colour per
    integration, solid adjusted and dashed piggyback (means over seeds); the exact scheme in black."""
    d = sweeps["direct"]
    dts = [float(v) for v in (dts or d["dt"].values)]
    integrations = [str(i) for i in (integrations or d["integration"].values)]
    colors = dict(zip(integrations, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    fig, axes = panel_grid(len(dts), panel=(5.5, 3.8), sharey=True)
    ex = 100 * sweeps["direct-exact"]["val_accuracy_curve"].mean("seed")
    n = d["samples_seen"].values
    for ax, dt in zip(axes, dts):
        for i in integrations:
            for g, ls in _GRADIENT_STYLE.items():
                y = 100 * d["val_accuracy_curve"].sel(dt=dt, integration=i, gradient=g).mean("seed")
                if bool(np.isfinite(y).any()):
                    ax.plot(n, y, ls=ls, color=colors[i], label=f"{i}" if g == "adjusted" else None)
        ax.plot(ex["samples_seen"], ex, color="k", lw=1.5, label="exact scheme")
        ax.set_xlabel("training samples seen")
        ax.set_ylabel("validation accuracy (%)")
        ax.set_title(f"dt = {dt:g} ms (solid adjusted, dashed piggyback)")
        lo = float(np.nanmin(100 * d["val_accuracy_curve"].sel(dt=dt).mean("seed")))
        ax.set_ylim(max(0.0, min(lo, float(ex.min())) - 1), 100)
    axes[0].legend(fontsize="small", ncol=2)
    fig.tight_layout()
    return readable(fig)


def direct_alignment(m: dict) -> plt.Figure:
    """Cosine similarity of each scheme's gradient with the exact gradient of the same weights on a
    fixed batch, against epochs finished (0: the initial weights); one panel per dt, a colour per
    integration, solid adjusted, dashed piggyback (mean and 95% interval over seeds)."""
    d = m["direct"]
    mean, half = ci(d["cosine"])
    integrations = [str(i) for i in d["integration"].values]
    colors = dict(zip(integrations, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    dts = [float(v) for v in d["dt"].values]
    fig, axes = panel_grid(len(dts), panel=(5.5, 3.6), sharey=True)
    x = d["checkpoint"].values
    for ax, dt in zip(axes, dts):
        for i in integrations:
            for g, ls in _GRADIENT_STYLE.items():
                sel = {"dt": dt, "integration": i, "gradient": g}
                if bool(np.isfinite(mean.sel(sel)).any()):
                    _band(ax, x, mean.sel(sel).values, np.nan_to_num(half.sel(sel).values), -1, 1, ls=ls,
                          color=colors[i], label=i if g == "adjusted" else None)
        ax.set_xlabel("epochs finished")
        ax.set_ylabel("cosine with exact gradient")
        ax.set_title(f"dt = {dt:g} ms (solid adjusted, dashed piggyback)")
        ax.set_ylim(top=1.005)
    axes[0].legend(fontsize="small", ncol=2)
    fig.tight_layout()
    return readable(fig)


# ------------------------------------------------------------------------- time bins (seed 000)
_SCHEME_COLOR = {"spiketime": "C0", "bptt": "C3"}
_DISC_STYLE = {"seed000": "-", "shared": "--"}
_SCHEME_NAME = {"spiketime": "spike-time", "bptt": "BPTT"}


def _bins_axis(ax, bins, min_gap: float = 0.12):
    """A log axis of bin counts, coarser to the right: a tick at every count, a label where it is
    at least ``min_gap`` decades from the last label (from the finest grid down: 30 and 25, or 75
    and 60, would print over each other)."""
    ax.set_xscale("log")
    labels, last = [], math.inf
    for b in sorted(bins, reverse=True):
        keep = math.log10(last) - math.log10(b) >= min_gap
        labels.append((b, str(int(b)) if keep else ""))
        last = b if keep else last
    ax.set_xticks([b for b, _ in labels], [t for _, t in labels])
    ax.minorticks_off()
    ax.set_xlim(max(bins) * 1.3, min(bins) / 1.3)  # fewer bins (coarser steps) to the right
    ax.set_xlabel("time bins (window / step)")


def timebins_lrr(by_dataset: dict, tolerance: float | None = None, collapse: float | None = None) -> plt.Figure:
    """The log rate ratio ln(CR / CR_benchmark) against the number of bins (coarser to the right), one
    panel per dataset, as :func:`timebins_lrr`; ``by_dataset``: ``{dataset: log rate ratios}``
    (:func:`snnlib.analyses.timebins.log_rate_ratios`, one absolute target shared by both schemes).
    Grey band: +-``tolerance`` ("minimal"); dotted: -``collapse`` (a halving). Runs that never reach the
    target enter with the whole run's samples (their fall is understated)."""
    fig, axes = panel_grid(len(by_dataset), panel=(5.6, 3.9), sharey=True)
    for ax, (name, l) in zip(axes, by_dataset.items()):
        mean, half = ci(l["lrr"])
        bins = l["bins"].values
        for s, color in _SCHEME_COLOR.items():
            for disc, ls in _DISC_STYLE.items():
                mu, h = mean.sel(scheme=s, discretization=disc), half.sel(scheme=s, discretization=disc)
                if not bool(mu.notnull().any()):
                    continue
                _band(ax, bins, mu.values, np.nan_to_num(h.values), ls=ls, marker="o", ms=3, color=color,
                      label=f"{_SCHEME_NAME[s]}, {disc}")
        ax.axhline(0.0, color="k", lw=0.8)
        if tolerance:
            ax.axhspan(-tolerance, tolerance, color="0.5", alpha=0.15, lw=0)
        if collapse:
            ax.axhline(-collapse, color="0.3", lw=0.8, ls=":")
        _bins_axis(ax, bins)
        ax.set_ylabel(f"ln(CR / CR benchmark), q = {l.attrs.get('q', float('nan')):g}")
        ax.set_title(name)
    axes[0].legend(fontsize="small")
    fig.tight_layout()
    return readable(fig)


def timebins_lines(by_dataset: dict, var: str = "final_test") -> plt.Figure:
    """``var`` of :func:`snnlib.analyses.timebins.finals` (final test accuracy, spikes) against
    the number of bins, as :func:`timebins_lrr`; for the accuracy, each arm's benchmark as a thin
    line (dotted: seed 000's discretization, dash-dotted: the shared model)."""
    labels = {"final_test": "test accuracy (%)", "spikes": "hidden spikes / sample", "final_val": "validation accuracy (%)"}
    fig, axes = panel_grid(len(by_dataset), panel=(5.6, 3.9))
    for ax, (name, r) in zip(axes, by_dataset.items()):
        mean, half = ci(r[var])
        bins = r["bins"].values
        for s, color in _SCHEME_COLOR.items():
            for disc, ls in _DISC_STYLE.items():
                mu, h = mean.sel(scheme=s, discretization=disc), half.sel(scheme=s, discretization=disc)
                if not bool(mu.notnull().any()):
                    continue
                _band(ax, bins, mu.values, np.nan_to_num(h.values), 0.0, 100.0 if "test" in var or "val" in var
                      else np.inf, ls=ls, marker="o", ms=3, color=color, label=f"{_SCHEME_NAME[s]}, {disc}")
            if var == "final_test":  # each arm's benchmark: dotted (seed 000's), dash-dotted (shared);
                # the spike-time scheme's is the continuous network for both, drawn once
                arms = (("seed000", ":"),) if s == "spiketime" else (("seed000", ":"), ("shared", "-."))
                for disc, bls in arms:
                    what = "continuous" if s == "spiketime" else f"{disc}, 1 ms"
                    ax.axhline(float(r["bench_test"].sel(scheme=s, discretization=disc).mean()), color=color,
                               ls=bls, lw=0.8, label=f"{_SCHEME_NAME[s]} benchmark ({what})")
        _bins_axis(ax, bins)
        ax.set_ylabel(labels.get(var, var))
        ax.set_title(name)
    axes[0].legend(fontsize="small")
    fig.tight_layout()
    return readable(fig)


def timebins_curves(curves: xr.Dataset, bench: xr.Dataset, discretization: str = "seed000",
                    title: str = "") -> plt.Figure:
    """Validation accuracy against training samples, one panel per scheme, a colour per bin count
    (dark: fine), the benchmark in black (means over seeds)."""
    fig, axes = panel_grid(2, panel=(5.6, 3.9), sharey=True)
    bins = list(curves["bins"].values)
    cmap = plt.get_cmap("viridis")
    for ax, s in zip(axes, ("spiketime", "bptt")):
        for i, b in enumerate(bins):
            y = 100 * curves["val_accuracy_curve"].sel(scheme=s, discretization=discretization, bins=b).mean("seed")
            if bool(y.notnull().any()):
                ax.plot(curves["samples_seen"], y, color=cmap(i / max(1, len(bins) - 1)), label=f"{int(b)} bins")
        yb = 100 * bench["val_accuracy_curve"].sel(scheme=s, discretization=discretization).mean("seed")
        ax.plot(bench["samples_seen"], yb, color="k", lw=1.5, ls=":", label="benchmark")
        ax.set_xlabel("training samples seen")
        ax.set_ylabel("validation accuracy (%)")
        ax.set_title(f"{_SCHEME_NAME[s]}, {discretization}")
        ax.set_ylim(0, 100)
    axes[0].legend(fontsize="x-small", ncol=2)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return readable(fig)


_NEURON_MARKER = {"slow": "o", "fast": "s"}


def neuron_lines(r: xr.Dataset, continuous: xr.Dataset | None = None, var: str = "final_test",
                 chance: float | None = None, tolerance: float | None = None,
                 collapse: float | None = None) -> plt.Figure:
    """One neuron for both schemes: ``var`` against h / tau_s (log axis), both schemes (colours) and
    both neurons (markers; dashed: the fast one) on one axis, means and Student-t 95% intervals over
    seeds. ``r``: :func:`snnlib.analyses.timebins.finals` of
    :func:`~snnlib.analyses.timebins.neuron_arms` (``var`` ``final_test``, ``spikes``) or its
    :func:`~snnlib.analyses.timebins.log_rate_ratios` (``var = "lrr"``: grey band +-``tolerance``,
    dotted -``collapse``). ``continuous``: the continuous network's final test accuracy per neuron as
    a thin line; ``chance``: a dotted line there."""
    labels = {"final_test": "test accuracy (%)", "final_val": "validation accuracy (%)",
              "spikes": "hidden spikes / sample", "lrr": f"ln(CR / CR at 1 ms), q = {r.attrs.get('q', math.nan):g}"}
    fig, ax = plt.subplots(figsize=(7.2, 4.4))
    mean, half = ci(r[var])
    acc = var in ("final_test", "final_val")
    for n, marker in _NEURON_MARKER.items():
        if n not in r["neuron"].values:
            continue
        x = r["h_over_tau_s"].sel(neuron=n).values
        order = np.argsort(x)
        for s, color in _SCHEME_COLOR.items():
            mu, h = mean.sel(scheme=s, neuron=n).values[order], half.sel(scheme=s, neuron=n).values[order]
            if not np.isfinite(mu).any():
                continue
            tau = float(r["tau_s"].sel(neuron=n))
            _band(ax, x[order], mu, np.nan_to_num(h), 0.0 if acc else -np.inf, 100.0 if acc else np.inf,
                  ls="-" if n == "slow" else "--", marker=marker, ms=4, color=color,
                  label=f"{_SCHEME_NAME[s]}, tau_s = {tau:g} ms")
        if continuous is not None and acc:
            c = 100 * float(continuous["test_accuracy"].isel(epoch=-1).sel(neuron=n).mean())
            ax.plot([x.min(), x.max()], [c, c], color="0.3", lw=0.9, ls="-" if n == "slow" else "--")
            ax.annotate(f"continuous, {float(r['tau_s'].sel(neuron=n)):g} ms", (x.min(), c), fontsize="x-small",
                        xytext=(0, 3), textcoords="offset points", color="0.3")
    if chance is not None and acc:
        ax.axhline(chance, color="0.5", lw=0.8, ls=":")
    if var == "lrr":
        ax.axhline(0.0, color="k", lw=0.8)
        if tolerance:
            ax.axhspan(-tolerance, tolerance, color="0.5", alpha=0.15, lw=0)
        if collapse:
            ax.axhline(-collapse, color="0.3", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("h / tau_s (step over the synaptic time constant)")
    ax.set_ylabel(labels.get(var, var))
    ax.legend(fontsize="small")
    fig.tight_layout()
    return readable(fig)


_ASRAN_STYLE = {"as ran": ("C3", "-", "o"), "gain restored": ("C1", "--", "s"), "Loihi coarsened": ("C2", "-.", "^"),
                "first design's skip": ("0.45", ":", "v")}


def asran_lines(r: xr.Dataset, chance: float | None = None) -> plt.Figure:
    """Seed 000 as it ran, its two controls and the first design's skip arm
    (:func:`snnlib.analyses.timebins.asran_finals`): final test accuracy against the bins (coarser to the
    right), means and Student-t 95% intervals over seeds; ``chance`` a dotted line."""
    fig, ax = plt.subplots(figsize=(7.2, 4.4))
    mean, half = ci(r["final_test"])
    bins = r["bins"].values
    order = np.argsort(bins)
    for arm in r["arm"].values:
        color, ls, marker = _ASRAN_STYLE.get(str(arm), ("k", "-", "o"))
        mu, h = mean.sel(arm=arm).values[order], half.sel(arm=arm).values[order]
        if not np.isfinite(mu).any():
            continue
        _band(ax, bins[order], mu, np.nan_to_num(h), 0.0, 100.0, ls=ls, marker=marker, ms=4, color=color, label=str(arm))
    if chance is not None:
        ax.axhline(chance, color="0.5", lw=0.8, ls=":")
    _bins_axis(ax, bins)
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return readable(fig)


def timing_control(loaded: dict, labels: dict | None = None, chance: float | None = None) -> plt.Figure:
    """The time-shuffled control (:mod:`snnlib.analyses.timing`): one panel per scheme, the final test
    accuracy of each seed on the event streams and on the shuffled recordings joined by a line (the same
    initial weights), the means with their Student-t 95 % intervals beside them; dotted: chance."""
    fig, axes = panel_grid(len(loaded), panel=(4.2, 3.4))
    for ax, (scheme, ds) in zip(axes, loaded.items()):
        real, shuf = timing.finals(ds)
        for a, b in zip(real, shuf):
            ax.plot([0, 1], [a, b], color="0.6", lw=0.8, marker="o", ms=3)
        for x, v in ((-0.15, real), (1.15, shuf)):
            v = v[np.isfinite(v)]
            if len(v) >= 2:
                m, h = mean_ci(v)
                ax.errorbar(x, m, yerr=h, fmt="s", color="C0", capsize=3)
        if chance is not None:
            ax.axhline(chance, color="0.3", ls=":", lw=1)
        ax.set_xticks([0, 1], ["event streams", "times shuffled"])
        ax.set_xlim(-0.5, 1.5)
        ax.set_ylabel("final test accuracy (%)")
        ax.set_title((labels or {}).get(scheme, scheme))
    fig.tight_layout()
    return fig


def variant_curves(ds: xr.Dataset, labels: dict | None = None, target: float | None = None,
                   dim: str = "variant") -> plt.Figure:
    """Validation accuracy (%) against the training samples seen, one line per ``dim`` value (mean and
    Student-t 95 % band over seeds), the shared convergence target dashed; a log axis of samples."""
    fig, axes = panel_grid(1, panel=(7.0, 3.8))
    ax = axes[0]
    n = ds["samples_seen"].values
    for i, v in enumerate(ds[dim].values):
        mu, half = ci(100 * ds["val_accuracy_curve"].sel({dim: v}), "seed")
        _band(ax, n, mu.values, half.values, lo=0, hi=100, color=f"C{i}", label=(labels or {}).get(str(v), str(v)))
    if target is not None:
        ax.axhline(100 * target, color="0.3", ls="--", lw=1, label="shared target")
    ax.set(xscale="log", xlabel="training samples seen", ylabel="validation accuracy (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def paired_arms(r: xr.Dataset, labels: dict | None = None) -> plt.Figure:
    """The arms of :func:`snnlib.analyses.arms.rates` seed by seed: final test accuracy and hidden spikes
    per sample (log axis), each seed's arms joined by a line (the same seed, so the same data order),
    the means with their Student-t 95 % intervals beside them."""
    dim = r.attrs["dim"]
    arms_ = [str(v) for v in r[dim].values]
    fig, axes = panel_grid(2, panel=(4.2, 3.4))
    for ax, var, ylabel in ((axes[0], "final_test", "final test accuracy (%)"),
                            (axes[1], "hidden_spikes", "hidden spikes / sample")):
        vals = np.stack([r[var].sel({dim: a}).values.astype(float) for a in arms_])  # arm x seed
        for seed_vals in vals.T:
            ax.plot(range(len(arms_)), seed_vals, color="0.6", lw=0.8, marker="o", ms=3)
        for i, v in enumerate(vals):
            v = v[np.isfinite(v)]
            if len(v) >= 2:
                m, h = mean_ci(v)
                ax.errorbar(i + (0.15 if i == len(arms_) - 1 else -0.15), m, yerr=h, fmt="s", color="C0", capsize=3)
        if var == "hidden_spikes":
            ax.set_yscale("log")
            plain = mticker.FuncFormatter(lambda v, _: f"{v:,.0f}")
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(plain)
        ax.set_xticks(range(len(arms_)), [textwrap.fill((labels or {}).get(a, a), 16) for a in arms_])
        ax.set_xlim(-0.5, len(arms_) - 0.5)
        ax.set_ylabel(ylabel)
    fig.tight_layout()
    return fig


def surrogate_depth(ds: xr.Dataset) -> plt.Figure:
    """The depth experiment (:mod:`snnlib.analyses.surrogate`): left, each scheme's final test accuracy
    against the number of hidden layers (seeds as dots, means with Student-t 95 % intervals); right,
    the cosine of BPTT's surrogate gradient with the exact gradient, averaged over training, in the
    first layer (the farthest from the loss) and over all layers."""
    fig, axes = panel_grid(2, panel=(4.6, 3.6))
    depths = ds["depth"].values.astype(float)
    for i, scheme in enumerate(ds["scheme"].values):
        acc = ds["final_test"].sel(scheme=scheme)
        off = (i - 0.5) * 0.12
        for d, vals in zip(depths, acc.values):
            ax_vals = vals[np.isfinite(vals)]
            axes[0].plot(np.full(ax_vals.shape, d + off), ax_vals, "o", ms=2.5, color=f"C{i}", alpha=0.4)
        mu, half = ci(acc, "seed")
        axes[0].errorbar(depths + off, mu.values, yerr=half.values, fmt="s-", color=f"C{i}", capsize=3,
                         label=surrogate.SCHEMES.get(str(scheme), str(scheme)))
    axes[0].set(xlabel="hidden layers", ylabel="final test accuracy (%)", xticks=depths)
    axes[0].legend(fontsize=8)
    if "cosine" in ds:
        for i, (label, da) in enumerate((("first layer", surrogate.layer_cosine(ds)),
                                         ("all layers", surrogate.layer_cosine(ds, None)))):
            mu, half = ci(da, "seed")
            axes[1].errorbar(depths, mu.values, yerr=half.values, fmt="o-", color=f"C{i + 2}", capsize=3, label=label)
        axes[1].set(xlabel="hidden layers", ylabel="cosine, surrogate vs exact gradient", xticks=depths)
        axes[1].legend(fontsize=8)
    else:
        axes[1].set_axis_off()
    fig.tight_layout()
    return fig


def surrogate_training(ds: xr.Dataset) -> plt.Figure:
    """The cosine of BPTT's surrogate gradient with the exact gradient in the first layer over
    training, one line per depth (mean and Student-t 95 % band over seeds; epoch 0: the initial
    weights)."""
    fig, axes = panel_grid(1, panel=(6.5, 3.4))
    ax = axes[0]
    x = np.arange(ds.sizes["checkpoint"])
    for i, d in enumerate(ds["depth"].values):
        mu, half = ci(ds["cosine_layer"].sel(depth=d, layer=1), "seed")
        _band(ax, x, mu.values, half.values, lo=-1, hi=1, color=f"C{i}", label=f"{int(d)} hidden layer{'s' if d > 1 else ''}")
    ax.set(xlabel="epochs trained", ylabel="cosine in the first layer")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _text_colour(rgba) -> str:
    """Black on a light cell (or an empty one, ``None``), white on a dark one (relative luminance)."""
    if rgba is None:
        return "black"
    r, g, b = rgba[:3]
    return "white" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5 else "black"


def breakdown_map(m: xr.Dataset) -> plt.Figure:
    """The breakdown map (:func:`snnlib.analyses.transfer.breakdown_map`): one panel per neuron, a row
    per integration, a column per spike rule; the colour is log10 of the largest h / tau_s up to which
    the integrator is shown within the tolerance of the analytic network, each cell reads
    "trusted / broken" (-: not shown at any step tried; n/a: the rule does not apply)."""
    neurons = [str(n) for n in m["neuron"].values]
    fig, axes = panel_grid(len(neurons), panel=(5.2, 3.6))
    trusted = np.log10(m["trusted"].values.astype(float))
    finite = trusted[np.isfinite(trusted)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-3.0, 1.0)
    if hi - lo < 1.0:  # one value (or close ones): a decade around them, not a degenerate colour scale
        lo, hi = (lo + hi) / 2 - 0.5, (lo + hi) / 2 + 0.5
    cmap = plt.get_cmap("viridis")
    image = None
    for ax, n in zip(axes, neurons):
        t, b = m["trusted"].sel(neuron=n), m["broken"].sel(neuron=n)
        image = ax.imshow(np.log10(t.values.astype(float)), cmap=cmap, vmin=lo, vmax=hi, aspect="auto")
        rows, cols = [str(v) for v in t["integration"].values], [str(v) for v in t["rule"].values]
        for i in range(len(rows)):
            for j in range(len(cols)):
                tv, bv = float(t.values[i, j]), float(b.values[i, j])
                text = cell_text(tv, bv, bool(m["applies"].sel(neuron=n).values[i, j]))
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color=_text_colour(cmap((np.log10(tv) - lo) / (hi - lo)) if np.isfinite(tv) else None))
        ax.set_xticks(range(len(cols)), cols)
        ax.set_yticks(range(len(rows)), rows)
        ax.set_title(f"{n}: h / tau_s trusted / broken")
    if image is not None:
        fig.colorbar(image, ax=list(axes[:len(neurons)]), label="log10 trusted h / tau_s", shrink=0.8)
    return fig


def breakdown_lines(sweeps: dict, tau_s: dict, tolerance: float, split: str = "test") -> plt.Figure:
    """The curves behind the breakdown map: accuracy minus the analytic network's (points) against
    h / tau_s (log axis), one panel per neuron and spike rule, a line per integration (mean and 95 %
    interval over seeds); the grey band is the tolerance the map reads."""
    panels = []
    for n, ds in sweeps.items():
        d = with_drop(ds)["drop"].sel(split=split)
        panels += [(n, r, d.sel(rule=r)) for r in d["rule"].values]
    fig, axes = panel_grid(len(panels), panel=(5.5, 3.6))
    for ax, (n, rule, d) in zip(axes, panels):
        x = d["dt"].values / float(tau_s[n])
        mu, half = ci(d, "seed")
        for m in d["integration"].values:
            y, h = mu.sel(integration=m).values, half.sel(integration=m).values
            if np.isfinite(y).any():
                _band(ax, x, y, np.nan_to_num(h), marker="o", ms=3, label=str(m))
        ax.axhspan(-tolerance, tolerance, color="0.85", zorder=0)
        ax.set_xscale("log")
        ax.set_xlabel("h / tau_s")
        ax.set_ylabel("accuracy - analytic (points)")
        ax.set_title(f"{n} (tau_s = {float(tau_s[n]):g} ms), rule {rule}")
    axes[0].legend(ncol=2, fontsize=8)
    fig.tight_layout()
    return readable(fig)
