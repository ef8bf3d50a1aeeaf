"""Helpers for the book's run notebooks: glue a run's headline numbers, caveats as Markdown.

Kept here so that the notebooks stay a parameters cell, calls and plots (``myst_nb`` is imported
only when gluing, i.e. inside a notebook).
"""

from __future__ import annotations

import xarray as xr

__all__ = ["glue_training", "small_test_caveat"]


def glue_training(ds: xr.Dataset, summary: dict) -> None:
    """Glue the summary of a training run or sweep (accuracies in %; :func:`snnlib.driver.summarize`)
    and its sizes, seeds, sample counts and mean epoch time, for ``{glue:text}`` roles in the
    notebook's Markdown."""
    from myst_nb import glue

    for key, value in summary.items():
        if not isinstance(value, list):
            glue(key, 100 * value if "accuracy" in key else value, display=False)
    glue("sizes", ds.attrs["sizes"].replace(", ", "-").strip("()"), display=False)
    glue("n_seeds", len(summary["seeds"]), display=False)
    glue("n_train", int(ds.attrs["n_train"]), display=False)
    glue("n_test", int(ds.attrs["n_test"]), display=False)
    glue("epoch_time", float(ds["epoch_time"].mean()), display=False)


def small_test_caveat(ds: xr.Dataset, below: int = 1000) -> str:
    """A Markdown caveat when the test set is small (empty string otherwise)."""
    n = int(ds.attrs["n_test"])
    if n >= below:
        return ""
    return (f"**Caveat.** The test set of this run has {n} samples: one sample is {100 / n:.1f} "
            "percentage points of accuracy, and the confidence interval above covers the spread over "
            "seeds only, not the sampling error of so small a test set.")
