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


def test_log_rate_ratios_on_known_curves():
    """One absolute target shared by both schemes (q x the lower benchmark); BPTT's benchmark grid has
    ln ratio 0; 3 bins never reach the target: censored at the whole run (the fall understated)."""
    curves, bench = tb.arms(_sweeps())
    lr = tb.log_rate_ratios(curves, bench, 0.9)
    bench_val = bench["val_accuracy"].isel(epoch=-1).mean("seed")
    assert float(lr["target"].sel(discretization="seed000")) == pytest.approx(
        0.9 * float(bench_val.sel(discretization="seed000").min()))
    for disc in tb.DISCRETIZATIONS:
        assert float(abs(lr["lrr"].sel(scheme="bptt", discretization=disc, bins=150)).max()) == pytest.approx(0.0)
    coarse = lr.sel(scheme="bptt", discretization="seed000", bins=3)
    assert bool(coarse["censored"].all()) and (coarse["n_q"] == N[-1]).all()
    np.testing.assert_allclose(coarse["lrr"], np.log(coarse["bench_n_q"] / N[-1]))
    m = lr["lrr"].sel(scheme="bptt", discretization="seed000").mean("seed").values
    assert np.all(np.diff(m) <= 1e-12)  # slower rise, lower rate
    assert float(abs(lr["lrr"].sel(scheme="spiketime")).max()) < 0.05
    measured = lr["n_q"].where(~lr["censored"])
    assert lr.attrs["resolution"] == pytest.approx(1000.0 / float(min(measured.min(), lr["bench_n_q"].min())))


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
    arm loses 10 validation points at 15 bins and recovers at 3: the first miss ends the run of bins."""
    r = tb.finals(*tb.arms(_sweeps()))
    h = tb.holds_to(r, points=5.0)
    assert h["spiketime_seed000_holds_to"] == h["spiketime_shared_holds_to"] == 3.0
    assert h["bptt_seed000_holds_to"] == h["bptt_shared_holds_to"] == 15.0
    assert tb.holds_reading(h).endswith("the spike-time scheme keeps its lead on the shared model")
    r["final_val"].loc[dict(scheme="spiketime", discretization="shared", bins=15)] -= 10.0
    h = tb.holds_to(r, points=5.0)
    assert h["spiketime_shared_holds_to"] == 30.0
    assert "down to 30 bins" in tb.holds_reading(h)
    r["final_val"].loc[dict(scheme="spiketime", discretization="shared", bins=30)] -= 10.0
    h = tb.holds_to(r, points=5.0)
    assert h["spiketime_shared_holds_to"] == 75.0 and h["bptt_shared_holds_to"] == 15.0
    assert tb.holds_reading(h).endswith("the spike-time scheme's lead turns into BPTT's on the shared model")
    tie = tb.finals(*tb.arms(_sweeps()))
    tie["final_val"].loc[dict(scheme="spiketime", discretization="shared", bins=3)] -= 10.0
    h_tie = tb.holds_to(tie, points=5.0)
    assert h_tie["spiketime_shared_holds_to"] == h_tie["bptt_shared_holds_to"] == 15.0
    assert tb.holds_reading(h_tie).endswith("the spike-time scheme's lead is gone on the shared model")
    # a missing point: no limit, no comparison
    r["final_val"].loc[dict(scheme="bptt", discretization="shared", bins=75)] = np.nan
    h = tb.holds_to(r)
    assert np.isnan(h["bptt_shared_holds_to"]) and "missing point" in tb.holds_reading(h)


def test_the_choosers_read_no_test_split():
    """Model selection on validation only: the limits and the costs read there do not move when every
    test accuracy is replaced by noise."""
    r = tb.finals(*tb.arms(_sweeps(bptt_time=lambda p: 10.0 / p["k"])))
    noisy = r.copy(deep=True)
    rng = np.random.default_rng(0)
    for k in ("final_test", "bench_test"):
        noisy[k] = noisy[k].copy(data=rng.uniform(0, 100, noisy[k].shape))
    assert tb.holds_to(noisy) == tb.holds_to(r)
    c0, c1 = tb.cost_at_holds(r, tb.holds_to(r)), tb.cost_at_holds(noisy, tb.holds_to(noisy))
    assert c0.keys() == c1.keys() and all(c0[k] == c1[k] or (np.isnan(c0[k]) and np.isnan(c1[k])) for k in c0)


def test_the_transfer_chooser_reads_the_validation_split():
    from snnlib.analyses import transfer

    ds = _transfer_like()
    noisy = ds.copy(deep=True)
    noisy["accuracy"].loc[dict(split="test")] = 0.1  # every test accuracy collapsed: nothing it chooses moves
    assert transfer.tolerable_step(noisy).equals(transfer.tolerable_step(ds))


def _transfer_like():
    rng = np.random.default_rng(0)
    dims = ("source", "integration", "input", "seed", "rule", "dt", "split")
    shape = (1, 2, 1, 3, 2, 3, 2)
    coords = dict(source=["s"], integration=["euler", "ps3"], input=["exact"], seed=[0, 1, 2], rule=["snap", "linear"],
                  dt=[0.1, 1.0, 5.0], split=["val", "test"])
    acc = 0.95 - 0.004 * np.broadcast_to(np.array([0.1, 1.0, 5.0])[:, None], shape[-2:]) + rng.normal(0, 1e-3, shape)
    return xr.Dataset({"accuracy": (dims, acc),
                       "exact_accuracy": (("source", "integration", "input", "seed", "split"), np.full((1, 2, 1, 3, 2), 0.95))},
                      coords=coords)


def _decided(claim_id, sweeps):
    """A time-bin claim decided alone on synthetic sweeps (both datasets the same), Holm within it."""
    from types import SimpleNamespace

    from snnlib.analyses import findings

    names = {name: key for d in tb.DATASETS for key, name in tb.sweep_names(d).items()}
    return findings.decide_one(claim_id, lambda e: SimpleNamespace(results=sweeps[names[e]]))


def test_findings_decide_seed_000_from_both_datasets():
    s = _sweeps()
    verdict, tree = _decided("s000_bats_minimal", s)  # the spike-time rate does not move: minimal, shown
    assert verdict == "confirmed" and set(tree[1]) == {"MNIST", "N-MNIST"}
    verdict, tree = _decided("s000_slayer", s)  # BPTT's rate falls already at 75 bins, then collapses
    parts = tree[1]["MNIST"][1]
    from snnlib.analyses import findings

    assert findings._verdict(parts["collapses at 3 bins"]) == "confirmed"
    assert findings._verdict(parts["unaffected at 75 bins or more"]) == "refuted"
    assert verdict == "holds in part"
    # only BPTT's rate falls: the hypothesis' "more for the spike-time scheme" is refuted, BPTT's fall shown
    verdict, tree = _decided("s000_hypothesis", s)
    mnist = tree[1]["MNIST"][1]
    assert findings._verdict(mnist["falls more for spike-time"]) == "refuted"
    assert findings._verdict(mnist["BPTT rate falls"]) == "confirmed"
    assert verdict == "holds in part"


def test_missing_points_leave_the_claims_not_yet_tested():
    s = _sweeps()
    s["spiketime"] = s["spiketime"].isel(seed=[0])  # one seed: no interval, no verdict
    verdict, _ = _decided("s000_bats_minimal", s)
    assert "cannot decide it yet" in verdict


def test_windows_that_differ_between_schemes_are_refused():
    s = _sweeps()
    s["exact"].attrs["config"] = "t_max: 200.0\n"
    with pytest.raises(ValueError, match="windows differ"):
        tb.arms(s)


def test_chapter_figures_draw(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from snnlib.analyses import sweep_plots

    from snnlib.study import claims

    curves, bench = tb.arms(_sweeps())
    r = tb.finals(curves, bench)
    lr = tb.log_rate_ratios(curves, bench, 0.9)
    for fig in (sweep_plots.timebins_lrr({"mnist": lr, "nmnist": lr}, claims.RATE, claims.COLLAPSE),
                sweep_plots.timebins_lines({"mnist": r, "nmnist": r}),
                sweep_plots.timebins_lines({"mnist": r}, "spikes"),
                sweep_plots.timebins_curves(curves, bench)):
        fig.savefig(tmp_path / "f.png")


def test_holds_conclusion_follows_every_dataset():
    h = {"spiketime_seed000_holds_to": 3.0, "spiketime_shared_holds_to": 15.0}
    assert "part of the robustness seed 000 credits" in tb.holds_conclusion({"a": h, "b": h})
    same = {"spiketime_seed000_holds_to": 3.0, "spiketime_shared_holds_to": 3.0}
    assert tb.holds_conclusion({"a": same}).startswith("On no dataset")
    assert "some datasets" in tb.holds_conclusion({"a": h, "b": same})
    assert "missing" in tb.holds_conclusion({"a": {**h, "spiketime_shared_holds_to": float("nan")}})


@pytest.mark.parametrize("time_power, spike_power, verdict", [(-1.0, -0.5, "confirmed"), (-1.0, 0.5, "holds in part"),
                                                             (1.0, 0.5, "refuted")])
def test_fewer_bptt_steps_claim_reads_time_and_spikes_where_accuracy_holds(time_power, spike_power, verdict):
    """The survey's "fewer BPTT timesteps, lower latency and energy": on the shared grid the epoch
    takes k^time_power of the 1 ms grid's time and spikes scale as k^spike_power. BPTT holds to 15
    bins (k = 10); seed 000's step skipping costs the same at every k."""
    synthetic = _sweeps(bptt_time=lambda p: 10.0 * p["k"] ** time_power if p["clock"] == "exact" else 10.0,
                        bptt_spikes=lambda p: 300.0 * p["k"] ** spike_power if p["clock"] == "exact" else 300.0)
    got, tree = _decided("s003_latency", synthetic)
    assert got == verdict
    est = tree[1]["MNIST"][1]["training time per epoch"].estimate
    assert est.value == pytest.approx(-time_power * np.log(10.0), rel=0.05)  # minus ln of the ratio at k = 10
    # without recorded timings the claim waits
    got, _ = _decided("s003_latency", _sweeps())
    assert "cannot decide it yet" in got


