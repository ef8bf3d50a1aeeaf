"""Rate against time-to-first-spike coding (snnlib.analyses.coding, snnlib.analyses.arms) and the
findings' two decisions on it, on synthetic sweeps."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

from snnlib.analyses import arms, coding, findings, sweep_plots

N = np.arange(1, 41) * 27500.0  # two records an epoch, twenty epochs
SEEDS = 5


def _arm(final: float, spikes: float, rise: float, seed: int) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    acc = final + 0.002 * rng.standard_normal(SEEDS)
    curve = acc[:, None] * (1 - np.exp(-N / rise))
    ep = curve[:, 1::2]
    hs = np.repeat((spikes * (1 + 0.03 * rng.standard_normal(SEEDS)))[:, None], ep.shape[1], axis=1)
    return xr.Dataset({"val_accuracy_curve": (("seed", "samples_seen"), curve),
                       "val_accuracy": (("seed", "epoch"), ep), "test_accuracy": (("seed", "epoch"), ep),
                       "hidden_spikes": (("seed", "epoch"), hs)},
                      coords={"seed": np.arange(SEEDS), "epoch": np.arange(1, ep.shape[1] + 1), "samples_seen": N})


def _run(ds: xr.Dataset) -> SimpleNamespace:
    """What the findings' loader gives for a sweep: its summary over seeds."""
    test = ds["test_accuracy"].isel(epoch=-1).values
    hs = ds["hidden_spikes"].isel(epoch=-1).values
    return SimpleNamespace(results=ds, summary={"final_test_accuracy_per_seed": list(test), "epochs": ds.sizes["epoch"],
                                                "final_hidden_spikes_per_seed": list(hs),
                                                "final_hidden_spikes": float(hs.mean())})


def _both(rate: xr.Dataset, ttfs: xr.Dataset) -> xr.Dataset:
    return xr.concat([rate.expand_dims(coding=["rate"]), ttfs.expand_dims(coding=["ttfs"])], "coding")


def test_rates_share_one_target_over_the_codings():
    ds = _both(_arm(0.98, 3000.0, 20000.0, 0), _arm(0.975, 250.0, 5000.0, 1))
    r = coding.rates(ds, q=0.95)
    assert r.attrs["target"] == pytest.approx(0.95 * float(ds["val_accuracy"].isel(epoch=-1).mean("seed").min("coding")))
    assert float(r["n_q"].sel(coding="rate").mean()) > 2 * float(r["n_q"].sel(coding="ttfs").mean())
    t = coding.table(r)
    assert list(t.index) == [coding.CODINGS["rate"], coding.CODINGS["ttfs"]] and list(t.columns) == ["test accuracy (%)", "hidden spikes / sample"]
    fig = sweep_plots.paired_arms(r, coding.CODINGS)
    assert len(fig.axes) == 2 and len(fig.axes[0].get_lines()) >= SEEDS  # one line per seed, joining the codings
    assert fig.axes[1].get_yscale() == "log"


def test_arms_refuse_a_single_arm_or_a_missing_dimension():
    ds = _both(_arm(0.98, 3000.0, 20000.0, 0), _arm(0.975, 250.0, 5000.0, 1))
    with pytest.raises(ValueError, match="'coding' dimension"):
        arms.rates(ds.sel(coding="rate"), 0.95, "coding")
    with pytest.raises(ValueError, match="two arms"):
        arms.rates(ds.sel(coding=["rate"]), 0.95, "coding")


@pytest.mark.parametrize("rate, ttfs, fewer, lower", [
    ((0.980, 3000.0), (0.960, 250.0), "confirmed", "confirmed"),   # TTFS: far fewer spikes, 2 points lower
    ((0.980, 250.0), (0.980, 3000.0), "refuted", "refuted")])       # TTFS: more spikes, the same accuracy
def test_findings_decide_the_coding_claims_from_the_coding_sweeps(rate, ttfs, fewer, lower):
    sweeps = {coding.SWEEPS["rate"]: _run(_arm(*rate, 20000.0, 0)), coding.SWEEPS["ttfs"]: _run(_arm(*ttfs, 5000.0, 1))}
    load = sweeps.__getitem__  # any other sweep is a KeyError: the claims read only these two
    assert findings.decide_one("s003_fewer_spikes", load)[0] == fewer
    assert findings.decide_one("s003_temporal_accuracy", load)[0] == lower
