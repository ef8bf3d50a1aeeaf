"""Helpers for the book's run notebooks: glue a run's headline numbers, caveats as Markdown.

Kept here so that the notebooks stay a parameters cell, calls and plots (``myst_nb`` is imported
only when gluing, i.e. inside a notebook).
"""

from __future__ import annotations

import ast
import math
from typing import Any, Mapping

import xarray as xr
import yaml

from snnlib.config import ConfigError
from snnlib.metrics import mean_ci, wilson_interval
from snnlib.training.loop import activity

__all__ = ["glue_training", "small_test_caveat", "clock_neuron_text", "recipe_note", "RECIPE_NOTES",
           "provenance_note", "dirty_runs_note", "dead_runs_note", "PAPERMILL_HEADER", "parameter_names", "unknown_parameters",
           "check_parameters"]


#: the first line of the cell papermill injects after a notebook's ``parameters`` cell (its Python
#: translator's comment); a notebook's own parameters cell must begin otherwise (a test checks)
PAPERMILL_HEADER = "# Parameters"


def parameter_names(source: str) -> list[str]:
    """The names a parameters cell (Python source) assigns at its top level, in order."""
    names = []
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
    return names


def unknown_parameters(given, declared_source: str, where: str) -> None:
    """Refuse (:class:`ConfigError`) the parameters ``given`` (names) that the parameters cell
    ``declared_source`` does not assign: papermill only warns and the run would silently use the
    notebook's own value. ``where`` names the notebook in the message."""
    declared = parameter_names(declared_source)
    unknown = [n for n in given if n not in declared]
    if unknown:
        hint = (f" (a setting of the run's config goes inside config: papermill -y 'config: {{{unknown[0]}: ...}}')"
                if "config" in declared else "")
        raise ConfigError(f"{where} has no parameter {', '.join(unknown)}; its parameters are "
                          f"{', '.join(declared)}{hint}.")


def check_parameters() -> None:
    """In a notebook, the cell after the parameters cell: refuse a parameter that papermill injected
    but the parameters cell does not declare (papermill itself only warns, and the run would use the
    notebook's value). Reads the kernel's input history: papermill's injected cell (first line
    :data:`PAPERMILL_HEADER`) runs right after the notebook's parameters cell. Nothing to check when
    the notebook runs without papermill or outside IPython."""
    from IPython import get_ipython  # optional: IPython, only inside a notebook

    shell = get_ipython()
    history = list(shell.user_ns.get("In", [])) if shell is not None else []
    for k in range(len(history) - 1, 0, -1):
        if history[k].split("\n", 1)[0].rstrip() == PAPERMILL_HEADER:
            injected = parameter_names(history[k])
            unknown_parameters(injected, history[k - 1], "this notebook")
            return


def _named(sources) -> dict[str, Any]:
    return dict(sources) if isinstance(sources, Mapping) else {str(i): s for i, s in enumerate(sources)}


def provenance_note(sources) -> str:
    """A Markdown warning naming the runs behind a page that were made from a modified tree (their
    ``meta.json`` says ``git_dirty: true``: the code that made them is in no commit); empty when
    there are none. ``sources``: sweeps (datasets of :func:`snnlib.study.loading.load_sweep`, whose
    ``attrs["dirty"]`` lists such points) and runs (:class:`snnlib.store.runs.Run`), a mapping
    name -> source or a list."""
    named = []
    for name, src in _named(sources).items():
        if isinstance(src, xr.Dataset):
            sweep = f"{src.attrs.get('sweep', name)}/{src.attrs.get('profile', '')}"
            named += [f"{sweep}/{p}" for p in src.attrs.get("dirty", [])]
        elif getattr(src, "meta", {}).get("git_dirty"):
            named.append(f"{src.path.parent.name}/{src.path.name}" if src.path is not None else name)
    return dirty_runs_note(named)


def dirty_runs_note(keys) -> str:
    """The Markdown warning of :func:`provenance_note` for runs named by their keys
    (``<experiment>/<run-id>``, ``<sweep>/<profile>/<point-id>``); empty when there are none."""
    keys = list(keys)
    if not keys:
        return ""
    return (f"**Provenance.** {len(keys)} of the runs on this page were made from a modified working tree "
            "(`git_dirty: true` in their `meta.json`), so the exact code behind them is in no commit, and "
            "committed code remaking them from their configs need not give the same numbers. They are "
            "counted like the others: " + ", ".join(f"`{k}`" for k in keys) + ".")


def dead_runs_note(sources) -> str:
    """A Markdown note naming the runs behind a page whose network is silent or saturated
    (:func:`snnlib.training.loop.activity`) and how they are counted (like every other run: a
    network a scheme fails to train at a setting is its result there); empty when there are none.
    ``sources``: a mapping name -> dataset with ``hidden_spikes`` along ``epoch`` (a sweep of
    :func:`snnlib.study.loading.load_sweep`, or one run)."""
    found = []
    for name, ds in _named(sources).items():
        if "hidden_spikes" not in ds or "epoch" not in ds["hidden_spikes"].dims:
            continue
        flags = activity(ds).fillna("")
        dims = [d for d in flags.dims]
        stacked = flags.stack(run=dims) if dims else flags.expand_dims(run=[0])
        for i in range(stacked.sizes["run"]):
            state = str(stacked.values[i])
            if state:
                at = ", ".join(f"{d}={stacked['run'].values[i][j]}" for j, d in enumerate(dims)) if dims else ""
                found.append(f"`{ds.attrs.get('sweep', name)}` ({at}): {state}")
    if not found:
        return ""
    return (f"**Dead runs.** {len(found)} of the runs on this page ended with a silent hidden layer (no spike "
            "in the last epoch: the output hears nothing) or a saturated one (nearly every hidden neuron "
            "spiking at every chance): " + "; ".join(found) + ". They are counted like every other run, in "
            "every mean and interval: a network that a scheme fails to train at a setting is that scheme's "
            "result there.")

