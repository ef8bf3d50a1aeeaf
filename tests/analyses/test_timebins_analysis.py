"""The aggregation of seed 000's time-bin sweeps (snnlib.analyses.timebins) on synthetic sweeps
with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from snnlib.analyses import timebins as tb

SEEDS = [0, 1, 2]
N = np.arange(1, 9) * 1000.0  # samples seen at 8 records
KS = [1, 2, 5, 10, 50]  # window 150 ms, 1 ms base: 150, 75, 30, 15, 3 bins


def _curve(final, rise):
    return final * (1 - np.exp(-N / rise)) / (1 - np.exp(-N[-1] / rise))


def _ds(shape: dict, final, rise, config: str, noise=0.0, time=None, spikes=None) -> xr.Dataset:
    """Curves per point; ``final`` and ``rise`` are callables of the point's coordinates, and so
    are ``time`` (s per epoch; none recorded without it) and ``spikes`` (default 300)."""
    dims = list(shape) + ["seed"]
    coords = {**shape, "seed": SEEDS}
    sizes = [len(v) for v in coords.values()]
    cur = np.zeros(sizes + [len(N)])
    sec, spk = np.zeros(sizes + [1]), np.zeros(sizes + [1])
    rng = np.random.default_rng(0)
    for idx in np.ndindex(*sizes):
        point = {d: coords[d][i] for d, i in zip(dims, idx)}
        cur[idx] = _curve(final(point) + noise * rng.standard_normal(), rise(point))
        jitter = 1 + 0.01 * rng.standard_normal()  # seeds differ a little: intervals have a width
        sec[idx] = (time(point) if time else 1.0) * jitter
        spk[idx] = (spikes(point) if spikes else 300.0) * jitter
    data = {
        "val_accuracy_curve": (dims + ["samples_seen"], cur),
        "val_accuracy": (dims + ["epoch"], cur[..., -1:]),
        "test_accuracy": (dims + ["epoch"], cur[..., -1:] - 0.005),
        "hidden_spikes": (dims + ["epoch"], spk if spikes else np.full(sizes + [1], 300.0)),
    }
    if time:
        data["epoch_time"] = (dims + ["epoch"], sec)
    return xr.Dataset(data, coords={**coords, "samples_seen": N, "epoch": [1]}, attrs={"config": config})


def _sweeps(bptt_time=None, bptt_spikes=None):
    """The spike-time scheme is unaffected by the step; BPTT learns slower as the step grows and
    collapses at 50 ms (3 bins); with ``bptt_time`` / ``bptt_spikes`` (callables of the point),
    every sweep records wall time per epoch (1 s where not given) and BPTT those spikes."""
    bptt = _ds({"clock": ["skip", "exact"], "k": KS},
               final=lambda p: 0.15 if p["k"] == 50 else 0.95, rise=lambda p: 1000.0 * p["k"] ** 0.5,
               config="n_steps: 150\ndt: 1.0\n", time=bptt_time, spikes=bptt_spikes)
    hs = [float(k) for k in KS]
    one = (lambda p: 1.0) if bptt_time else None
    st = _ds({"dt": hs}, final=lambda p: 0.95, rise=lambda p: 1000.0, config="t_max: 150.0\n", noise=0.001, time=one)
    shared = _ds({"dt": hs}, final=lambda p: 0.95, rise=lambda p: 1000.0, config="t_max: 150.0\n", noise=0.001,
                 time=one)
    exact = _ds({}, final=lambda p: 0.95, rise=lambda p: 1000.0, config="t_max: 150.0\n", noise=0.001, time=one)
    return {"bptt": bptt, "spiketime": st, "shared": shared, "exact": exact}


def test_arms_put_every_discretization_on_bins():
    curves, bench = tb.arms(_sweeps())
    assert list(curves["bins"].values) == [150, 75, 30, 15, 3]
    assert dict(curves.sizes)["scheme"] == 2 and dict(curves.sizes)["discretization"] == 2
    assert curves.attrs["window_ms"] == 150.0 and curves.attrs["base_bins"] == 150
    # BPTT's benchmark is the 1 ms base grid of the same discretization (skip or exact at k = 1);
    # both spike-time arms share the continuous network
    for disc in tb.DISCRETIZATIONS:
        np.testing.assert_array_equal(bench["val_accuracy_curve"].sel(scheme="bptt", discretization=disc).values,
                                      curves["val_accuracy_curve"].sel(scheme="bptt", discretization=disc, bins=150).values)
    np.testing.assert_array_equal(bench["val_accuracy_curve"].sel(scheme="spiketime", discretization="shared").values,
                                  _sweeps()["exact"]["val_accuracy_curve"].values)


def test_rates_and_dcr_on_known_curves():
    r = tb.rates(*tb.arms(_sweeps()))
    # BPTT's benchmark points have dCR 0 exactly; 3 bins never reach the target: CR 0, dCR -1
    d = tb.dcr(r, 0.9)
    for disc in tb.DISCRETIZATIONS:
        assert float(d["mean"].sel(scheme="bptt", discretization=disc, bins=150)) == pytest.approx(0.0)
    assert float(d["mean"].sel(scheme="bptt", discretization="seed000", bins=3)) == pytest.approx(-1.0)
    assert float(r["cr_90"].sel(scheme="bptt", discretization="seed000", bins=3).max()) == 0.0
    # slower rise, lower rate: monotone in the step for BPTT
    m = d["mean"].sel(scheme="bptt", discretization="seed000").values
    assert np.all(np.diff(m) <= 1e-12)
    # the spike-time scheme: within a few percent everywhere
    assert float(abs(d["mean"].sel(scheme="spiketime")).max()) < 0.05


def test_dcr_interval_is_cut_at_minus_one():
    """CR >= 0, so dCR >= -1; with one seed of three collapsing (CR 0) the t-interval reaches far
    below -1 and is cut there, its upper end kept."""
    r = tb.rates(*tb.arms(_sweeps()))
    sel = dict(scheme="spiketime", discretization="shared", bins=3)
    bench = r["bench_cr_90"].sel(scheme="spiketime", discretization="shared").values
    r["cr_90"].loc[sel] = bench * np.array([0.0, 1.0, 1.0])
    d = tb.dcr(r, 0.9).sel(sel)
    from snnlib.metrics import mean_ci

    mean, half = mean_ci([-1.0, 0.0, 0.0])
    assert mean - half < -1.5  # the uncut interval: below any possible dCR
    assert float(d["mean"]) == pytest.approx(mean)
    assert float(d["lo"]) == -1.0 and float(d["hi"]) == pytest.approx(mean + half)


@pytest.mark.parametrize("bins,blank", [([150, 75, 50, 30, 25, 15, 10, 6, 3], {25}),
                                        ([300, 150, 75, 60, 30, 20, 12, 6, 3], {60})])
def test_bin_axis_labels_do_not_print_over_each_other(bins, blank):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from snnlib.analyses import sweep_plots

    fig, axes = sweep_plots.panel_grid(2, panel=(5.6, 3.9))
    sweep_plots._bins_axis(axes[0], bins)
    fig.canvas.draw()
    labels = [t for t in axes[0].get_xticklabels() if t.get_text()]
    assert {int(b) for b in axes[0].get_xticks()} == set(bins)  # a tick at every count
    assert {int(t.get_text()) for t in labels} == set(bins) - blank  # 75 and 150 always named
    boxes = sorted((t.get_window_extent() for t in labels), key=lambda b: b.x0)
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:]))
    plt.close(fig)


def test_holds_to_reads_the_coarsest_step_within_the_points_from_the_finest():
    """Synthetic sweeps: the spike-time scheme is unaffected (holds to the coarsest, 3 bins), BPTT
    collapses at 3 bins (holds to 15), the same in both discretizations; then the shared spike-time
    arm loses 10 points at 15 bins and recovers at 3: the first miss ends the run of bins."""
    r = tb.rates(*tb.arms(_sweeps()))
    h = tb.holds_to(r, points=5.0)
    assert h["spiketime_seed000_holds_to"] == h["spiketime_shared_holds_to"] == 3.0
    assert h["bptt_seed000_holds_to"] == h["bptt_shared_holds_to"] == 15.0
    assert tb.holds_reading(h).endswith("the spike-time scheme keeps its lead on the shared model")
    r["final_test"].loc[dict(scheme="spiketime", discretization="shared", bins=15)] -= 10.0
    h = tb.holds_to(r, points=5.0)
    assert h["spiketime_shared_holds_to"] == 30.0
    assert "down to 30 bins" in tb.holds_reading(h)
    r["final_test"].loc[dict(scheme="spiketime", discretization="shared", bins=30)] -= 10.0
    h = tb.holds_to(r, points=5.0)
    assert h["spiketime_shared_holds_to"] == 75.0 and h["bptt_shared_holds_to"] == 15.0
    assert tb.holds_reading(h).endswith("the spike-time scheme's lead turns into BPTT's on the shared model")
    tie = tb.rates(*tb.arms(_sweeps()))
    tie["final_test"].loc[dict(scheme="spiketime", discretization="shared", bins=3)] -= 10.0
    h_tie = tb.holds_to(tie, points=5.0)
    assert h_tie["spiketime_shared_holds_to"] == h_tie["bptt_shared_holds_to"] == 15.0
    assert tb.holds_reading(h_tie).endswith("the spike-time scheme's lead is gone on the shared model")
    # a missing point: no limit, no comparison
    r["final_test"].loc[dict(scheme="bptt", discretization="shared", bins=75)] = np.nan
    h = tb.holds_to(r)
    assert np.isnan(h["bptt_shared_holds_to"]) and "missing point" in tb.holds_reading(h)


def test_verdicts_follow_the_synthetic_answer():
    c = tb.claims(tb.rates(*tb.arms(_sweeps())))
    v = tb.verdicts(c)
    assert v["bats_minimal"][0] == "confirmed"
    # BPTT's rate falls by more than the tolerance already at 75 bins (rise x sqrt(2)): qualified
    assert c["bptt_seed000_dcr_small"] < -0.2
    assert v["slayer"] == ("qualified", "BPTT's rate within ±0.2 of its benchmark's at every step of 75 bins "
                                        "or more: no; collapses at 3 bins: yes")
    # only BPTT's rate falls: the hypothesis (both, the spike-time scheme's more) is refuted
    assert v["hypothesis"][0] == "refuted" and v["hypothesis"][1].endswith("the spike-time rate falls less than BPTT's")
    assert v["decrease"][0] == "qualified"
    assert c["bptt_seed000_acc_coarse"] < 20 and c["spiketime_bench_acc"] == pytest.approx(94.5, abs=0.5)
    assert "spiketime_seed000_gain_75" in c and "spiketime_seed000_gain_150" in c


@pytest.mark.parametrize("g75, g150, verdict", [
    ((2.0, 1.0), (3.0, 1.0), "confirmed"),  # significantly better at both
    ((2.4, 3.0), (2.3, 3.0), "qualified"),  # better on average, within the spread: not a refutation
    ((2.0, 1.0), (-0.5, 1.0), "qualified"),
    ((-0.1, 1.0), (0.0, 1.0), "qualified"),  # no significant difference: neither shown nor ruled out
    ((-3.0, 1.0), (-2.0, 1.0), "refuted"),  # significantly worse at both
])
def test_better_than_baseline_needs_significance_either_way(g75, g150, verdict):
    c = tb.claims(tb.rates(*tb.arms(_sweeps())))
    st = "spiketime_seed000"
    c.update({f"{st}_gain_75": g75[0], f"{st}_gain_75_ci": g75[1], f"{st}_gain_150": g150[0], f"{st}_gain_150_ci": g150[1]})
    assert tb.verdicts(c)["bats_baseline"][0] == verdict


def _with(**kw) -> dict:
    c = tb.claims(tb.rates(*tb.arms(_sweeps())))
    c.update({k.replace("ST_", "spiketime_seed000_").replace("BP_", "bptt_seed000_"): v for k, v in kw.items()})
    return c


def test_hypothesis_needs_intervals_both_ways():
    # both fall, the spike-time rate significantly more: confirmed
    v = tb.verdicts(_with(ST_dcr_coarse=-0.8, ST_dcr_coarse_lo=-0.9, ST_dcr_coarse_hi=-0.7,
                          BP_dcr_coarse=-0.3, BP_dcr_coarse_lo=-0.4, BP_dcr_coarse_hi=-0.2))
    assert v["hypothesis"][0] == "confirmed"
    # wide intervals (three seeds): neither shown nor ruled out
    v = tb.verdicts(_with(ST_dcr_coarse=-0.5, ST_dcr_coarse_lo=-1.5, ST_dcr_coarse_hi=0.5,
                          BP_dcr_coarse=-0.4, BP_dcr_coarse_lo=-1.4, BP_dcr_coarse_hi=0.6))
    assert v["hypothesis"][0] == "qualified"
    # the spike-time rate's interval within the tolerance: it does not fall more than that, refuted
    v = tb.verdicts(_with(ST_dcr_coarse=-0.05, ST_dcr_coarse_lo=-0.1, ST_dcr_coarse_hi=0.0,
                          BP_dcr_coarse=-0.1, BP_dcr_coarse_lo=-0.3, BP_dcr_coarse_hi=0.1))
    assert v["hypothesis"][0] == "refuted"


@pytest.mark.parametrize("lo_min, hi_max, hi_min, lo_max, verdict", [
    (-0.15, 0.1, 0.05, -0.1, "confirmed"),  # every interval within ±0.2
    (-0.9, 0.7, 0.2, -0.1, "qualified"),  # a mean inside, but a wide interval: not shown
    (-0.9, 0.1, -0.5, -0.1, "refuted"),  # one interval wholly below -0.2
    (-0.1, 0.9, 0.1, 0.3, "refuted"),  # ... or wholly above +0.2
])
def test_bats_minimal_reads_every_interval_not_the_worst_mean(lo_min, hi_max, hi_min, lo_max, verdict):
    v = tb.verdicts(_with(ST_dcr_worst=-0.1, ST_dcr_lo_min=lo_min, ST_dcr_hi_max=hi_max, ST_dcr_hi_min=hi_min,
                          ST_dcr_lo_max=lo_max))
    assert v["bats_minimal"][0] == verdict


def test_bptt_small_steps_leave_out_its_own_benchmark_grid_and_one_seed_is_not_enough():
    r = tb.rates(*tb.arms(_sweeps()))
    c = tb.claims(r)
    d = tb.dcr(r).sel(scheme="bptt", discretization="seed000")
    # 150 bins is BPTT's benchmark on this window (dCR 0): only 75 bins counts as a small step here
    assert c["bptt_seed000_dcr_small"] == pytest.approx(float(d["mean"].sel(bins=75)))
    one = tb.rates(*tb.arms(_sweeps()))
    one = one.isel(seed=[0])
    assert tb.verdicts(tb.claims(one))["slayer"][0] == "not yet tested"


def test_missing_points_leave_the_claims_not_yet_tested():
    s = _sweeps()
    for k in ("val_accuracy_curve", "val_accuracy", "test_accuracy"):
        s["spiketime"][k][:] = np.nan
    v = tb.verdicts(tb.claims(tb.rates(*tb.arms(s))))
    assert v["bats_minimal"][0] == v["bats_baseline"][0] == v["hypothesis"][0] == "not yet tested"
    assert v["slayer"][0] != "not yet tested"  # BPTT's numbers are all there


def test_windows_that_differ_between_schemes_are_refused():
    s = _sweeps()
    s["exact"].attrs["config"] = "t_max: 200.0\n"
    with pytest.raises(ValueError, match="windows differ"):
        tb.arms(s)


def test_chapter_figures_draw(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from snnlib.analyses import sweep_plots

    curves, bench = tb.arms(_sweeps())
    r = tb.rates(curves, bench)
    for fig in (sweep_plots.timebins_dcr({"mnist": r, "nmnist": r}),
                sweep_plots.timebins_dcr({"mnist": r}, "exp"),
                sweep_plots.timebins_lines({"mnist": r, "nmnist": r}),
                sweep_plots.timebins_lines({"mnist": r}, "spikes"),
                sweep_plots.timebins_curves(curves, bench)):
        fig.savefig(tmp_path / "f.png")


def test_findings_decide_seed_000_from_both_datasets():
    from types import SimpleNamespace

    from snnlib.analyses import findings

    synthetic = _sweeps()
    names = {name: key for d in tb.DATASETS for key, name in tb.sweep_names(d).items()}

    def load(experiment):
        return SimpleNamespace(results=synthetic[names[experiment]])

    claim = {c.id: c for c in findings.CLAIMS}
    v = findings.assess(claim["s000_bats_minimal"], load)
    assert v.verdict == "confirmed" and "mnist: confirmed" in v.evidence and "nmnist: confirmed" in v.evidence
    assert set(v.numbers) == {"mnist_spiketime_seed000_dcr_worst", "nmnist_spiketime_seed000_dcr_worst"}
    slayer = findings.assess(claim["s000_slayer"], load)
    assert slayer.verdict in ("confirmed", "qualified") and slayer.numbers["mnist_bptt_seed000_acc_coarse"] < 20


def test_holds_conclusion_follows_every_dataset():
    h = {"spiketime_seed000_holds_to": 3.0, "spiketime_shared_holds_to": 15.0}
    assert "part of the robustness seed 000 credits" in tb.holds_conclusion({"a": h, "b": h})
    same = {"spiketime_seed000_holds_to": 3.0, "spiketime_shared_holds_to": 3.0}
    assert tb.holds_conclusion({"a": same}).startswith("On no dataset")
    assert "some datasets" in tb.holds_conclusion({"a": h, "b": same})
    assert "missing" in tb.holds_conclusion({"a": {**h, "spiketime_shared_holds_to": float("nan")}})


@pytest.mark.parametrize("time_power, spike_power, verdict", [(-1.0, -0.5, "confirmed"), (-1.0, 0.5, "qualified"),
                                                             (1.0, 0.5, "refuted")])
def test_fewer_bptt_steps_claim_reads_time_and_spikes_where_accuracy_holds(time_power, spike_power, verdict):
    """The survey's "fewer BPTT timesteps, lower latency and energy": on the shared grid the epoch
    takes k^time_power of the 1 ms grid's time and spikes scale as k^spike_power. BPTT holds to 15
    bins (k = 10); seed 000's step skipping costs the same at every k."""
    from types import SimpleNamespace

    from snnlib.analyses import findings

    synthetic = _sweeps(bptt_time=lambda p: 10.0 * p["k"] ** time_power if p["clock"] == "exact" else 10.0,
                        bptt_spikes=lambda p: 300.0 * p["k"] ** spike_power if p["clock"] == "exact" else 300.0)
    names = {name: key for d in tb.DATASETS for key, name in tb.sweep_names(d).items()}
    claim = {c.id: c for c in findings.CLAIMS}["s003_latency"]
    v = findings.assess(claim, lambda e: SimpleNamespace(results=synthetic[names[e]]))
    assert v.verdict == verdict
    assert v.numbers["mnist_shared_bins"] == 15.0
    assert v.numbers["mnist_shared_time_ratio"] == pytest.approx(10.0 ** time_power, rel=0.05)
    assert v.numbers["mnist_shared_spike_ratio"] == pytest.approx(10.0 ** spike_power, rel=0.05)
    lo, hi = v.numbers["mnist_shared_time_ratio_lo"], v.numbers["mnist_shared_time_ratio_hi"]
    assert 0 < lo < v.numbers["mnist_shared_time_ratio"] < hi  # a geometric interval: never below 0
    assert v.numbers["mnist_seed000_time_ratio"] == pytest.approx(1.0, rel=0.05)  # step skipping saves nothing
    # without recorded timings the claim waits
    plain = _sweeps()
    assert findings.assess(claim, lambda e: SimpleNamespace(results=plain[names[e]])).verdict == "not yet tested"


