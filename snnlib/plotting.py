"""Plotting helpers: each takes an Axes (or a Figure for grids) and a Dataset and returns them.

Book notebooks call these so that figures look the same everywhere and notebooks stay thin.
"""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from PIL import Image as PILImage

from snnlib.metrics import mean_ci

__all__ = ["digits", "ttfs_raster", "spike_time_histogram", "input_spikes_figure", "class_counts", "nmnist_frames",
           "readable", "panel_grid", "ps_split_figure", "spike_convergence_figure", "learning_curves", "training_figure", "compact"]

#: font size (pt) of labels in the book's multi-panel figures; ticks one point, legends two smaller
FONT_SIZE = 12


def readable(fig: plt.Figure, size: float = FONT_SIZE) -> plt.Figure:
    """Set every axis label, title, tick label and legend of ``fig`` to a size readable at page
    width (set on the artists themselves, so it holds whatever the rcParams at drawing time)."""
    for ax in fig.axes:
        ax.tick_params(labelsize=size - 1)
        for text in (ax.xaxis.label, ax.yaxis.label, ax.title):
            text.set_fontsize(size)
        legend = ax.get_legend()
        if legend is not None:
            for text in legend.get_texts():
                text.set_fontsize(size - 2)
    return fig


def panel_grid(n: int, ncols: int = 2, panel: tuple[float, float] = (5.0, 3.8), **kw):
    """A figure of ``n`` panels, at most ``ncols`` (<= 2) per row, and its axes as a flat list;
    the unused cells of the last row are removed."""
    if not 1 <= ncols <= 2:
        raise ValueError(f"ncols = {ncols}: the book's figures have one or two panels per row.")
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel[0] * ncols, panel[1] * nrows), squeeze=False, **kw)
    axes = list(axes.ravel())
    for ax in axes[n:]:
        ax.remove()
    return fig, axes[:n]


def digits(fig: plt.Figure, ds: xr.Dataset, image="example_image", label="example_label") -> plt.Figure:
    """A row of example digits with their labels."""
    n = ds.sizes["example"]
    axes = fig.subplots(1, n)
    for i, ax in enumerate(np.atleast_1d(axes)):
        ax.imshow(ds[image].isel(example=i), cmap="gray_r")
        ax.set_title(str(int(ds[label][i])))
        ax.set_axis_off()
    return fig


def ttfs_raster(ax: plt.Axes, ds: xr.Dataset, example: int = 0, var="example_spike_time") -> plt.Axes:
    """Input spike raster of one digit under time-to-first-spike coding (one dot per pixel)."""
    t = ds[var].isel(example=example).values
    pix = np.flatnonzero(np.isfinite(t))
    ax.scatter(t[pix], pix, s=4, c="k")
    ax.set_xlabel("spike time (ms)")
    ax.set_ylabel("input neuron (pixel index)")
    ax.set_xlim(0, float(ds.attrs.get("t_in_ms", np.nanmax(t[pix]) if len(pix) else 1.0)))
    ax.set_title(f"digit {int(ds['example_label'][example])}: {len(pix)} input spikes")
    return ax


def spike_time_histogram(ax: plt.Axes, ds: xr.Dataset) -> plt.Axes:
    """Histogram of the input spike times over the test set."""
    edges = ds["spike_time_bin_edge"].values
    ax.stairs(ds["spike_time_hist"].values, edges, fill=True, alpha=0.7)
    ax.set_xlabel("spike time (ms)")
    ax.set_ylabel("input spikes (test set)")
    ax.set_yscale("log")
    return ax


def input_spikes_figure(ds: xr.Dataset, example: int = 0) -> plt.Figure:
    """Two panels: the input spike raster of one digit and the spike-time histogram of the test set."""
    fig, (raster, hist) = panel_grid(2)
    ttfs_raster(raster, ds, example=example)
    spike_time_histogram(hist, ds)
    fig.tight_layout()
    return readable(fig)


def class_counts(ax: plt.Axes, ds: xr.Dataset) -> plt.Axes:
    """Class frequencies per split (fractions, so splits of different sizes compare)."""
    frac = ds["class_count"] / ds["class_count"].sum("label")
    df = frac.to_dataframe("fraction").reset_index()
    import seaborn as sns  # optional: seaborn, only for these figures

    sns.barplot(data=df, x="label", y="fraction", hue="split", ax=ax)
    ax.set_xlabel("class")
    ax.set_ylabel("fraction of the split")
    ax.legend(fontsize="small", ncols=2)
    return ax


