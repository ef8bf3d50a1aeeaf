"""The aggregation of seed 001's direct-training sweeps (snnlib.analyses.direct) on synthetic
sweeps with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from snnlib.analyses import direct
from snnlib.experiments import performance
from snnlib.study import plan

SEEDS = [0, 1, 2]
N = np.array([2500, 5000, 7500, 10000])  # samples seen (one epoch of 10000, four records)


def _runs(shape: dict, final_acc, rise, epoch_time, spikes, cosine=None, config="dt: 1.0\n") -> xr.Dataset:
    """Learning curves acc(n) = final * (1 - exp(-n / rise)) / (1 - exp(-N_max / rise)) per point."""
    dims = list(shape) + ["seed"]
    coords = {**shape, "seed": SEEDS}
    size = [len(v) for v in coords.values()]
    fa = np.broadcast_to(np.asarray(final_acc, float)[..., None] if np.ndim(final_acc) else final_acc, size)
    rs = np.broadcast_to(np.asarray(rise, float)[..., None] if np.ndim(rise) else rise, size)
    # seeds differ a little (seed 0 lowest), the same way in every configuration: pairing by seed
    # removes the spread
    fa = fa * (1 + 0.002 * (np.array(SEEDS) - 1))
    curve = fa[..., None] * (1 - np.exp(-N / rs[..., None])) / (1 - np.exp(-N[-1] / rs[..., None]))
    et = np.broadcast_to(np.asarray(epoch_time, float)[..., None] if np.ndim(epoch_time) else epoch_time, size)
    sp = np.broadcast_to(np.asarray(spikes, float)[..., None] if np.ndim(spikes) else spikes, size)
    ds = xr.Dataset({
        "val_accuracy_curve": (dims + ["samples_seen"], curve),
        "val_accuracy": (dims + ["epoch"], curve[..., -1:]),
        "test_accuracy": (dims + ["epoch"], curve[..., -1:] - 0.01),
        "hidden_spikes": (dims + ["epoch"], sp[..., None]),
        "epoch_time": (dims + ["epoch"], et[..., None]),
        "probe_ref_step_s": (dims + ["checkpoint"], np.full(size + [2], 1e-3)),
    }, coords={**coords, "samples_seen": N, "epoch": [1], "checkpoint": [0, 1]})
    if cosine is not None:
        ds["probe_cosine"] = (dims + ["checkpoint"], np.broadcast_to(np.asarray(cosine, float)[..., None, None], size + [2]))
        ds["probe_norm_ratio"] = ds["probe_cosine"] * 0 + 1
    ds.attrs.update(n_train=10000, config=config, tau_s_ms=5.0)
    return ds


def _sweeps(pig_rise=3000.0, high_acc=0.95):
    grad, integ, dts = ["piggyback", "adjusted"], ["euler", "ps5"], [0.25, 4.0]
    shape = {"gradient": grad, "integration": integ, "dt": dts}
    # [gradient, integration, dt]
    rise = np.array([[[pig_rise] * 2] * 2, [[1000.0] * 2] * 2])
    acc = np.array([[[0.94, 0.90], [0.95, high_acc]]] * 2)
    epoch_time = np.array([[[20.0, 10.0], [40.0, 20.0]], [[30.0, 15.0], [60.0, 30.0]]])
    spikes = np.array([[[900.0, 1200.0], [880.0, 850.0]]] * 2)
    cosine = np.array([[[0.99, 0.6], [0.999, 0.7]], [[0.9999, 0.9], [0.99999, 0.95]]])
    d = _runs(shape, acc, rise, epoch_time, spikes, cosine)
    newton = _runs({"gradient": grad, "integration": integ}, acc[:, :, 0], rise[:, :, 0], epoch_time[:, :, 0],
                   spikes[:, :, 0], cosine[:, :, 0], config="dt: 0.25\n")
    exact = _runs({}, 0.95, 1000.0, 10.0, 880.0, config="dt: null\n")
    return {"direct": d, "direct-newton": newton, "direct-exact": exact}


def test_point_metrics_on_known_curves():
    m = direct.metrics(_sweeps())
    e, d = m["direct-exact"], m["direct"]
    # epoch cost: 10 s / (1 ms x 10000 samples) = 1 for the benchmark
    np.testing.assert_allclose(e["epoch_cost"], 1.0)
    assert bool(e["reached"].all())
    np.testing.assert_allclose(d["time_ratio"].sel(gradient="adjusted", integration="ps5", dt=0.25), 6.0)
    # one absolute target for every point: q x the benchmark's mean final validation accuracy
    target = direct.target(_sweeps()["direct-exact"])
    assert target == pytest.approx(direct.Q * 0.95) and m["direct"].attrs["target"] == pytest.approx(target)
    # the benchmark is above it at its first record (n_q known only to lie below it: unresolved) ...
    assert bool((e["n_q"] == N[0]).all())
    # ... piggyback (rise 3000) crosses it between records, interpolated
    n_q = float(d["n_q"].sel(gradient="piggyback", integration="ps5", dt=0.25).isel(seed=0))
    curve = 0.95 * 0.998 * (1 - np.exp(-N / 3000)) / (1 - np.exp(-N[-1] / 3000))
    assert N[0] < n_q < N[-1] and np.interp(n_q, N, curve) == pytest.approx(target)
    # the records, 2,500 samples apart, cannot place the benchmark's n_q (at the first record): resolution 1
    assert direct.resolution(_sweeps(), m) == (2500.0, 1.0)
    np.testing.assert_allclose(d["final_test"].sel(gradient="adjusted", integration="ps5", dt=4.0),
                               [100 * 0.95 * (1 + 0.002 * (k - 1)) - 1 for k in SEEDS])
    # paired by seed: the drop of Euler (90 %) against the benchmark (95 %), seed by seed
    np.testing.assert_allclose(d["test_drop"].sel(gradient="adjusted", integration="euler", dt=4.0),
                               [-5.0 * (1 + 0.002 * (k - 1)) for k in SEEDS])


def _perf(sweeps, rounds=9):
    """A performance run whose direct-training benchmark times each configuration of the synthetic
    sweep at its epoch time per sample (the exact step at the benchmark's), with a little noise
    shared by every method of a round."""
    d, e = sweeps["direct"], sweeps["direct-exact"]
    noise = 1 + 0.05 * np.random.default_rng(1).standard_normal(rounds)
    methods, cost = ["exact"], [float(e["epoch_time"].mean()) / 10000]
    for g in d["gradient"].values:
        for i in d["integration"].values:
            for dt in d["dt"].values:
                methods.append(performance.direct_label(str(i), float(dt), str(g)))
                cost.append(float(d["epoch_time"].sel(gradient=g, integration=i, dt=dt).mean()) / 10000)
    r = np.array(cost)[:, None] * noise[None, :]
    return xr.Dataset({"direct_rounds_s_per_sample": (("direct_method", "direct_round"), r),
                       "direct_s_per_sample": ("direct_method", np.median(r, axis=1))},
                      coords={"direct_method": methods, "direct_round": np.arange(rounds)})


def _decided(claim_id, sweeps, perf=None):
    """A direct-training claim decided alone on synthetic sweeps (by role), given the names of the
    deciding study's sweeps, and the benchmark's step costs, Holm within it."""
    from types import SimpleNamespace

    from snnlib.analyses import findings

    by_name = {direct.STUDIES[direct.DECIDING][role]: ds for role, ds in sweeps.items()
               if role in direct.STUDIES[direct.DECIDING]}
    by_name["performance"] = _perf(sweeps) if perf is None else perf
    return findings.decide_one(claim_id, lambda e: SimpleNamespace(results=by_name[e]))


def test_verdicts_follow_the_numbers():
    from snnlib.analyses import findings

    c = direct.claims(direct.metrics(_sweeps()))
    # piggyback learns slower (rise 3000 vs 1000 samples) at the same accuracy: both parts shown
    assert c["pig_minus_adj_test"] == pytest.approx(0.0, abs=1e-9) and c["pig_minus_adj_test_ci"] < 1e-9
    assert c["pig_over_adj_n_q"] > 1.5
    assert _decided("s001_piggyback", _sweeps())[0] == "confirmed"
    # ps5 at 4 ms: 5 points above Euler, fewer spikes, at the target sooner, as accurate as the exact scheme
    assert c["high_minus_euler_test"] == pytest.approx(5.0, abs=0.05)
    assert c["high_over_euler_spikes"] == pytest.approx(850 / 1200) and c["high_over_euler_n_q"] < 1
    verdict, tree = _decided("s001_high_order", _sweeps())
    assert verdict == "confirmed" and set(tree[1]) == {"more accurate", "sparser", "faster to converge",
                                                       "robust (against the exact scheme)"}
    # Euler's epochs take half the time of ps5's, in the sweep and in the benchmark (its steps), and it
    # needs as many samples: both parts shown
    assert c["euler_over_high_epoch"] == pytest.approx(0.5)
    verdict, tree = _decided("s001_euler_time", _sweeps())
    assert verdict == "confirmed" and set(tree[1]) == {"cheaper steps", "sooner to the target"}
    assert tree[1]["cheaper steps"].estimate.value == pytest.approx(np.log(2))
    # cheaper steps, but three times the samples to the target (rise 3000 vs 1000 for Euler alone)
    slow = _sweeps()
    slow["direct"] = _runs({"gradient": ["piggyback", "adjusted"], "integration": ["euler", "ps5"], "dt": [0.25, 4.0]},
                           np.array([[[0.94, 0.90], [0.95, 0.95]]] * 2), np.array([[[3000.0] * 2, [1000.0] * 2]] * 2),
                           np.array([[[20.0, 10.0], [40.0, 20.0]], [[30.0, 15.0], [60.0, 30.0]]]),
                           np.array([[[900.0, 1200.0], [880.0, 850.0]]] * 2),
                           np.array([[[0.99, 0.6], [0.999, 0.7]], [[0.9999, 0.9], [0.99999, 0.95]]]))
    verdict, tree = _decided("s001_euler_time", slow)
    assert findings._verdict(tree[1]["cheaper steps"]) == "confirmed"
    assert findings._verdict(tree[1]["sooner to the target"]) == "refuted"
    no_bench = xr.Dataset()
    assert "bench_direct" in _decided("s001_euler_time", _sweeps(), perf=no_bench)[0]
    assert c["pig_cosine_large"] == pytest.approx(0.65) and c["adj_cosine_large"] == pytest.approx(0.925)
    # learning as fast per sample with cheaper epochs (20 vs 30 s): piggyback reaches the target sooner
    # in wall time; its accuracy is still the same: the claim holds in part
    verdict, tree = _decided("s001_piggyback", _sweeps(pig_rise=1000.0))
    assert verdict == "holds in part"
    assert findings._verdict(tree[1]["slower to the target"]) == "refuted"
    assert findings._verdict(tree[1]["similar accuracy"]) == "confirmed"


def test_missing_numbers_give_not_yet_tested_not_a_verdict():
    s = _sweeps()
    s["direct"]["test_accuracy"][:] = np.nan  # no point of the sweep finished yet
    s["direct"]["val_accuracy_curve"][:] = np.nan
    assert "cannot decide it yet" in _decided("s001_piggyback", s)[0]
    one_seed = {k: x.isel(seed=[0]) for k, x in _sweeps().items()}  # no interval from one seed
    assert "cannot decide it yet" in _decided("s001_piggyback", one_seed)[0]


def test_euler_with_newton_equals_linear_and_the_table_lists_every_configuration():
    m = direct.metrics(_sweeps())
    assert direct.euler_newton_equals_linear(m) == 0.0
    t = direct.table(m)
    assert len(t) == 1 + 8 + 4 and t.iloc[0]["gradient"] == "exact"
    assert set(t["rule"]) == {"—", "linear", "newton"}


def test_a_sweep_whose_points_differ_in_epoch_size_is_refused():
    s = _sweeps()
    del s["direct"].attrs["n_train"]
    with pytest.raises(ValueError, match="n_train"):
        direct.metrics(s)


def test_the_yinyang_direct_sweep_is_its_benchmark_integrated_and_nothing_else():
    """direct-yinyang-fast trains the fast neuron's continuous network (timebins-yinyang-fast-exact, the
    benchmark) under integrators: the same fields, plus only the integration's, at the steps where its
    transfer breaks (h / tau_s read against the neuron's tau_s)."""
    bench = plan.sweep("timebins-yinyang-fast-exact").profiles["quick"]
    d = plan.sweep("direct-yinyang-fast").profiles["quick"]
    extra = {"spike_rule", "input"}
    assert {k: v for k, v in d.base.items() if k not in extra} == bench.base
    assert d.grid["seed"] == bench.grid["seed"]
    assert set(d.grid) == {"gradient", "integration", "dt", "seed"}
    tau_s = bench.base["tau_s"]
    assert [dt / tau_s for dt in d.grid["dt"]] == pytest.approx(list(plan.DIRECT_YY_H))


def test_the_claims_are_decided_on_the_yinyang_study_where_integration_matters():
    """The deciding study reads the Yin-Yang sweeps (the benchmark: the fast neuron's continuous
    network), and its verdict names the step in h / tau_s."""
    assert direct.DECIDING == "yinyang-fast"
    assert direct.STUDIES["yinyang-fast"] == {"direct": "direct-yinyang-fast", "direct-exact": "timebins-yinyang-fast-exact"}
    from types import SimpleNamespace

    from snnlib.analyses import findings
    from snnlib.study import claims

    by_name = {direct.STUDIES[direct.DECIDING][r]: x for r, x in _sweeps().items() if r != "direct-newton"}
    d = findings.decide(claims.claim("s001_high_order"), lambda e: SimpleNamespace(results=by_name[e]), findings.Settings())
    assert d.numbers["h_over_tau_s"] == pytest.approx(4.0 / 5.0)
    with pytest.raises(ValueError, match="study = 'cifar'"):
        direct.load("quick", study="cifar")


def test_tau_s_from_points_config_or_bats_variant():
    """Points that record tau_s give it; older ones fall back on the sweep's config, then on its BATS variant."""
    assert direct.tau_s(xr.Dataset(attrs={"tau_s_ms": 5.0})) == 5.0
    assert direct.tau_s(xr.Dataset(attrs={"config": "tau_s: 20.0\nvariant: multi\n"})) == 20.0
    assert direct.tau_s(xr.Dataset(attrs={"config": "variant: multi\n"})) == 130.0
    with pytest.raises(ValueError, match="one tau_s"):
        direct.tau_s(xr.Dataset(attrs={"sweep": "s", "config": "lr: 0.1\n"}))
