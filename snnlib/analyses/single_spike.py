"""Single-spike against multi-spike exact spike-time training (the survey: "fewer spikes => slow
backpropagation => slow convergence"): BATS's two MNIST recipes on the same data and network size,
their convergence rates against one shared target and their hidden spikes.

Read by the chapter of the ``single-spike`` sweep and by the findings (``s003_single_spike``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from snnlib.metrics import mean_ci, samples_to_reach
from snnlib.study.loading import load_sweep
from snnlib.training.schemes.spiketime import BatsConfig

__all__ = ["SWEEP", "VARIANTS", "load", "rates", "table", "settings"]

SWEEP = "single-spike"
#: the variants, by the label the chapter and the findings give them
VARIANTS = {"single": "single-spike (at most one spike per neuron)", "multi": "multi-spike (up to 30)"}


def load(profile: str = "quick", allow_missing: bool = True) -> xr.Dataset:
    """The sweep's results (dims ``variant``, ``seed``, ``epoch``, ``samples_seen``, ...)."""
    return load_sweep(SWEEP, profile, allow_missing=allow_missing)


def rates(ds: xr.Dataset, q: float) -> xr.Dataset:
    """Per variant and seed: ``n_q``, the training samples until the validation accuracy first reaches
    one target shared by both variants (``target`` = ``q`` x the lower of their mean final validation
    accuracies; :func:`snnlib.metrics.samples_to_reach`), the whole run where it is never reached
    (``censored``: its fall understated); the final test and validation accuracy (points) and hidden
    spikes per sample. ``spacing``: samples between validation records."""
    if "variant" not in ds.dims:
        raise ValueError("expected a sweep over variant (single, multi): the single-spike sweep.")
    n = ds["samples_seen"].values.astype(float)
    final_val = ds["val_accuracy"].isel(epoch=-1, drop=True)
    target = float(q * final_val.mean("seed").min("variant"))

    def reach(curve):
        return samples_to_reach(n, curve, target) if np.isfinite(curve).any() else math.nan

    raw = xr.apply_ufunc(reach, ds["val_accuracy_curve"], input_core_dims=[["samples_seen"]], vectorize=True)
    censored = raw.isnull() & ds["val_accuracy_curve"].notnull().any("samples_seen")
    out = xr.Dataset({"n_q": raw.where(~censored, n[-1]), "censored": censored,
                      "final_test": 100 * ds["test_accuracy"].isel(epoch=-1, drop=True), "final_val": 100 * final_val,
                      "hidden_spikes": ds["hidden_spikes"].isel(epoch=-1, drop=True)})
    out.attrs.update(q=q, target=target, spacing=float(np.diff(n).max()) if n.size > 1 else math.nan)
    return out


def table(r: xr.Dataset) -> pd.DataFrame:
    """One row per variant: means and Student-t 95 % half-widths over seeds of the final test
    accuracy, the samples to the shared target and the hidden spikes per sample; seeds that never
    reach the target."""
    rows = []
    for v in r["variant"].values:
        x = r.sel(variant=v)
        row = {"variant": VARIANTS.get(str(v), str(v))}
        for col, var, fmt in (("test accuracy (%)", "final_test", "{:.2f} ± {:.2f}"),
                              ("samples to the target", "n_q", "{:,.0f} ± {:,.0f}"),
                              ("hidden spikes / sample", "hidden_spikes", "{:.0f} ± {:.0f}")):
            vals = x[var].values.astype(float)
            vals = vals[np.isfinite(vals)]
            row[col] = fmt.format(*mean_ci(vals)) if len(vals) >= 2 else "n/a"
        row["never reach it"] = int(x["censored"].sum())
        rows.append(row)
    return pd.DataFrame(rows).set_index("variant")


def settings(ds: xr.Dataset) -> pd.DataFrame:
    """Each variant's recipe (BATS's, as this study runs it): thresholds, spikes per neuron, window,
    initial weights, loss, learning rate; and what both share (network, data, epochs, batch)."""
    shared = yaml.safe_load(ds.attrs["config"])
    rows = []
    for v in ds["variant"].values:
        b = BatsConfig.single_spike() if v == "single" else BatsConfig.multi_spike()
        rows.append({"variant": VARIANTS.get(str(v), str(v)), "network": "784-" + "-".join(map(str, shared["hidden"])) + "-10",
                     "tau_s / tau (ms)": f"{b.tau_s:g} / {b.tau:g}", "thresholds (BATS units)": str(b.theta_bats),
                     "spikes per neuron": str(b.max_spikes), "window (ms)": b.t_max,
                     "initial weights": f"U({b.init_low[0]:g}, {b.init_high[0]:g})", "loss": b.loss, "learning rate": shared.get("lr") or b.lr,
                     "epochs": int(shared["epochs"]), "batch": int(shared.get("batch_size", b.batch_size))})
    return pd.DataFrame(rows).set_index("variant")
