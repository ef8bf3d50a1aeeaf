"""Surrogate against exact gradients, by depth (issue 26; the survey's "surrogate gradients degrade the
accuracy" and "approximate derivatives: not accurate => accumulate through layers => low accuracy").

One neuron, one network family and one loss, trained two ways: BPTT with a surrogate gradient on the
exact grid at a fine step, and exact spike-time gradients on the continuous network, with 1, 2 and 3
hidden layers (sweeps ``surrogate-depth<d>-<scheme>``, :data:`snnlib.study.plan.DEPTHS`). BPTT's runs
record the cosine of their surrogate gradient with the exact gradient of the continuous network at the
same weights, overall and per layer, before training and after every epoch
(:class:`snnlib.training.probes.SurrogateProbe`).

Read by the chapter of ``surrogate-depth1-bptt`` and by the findings (``s003_surrogate``,
``s003_surrogate_depth``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from snnlib.metrics import mean_ci
from snnlib.study import plan
from snnlib.study.loading import MissingPointsError, load_sweep

__all__ = ["SCHEMES", "sweep_name", "sweeps", "load", "combine", "accuracy_gap", "layer_cosine", "table", "runs_table"]

#: the two gradients, by the label the chapter and the findings give them
SCHEMES = {"bptt": "BPTT, surrogate gradient (exact grid)", "exact": "exact spike-time gradients (continuous)"}


def sweep_name(depth: int, scheme: str) -> str:
    return f"surrogate-depth{depth}-{scheme}"


def sweeps(profile: str = "quick", depths=None) -> dict[str, xr.Dataset]:
    """The depth sweeps that have points, ``{sweep name: dataset}`` (missing points NaN, listed in each
    dataset's ``attrs["missing"]``); a sweep without a complete point is left out."""
    out = {}
    for d in tuple(depths or plan.DEPTHS):
        for scheme in SCHEMES:
            try:
                out[sweep_name(d, scheme)] = load_sweep(sweep_name(d, scheme), profile, allow_missing=True)
            except MissingPointsError:
                continue
    return out


def load(profile: str = "quick", depths=None, loaded: dict | None = None) -> xr.Dataset:
    """Every depth's two sweeps (:func:`combine`; ``loaded``: :func:`sweeps`' result, read again when
    not given); a sweep without a complete point is NaN. ``attrs["missing"]``: ``<sweep>/<point>``, a
    sweep without points as ``<sweep>/*``."""
    depths = tuple(depths or plan.DEPTHS)
    loaded = sweeps(profile, depths) if loaded is None else loaded
    parts, missing = {}, []
    for d in depths:
        for scheme in SCHEMES:
            name = sweep_name(d, scheme)
            if name not in loaded:
                missing.append(f"{name}/*")
                continue
            missing += [f"{name}/{m}" for m in loaded[name].attrs.get("missing", [])]
            parts[(d, scheme)] = loaded[name]
    seeds = plan.sweep(sweep_name(depths[0], "bptt")).profiles[profile].grid["seed"]
    out = combine(parts, depths, seeds)
    out.attrs.update(missing=missing, profile=profile, sweep=sweep_name(depths[0], "bptt"))
    return out


def combine(parts: dict, depths, seeds) -> xr.Dataset:
    """The sweeps ``parts[(depth, scheme)]`` (datasets of :func:`snnlib.study.loading.load_sweep`; an
    absent one is NaN) in one dataset: ``final_test``, ``final_val`` (points) and ``hidden_spikes``
    (per sample, last epoch) along ``depth``, ``scheme``, ``seed``; BPTT's probe along ``depth``, ``seed``,
    ``checkpoint`` (epochs finished, 0: the initial weights): ``cosine`` and ``cosine_layer`` (also along
    ``layer``, 1 = the layer that reads the input; NaN beyond a network's depth + 1 layers)."""
    depths, seeds = list(depths), np.asarray(seeds)
    n_layers = max(depths) + 1
    final = np.full((3, len(depths), len(SCHEMES), len(seeds)), np.nan)  # test, val, spikes
    cos = cos_layer = None
    for (d, scheme), ds in parts.items():
        i, j = depths.index(d), list(SCHEMES).index(scheme)
        ds = ds.reindex(seed=seeds)
        final[0, i, j] = 100 * ds["test_accuracy"].isel(epoch=-1).values
        final[1, i, j] = 100 * ds["val_accuracy"].isel(epoch=-1).values
        final[2, i, j] = ds["hidden_spikes"].isel(epoch=-1).values
        if scheme == "bptt" and "probe_cosine" in ds:
            n_ck = ds.sizes["checkpoint"]
            if cos is None:
                cos = np.full((len(depths), len(seeds), n_ck), np.nan)
                cos_layer = np.full((len(depths), n_layers, len(seeds), n_ck), np.nan)
            cos[i] = ds["probe_cosine"].values
            for layer in range(1, d + 2):
                cos_layer[i, layer - 1] = ds[f"probe_cosine_layer{layer}"].values
    dims = ("depth", "scheme", "seed")
    data = {"final_test": (dims, final[0]), "final_val": (dims, final[1]), "hidden_spikes": (dims, final[2])}
    if cos is not None:
        data["cosine"] = (("depth", "seed", "checkpoint"), cos)
        data["cosine_layer"] = (("depth", "layer", "seed", "checkpoint"), cos_layer)
    return xr.Dataset(data, coords={"depth": depths, "scheme": list(SCHEMES), "seed": seeds,
                                    "layer": np.arange(1, n_layers + 1)})


def accuracy_gap(ds: xr.Dataset) -> xr.DataArray:
    """Exact minus BPTT final test accuracy (points), per depth and seed (the same seed: the same
    initial weights and data order in both)."""
    return ds["final_test"].sel(scheme="exact") - ds["final_test"].sel(scheme="bptt")


def layer_cosine(ds: xr.Dataset, layer: int | None = 1) -> xr.DataArray:
    """Per depth and seed, the cosine of BPTT's surrogate gradient with the exact gradient in ``layer``
    (1: the layer that reads the input, the farthest from the loss; ``None``: over all layers),
    averaged over the epochs' records (checkpoints 1 .. E: the gradients that trained the network, not
    the initial weights')."""
    if "cosine_layer" not in ds:
        raise ValueError("no probe records: the BPTT sweeps ran without probe_alignment, or none is made yet.")
    cos = ds["cosine"] if layer is None else ds["cosine_layer"].sel(layer=layer)
    return cos.isel(checkpoint=slice(1, None)).mean("checkpoint")


def table(ds: xr.Dataset) -> pd.DataFrame:
    """One row per depth: each scheme's final test accuracy, the paired gap, BPTT's cosine with the
    exact gradient (overall and in the first layer, averaged over training): means and Student-t 95 %
    half-widths over seeds."""
    def fmt(vals, f="{:.2f} ± {:.2f}"):
        vals = np.asarray(vals, float)
        vals = vals[np.isfinite(vals)]
        return f.format(*mean_ci(vals)) if len(vals) >= 2 else "n/a"

    gap = accuracy_gap(ds)
    rows = []
    for d in ds["depth"].values:
        row = {"hidden layers": int(d)}
        for s in SCHEMES:
            row[f"{s}: test accuracy (%)"] = fmt(ds["final_test"].sel(depth=d, scheme=s).values)
        row["exact − BPTT (points)"] = fmt(gap.sel(depth=d).values)
        if "cosine" in ds:
            row["cosine, all layers"] = fmt(layer_cosine(ds, None).sel(depth=d), "{:.3f} ± {:.3f}")
            row["cosine, first layer"] = fmt(layer_cosine(ds).sel(depth=d), "{:.3f} ± {:.3f}")
        rows.append(row)
    return pd.DataFrame(rows).set_index("hidden layers")


def runs_table(ds: xr.Dataset) -> pd.DataFrame:
    """Every run's final test accuracy (%), one row per depth and scheme, one column per seed (the
    same initial weights per seed in both schemes): where a mean's wide interval comes from."""
    df = ds["final_test"].round(1).to_dataframe()["final_test"].unstack("seed")
    df.index = df.index.set_names(["hidden layers", "scheme"])
    df.columns = [f"seed {s}" for s in df.columns]
    return df