def nmnist_frames(fig: plt.Figure, ds: xr.Dataset, n: int = 4) -> plt.Figure:
    """N-MNIST event frames: rows are recordings, columns time bins (ON minus OFF events)."""
    fr = ds["nmnist_frame"]
    n = min(n, fr.sizes["example"])
    axes = fig.subplots(n, fr.sizes["frame"], squeeze=False)
    for i in range(n):
        for j in range(fr.sizes["frame"]):
            img = fr.isel(example=i, frame=j)
            diff = img.isel(polarity=1) - img.isel(polarity=0)
            lim = max(1, int(abs(diff).max()))
            axes[i, j].imshow(diff, cmap="coolwarm", vmin=-lim, vmax=lim)
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            if i == 0:
                axes[i, j].set_title(f"bin {j + 1}")
        axes[i, 0].set_ylabel(f"label {int(ds['nmnist_example_label'][i])}")
    return fig


# ------------------------------------------------------------------------------- single neuron
def membrane_traces(ax: plt.Axes, ds: xr.Dataset) -> plt.Axes:
    """Seed 001 Fig. 1: V(t) analytic and forward-Euler with each spike rule; threshold dashed."""
    styles = {"analytic": dict(color="k", lw=2), "euler-snap": dict(color="C3"),
              "euler-linear": dict(color="C0", ls="--"), "euler-newton": dict(color="C2", ls=":")}
    for m in ds["trace"].values:
        ax.plot(ds["time"], ds["fig1_V"].sel(trace=m), label=str(m), **styles.get(str(m), {}))
    ax.axhline(float(ds.attrs.get("theta", 1.0)), color="gray", ls="--", lw=1, label=r"$\theta$")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("membrane potential V")
    ax.set_title(f"forward-Euler, dt = {ds.attrs.get('trace_dt_ms', ds.attrs.get('dt_ms'))} ms")
    ax.legend(fontsize="small")
    return ax


def ps_split_traces(ax: plt.Axes, ds: xr.Dataset, xlim: tuple[float, float] | None = None,
                    pad: float = 0.08) -> plt.Axes:
    """Seed 001 Fig. 2: one PS(5) step split at different intermediate points, and the exact flow.

    With ``xlim``, the y-limits enclose *every* curve inside that window (plus ``pad`` of the
    range), so no curve is cropped out of the zoom."""
    ax.plot(ds["time2"], ds["fig2_exact"], color="k", lw=2, label="exact (any split)")
    for s in ds["split"].values:
        label = "PS(5), one step" if s < 0 else f"PS(5), split at {s:g} ms"
        ax.plot(ds["time2"], ds["fig2_V"].sel(split=s), label=label, lw=1.5)
    if xlim is not None:
        window = ds.sel(time2=slice(*xlim))
        lo = min(float(window["fig2_exact"].min()), float(window["fig2_V"].min()))
        hi = max(float(window["fig2_exact"].max()), float(window["fig2_V"].max()))
        margin = pad * (hi - lo) if hi > lo else 0.01
        ax.set_xlim(*xlim)
        ax.set_ylim(lo - margin, hi + margin)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("V")
    ax.legend(fontsize="small")
    return ax


def ps_split_figure(ds: xr.Dataset, zoom: tuple[float, float]) -> plt.Figure:
    """Fig. 2 in two panels: the whole step, and a zoom on ``zoom`` (ms) that shows every curve."""
    fig, (whole, part) = panel_grid(2)
    ps_split_traces(whole, ds)
    whole.set_title("the whole step")
    ps_split_traces(part, ds, xlim=zoom)
    part.set_title(f"zoom on {zoom[0]:g} to {zoom[1]:g} ms")
    part.get_legend().remove()
    fig.tight_layout()
    return readable(fig)


def convergence_loglog(ax: plt.Axes, ds: xr.Dataset, var: str = "v_error", x: str = "dt",
                       rule: str | None = None, slope_var: str = "v_slope") -> plt.Axes:
    """Error against step size per integration order on log-log axes, fitted slopes in the legend."""
    for k in ds["order"].values:
        err = ds[var].sel(order=k)
        slope = ds[slope_var].sel(order=k)
        if rule is not None:
            err, slope = err.sel(rule=rule), slope.sel(rule=rule)
        ax.loglog(ds[x], err, "o-", label=f"order {int(k)}: slope {float(slope):.2f}")
    # the step sizes themselves as ticks: log-axis minor labels (3x10^0 4x10^0) collide
    ax.set_xticks(ds[x].values, [f"{v:g}" for v in ds[x].values])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xlabel(f"{x} (ms)")
    ax.set_ylabel(ds[var].attrs.get("long_name", var))
    if rule is not None:
        ax.set_title(f"spike rule: {rule}")
    ax.legend(fontsize="x-small", loc="best")
    return ax


