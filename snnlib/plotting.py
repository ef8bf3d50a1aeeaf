"""Plotting helpers: each takes an Axes (or a Figure for grids) and a Dataset and returns them.

Book notebooks call these so that figures look the same everywhere and notebooks stay thin.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

__all__ = ["digits", "ttfs_raster", "spike_time_histogram", "class_counts", "nmnist_frames"]


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


def class_counts(ax: plt.Axes, ds: xr.Dataset) -> plt.Axes:
    """Class frequencies per split (fractions, so splits of different sizes compare)."""
    frac = ds["class_count"] / ds["class_count"].sum("label")
    df = frac.to_dataframe("fraction").reset_index()
    import seaborn as sns

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
