"""Single-spike against multi-spike exact spike-time training (the survey: "fewer spikes => slow
backpropagation => slow convergence"): BATS's two MNIST recipes on the same data and network size,
their convergence rates against one shared target and their hidden spikes.

Read by the chapter of the ``single-spike`` sweep and by the findings (``s003_single_spike``).
"""

from __future__ import annotations

import pandas as pd
import xarray as xr
import yaml

from snnlib.analyses import arms
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
    """Per variant and seed: the training samples to one validation target shared by both variants,
    the final accuracies and hidden spikes (:func:`snnlib.analyses.arms.rates` over ``variant``)."""
    if "variant" not in ds.dims:
        raise ValueError("expected a sweep over variant (single, multi): the single-spike sweep.")
    return arms.rates(ds, q, "variant")


def table(r: xr.Dataset) -> pd.DataFrame:
    """One row per variant (:func:`snnlib.analyses.arms.table`)."""
    return arms.table(r, VARIANTS)


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
