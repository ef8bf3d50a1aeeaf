"""How much a trained network uses the timing of N-MNIST's events: each scheme trained on the event
streams and, from the same initial weights, on the same recordings with their event times shuffled
within each recording (:func:`snnlib.data.encoding.shuffle_times`). Every pixel keeps its events and
the recording its times, so a network that reads only how often each pixel fires does as well on the
control; the accuracy it loses there is what it took from the timing.

Read by the chapter of the ``nmnist-timing-*`` sweeps and by the findings (``s003_dynamic``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from snnlib.metrics import mean_ci
from snnlib.study.loading import load_sweep

__all__ = ["SCHEMES", "CHANCE", "sweep_name", "load", "finals", "table", "settings"]

#: the schemes of the control, by the label the chapter and the findings give them
SCHEMES = {"bptt": "BPTT (lava-dl's recipe)", "spiketime": "exact spike-time gradients"}
#: N-MNIST's chance accuracy (points): ten balanced classes
CHANCE = 10.0


def sweep_name(scheme: str) -> str:
    if scheme not in SCHEMES:
        raise ValueError(f"scheme = {scheme!r}: expected one of {', '.join(SCHEMES)}.")
    return f"nmnist-timing-{scheme}"


def load(profile: str = "quick", allow_missing: bool = True) -> dict[str, xr.Dataset]:
    """``{scheme: Dataset}`` of the two sweeps (dims ``time_shuffle``, ``seed``, ``epoch``, ...)."""
    return {s: load_sweep(sweep_name(s), profile, allow_missing=allow_missing) for s in SCHEMES}


def finals(ds: xr.Dataset, var: str = "test_accuracy") -> tuple[np.ndarray, np.ndarray]:
    """``(streams, shuffled)``: ``var`` at the last epoch per seed (accuracies in points), the same
    seeds in the same order (a seed is one initial draw, shared by its two inputs)."""
    if "time_shuffle" not in ds.dims:
        raise ValueError("expected a sweep over time_shuffle (False, True): the nmnist-timing-* sweeps.")
    v = ds[var].isel(epoch=-1)
    if var.endswith("accuracy"):
        v = 100 * v
    return (v.sel(time_shuffle=False).values.astype(float), v.sel(time_shuffle=True).values.astype(float))


def table(loaded: dict[str, xr.Dataset]) -> pd.DataFrame:
    """One row per scheme: final test accuracy (mean and Student-t 95 % half-width over seeds) on the
    streams and on the control, their paired difference, hidden spikes per sample on each, and the
    number of seeds with both inputs."""
    rows = []
    for s, ds in loaded.items():
        real, shuf = finals(ds)
        both = np.isfinite(real) & np.isfinite(shuf)
        d, d_ci = mean_ci(real[both] - shuf[both]) if both.sum() >= 2 else (float("nan"), float("nan"))
        row = {"scheme": SCHEMES[s], "seeds": int(both.sum())}
        for label, v in (("streams", real), ("shuffled", shuf)):
            m, h = mean_ci(v[np.isfinite(v)]) if np.isfinite(v).sum() >= 2 else (float("nan"), float("nan"))
            row[f"{label} (%)"] = f"{m:.1f} ± {h:.1f}"
        row["streams - shuffled (points)"] = f"{d:+.1f} ± {d_ci:.1f}"
        if "hidden_spikes" in ds:
            hs_real, hs_shuf = finals(ds, "hidden_spikes")
            row["hidden spikes (streams / shuffled)"] = f"{np.nanmean(hs_real):.0f} / {np.nanmean(hs_shuf):.0f}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("scheme")


def settings(loaded: dict[str, xr.Dataset]) -> pd.DataFrame:
    """Each scheme's recipe (the sweep's shared config): network, neuron, step, loss, optimiser, data."""
    rows = []
    for s, ds in loaded.items():
        c = yaml.safe_load(ds.attrs["config"])
        step = f"{float(c['dt']):g} ms grid, {int(c['n_steps'])} steps" if s == "bptt" else \
            f"none (event-driven), {float(c['t_max']):g} ms window"
        if s == "bptt":
            theta, tau_s, tau, loss = c["theta"], float(c["tau_s"]), float(c["tau"]), c["loss"]
        else:  # BATS's neuron (tau = 2 tau_s; tau_s None: BATS's 130 ms), thresholds in BATS's units
            tau_s = float(c["tau_s"]) if c.get("tau_s") is not None else 130.0
            theta, tau, loss = c["theta_bats"], 2 * tau_s, "spike_count"
        rows.append({"scheme": SCHEMES[s], "network": "-".join(str(n) for n in (2312, *c["hidden"], 10)),
                     "tau_s / tau (ms)": f"{tau_s:g} / {tau:g}", "step": step,
                     "thresholds": str(theta), "initial weight scale": float(c["weight_scale"]), "loss": loss,
                     "learning rate": float(c["lr"]), "epochs": int(c["epochs"]), "batch": int(c["batch_size"])})
    return pd.DataFrame(rows).set_index("scheme")
