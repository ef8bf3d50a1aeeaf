"""Figures of the sweep chapters (transfer, ...): each takes the sweep's Dataset
(:func:`snnlib.runs.load_sweep`) and returns a Figure, at most two panels per row
(:func:`snnlib.plotting.panel_grid`), intervals over seeds cut at the quantity's bounds."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from .plotting import panel_grid, readable, value_bounds

__all__ = ["transfer_heatmaps", "transfer_lines"]

_LABELS = {"accuracy": "test accuracy (%)", "hidden_spikes": "hidden spikes / sample",
           "first_spike_error": "first output spike error (ms)", "agreement": "agreement with analytic (%)",
           "wall_ms_per_sample": "wall time (ms / sample)"}
_PERCENT = ("accuracy", "agreement")


def transfer_heatmaps(ds: xr.Dataset, source: str, input: str = "exact", split: str = "test",
                      limit: float | None = None) -> plt.Figure:
    """Mean accuracy drop against the analytic network (points, over seeds) per integration (rows) and
    step (columns), one panel per spike rule; colours saturate at ``+-limit`` points (default: the
    largest drop, at least 1), the numbers are written in the cells."""
    import seaborn as sns

    from .experiments.transfer import with_drop

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
    from .experiments.transfer import ci

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