def test_one_missing_seed_leaves_the_limit_and_the_cost_open():
    synthetic = _sweeps(bptt_time=lambda p: 10.0 / p["k"] if p["clock"] == "exact" else 10.0)
    r = tb.finals(*tb.arms(synthetic))
    assert tb.holds_to(r)["bptt_shared_holds_to"] == 15.0
    r["final_val"].loc[dict(scheme="bptt", discretization="shared", bins=75, seed=1)] = np.nan
    h = tb.holds_to(r)
    assert np.isnan(h["bptt_shared_holds_to"]) and h["bptt_seed000_holds_to"] == 15.0
    r = tb.finals(*tb.arms(synthetic))
    r["epoch_time"].loc[dict(scheme="bptt", discretization="shared", bins=15, seed=2)] = np.nan
    c = tb.cost_at_holds(r, tb.holds_to(r))
    assert np.isnan(c["shared_time_ratio"]) and np.isfinite(c["shared_spike_ratio"])


def test_benchmark_gap_reads_the_welch_interval():
    r = tb.finals(*tb.arms(_sweeps()))
    g = tb.benchmark_gap(r)
    assert g["bench_gap_reading"] == "not significant with these seeds"  # the same curves, a little noise
    r["bench_test"].loc[dict(scheme="spiketime")] = r["bench_test"].sel(scheme="spiketime") - 10
    g = tb.benchmark_gap(r)
    assert g["bench_gap"] == pytest.approx(-10, abs=0.5) and g["bench_gap_reading"].endswith("significantly lower")