def test_one_missing_seed_leaves_the_limit_and_the_cost_open():
    synthetic = _sweeps(bptt_time=lambda p: 10.0 / p["k"] if p["clock"] == "exact" else 10.0)
    r = tb.rates(*tb.arms(synthetic))
    assert tb.holds_to(r)["bptt_shared_holds_to"] == 15.0
    r["final_test"].loc[dict(scheme="bptt", discretization="shared", bins=75, seed=1)] = np.nan
    h = tb.holds_to(r)
    assert np.isnan(h["bptt_shared_holds_to"]) and h["bptt_seed000_holds_to"] == 15.0
    r = tb.rates(*tb.arms(synthetic))
    r["epoch_time"].loc[dict(scheme="bptt", discretization="shared", bins=15, seed=2)] = np.nan
    c = tb.cost_at_holds(r, tb.holds_to(r))
    assert np.isnan(c["shared_time_ratio"]) and np.isfinite(c["shared_spike_ratio"])


def test_benchmark_gap_reads_the_welch_interval():
    r = tb.rates(*tb.arms(_sweeps()))
    g = tb.benchmark_gap(r)
    assert g["bench_gap_reading"] == "not significant with these seeds"  # the same curves, a little noise
    r["bench_test"].loc[dict(scheme="spiketime")] = r["bench_test"].sel(scheme="spiketime") - 10
    g = tb.benchmark_gap(r)
    assert g["bench_gap"] == pytest.approx(-10, abs=0.5) and g["bench_gap_reading"].endswith("significantly lower")
