"""Figures: at most two panels per row, readable fonts, bands within bounds, zooms that crop nothing."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402

from snnlib import plotting  # noqa: E402


def _training_ds():
    """Three seeds of a run whose hidden spikes are near zero with a wide spread (a t-band of
    mean +- t(0.975, 2) s / sqrt(3) reaches far below zero)."""
    seeds, epochs = [0, 1, 2], np.arange(1, 6)
    acc = np.array([[0.02, 0.5, 0.9, 0.99, 0.99], [0.0, 0.4, 0.95, 1.0, 1.0], [0.2, 0.6, 0.7, 0.9, 0.97]])
    spikes = np.array([[0.0, 1.0, 2.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0], [9.0, 8.0, 7.0, 9.0, 6.0]])
    return xr.Dataset(
        {"val_accuracy": (("seed", "epoch"), acc), "test_accuracy": (("seed", "epoch"), acc[::-1]),
         "hidden_spikes": (("seed", "epoch"), spikes),
         "batch_loss": (("seed", "epoch", "log_chunk"), np.exp(-np.arange(30.0)).reshape(3, 5, 2) + 0.1)},
        coords={"seed": seeds, "epoch": epochs})


def _rows(fig):
    """Panels per row: axes grouped by the vertical position of their centre."""
    rows = {}
    for ax in fig.axes:
        box = ax.get_position()
        rows.setdefault(round((box.y0 + box.y1) / 2, 3), []).append(ax)
    return [len(r) for r in rows.values()]


def _band_y(ax):
    return np.concatenate([p.get_paths()[0].vertices[:, 1] for p in ax.collections])


def test_training_figure_has_at_most_two_panels_per_row_and_readable_fonts():
    fig = plotting.training_figure(_training_ds())
    assert len(fig.axes) == 3 and max(_rows(fig)) <= 2
    for ax in fig.axes:
        assert ax.xaxis.label.get_fontsize() >= plotting.FONT_SIZE
        fig.canvas.draw()  # tick labels made at drawing time keep the size
        assert all(t.get_fontsize() >= plotting.FONT_SIZE - 1 for t in ax.get_xticklabels())
    plt.close(fig)


def test_confidence_bands_stay_within_the_bounds_of_the_quantity():
    ds = _training_ds()
    from snnlib.metrics import mean_ci

    # the unclipped band would go below zero: the test exercises the clipping
    assert mean_ci(ds["hidden_spikes"].isel(epoch=1).values)[0] - mean_ci(ds["hidden_spikes"].isel(epoch=1).values)[1] < 0
    fig, ax = plt.subplots()
    plotting.learning_curves(ax, ds, "hidden_spikes")
    assert _band_y(ax).min() >= 0
    fig2, ax2 = plt.subplots()
    plotting.learning_curves(ax2, ds, "test_accuracy")
    y = _band_y(ax2)
    assert y.min() >= 0 and y.max() <= 1
    plt.close("all")


def test_ps_split_zoom_shows_every_curve():
    t = np.linspace(0, 40, 41)
    exact = 0.2 + 0.01 * t
    V = np.stack([exact + 0.002 * t ** 1.5, exact + 0.001 * t, exact - 0.0005 * t])  # unsplit far off
    ds = xr.Dataset({"fig2_exact": (("time2",), exact), "fig2_V": (("split", "time2"), V)},
                    coords={"time2": t, "split": [-1.0, 5.0, 20.0]})
    fig = plotting.ps_split_figure(ds, zoom=(25, 40))
    zoom = fig.axes[1]
    lo, hi = zoom.get_ylim()
    window = ds.sel(time2=slice(25, 40))
    assert lo < float(window["fig2_V"].min()) and hi > float(window["fig2_V"].max())
    assert lo < float(window["fig2_exact"].min())
    assert zoom.get_xlim() == (25, 40) and max(_rows(fig)) <= 2
    plt.close(fig)


def test_panel_grid_refuses_more_than_two_columns():
    with pytest.raises(ValueError, match="two panels per row"):
        plotting.panel_grid(3, ncols=3)
    fig, axes = plotting.panel_grid(3)
    assert len(axes) == 3 and len(fig.axes) == 3 and _rows(fig) == [2, 1]
    plt.close(fig)


def test_compact_figure_is_a_smaller_palette_png_alike_to_the_eye_and_closes_the_figure():
    import io

    from PIL import Image

    fig = plotting.training_figure(_training_ds())
    raw = io.BytesIO()
    fig.savefig(raw, format="png", dpi=100, bbox_inches="tight")
    image = plotting.compact(fig)
    assert not plt.fignum_exists(fig.number)  # the inline backend will not show it twice
    small = Image.open(io.BytesIO(image.data))
    full = Image.open(io.BytesIO(raw.getvalue())).convert("RGB")
    assert small.mode == "P" and small.size == full.size
    assert len(image.data) < 0.5 * len(raw.getvalue())
    # alike to the eye: the mean colour error is a few levels of 255 and most pixels are unchanged
    diff = np.abs(np.asarray(small.convert("RGB"), float) - np.asarray(full, float))
    assert diff.mean() < 3 and (diff.max(axis=2) < 16).mean() > 0.97
    empty = plt.figure()
    with pytest.raises(ValueError, match="colors = 1"):
        plotting.compact(empty, colors=1)
    plt.close(empty)