def _neuron_sweeps(tau_s: float, bptt_final, st_final, exact=0.95):
    """One neuron's three sweeps (window 150 ms: grid points 0 .. 150, n_steps 151); the continuous
    network's final validation accuracy ``exact``."""
    cfg_b = f"n_steps: 151\ndt: 1.0\ntau_s: {tau_s}\n"
    cfg_s = f"t_max: 150.0\ntau_s: {tau_s}\n"
    hs = [float(k) for k in KS]
    return {"bptt": _ds({"k": KS}, final=bptt_final, rise=lambda p: 1000.0, config=cfg_b),
            "spiketime": _ds({"dt": hs}, final=st_final, rise=lambda p: 1000.0, config=cfg_s, noise=0.001),
            "exact": _ds({}, final=lambda p: exact, rise=lambda p: 1000.0, config=cfg_s, noise=0.001)}


def test_neuron_arms_put_both_schemes_on_h_over_tau_s():
    """Both schemes on one bins axis per neuron, with h / tau_s; each scheme's benchmark its own finest
    grid; BPTT collapses at 3 bins in the fast neuron only: the spike-time scheme is less affected
    there (by 95 - 30 = 65 points, the coarsest bin count where either learns), not in the slow one."""
    by = {"slow": _neuron_sweeps(130.0, lambda p: 0.95, lambda p: 0.95),
          "fast": _neuron_sweeps(5.0, lambda p: 0.30 if p["k"] == 50 else 0.95, lambda p: 0.95)}
    curves, bench, cont = tb.neuron_arms(by)
    assert list(curves["bins"].values) == [150, 75, 30, 15, 3]
    np.testing.assert_allclose(curves["h_over_tau_s"].sel(neuron="fast").values, [0.2, 0.4, 1.0, 2.0, 10.0])
    np.testing.assert_allclose(curves["h_over_tau_s"].sel(neuron="slow").values, np.array(KS) / 130.0)
    np.testing.assert_array_equal(bench["val_accuracy_curve"].sel(scheme="bptt", neuron="fast").values,
                                  curves["val_accuracy_curve"].sel(scheme="bptt", neuron="fast", bins=150).values)
    assert dict(cont.sizes)["neuron"] == 2
    r = tb.finals(curves, bench)
    la = tb.less_affected(r, chance=100 / 3, learned=10.0)
    low = tb.at_chance(r, chance=100 / 3, learned=10.0)
    assert low.loc[("fast", "bptt"), 3] == 3 and int(low.values.sum()) == 3  # BPTT's collapse, every seed
    assert la["slow_bins"] == 3 and np.allclose(la["slow_diff"], 0.0, atol=0.5)
    assert la["fast_bins"] == 3 and np.allclose(la["fast_diff"], 65.0, atol=0.5)


def test_the_chapters_numbers_read_the_finest_and_coarsest_grids():
    """What a shared-neuron chapter glues: BPTT's collapse at 3 bins in the fast neuron (95 -> 30 %: the
    spike-time scheme loses 65 points less there), each scheme's finest grid, the bins listed."""
    import pandas as pd

    by = {"slow": _neuron_sweeps(130.0, lambda p: 0.95, lambda p: 0.95),
          "fast": _neuron_sweeps(5.0, lambda p: 0.30 if p["k"] == 50 else 0.95, lambda p: 0.95)}
    curves, bench, cont = tb.neuron_arms(by)
    r = tb.finals(curves, bench)
    settings = pd.DataFrame({"neuron": ["slow", "fast"], "thresholds": ["(1, 2)", "(3, 4)"]})
    n = tb.neuron_numbers(r, cont, tb.log_rate_ratios(curves, bench, 0.9), settings, chance=100 / 3, learned=10.0)
    assert n["bins"] == "150, 75, 30, 15, 3" and n["coarse_bins"] == 3 and n["n_seeds"] == len(SEEDS)
    assert n["fast_theta"] == "(3, 4)" and n["fast_tau_s"] == 5.0 and n["fast_h_max"] == pytest.approx(10.0)
    assert n["fast_bptt_coarse"] == pytest.approx(29.5) and n["fast_bptt_bench"] == pytest.approx(94.5)
    assert n["fast_spiketime_coarse"] == pytest.approx(94.5, abs=0.5) and n["fast_spiketime_coarse_ci"] > 0
    assert n["fast_la_bins"] == 3 and n["fast_la_diff"] == pytest.approx(65.0, abs=0.5)
    assert n["slow_continuous"] == pytest.approx(94.5, abs=0.5)


