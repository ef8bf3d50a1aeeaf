"""Single-spike against multi-spike (snnlib.analyses.single_spike) and the findings' decision."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

from snnlib.analyses import findings, single_spike

N = np.arange(1, 21) * 5500.0  # ten records an epoch, two epochs


def _sweep(rise: dict, spikes: dict, final=0.97, seeds=5):
    """Validation curves ``final * (1 - exp(-n / rise))`` per variant (``rise`` in samples, jittered per
    seed), hidden spikes per sample per variant."""
    rng = np.random.default_rng(0)
    variants = list(rise)
    curve = np.array([[final * (1 - np.exp(-N / (rise[v] * (1 + 0.05 * rng.standard_normal()))))
                       for _ in range(seeds)] for v in variants])
    ep = curve[:, :, [9, 19]]
    hs = np.array([[[spikes[v] * (1 + 0.03 * rng.standard_normal())] * 2 for _ in range(seeds)] for v in variants])
    return xr.Dataset({"val_accuracy_curve": (("variant", "seed", "samples_seen"), curve),
                       "val_accuracy": (("variant", "seed", "epoch"), ep), "test_accuracy": (("variant", "seed", "epoch"), ep),
                       "hidden_spikes": (("variant", "seed", "epoch"), hs)},
                      coords={"variant": variants, "seed": np.arange(seeds), "epoch": [0, 1], "samples_seen": N},
                      attrs={"config": "hidden: [800]\nepochs: 2\nbatch_size: 50\nlr: null\n"})


def test_rates_use_one_target_and_count_the_runs_that_never_reach_it():
    ds = _sweep({"single": 20000.0, "multi": 5000.0}, {"single": 800.0, "multi": 2000.0})
    r = single_spike.rates(ds, q=0.9)
    assert r.attrs["target"] == pytest.approx(0.9 * float(ds["val_accuracy"].isel(epoch=-1).mean("seed").min("variant")))
    ratio = float(r["n_q"].sel(variant="single").mean() / r["n_q"].sel(variant="multi").mean())
    assert 3.0 < ratio < 5.0 and int(r["censored"].sum()) == 0  # ln 10 x rise each, interpolated
    ds2 = ds.copy(deep=True)
    ds2["val_accuracy_curve"][0, 0] = 0.1  # one run that never learns
    r2 = single_spike.rates(ds2, q=0.9)
    assert bool(r2["censored"].sel(variant="single", seed=0)) and float(r2["n_q"].sel(variant="single", seed=0)) == N[-1]
    t = single_spike.table(r)
    assert list(t["never reach it"]) == [0, 0] and t.index[0] == single_spike.VARIANTS["single"]
    s = single_spike.settings(ds)
    assert s.loc[single_spike.VARIANTS["single"], "spikes per neuron"] == "(1, 1)"


@pytest.mark.parametrize("rise, spikes, slower, fewer", [
    ({"single": 20000.0, "multi": 5000.0}, {"single": 800.0, "multi": 2000.0}, "confirmed", "confirmed"),
    ({"single": 5000.0, "multi": 5000.0}, {"single": 2000.0, "multi": 2000.0}, "refuted", "refuted")])
def test_findings_decide_single_spike(rise, spikes, slower, fewer):
    ds = _sweep(rise, spikes)
    verdict, tree = findings.decide_one("s003_single_spike", lambda e: SimpleNamespace(results=ds))
    assert findings._verdict(tree[1]["slower convergence"]) == slower
    assert findings._verdict(tree[1]["fewer spikes"]) == fewer


def test_rates_refuse_a_sweep_without_variants():
    with pytest.raises(ValueError, match="variant"):
        single_spike.rates(_sweep({"single": 1.0, "multi": 1.0}, {"single": 1.0, "multi": 1.0}).sel(variant="multi"), 0.9)


def test_the_curves_figure_draws_both_variants():
    from snnlib.analyses import sweep_plots

    ds = _sweep({"single": 20000.0, "multi": 5000.0}, {"single": 800.0, "multi": 2000.0})
    fig = sweep_plots.variant_curves(ds, single_spike.VARIANTS, target=0.87)
    assert len(fig.axes[0].get_lines()) == 3  # two variants and the target


def test_the_spacing_is_that_of_the_records_around_the_crossings():
    """Records dense early and sparse later (dense_epochs): the resolution of n_q is the gap of the
    records that bracket the crossings, not the widest gap of the run."""
    ds = _sweep({"single": 6000.0, "multi": 3000.0}, {"single": 800.0, "multi": 2000.0})
    sparse = np.concatenate([N[:10], [N[-1] * 3]])  # an epoch's records, then one far later
    ds = ds.isel(samples_seen=list(range(11))).assign_coords(samples_seen=sparse)
    r = single_spike.rates(ds, q=0.9)
    assert float(r["n_q"].max()) < N[9] and r.attrs["spacing"] == 5500.0
    late = ds.copy(deep=True)  # the single-spike runs learn only after the dense records
    late["val_accuracy_curve"].loc[{"variant": "single"}] = np.where(sparse < sparse[-1], 0.1, 0.97)
    r = single_spike.rates(late, q=0.9)
    assert float(r["n_q"].sel(variant="single").min()) > N[9]
    assert r.attrs["spacing"] == sparse[-1] - sparse[-2]  # crossed in the wide gap