def spike_convergence_figure(ds: xr.Dataset) -> plt.Figure:
    """First-spike-time error against step size, one panel per spike rule, two panels per row."""
    rules = list(ds["rule"].values)
    fig, axes = panel_grid(len(rules) + 1)
    for ax, rule in zip(axes, rules):
        convergence_loglog(ax, ds, var="spike_error", x="spike_dt", rule=rule, slope_var="spike_slope")
        ax.get_legend().remove()  # the last panel lists the slopes of every rule, off the curves
    ylo = min(a.get_ylim()[0] for a in axes[:-1])  # one error scale for every rule
    yhi = max(a.get_ylim()[1] for a in axes[:-1])
    for ax in axes[:-1]:
        ax.set_ylim(ylo, yhi)
    key = axes[-1]
    key.set_axis_off()
    labels = [f"order {int(k)}: slope " + ", ".join(f"{float(ds['spike_slope'].sel(order=k, rule=r)):.2f}"
                                                   for r in rules) for k in ds["order"].values]
    key.legend(axes[0].get_lines(), labels, loc="center", title="fitted slopes (" + ", ".join(map(str, rules)) + ")")
    fig.tight_layout()
    return readable(fig)


def cost_vs_error(ax: plt.Axes, ds: xr.Dataset) -> plt.Axes:
    """Wall time per simulated second against spike-time error, one line per order (points: dt)."""
    for k in ds["order"].values:
        ax.loglog(ds["cost_spike_error"].sel(order=k), ds["cost_wall_s_per_s"].sel(order=k), "o-",
                  label=f"order {int(k)}")
    exact = ds.attrs.get("cost_exact_wall_s_per_s")
    if exact is not None:
        ax.axhline(exact, color="k", ls="--", lw=1, label="exact, event-driven")
    ax.set_xlabel("mean first-spike-time error (ms)")
    ax.set_ylabel("wall time per simulated second (s)")
    ax.legend(fontsize="x-small")
    return ax


# ----------------------------------------------------------------------------- learning curves
def value_bounds(var: str, values) -> tuple[float, float]:
    """The range a quantity can take: accuracies (fractions) ``[0, 1]``; counts, rates and losses
    that are never negative in the data ``[0, inf)``; otherwise unbounded."""
    if "accuracy" in var:
        return 0.0, 1.0
    v = np.asarray(values, dtype=float)
    return (0.0, np.inf) if np.all(v[np.isfinite(v)] >= 0) else (-np.inf, np.inf)


def learning_curves(ax: plt.Axes, ds: xr.Dataset, var: str = "test_accuracy", label: str | None = None,
                    color=None, level: float = 0.95) -> plt.Axes:
    """Mean over seeds of ``var`` per epoch with its Student-t confidence band (``level``).

    The band is cut at the bounds of the quantity (:func:`value_bounds`): with few seeds a
    symmetric t-interval can reach below zero, where no accuracy or spike count lies."""
    da = ds[var] if "seed" in ds[var].dims else ds[var].expand_dims(seed=[0])
    stats = np.array([mean_ci(da.isel(epoch=i).values, level) for i in range(da.sizes["epoch"])])
    epochs = ds["epoch"].values
    line, = ax.plot(epochs, stats[:, 0], "o-", ms=3, color=color,
                    label=(label or var) + f" (n={da.sizes['seed']})")
    if da.sizes["seed"] > 1:
        lo, hi = value_bounds(var, da.values)
        ax.fill_between(epochs, np.clip(stats[:, 0] - stats[:, 1], lo, hi),
                        np.clip(stats[:, 0] + stats[:, 1], lo, hi), alpha=0.25, color=line.get_color())
    ax.set_xlabel("epoch")
    ax.set_ylabel(var.replace("_", " "))
    return ax