def test_the_benchmark_table_reads_each_scheme_s_finest_grid_and_the_continuous_network():
    """Three benchmarks per neuron, each its mean over seeds; the bar is met or not by the mean."""
    by = {"slow": _neuron_sweeps(130.0, lambda p: 0.99, lambda p: 0.99 if p["dt"] == 1.0 else 0.5, exact=0.97),
          "fast": _neuron_sweeps(5.0, lambda p: 0.99, lambda p: 0.60, exact=0.99)}
    _, bench, cont = tb.neuron_arms(by)
    acc = tb.neuron_benchmarks(bench, cont)
    assert list(acc["benchmark"].values) == list(tb.BENCHMARKS) and dict(acc.sizes)["seed"] == len(SEEDS)
    t = tb.benchmark_table(acc, bar=97.5)
    assert t.loc[("tau_s = 130 ms", tb.BENCHMARKS["spiketime"]), "test accuracy (%)"] == pytest.approx(98.5, abs=0.3)
    assert t.loc[("tau_s = 130 ms", tb.BENCHMARKS["continuous"]), "reaches 97.5 %"] == "no"  # 96.5 %
    assert t.loc[("tau_s = 5 ms", tb.BENCHMARKS["spiketime"]), "reaches 97.5 %"] == "no"
    assert t.loc[("tau_s = 5 ms", tb.BENCHMARKS["bptt"]), "reaches 97.5 %"] == "yes"
    assert (t["seeds"] == len(SEEDS)).all()
    below = tb.benchmarks_below(acc, 97.5)  # the gate the findings and the chapter share
    assert set(below["slow"]) == {"continuous"} and below["slow"]["continuous"] == pytest.approx(96.5, abs=0.3)
    assert set(below["fast"]) == {"spiketime"}
    assert tb.benchmarks_below(acc, 97.5, needs=("bptt", "continuous")) == {"slow": below["slow"], "fast": {}}
    assert set(tb.benchmarks_below(acc.where(acc.benchmark != "bptt"), 50.0)["fast"]) == {"bptt"}  # no seed there


def test_neuron_arms_refuse_different_neurons_or_windows():
    sw = _neuron_sweeps(130.0, lambda p: 0.9, lambda p: 0.9)
    sw["exact"].attrs["config"] = "t_max: 150.0\ntau_s: 5.0\n"
    with pytest.raises(ValueError, match="neurons differ"):
        tb.neuron_window(sw)
    sw["exact"].attrs["config"] = "t_max: 151.0\ntau_s: 130.0\n"
    with pytest.raises(ValueError, match="windows differ"):
        tb.neuron_window(sw)


def test_findings_decide_the_shared_neuron_claims():
    """The slow neuron: nothing moves. The fast one: BPTT learns slower as the step grows and collapses at
    3 bins, the spike-time scheme does not move: minimal for spike-time in both neurons, BPTT's
    collapse shown in the fast one, where the spike-time scheme loses less (the hypothesis' "more
    noticeable in spike-based models" refuted there, and in the slow one, where nothing moves)."""
    from types import SimpleNamespace

    from snnlib.analyses import findings
    from snnlib.study import claims

    slow = _neuron_sweeps(130.0, lambda p: 0.95, lambda p: 0.95)
    fast = _neuron_sweeps(5.0, lambda p: 0.30 if p["k"] == 50 else 0.95, lambda p: 0.95)
    fast["bptt"] = _ds({"k": KS}, final=lambda p: 0.30 if p["k"] == 50 else 0.95,
                       rise=lambda p: 1000.0 * p["k"] ** 0.5, config="n_steps: 151\ndt: 1.0\ntau_s: 5.0\n", noise=0.001)
    sweeps = {n: ds for r, sw in (("slow", slow), ("fast", fast)) for k, ds in sw.items()
              for n in [tb.neuron_sweep_names(r)[k]]}

    def load(e):  # MNIST's sweeps still being made: left out, and named
        if e not in sweeps:
            raise FileNotFoundError(f"the sweep {e} is still being made, point by point")
        return SimpleNamespace(results=sweeps[e])

    verdict, tree = findings.decide_one("s000_bats_minimal_neuron", load)
    assert verdict == "confirmed" and set(tree[1]) == {"Yin-Yang, tau_s = 130 ms", "Yin-Yang, tau_s = 5 ms"}
    d = findings.decide(claims.claim("s000_bats_minimal_neuron"), load, findings.Settings())
    assert "MNIST left out (the sweep timebins-mnist-slow-bptt is still being made" in d.context.format(**d.numbers)
    verdict, tree = findings.decide_one("s000_slayer_neuron", load)
    fast_parts = tree[1]["Yin-Yang, tau_s = 5 ms"][1]
    assert set(fast_parts) == {"collapses at 3 bins (h / tau_s = 10)"}  # no step of h / tau_s <= 0.1 there
    assert findings._verdict(fast_parts["collapses at 3 bins (h / tau_s = 10)"]) == "confirmed"
    slow_parts = tree[1]["Yin-Yang, tau_s = 130 ms"][1]
    assert findings._verdict(slow_parts["collapses at 3 bins (h / tau_s = 0.385)"]) == "refuted"
    verdict, tree = findings.decide_one("s000_noticeable_neuron", load)
    assert findings._verdict(tree[1]["Yin-Yang, tau_s = 5 ms"]) == "refuted"
    assert findings._verdict(tree[1]["Yin-Yang, tau_s = 130 ms"]) == "refuted" and verdict == "refuted"
    verdict, tree = findings.decide_one("s000_hypothesis_neuron", load)
    fast_h = tree[1]["Yin-Yang, tau_s = 5 ms"][1]
    assert findings._verdict(fast_h["BPTT rate falls"]) == "confirmed"
    assert findings._verdict(fast_h["falls more for spike-time"]) == "refuted"
    verdict, _ = findings.decide_one("s000_decrease_neuron", load)
    assert verdict in ("holds in part", "refuted")


