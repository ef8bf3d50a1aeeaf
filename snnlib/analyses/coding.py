"""Rate against time-to-first-spike coding with nothing else changed (seed 002; the survey's "temporal
coding: fewer spikes, lower accuracy"): seed 002's Leaky 784-1000-10 network, the same loss and
read-out for both codings, each coding's learning rate and initial weight scale chosen on validation
by its own search of the same budget (``hpsearch/coding-<code>``).

Read by the chapter of the ``coding-ttfs`` sweep and by the findings (``s003_fewer_spikes``,
``s003_temporal_accuracy``).
"""

from __future__ import annotations

import pandas as pd
import xarray as xr
import yaml

from snnlib.analyses import arms
from snnlib.store import runs
from snnlib.study.loading import load_sweep

__all__ = ["CODINGS", "SWEEPS", "sweeps", "load", "rates", "table", "settings"]

#: the codings, by the label the chapter and the findings give them
CODINGS = {"rate": "rate coding", "ttfs": "time-to-first-spike coding"}
#: each coding's sweep (and its search: hpsearch/<sweep>)
SWEEPS = {code: f"coding-{code}" for code in CODINGS}


def sweeps(profile: str = "quick", allow_missing: bool = True) -> dict[str, xr.Dataset]:
    """Both codings' sweeps, ``{sweep name: dataset}`` (:func:`snnlib.study.loading.load_sweep`)."""
    return {name: load_sweep(name, profile, allow_missing=allow_missing) for name in SWEEPS.values()}


def load(profile: str = "quick", allow_missing: bool = True, loaded: dict | None = None) -> xr.Dataset:
    """Both codings' sweeps in one dataset, along ``coding`` (``rate``, ``ttfs``; ``loaded``:
    :func:`sweeps`' result, read again when not given); ``attrs``: each sweep's shared configuration
    (``config_<code>``) and missing points (``missing``, as ``<sweep>/<point>``)."""
    loaded = sweeps(profile, allow_missing) if loaded is None else loaded
    parts, attrs, missing = [], {}, []
    for code, name in SWEEPS.items():
        ds = loaded[name]
        attrs[f"config_{code}"] = ds.attrs["config"]
        missing += [f"{name}/{m}" for m in ds.attrs.get("missing", [])]
        parts.append(ds.drop_attrs(deep=False).expand_dims(coding=[code]))
    out = xr.concat(parts, "coding", join="outer")
    out.attrs.update(attrs, missing=missing, profile=profile, sweep=SWEEPS["ttfs"])
    return out


def rates(ds: xr.Dataset, q: float) -> xr.Dataset:
    """Per coding and seed: samples to one shared validation target, final accuracies, hidden spikes
    (:func:`snnlib.analyses.arms.rates` over ``coding``)."""
    return arms.rates(ds, q, "coding")


def table(r: xr.Dataset) -> pd.DataFrame:
    """One row per coding: final test accuracy and hidden spikes per digit (:func:`snnlib.analyses.arms.table`,
    without its convergence columns: no claim here is about convergence, and with four validation
    records an epoch both codings pass the shared target at their first record)."""
    return arms.table(r, CODINGS)[["test accuracy (%)", "hidden spikes / sample"]]


def settings(ds: xr.Dataset) -> pd.DataFrame:
    """Each coding's setting: its input encoding, the learning rate and initial weight scale its
    search chose, the search's validation accuracy there and the grid it searched (from
    ``hpsearch/coding-<code>``); and what both share (network, neuron, steps, loss, schedule, data)."""
    rows = []
    for code in ds["coding"].values:
        cfg = yaml.safe_load(ds.attrs[f"config_{code}"])
        search = runs.load("hpsearch", SWEEPS[str(code)])
        grid = search.config["grid"]
        enc = {"rate": f"Bernoulli spikes, p = pixel x {cfg.get('rate_gain', 1.0):g} per step",
               "ttfs": f"one spike per pixel at (1 - pixel) x {cfg.get('t_in', 25.0):g} ms"}[str(code)]
        rows.append({
            "coding": CODINGS.get(str(code), str(code)), "input": enc,
            "network": "784-" + "-".join(map(str, cfg["hidden"])) + "-10",
            "neuron": f"Leaky, tau = {cfg['tau']:g} ms (beta = e^(-dt/tau)), threshold {cfg['theta']:g}",
            "steps": f"{cfg['n_steps']} x {cfg['dt']:g} ms", "loss": cfg["loss"],
            "learning rate (searched)": cfg["lr"], "initial weight scale (searched)": cfg["weight_scale"],
            "search's validation accuracy (%)": round(100 * search.summary["chosen_val_accuracy"], 2),
            "searched": " x ".join(f"{k} {', '.join(f'{v:g}' for v in vs)}" for k, vs in grid.items()),
            "epochs": f"{cfg['epochs']} ({cfg.get('lr_schedule', 'constant')})", "batch": cfg["batch_size"]})
    return pd.DataFrame(rows).set_index("coding").T
