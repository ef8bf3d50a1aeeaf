"""Two (or more) arms trained on the same data and compared seed by seed: each arm's convergence
rate against one target shared by all arms, its final accuracies and hidden spikes, and a table of
them. Used by the single-spike chapter (arms: BATS's two recipes) and the coding chapter (arms: rate
and time-to-first-spike coding).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from snnlib.metrics import mean_ci, samples_to_reach

__all__ = ["rates", "table"]


def rates(ds: xr.Dataset, q: float, dim: str) -> xr.Dataset:
    """Per ``dim`` value (arm) and seed: ``n_q``, the training samples until the validation accuracy
    first reaches one target shared by every arm (``target`` = ``q`` x the lowest of their mean final
    validation accuracies; :func:`snnlib.metrics.samples_to_reach`), the whole run where it is never
    reached (``censored``: its rate overstated); the final test and validation accuracy (points) and
    hidden spikes per sample. ``spacing``: the most samples between the two validation records that
    bracket a run's crossing of the target (the resolution of ``n_q``; records may be denser early in
    training, ``dense_epochs``), NaN when no run reaches it."""
    if dim not in ds.dims:
        raise ValueError(f"expected a dataset with a {dim!r} dimension (one value per arm compared); "
                         f"it has {', '.join(map(str, ds.dims)) or 'none'}.")
    if ds.sizes[dim] < 2:
        raise ValueError(f"{dim} has {ds.sizes[dim]} value: a comparison needs two arms or more.")
    n = ds["samples_seen"].values.astype(float)
    final_val = ds["val_accuracy"].isel(epoch=-1, drop=True)
    target = float(q * final_val.mean("seed").min(dim))

    def reach(curve):
        return samples_to_reach(n, curve, target) if np.isfinite(curve).any() else math.nan

    raw = xr.apply_ufunc(reach, ds["val_accuracy_curve"], input_core_dims=[["samples_seen"]], vectorize=True)
    censored = raw.isnull() & ds["val_accuracy_curve"].notnull().any("samples_seen")
    out = xr.Dataset({"n_q": raw.where(~censored, n[-1]), "censored": censored,
                      "final_test": 100 * ds["test_accuracy"].isel(epoch=-1, drop=True), "final_val": 100 * final_val,
                      "hidden_spikes": ds["hidden_spikes"].isel(epoch=-1, drop=True)})
    out.attrs.update(q=q, target=target, spacing=_bracket(n, raw.values[~censored.values]), dim=dim)
    return out


def _bracket(n: np.ndarray, crossings: np.ndarray) -> float:
    """The widest gap between consecutive records ``n`` around any of ``crossings`` (a crossing at a
    record counts the gap before it; at the first record, that record's samples)."""
    crossings = crossings[np.isfinite(crossings)]
    if crossings.size == 0:
        return math.nan
    i = np.searchsorted(n, crossings, side="left")  # the record at or after each crossing
    gaps = np.diff(np.concatenate([[0.0], n]))
    return float(gaps[np.clip(i, 0, len(n) - 1)].max())


def table(r: xr.Dataset, labels: dict | None = None) -> pd.DataFrame:
    """One row per arm of :func:`rates`' result: means and Student-t 95 % half-widths over seeds of the
    final test accuracy, the samples to the shared target and the hidden spikes per sample; the seeds
    that never reach the target. ``labels`` names the arms (default: their values)."""
    dim = r.attrs["dim"]
    rows = []
    for v in r[dim].values:
        x = r.sel({dim: v})
        row = {dim: (labels or {}).get(str(v), str(v))}
        for col, var, fmt in (("test accuracy (%)", "final_test", "{:.2f} ± {:.2f}"),
                              ("samples to the target", "n_q", "{:,.0f} ± {:,.0f}"),
                              ("hidden spikes / sample", "hidden_spikes", "{:.0f} ± {:.0f}")):
            vals = x[var].values.astype(float)
            vals = vals[np.isfinite(vals)]
            row[col] = fmt.format(*mean_ci(vals)) if len(vals) >= 2 else "n/a"
        row["never reach it"] = int(x["censored"].sum())
        rows.append(row)
    return pd.DataFrame(rows).set_index(dim)
