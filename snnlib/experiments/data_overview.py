"""Data overview: what the networks of this study see.

MNIST (official split plus the validation digits carved from the training set), its
time-to-first-spike code and its thresholded variant; N-MNIST recordings as event frames.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

from snnlib.config import Config
from snnlib.data import datasets as data
from snnlib.data import encoding

NAME = "data-overview"


@dataclasses.dataclass(frozen=True)
class DataOverviewConfig(Config):
    """Fields:

    - ``n_examples``: digits and recordings shown (1..50).
    - ``t_in``: MNIST time-to-first-spike window ``T_in`` in ms: ``t = T_in (1 - pixel/255)``.
    - ``n_val``, ``val_seed``: validation digits carved from the official training set.
    - ``threshold``: pixel level of thresholded MNIST (1..255).
    - ``nmnist_subset``: ``"quick"`` (the 1,000/100 development recordings) or ``"full"``.
    - ``frame_bins``: time bins of the N-MNIST event frames shown (one per saccade: 3).
    - ``hist_bins``: bins of the spike-time histogram over ``[0, t_in]``.
    - ``early_ms``: the page reports the share of input spikes before ``early_ms`` (ms).
    """

    n_examples: int = 8
    t_in: float = 100.0
    n_val: int = 5000
    val_seed: int = 0
    threshold: int = 128
    nmnist_subset: str = "quick"
    frame_bins: int = 3
    hist_bins: int = 50
    early_ms: float = 2.0

    def validate(self) -> None:
        super().validate()
        self._check("n_examples", isinstance(self.n_examples, int) and 1 <= self.n_examples <= 50, "an integer in [1, 50]")
        self._check("t_in", isinstance(self.t_in, (int, float)) and 0 < self.t_in < np.inf, "a positive number of ms")
        self._check("n_val", isinstance(self.n_val, int) and 0 <= self.n_val < 60000, "an integer in [0, 60000)")
        self._check_non_negative_int("val_seed")
        self._check("threshold", isinstance(self.threshold, int) and 1 <= self.threshold <= 255, "an integer in [1, 255]")
        self._check("nmnist_subset", self.nmnist_subset in ("quick", "full"), "'quick' or 'full'")
        self._check("frame_bins", isinstance(self.frame_bins, int) and 1 <= self.frame_bins <= 20, "an integer in [1, 20]")
        self._check("hist_bins", isinstance(self.hist_bins, int) and 2 <= self.hist_bins <= 1000, "an integer in [2, 1000]")
        self._check("early_ms", isinstance(self.early_ms, (int, float)) and 0 < self.early_ms <= self.t_in,
                    "a number of ms in (0, t_in]")


Config = DataOverviewConfig


def run(cfg: DataOverviewConfig) -> xr.Dataset:
    """Class counts of every split, example digits with their spike codes, N-MNIST frames and statistics."""
    splits = {s: data.load_mnist(s, n_val=cfg.n_val, val_seed=cfg.val_seed) for s in ("train", "val", "test")}
    nm = {s: data.NMNIST(s, subset=cfg.nmnist_subset) for s in ("train", "test")}
    names = [f"mnist-{s}" for s in splits] + [f"nmnist-{s}" for s in nm]
    counts = np.stack([np.bincount(y, minlength=10) for _, y in splits.values()]
                      + [np.bincount(d.targets, minlength=10) for d in nm.values()])

    test_x, test_y = splits["test"]
    ex_x, ex_y = test_x[: cfg.n_examples], test_y[: cfg.n_examples]
    times = encoding.ttfs(test_x, cfg.t_in).squeeze(-1).numpy()  # [N, 784]
    finite = np.isfinite(times)
    edges = np.linspace(0.0, cfg.t_in, cfg.hist_bins + 1)
    hist, _ = np.histogram(times[finite], bins=edges)
    thresholded = data.threshold_images(test_x, cfg.threshold)

    frames, n_events, durations = [], [], []
    for i in range(len(nm["test"])):
        ev, _ = nm["test"][i]
        n_events.append(len(ev))
        durations.append(ev["t"].max() / 1000.0)
        if i < cfg.n_examples:
            frames.append(encoding.events_to_bins(ev, n_bins=cfg.frame_bins))
    ex_nm_y = nm["test"].targets[: cfg.n_examples]

    return xr.Dataset(
        {
            "class_count": (("split", "label"), counts),
            "example_image": (("example", "row", "col"), ex_x),
            "example_label": (("example",), ex_y),
            "example_spike_time": (("example", "pixel"), times[: cfg.n_examples],
                                   {"units": "ms", "long_name": "TTFS spike time (inf: silent)"}),
            "spikes_per_image": (("test_digit",), finite.sum(1),
                                 {"long_name": "input spikes per test digit (TTFS)"}),
            "spike_time_hist": (("spike_time_bin",), hist, {"long_name": "TTFS spike times of the test set"}),
            "spikes_at_t0": ((), int((times == 0).sum()), {"long_name": "test-set input spikes at t = 0 (pixel 255)"}),
            "spikes_early": ((), int((times < cfg.early_ms).sum()),
                             {"long_name": "test-set input spikes before early_ms", "early_ms": cfg.early_ms}),
            "n_pixels": ((), int(times.size), {"long_name": "pixels of the test set"}),
            "active_pixels_thresholded": (("test_digit",), (thresholded > 0).sum((1, 2)),
                                          {"long_name": f"pixels >= {cfg.threshold}"}),
            "nmnist_frame": (("example", "frame", "polarity", "y", "x"), np.stack(frames).astype(np.int32)),
            "nmnist_example_label": (("example",), ex_nm_y),
            "nmnist_events": (("recording",), np.asarray(n_events), {"long_name": "events per test recording"}),
            "nmnist_duration": (("recording",), np.asarray(durations), {"units": "ms"}),
        },
        coords={
            "split": names,
            "label": np.arange(10),
            "spike_time_bin_edge": ("spike_time_bin_edge", edges, {"units": "ms"}),
        },
        attrs={"title": "Data overview", "t_in_ms": cfg.t_in, "nmnist_subset": cfg.nmnist_subset,
               "early_ms": cfg.early_ms, "frame_bins": cfg.frame_bins},
    )


def summarize(ds: xr.Dataset) -> dict:
    counts = ds["class_count"].sum("label")
    out = {f"n_{s.replace('-', '_')}": int(counts.sel(split=s)) for s in ds["split"].values}
    out.update(
        mean_spikes_per_digit=float(ds["spikes_per_image"].mean()),
        **input_spike_shares(ds),
        mean_active_pixels_thresholded=float(ds["active_pixels_thresholded"].mean()),
        mean_events_per_recording=float(ds["nmnist_events"].mean()),
        mean_recording_duration_ms=float(ds["nmnist_duration"].mean()),
    )
    return out


def input_spike_shares(ds: xr.Dataset) -> dict:
    """Shares (%) of the test set's time-to-first-spike input: of all pixels, saturated (255, the
    spikes at ``t = 0``); of the input spikes, those at ``t = 0`` and those before ``early_ms``."""
    n_spikes = float(ds["spikes_per_image"].sum())
    return {
        "pct_pixels_at_t0": 100 * float(ds["spikes_at_t0"]) / float(ds["n_pixels"]),
        "pct_spikes_at_t0": 100 * float(ds["spikes_at_t0"]) / n_spikes,
        "pct_spikes_early": 100 * float(ds["spikes_early"]) / n_spikes,
        "early_ms": float(ds.attrs["early_ms"]),
        "t_in_ms": float(ds.attrs["t_in_ms"]),
    }