def test_each_dataset_of_the_shared_neuron_is_its_own_part():
    """With MNIST's sweeps there too, each claim has one part per dataset and neuron, and the accuracy
    claim reads each dataset against its own chance: both schemes at 25 % at 3 bins still learn on MNIST
    (chance 10 %), not on Yin-Yang (33 %), where it is read at the next bin count. An MNIST neuron is
    judged only where its three benchmarks reach MNIST's bar (97.5 % test)."""
    from types import SimpleNamespace

    from snnlib.analyses import findings
    from snnlib.study import claims

    def neuron(good, st_finest=None):
        coarse = lambda p: 0.25 if p.get("k", p.get("dt")) == 50 else good  # noqa: E731
        st = coarse if st_finest is None else (lambda p: st_finest if p["dt"] == 1.0 else coarse(p))
        return {"slow": _neuron_sweeps(130.0, lambda p: good, lambda p: good, exact=good),
                "fast": _neuron_sweeps(5.0, coarse, st, exact=good)}

    def decided(by, claim="s000_noticeable_neuron"):
        sweeps = {tb.neuron_sweep_names(r, d)[k]: ds for d, sw in by.items() for r, arms in sw.items()
                  for k, ds in arms.items()}
        def load(e):
            if e not in sweeps:
                raise FileNotFoundError(f"the sweep {e} is still being made")
            return SimpleNamespace(results=sweeps[e])

        _, tree = findings.decide_one(claim, load)
        return tree, findings.decide(claims.claim(claim), load, findings.Settings())

    tree, d = decided({"yinyang": neuron(0.95), "mnist": neuron(0.99)})
    assert list(tree[1]) == ["Yin-Yang, tau_s = 130 ms", "Yin-Yang, tau_s = 5 ms", "MNIST, tau_s = 130 ms",
                             "MNIST, tau_s = 5 ms"]
    assert d.numbers["mnist_fast_bins"] == 3 and d.numbers["yinyang_fast_bins"] == 15
    assert "not judged" not in d.context  # N-MNIST's sweeps are not there: left out, and named
    assert d.context.count("left out") == 1 and "N-MNIST left out (the sweep timebins-nmnist" in d.context
    # the fast MNIST neuron's spike-time scheme reaches 60 % on its finest grid: that neuron is not judged
    tree, d = decided({"yinyang": neuron(0.95), "mnist": neuron(0.99, st_finest=0.60)})
    assert "MNIST, tau_s = 5 ms" not in tree[1] and "MNIST, tau_s = 130 ms" in tree[1]
    text = d.context.format(**d.numbers)
    assert "MNIST, tau_s = 5 ms not judged: the spike-time scheme's finest grid 59.5 %, below the benchmark bar" in text
    # the grid against the continuous network (99 %) is still judged there
    tree, d = decided({"yinyang": neuron(0.95), "mnist": neuron(0.99, st_finest=0.60)}, "s000_bats_minimal_neuron")
    assert "MNIST, tau_s = 5 ms" in tree[1] and "not judged" not in d.context