def glue_training(ds: xr.Dataset, summary: dict) -> None:
    """Glue the summary of a training run or sweep (accuracies in %; :func:`snnlib.training.driver.summarize`)
    and its sizes, seeds, sample counts and mean epoch time, for ``{glue:text}`` roles in the
    notebook's Markdown."""
    from myst_nb import glue  # optional: myst_nb is there only where the book's notebooks run

    for key, value in summary.items():
        if not isinstance(value, list):
            glue(key, 100 * value if "accuracy" in key else value, display=False)
    glue("sizes", ds.attrs["sizes"].replace(", ", "-").strip("()"), display=False)
    glue("n_seeds", len(summary["seeds"]), display=False)
    glue("n_train", int(ds.attrs["n_train"]), display=False)
    glue("n_test", int(ds.attrs["n_test"]), display=False)
    glue("epoch_time", float(ds["epoch_time"].mean()), display=False)


def small_test_caveat(ds: xr.Dataset, below: int = 1000) -> str:
    """A Markdown caveat when the test set is small (empty string otherwise): the Wilson 95%
    interval of the mean final test accuracy as a binomial proportion over the ``n_test`` samples
    (:func:`snnlib.metrics.wilson_interval`) beside the spread over seeds, and which to trust."""
    n = int(ds.attrs["n_test"])
    if n >= below:
        return ""
    acc = ds["test_accuracy"].isel(epoch=-1)
    mean, half = mean_ci(acc.values.ravel())
    lo, hi = wilson_interval(round(mean * n), n)

    extra = int((yaml.safe_load(ds.attrs.get("config", "")) or {}).get("test_from_train", 0) or 0)
    made = (f" ({n - extra} official test recordings and {extra} training recordings held out of training "
            "and validation)" if extra else "")
    return (f"**Caveat.** The test set of this run has {n} samples{made}: one sample is {100 / n:.1f} "
            f"percentage points of accuracy. The interval over seeds (±{100 * half:.1f} points) measures how "
            f"much training varies; it does not include the sampling error of so small a test set, which "
            f"the Wilson 95% interval of the accuracy as a proportion of {n} samples gives: "
            f"{100 * lo:.1f} to {100 * hi:.1f} %. Trust the wider of the two: a difference between two runs "
            "smaller than it is not resolved by this test set.")


def clock_neuron_text(config: Mapping[str, Any]) -> str:
    """The neuron of a BPTT run as Markdown, following its config: the current-based recurrence
    (Loihi's ordering) when ``tau_s > 0``, snnTorch's ``Leaky`` neuron when ``tau_s = 0``; decays
    of one simulation step (``k`` base bins of ``dt`` ms), threshold and reset as configured."""
    step = float(config["dt"]) * int(config.get("k", 1))
    beta = math.exp(-step / float(config["tau"]))
    reset = ("reset by subtraction ($v \\leftarrow v - \\theta$ after a spike)" if config["reset"] == "subtract"
             else "reset to zero after a spike")
    common = (f"$\\theta = {float(config['theta']):g}$, steps of $\\Delta t = {step:g}$ ms, {reset}; the "
              f"spike's derivative is replaced by the `{config['surrogate']}` surrogate in the backward pass "
              "and the reset is detached.")
    if float(config["tau_s"]) == 0:
        return ("The neuron is snnTorch's `Leaky` recurrence (no synaptic current: `tau_s = 0`), simulated by "
                "snnlib's clock-driven layer: "
                "$v[t] = \\beta\\, v[t-1] + W x[t]$, $s[t] = H(v[t] - \\theta)$, with "
                f"$\\beta = e^{{-\\Delta t/\\tau}} = {beta:.3f}$ ($\\tau = {float(config['tau']):g}$ ms), " + common)
    alpha = math.exp(-step / float(config["tau_s"]))
    return ("The neuron is the current-based LIF in Loihi's ordering: "
            "$u[t] = \\alpha\\, u[t-1] + W x[t]$, $v[t] = \\beta\\, v[t-1] + u[t]$, $s[t] = H(v[t] - \\theta)$, "
            f"with $\\alpha = e^{{-\\Delta t/\\tau_s}} = {alpha:.3f}$ ($\\tau_s = {float(config['tau_s']):g}$ ms) and "
            f"$\\beta = e^{{-\\Delta t/\\tau}} = {beta:.3f}$ ($\\tau = {float(config['tau']):g}$ ms), " + common)


#: what a run named after a published recipe does differently (shown on its page)
RECIPE_NOTES = {
    "bptt-nmnist-lava": (
        "**Not lava-dl's full recipe.** This run takes lava-dl's N-MNIST example network (2312-512-512-10), "
        "its neuron decays (current 0.25, voltage 0.03 per 1 ms bin), threshold 1.25, spike-rate loss "
        "(0.2 / 0.03), Adam 1e-3 and batch 32, and differs from it in: reset by subtraction (lava-dl's CUBA "
        "neuron resets to zero), this library's SLAYER surrogate of width 1 (not lava-dl's own gradient "
        "scale), no weight normalisation, no learnable axonal delays, no fixed-point arithmetic, and "
        "700 / 100 / 300 recordings (training / validation / test, from the 1,100 development recordings) "
        "for 20 epochs instead of the full data set."),
}


def recipe_note(sweep: str) -> str | None:
    """How the run ``sweep`` departs from the published recipe it is compared with, if any."""
    return RECIPE_NOTES.get(sweep)