def batch_losses(ax: plt.Axes, ds: xr.Dataset) -> plt.Axes:
    """Training loss of every logged chunk of batches, one line per seed, against epochs."""
    bl = ds["batch_loss"] if "seed" in ds["batch_loss"].dims else ds["batch_loss"].expand_dims(seed=[0])
    n_chunks = bl.sizes["log_chunk"]
    x = (np.arange(bl.sizes["epoch"])[:, None] + (np.arange(n_chunks)[None, :] + 1) / n_chunks).ravel()
    for s in bl["seed"].values if "seed" in bl.coords else range(bl.sizes["seed"]):
        y = bl.sel(seed=s).values.ravel() if "seed" in bl.coords else bl.isel(seed=s).values.ravel()
        ax.plot(x, y, lw=1, label=f"seed {int(s)}")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.legend(fontsize="x-small")
    return ax


def training_figure(ds: xr.Dataset) -> plt.Figure:
    """A training run in three panels, two per row: validation and test accuracy, training loss
    per logged chunk of batches, hidden spikes per sample (means and 95% bands over seeds)."""
    fig, axes = panel_grid(3)
    learning_curves(axes[0], ds, "val_accuracy", "validation")
    learning_curves(axes[0], ds, "test_accuracy", "test")
    axes[0].set_ylabel("accuracy")
    axes[0].legend()
    batch_losses(axes[1], ds)
    learning_curves(axes[2], ds, "hidden_spikes", "hidden spikes per sample")
    axes[2].set_ylabel("hidden spikes per sample")
    fig.tight_layout()
    return readable(fig)


def compact(fig: plt.Figure, colors: int = 64, dpi: int = 100):
    """``fig`` as an IPython image in a palette PNG of at most ``colors`` colours: about a quarter
    of the bytes of matplotlib's RGBA PNG, alike to the eye for line plots. Sweep point notebooks,
    hundreds of them committed under ``runs/``, show their figure this way. Closes ``fig``, so the
    inline backend does not show it a second time."""
    from IPython.display import Image  # optional: IPython, there only where notebooks run

    if not 2 <= colors <= 256:
        raise ValueError(f"colors = {colors}: a palette PNG holds 2 to 256 colours.")
    raw = io.BytesIO()
    fig.savefig(raw, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    out = io.BytesIO()
    PILImage.open(raw).convert("RGB").quantize(colors).save(out, format="png", optimize=True)
    return Image(data=out.getvalue(), format="png")


def coding_comparison(ax: plt.Axes, rows: dict, names: dict, published: dict | None = None) -> plt.Axes:
    """Test accuracy (%) of rate and TTFS coding under each setup: means with 95% intervals over
    seeds (``rows`` as :func:`snnlib.experiments.snntorch_tutorial.compare` returns them; a coding
    absent from a row is not drawn; ``names``: their labels), and the published single-run numbers
    (``published``, %) as crosses."""
    codings = ("rate", "ttfs")
    for i, (setup, r) in enumerate(rows.items()):
        x = np.arange(len(codings)) + (i - (len(rows) - 1) / 2) * 0.2
        ax.errorbar(x, [r.get(c, np.nan) for c in codings], yerr=[r.get(f"{c}_ci", np.nan) for c in codings],
                    fmt="o", capsize=4, label=names[setup])
    if published:
        ax.plot(range(len(codings)), [published[c] for c in codings], "kx", ms=9, label="seed 002 (published)")
    ax.set_xticks(range(len(codings)), ["rate", "TTFS"])
    ax.set_xlim(-0.6, len(codings) - 0.4)
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.12))  # below: never on the data
    return ax


def lines_over(ax: plt.Axes, da: xr.DataArray, x: str, by: str, reference: float | None = None,
               scale: float = 1.0, logx: bool = True, styles: dict | None = None) -> plt.Axes:
    """One line per value of the dimension ``by`` of ``da``: its mean over ``seed`` (when present)
    against the coordinate ``x``, with the range over seeds as a band; ``reference`` as a dashed
    horizontal line; values times ``scale``. ``styles``: per value of ``by``, keyword arguments
    of ``ax.plot``."""
    xs = da[x].values
    for key in da[by].values:
        d = da.sel({by: key}) * scale
        mu = d.mean("seed").values if "seed" in d.dims else d.values
        line, = ax.plot(xs, mu, "o-", ms=3, label=str(key), **(styles or {}).get(str(key), {}))
        if "seed" in d.dims and d.sizes["seed"] > 1:
            ax.fill_between(xs, d.min("seed").values, d.max("seed").values, alpha=0.15, color=line.get_color())
    if reference is not None:
        ax.axhline(reference * scale, color="k", ls="--", lw=1, label="analytic")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel(da.name.replace("_", " ") if da.name else "")
    return ax