def test_the_shared_neuron_figure_draws(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from snnlib.analyses import sweep_plots

    by = {"slow": _neuron_sweeps(130.0, lambda p: 0.95, lambda p: 0.95),
          "fast": _neuron_sweeps(5.0, lambda p: 0.30 if p["k"] == 50 else 0.95, lambda p: 0.95)}
    curves, bench, cont = tb.neuron_arms(by)
    r = tb.finals(curves, bench)
    fig = sweep_plots.neuron_lines(r, cont, chance=100 / 3)
    lines = [l for l in fig.axes[0].get_lines() if l.get_label().startswith(("spike-time", "BPTT"))]
    assert len(lines) == 4
    fast_bptt = next(l for l in lines if l.get_label() == "BPTT, tau_s = 5 ms")
    assert fast_bptt.get_xdata()[-1] == pytest.approx(10.0) and fast_bptt.get_ydata()[-1] == pytest.approx(29.5, abs=1)
    fig.savefig(tmp_path / "a.png")
    fig2 = sweep_plots.neuron_lines(tb.log_rate_ratios(curves, bench, 0.9), var="lrr", tolerance=0.2, collapse=0.7)
    fig2.savefig(tmp_path / "b.png")


def test_the_withheld_spikes_of_a_committed_network_count_its_own_spikes():
    """On a committed shared-neuron point, the measurement's hidden and output spikes are the trained
    network's own (its forward on the test split), and it withholds none it emits."""
    import torch

    from conftest import ROOT
    from snnlib.training import driver

    path = ROOT / "runs" / "timebins-yinyang-fast-bptt" / "quick" / "k=1,seed=0"
    if not (path / "summary.json").is_file():
        pytest.skip("the point is not committed")
    w = tb.withheld_spikes(path)
    model, cfg = driver.load_model(path)
    scheme = driver.scheme_of(cfg)
    x, _ = scheme.data(cfg)["test"]
    with torch.no_grad():
        out, hidden = model.double()(scheme.encoder(cfg, "test")(x, np.arange(len(x))))
    assert w["hidden_spikes"] == pytest.approx(float(hidden[0].sum()) / len(x))
    assert w["output_spikes"] == pytest.approx(float(out.sum()) / len(x))
    assert w["hidden_withheld"] >= 0 and w["output_withheld"] >= 0


@pytest.mark.data
def test_silent_outputs_counts_the_output_neurons_that_never_fire(data_dir, tmp_path):
    """A committed continuous network (fast neuron, seed 0) has no dead output; the same network with
    two output neurons' weights made strongly negative has two (the dead-output case of the runs the
    spike-time scheme leaves near chance), and the chapter's table lists only runs that did not train."""
    import shutil

    from snnlib.store import runs
    from snnlib.store.runs import point_dir

    src = point_dir("timebins-yinyang-fast-exact", "quick", "seed=0")
    if not (src / "summary.json").is_file():
        pytest.skip("the point is not committed")
    assert tb.silent_outputs(src) == 0
    dead = tmp_path / "seed=0"
    shutil.copytree(src, dead)
    w = dict(np.load(dead / "weights.npz"))
    w["weights.1"][1:] = -10.0
    np.savez(dead / "weights.npz", **w)
    runs.record_checksums(dead, ["weights.npz"])  # the copy is a run of its own, not a damaged one
    assert tb.silent_outputs(dead) == 2
    t = tb.dead_outputs_table("quick", chance=100 / 3, learned=10.0)
    assert list(t.columns) == ["neuron", "arm", "point", "test accuracy (%)", "silent outputs"]
    assert (t["test accuracy (%)"] < 100 / 3 + 10).all()


def test_input_times_read_each_dataset_s_code():
    """The structural-delay table's input times: MNIST's first-spike times with the silent (black) pixels
    left out, Yin-Yang's coordinates and bias spike, both in [0, t_in]; N-MNIST's events in the window."""
    from types import SimpleNamespace

    import torch

    img = np.zeros((2, 28, 28), dtype=np.uint8)
    img[0, 0, 0], img[1, 5, 5], img[1, 6, 6] = 255, 102, 1
    t = tb._input_times(SimpleNamespace(dataset="mnist", t_in=100.0), img)
    np.testing.assert_allclose(np.sort(t), [0.0, 60.0, 100.0 * (1 - 1 / 255)])
    yy = tb._input_times(SimpleNamespace(dataset="yinyang", t_in=100.0), torch.tensor([[0.2, 0.7, 0.8, 0.3]]))
    assert len(yy) == 5 and yy.min() >= 0 and yy.max() <= 100.0
    # N-MNIST: every event of every recording within the window (grid points 0 .. (n_steps - 1) dt)
    ev = np.zeros(4, dtype=[("x", np.int16), ("y", np.int16), ("p", np.int8), ("t", np.int64)])
    ev["t"] = [0, 1500, 149999, 150000]  # µs
    recs = [(ev, 3), (ev[:2], 5)]
    nm = tb._input_times(SimpleNamespace(dataset="nmnist", n_steps=151, dt=1.0), recs)
    np.testing.assert_allclose(np.sort(nm), [0.0, 0.0, 1.5, 1.5, 149.999])


def test_initial_outputs_read_the_network_both_schemes_start_from():
    """The output activity where training starts: the share of test samples with no output spike, from
    BPTT's initial network, equals the spike-time scheme's network built from the same seed at that step
    (an independent forward); the silent-output loss is (y_true^2 + (C - 1) y_false^2) / 2 of the step's
    fitted targets; a seed counts as stuck only where its training loss stays there in every epoch, of the seeds
    complete in both arms."""
    import torch
    import yaml

    from snnlib.study import plan
    from snnlib.training import driver
    from snnlib.training.schemes import bptt

    ks, seeds, epochs = [1, 25], [0, 1], [1, 2, 3]
    net = {"hidden": [20], "n_train": 50, "n_val": 50}
    b = {**plan.sweep("timebins-yinyang-fast-bptt").points("quick")[0].config, **net}
    s = {**plan.sweep("timebins-yinyang-fast-spiketime").points("quick")[0].config, **net}
    b.pop("k"), b.pop("seed"), s.pop("dt"), s.pop("seed")
    silent = {k: tb.silent_loss(bptt.BPTTConfig.from_dict({**b, "k": k, "seed": 0})) for k in ks}
    yt, yf = bptt.targets(bptt.BPTTConfig.from_dict({**b, "k": 25, "seed": 0}))
    assert silent[25] == pytest.approx((yt ** 2 + 2 * yf ** 2) / 2)
    assert silent[1] == pytest.approx((15 ** 2 + 2 * 3 ** 2) / 2)  # BATS's targets where the grid allows them
    loss_b = np.full((len(ks), len(seeds), len(epochs)), 1.0)
    loss_b[1, 0] = silent[25]  # BPTT: seed 0 stuck at 25 ms; seed 1 leaves silence in its last epoch
    loss_b[1, 1] = [silent[25], silent[25], silent[25] * 0.9]
    loss_s = np.stack([np.full((len(seeds), len(epochs)), silent[k]) for k in ks])  # every spike-time run stuck
    loss_s[1, 1, -1] = np.nan  # ... one not finished: not counted
    by = {"fast": {
        "bptt": xr.Dataset({"train_loss": (("k", "seed", "epoch"), loss_b)},
                           coords={"k": ks, "seed": seeds, "epoch": epochs}, attrs={"config": yaml.safe_dump(b)}),
        "spiketime": xr.Dataset({"train_loss": (("dt", "seed", "epoch"), loss_s)},
                                coords={"dt": [float(k) for k in ks], "seed": seeds, "epoch": epochs},
                                attrs={"config": yaml.safe_dump(s)})}}
    t = tb.initial_outputs(by)
    assert list(t.index) == [("fast", 150), ("fast", 6)]
    share = "initial samples with silent outputs (%)"
    assert list(t["seeds"]) == [2, 1]  # complete in both arms
    assert list(t["BPTT seeds stuck silent"]) == [0, 1]
    assert list(t["spike-time seeds stuck silent"]) == [2, 1]
    assert list(t["silent-output loss"]) == [round(silent[1], 3), round(silent[25], 3)]
    for k, bins in zip(ks, (150, 6)):  # the spike-time scheme's own initial network, its own forward
        shares = []
        for seed in seeds:
            cfg = driver.scheme_of("integrated").config.from_dict({**s, "dt": float(k), "seed": seed})
            scheme = driver.scheme_of(cfg)
            x, _ = scheme.data(cfg)["test"]
            with torch.no_grad():
                out, _ = scheme.build(cfg, torch.Generator().manual_seed(seed))(
                    scheme.encoder(cfg, "test")(x, np.arange(len(x))).double())
            shares.append(100 * float((~torch.isfinite(out).any(2).any(1)).double().mean()))
        assert t.loc[("fast", bins), share] == pytest.approx(np.mean(shares), abs=0.05)
    assert 0 < t.loc[("fast", 150), share] < t.loc[("fast", 6), share]


def _asran_sweeps(as_ran, gain, loihi, first, seeds=(0, 1, 2, 3, 4)):
    """Seed 000 as it ran, its controls and the first design's skip arm, each a callable of (k, seed) giving
    the final accuracy (fraction); lava-dl's 300 ms window, tau_s = 3.48 ms."""
    ks = [1, 2, 5, 10, 100]

    def sweep(dims: dict, fn, config: str, seeds=seeds):
        coords = {**dims, "k": ks, "seed": list(seeds)}
        shape = [len(v) for v in coords.values()]
        acc = np.zeros(shape + [2])
        for idx in np.ndindex(*shape):
            p = {d: coords[d][i] for d, i in zip(coords, idx)}
            acc[idx] = [0.1, fn(p)]
        dims_all = list(coords) + ["epoch"]
        return xr.Dataset({"test_accuracy": (dims_all, acc), "val_accuracy": (dims_all, acc + 0.01)},
                          coords={**coords, "epoch": [1, 2]}, attrs={"config": config})

    lava = "dt: 1.0\nn_steps: 300\ntau_s: 3.48\nhidden: [512, 512]\nepochs: 20\n"
    return {
        "timebins-nmnist-seed000": sweep({"skip_gain": [False, True]},
                                         lambda p: (gain if p["skip_gain"] else as_ran)(p["k"], p["seed"]),
                                         lava + "clock: seed000\n"),
        "timebins-nmnist-loihi": sweep({}, lambda p: loihi(p["k"], p["seed"]), lava + "clock: loihi\n"),
        "timebins-nmnist-bptt": sweep({"clock": ["skip", "exact"]}, lambda p: first(p["k"], p["seed"]),
                                      "dt: 1.0\nn_steps: 300\ntau_s: 3.48\nhidden: [500]\nepochs: 8\n",
                                      seeds=(0, 1, 2)),
    }


def test_seed_000_as_it_ran_sits_beside_its_controls_paired_by_seed():
    def as_ran(k, s):
        return 0.9 - 0.01 * s if k < 10 else 0.1
    loaded = _asran_sweeps(as_ran, gain=lambda k, s: as_ran(k, s) + (0.3 if k >= 10 else 0.0),
                           loihi=lambda k, s: as_ran(k, s) + 0.02 * s, first=lambda k, s: 0.8)
    r = tb.asran_finals(loaded)
    assert list(r["arm"].values) == list(tb.ASRAN_ARMS)
    assert sorted(r["bins"].values.tolist()) == [3, 30, 60, 150, 300]
    # seed 000's neuron sees the decay of one base bin per coarse bin; Loihi's recurrence k ms
    np.testing.assert_allclose(r["h_over_tau_s"].sel(arm="as ran"), 1 / 3.48)
    np.testing.assert_allclose(r["h_over_tau_s"].sel(arm="Loihi coarsened", bins=3), 100 / 3.48)
    # training as it ran keeps every k-th of the coarse bins: 300 ms at 10 ms -> 30 bins -> 3 trained
    assert int(r["trained_steps"].sel(arm="as ran", bins=30)) == 3
    assert int(r["trained_steps"].sel(arm="Loihi coarsened", bins=30)) == 30
    # the first design ran 3 seeds: the others are missing, not zero
    assert np.isnan(r["final_test"].sel(arm="first design's skip", seed=4)).all()
    assert "2312-500-10, 8 epochs" in r.attrs["networks"]

    t = tb.asran_table(r)
    assert list(t.index) == [300, 150, 60, 30, 3]
    assert t.loc[30, "gain restored − as ran (points)"] == "+30.0 ± 0.0"
    # the Loihi control differs from as ran by 2 points per seed: mean +4.0 over seeds 0..4
    assert t.loc[300, "Loihi coarsened − as ran (points)"].startswith("+4.0 ± ")
    assert t.loc[300, "as ran (%)"].startswith("88.0 ± ")

    n = tb.asran_numbers(r, chance=10.0, learned=10.0, points=5.0)
    assert n["as_ran_bench"] == pytest.approx(88.0) and n["as_ran_coarse"] == pytest.approx(10.0)
    assert n["as_ran_holds_to"] == 60 and n["as_ran_learns_to"] == 60
    assert n["gain_restored_learns_to"] == 3 and n["first_designs_skip_holds_to"] == 3
    assert n["n_seeds"] == 5 and n["coarse_bins"] == 3
    assert n["as_ran_min"] == pytest.approx(10.0) and n["as_ran_min_bins"] == 30  # the first of the lowest
    # restoring the gain adds 30 points from 30 bins down (the finest first among ties), nothing at 300 bins
    assert n["gain_restored_diff_max"] == pytest.approx(30.0) and n["gain_restored_diff_max_bins"] == 30
    assert n["gain_restored_diff_min"] == pytest.approx(0.0) and n["gain_restored_diff_min_bins"] == 300
    assert n["Loihi_coarsened_diff_max"] == pytest.approx(4.0) and n["Loihi_coarsened_diff_max_ci"] > 0
    # one seed's missing point leaves the limit open, not read from the other seeds
    r["final_val"].loc[{"arm": "as ran", "bins": 150, "seed": 2}] = np.nan
    assert np.isnan(tb.asran_numbers(r, chance=10.0, learned=10.0, points=5.0)["as_ran_holds_to"])


def test_seed_000_as_it_ran_refuses_arms_on_different_bins():
    loaded = _asran_sweeps(*(lambda k, s: 0.5,) * 4)
    loaded["timebins-nmnist-loihi"] = loaded["timebins-nmnist-loihi"].isel(k=slice(0, 4))
    with pytest.raises(ValueError, match="bin counts differ"):
        tb.asran_finals(loaded)


def test_seed_000_as_it_ran_figure_draws(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from snnlib.analyses import sweep_plots

    r = tb.asran_finals(_asran_sweeps(*(lambda k, s: 0.5 + 0.01 * s,) * 4))
    sweep_plots.asran_lines(r, chance=10.0).savefig(tmp_path / "f.png")


def test_the_first_design_s_two_neurons_are_read_from_its_configs():
    sweeps = _sweeps()
    sweeps["bptt"].attrs["config"] = "n_steps: 150\ndt: 1.0\ntau_s: 3.48\ntau: 32.8\n"
    n = tb.first_design_neurons(sweeps, bins=25)  # the spike-time sweep leaves tau_s to BATS's 130 ms
    assert n["spiketime_tau_s"] == 130.0 and n["spiketime_tau"] == 260.0 and n["bptt_tau"] == 32.8
    assert (n["target_true"], n["target_false"]) == (15, 3)  # BATS's count targets, unset in the sweep
    assert n["tau_ratio"] == pytest.approx(130 / 3.48)
    assert n["bptt_h_bins"] == pytest.approx(6 / 3.48) and n["spiketime_h_bins"] == pytest.approx(6 / 130)
    sweeps["exact"].attrs["config"] = "t_max: 150.0\ntau_s: 5.0\n"
    assert tb.first_design_neurons(sweeps)["spiketime_tau_s"] == 5.0


def test_the_rate_target_is_out_of_reach_where_the_skip_caps_the_rate():
    sweeps = _sweeps()
    sweeps["bptt"].attrs["config"] = "n_steps: 300\ndt: 1.0\nloss: rate\ntrue_rate: 0.2\n"
    sweeps["exact"].attrs["config"] = "t_max: 300.0\n"
    # one spike every fifth 1 ms bin is a rate of 0.2: a skip of 5 reaches it (60 bins of 300 ms), 6 does not
    assert tb.rate_target_reach(sweeps) == {"true_rate": 0.2, "k_max": 5, "k_out": 6, "bins_min": 60}
    sweeps["bptt"].attrs["config"] = "n_steps: 300\ndt: 1.0\nloss: count_ce\n"
    with pytest.raises(ValueError, match="no rate target"):
        tb.rate_target_reach(sweeps)
