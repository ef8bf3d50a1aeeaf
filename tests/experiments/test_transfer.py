"""Transfer experiment (seed 001, experiment 1): exact-network weights under integrated networks."""

import numpy as np
import pytest
import torch
import xarray as xr

from snnlib.analyses import transfer as transfer_
from snnlib.experiments import transfer
from snnlib.store import runs
from snnlib.training import driver
from snnlib.training.schemes import spiketime


def _source(seed, dataset="mnist"):
    """A small trained exact network, as a sweep point ``spiketime-tiny/quick/seed=<seed>``."""
    cfg = spiketime.Config(hidden=(100,), n_train=3000, n_test=300, n_val=100, epochs=3, batch_size=50,
                           seed=seed, dataset=dataset)
    runs.run_or_load(cfg, runs.point_dir("spiketime-tiny", "quick", f"seed={seed}"),
                     lambda c: driver.run(c, progress=False), driver.summarize)


@pytest.mark.data
def test_fine_high_order_newton_reproduces_the_analytic_network(data_dir, isolated_runs):
    """PS(3) + newton at dt = 0.05 ms: the transferred network's test accuracy equals the analytic
    one within 0.2 points on every seed; at 5 ms with snap it differs (the test is not vacuous)."""
    for seed in (0, 1):
        _source(seed)
        cfg = transfer.Config(source="spiketime-tiny", seed=seed, integration="ps3", rules=("snap", "newton"),
                              dts=(0.05, 5.0), n_val=50, n_test=300, batch_size=100)
        ds = transfer.run(cfg, progress=False)
        test = ds.sel(split="test")
        exact = float(test["exact_accuracy"])
        assert exact > 0.3  # it learnt something (chance: 0.1)
        assert abs(float(test["accuracy"].sel(rule="newton", dt=0.05)) - exact) <= 0.002
        assert float(test["agreement"].sel(rule="newton", dt=0.05)) >= 0.99
        assert float(test["first_spike_error"].sel(rule="newton", dt=0.05)) < 1e-3
        assert float(test["first_spike_error"].sel(rule="snap", dt=5.0)) > 0.1
        assert float(test["exact_agreement"]) == 1.0 and float(test["exact_first_spike_error"]) == 0.0
        # per test digit, right or wrong: the paired tests' data, consistent with the accuracies
        assert ds.sizes["test_sample"] == 300 and ds["test_correct"].dtype == np.int8
        np.testing.assert_allclose(ds["test_correct"].mean("test_sample"), test["accuracy"])
        assert float(ds["exact_test_correct"].mean()) == pytest.approx(exact)
    assert set(transfer.summarize(ds)) >= {"exact_test_accuracy", "test_accuracy_newton_dt_min"}


def test_config_rules():
    cfg = transfer.Config(integration="exact", rules=("snap", "newton"))
    assert cfg.rules_used == ("snap",)  # newton on the exact flow is the closed form
    assert cfg.discretization("snap", 0.5).label == "exact-snap-dt0.5-input=exact"
    assert transfer.Config(integration="euler").discretization("linear", 1.0) == \
        transfer.Config(integration="euler").discretization("linear", 1.0)
    assert transfer.Config(integration="ps5").discretization("newton", 2.0).order == 5
    with pytest.raises(ValueError, match="integration"):
        transfer.Config(integration="rk4")
    with pytest.raises(ValueError, match="dts"):
        transfer.Config(dts=(1.0, 0.5))
    with pytest.raises(ValueError, match="rules"):
        transfer.Config(rules=("cubic",))


def test_first_output_time():
    t = torch.tensor([[[3.0, 5.0], [2.0, np.inf]], [[np.inf, np.inf], [np.inf, np.inf]]])
    assert transfer.first_output_time(t).tolist() == [2.0, float("inf")]


def _fake_sweep():
    """A sweep-shaped Dataset with known numbers: accuracy = analytic - 0.002 * order_penalty * dt."""
    import xarray as xr

    sources, integrations = ["spiketime-mnist", "spiketime-mnist-threshold"], ["euler", "ps3", "exact"]
    rules, dts, inputs, seeds, splits = ["snap", "linear", "newton"], [0.1, 1.0, 5.0], ["exact", "grid"], [0, 1, 2], \
        ["val", "test"]
    shape = (len(sources), len(integrations), len(inputs), len(seeds), len(rules), len(dts), len(splits))
    pen = {"euler": 1.0, "ps3": 0.1, "exact": 0.5}
    rule_pen = {"snap": 2.0, "linear": 1.0, "newton": 1.0}
    acc = np.zeros(shape)
    for a, m in enumerate(integrations):
        for r, rule in enumerate(rules):
            for j, dt in enumerate(dts):
                acc[:, a, :, :, r, j, :] = 0.95 - 0.002 * pen[m] * rule_pen[rule] * dt
    acc[:, 2, :, :, 2] = np.nan  # no newton on the exact flow
    dims = ("source", "integration", "input", "seed", "rule", "dt", "split")
    coords = dict(source=sources, integration=integrations, input=inputs, seed=seeds, rule=rules, dt=dts, split=splits)
    exact_shape = (len(sources), len(integrations), len(inputs), len(seeds), len(splits))
    ds = xr.Dataset({"accuracy": (dims, acc), "hidden_spikes": (dims, 800 + 10 * (1 - acc)),
                     "agreement": (dims, acc), "exact_accuracy": (("source", "integration", "input", "seed", "split"),
                                                                  np.full(exact_shape, 0.95)),
                     "exact_hidden_spikes": (("source", "integration", "input", "seed", "split"),
                                             np.full(exact_shape, 800.0))}, coords=coords)
    return ds


def test_chapter_numbers_on_a_known_sweep():
    ds = _fake_sweep()
    c = transfer_.claims(ds, small_dt=1.0, large_dt=5.0)
    # ps3, linear/newton, dt <= 1: drop = 100 * 0.002 * 0.1 * 1 * 1.0 = 0.02 points
    assert c["similar_worst_drop"] == pytest.approx(-0.02)
    assert c["euler_snap_drop"] == pytest.approx(-2.0) and c["euler_linear_drop"] == pytest.approx(-1.0)
    assert c["top_integration"] == "ps3" and c["top_newton_drop"] == pytest.approx(-0.1)
    assert c["interp_gain_mnist"] == pytest.approx(1.0) and c["interp_gain_threshold"] == pytest.approx(1.0)
    tol = transfer_.tolerable_step(ds, max_drop=1.5).sel(source="spiketime-mnist", input="exact")
    # euler snap: drops 0.04, 0.4, 2.0 points -> 1 ms; euler linear: 0.02, 0.2, 1.0 -> 5 ms
    assert float(tol.sel(integration="euler", rule="snap")) == 1.0
    assert float(tol.sel(integration="euler", rule="linear")) == 5.0
    assert np.isnan(float(tol.sel(integration="exact", rule="newton")))


def test_chapter_figures_draw(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from snnlib.analyses import sweep_plots

    ds = _fake_sweep()
    fig = sweep_plots.transfer_heatmaps(ds, "spiketime-mnist")
    assert len(fig.axes) >= 3  # three rule panels (plus colour bars)
    fig = sweep_plots.transfer_lines(ds, "accuracy", "spiketime-mnist")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and any(line.get_linestyle() == "--" for line in ax.get_lines())
    fig.savefig(tmp_path / "lines.png")



def test_the_chapter_names_the_source_networks_made_from_modified_code():
    """The transfer page names the runs behind it made from a modified tree: its points and the trained
    networks whose weights they simulate (the sources have no page of their own)."""
    import json
    from pathlib import Path

    from snnlib import report
    from snnlib.analyses import transfer as chapter
    from snnlib.study.loading import load_sweep

    ds = load_sweep("transfer", "quick")
    srcs = chapter.sources(ds, "quick")
    assert sorted(srcs) == ["spiketime-mnist", "spiketime-mnist-threshold"]
    note = report.provenance_note({"transfer": ds, **srcs})
    root = Path(__file__).resolve().parents[2] / "runs"
    for name in srcs:
        for meta in (root / name / "quick").glob("*/meta.json"):
            point = f"`{name}/quick/{meta.parent.name}`"
            assert (point in note) == json.loads(meta.read_text())["git_dirty"], point


@pytest.mark.data
def test_the_analytic_reference_reproduces_its_source_run_on_all_test_digits(data_dir):
    """The transferred network before any discretization is the source run: its best-validation weights,
    simulated exactly (float64), classify all 10,000 MNIST test digits as the training run recorded
    at its best-validation epoch (float32): the same accuracy, to the digit."""
    import json

    from conftest import ROOT

    net, predict, _, sets = transfer.load_trained("spiketime-mnist", "quick", 0, {"test": 10000}, 500)
    batches, labels = sets["test"]
    with torch.no_grad():
        pred = torch.cat([predict(net(x)[0]) for x in batches])
    summary = json.loads((ROOT / "runs" / "spiketime-mnist" / "quick" / "seed=0" / "summary.json").read_text())
    assert len(labels) == 10000
    assert float((pred == labels).double().mean()) == pytest.approx(summary["test_accuracy_at_best_val_per_seed"][0],
                                                                    abs=1e-9)


def test_break_points_on_synthetic_accuracy_curves():
    """Drops of 0 up to h / tau_s = 0.1, then falling to chance: trusted up to 0.2 (-0.6 still shown within a
    point), broken from 0.5; a curve too noisy for ten seeds to show equivalence is trusted nowhere, yet its
    breakdown is still shown; a flat one is trusted everywhere and never broken."""
    import xarray as xr

    hs = np.array([0.001, 0.01, 0.1, 0.2, 0.5, 1.0, 2.0])
    rng = np.random.default_rng(0)
    mean = np.array([0.0, 0.0, -0.1, -0.6, -20.0, -50.0, -60.0])

    def curves(noise):
        return mean + noise * rng.standard_normal((10, len(hs)))

    drop = xr.DataArray(np.stack([curves(0.2), curves(1.5), 0.1 * rng.standard_normal((10, len(hs)))]),
                        dims=("curve", "seed", "h"), coords={"curve": ["clean", "noisy", "flat"], "h": hs})
    b = transfer_.break_points(drop, tolerance=1.0, x="h")
    assert float(b["trusted"].sel(curve="clean")) == pytest.approx(0.2)  # -0.6 +- 0.15 is still within 1 point
    assert float(b["broken"].sel(curve="clean")) == pytest.approx(0.5)
    assert np.isnan(float(b["trusted"].sel(curve="noisy"))) and float(b["broken"].sel(curve="noisy")) == pytest.approx(0.5)
    assert float(b["trusted"].sel(curve="flat")) == pytest.approx(2.0) and np.isnan(float(b["broken"].sel(curve="flat")))
    one_seed = drop.isel(seed=[0])
    assert np.isnan(transfer_.break_points(one_seed, 1.0, x="h")["trusted"]).all()  # one seed decides nothing


def _breakdown_sweep(tau_s: float, dts, break_at: dict, seeds=10):
    """A transfer sweep of one neuron (dims integration, seed, rule, dt, split): no drop below
    ``break_at[integration]`` (h / tau_s, half a point of seed noise), 30 points lost from there."""
    import xarray as xr

    rng = np.random.default_rng(1)
    integrations, rules, splits = list(break_at), ["snap", "linear", "newton"], ["val", "test"]
    h = np.asarray(dts) / tau_s
    acc = np.empty((len(integrations), seeds, len(rules), len(dts), len(splits)))
    for a, m in enumerate(integrations):
        acc[a] = 0.9 - 0.3 * (h >= break_at[m])[None, None, :, None] + 0.005 * rng.standard_normal(acc[a].shape)
    acc[integrations.index("exact"), :, 2] = np.nan  # no newton on the exact flow
    return xr.Dataset({"accuracy": (("integration", "seed", "rule", "dt", "split"), acc),
                       "exact_accuracy": (("integration", "seed", "split"), np.full((len(integrations), seeds, 2), 0.9))},
                      coords={"integration": integrations, "seed": np.arange(seeds), "rule": rules, "dt": list(dts),
                              "split": splits})


def test_the_breakdown_map_reads_each_neuron_in_h_over_tau_s():
    """Two neurons with different steps in ms, the same breaks in h / tau_s: the same map."""
    ratios = [0.001, 0.01, 0.1, 1.0, 10.0]
    breaks = {"euler": 0.1, "ps3": 1.0, "exact": 10.0}
    sweeps = {"slow": _breakdown_sweep(130.0, [r * 130.0 for r in ratios[:4]], breaks),
              "fast": _breakdown_sweep(5.0, [r * 5.0 for r in ratios], breaks)}
    m = transfer_.breakdown_map(sweeps, {"slow": 130.0, "fast": 5.0}, tolerance=1.0)
    assert m["trusted"].sel(neuron="fast", integration="euler", rule="snap") == pytest.approx(0.01)
    assert m["broken"].sel(neuron="fast", integration="euler", rule="snap") == pytest.approx(0.1)
    assert m["trusted"].sel(neuron="fast", integration="exact", rule="linear") == pytest.approx(1.0)
    assert m["broken"].sel(neuron="fast", integration="exact", rule="linear") == pytest.approx(10.0)
    # the slow neuron's window ends at h / tau_s = 1: the exact flow never breaks there
    assert m["trusted"].sel(neuron="slow", integration="exact", rule="linear") == pytest.approx(1.0)
    assert np.isnan(float(m["broken"].sel(neuron="slow", integration="exact", rule="linear")))
    assert np.isnan(float(m["trusted"].sel(neuron="fast", integration="exact", rule="newton")))
    with pytest.raises(ValueError, match="seed"):
        transfer_.breakdown_map({"slow": sweeps["slow"].isel(seed=0)}, {"slow": 130.0}, 1.0)


def test_the_breakdown_map_figure_draws_a_panel_per_neuron():
    from snnlib.analyses import sweep_plots

    breaks = {"euler": 0.1, "ps3": 1.0, "exact": 10.0}
    sweeps = {"fast": _breakdown_sweep(5.0, [0.005, 0.05, 0.5, 5.0, 50.0], breaks)}
    m = transfer_.breakdown_map(sweeps, {"fast": 5.0}, tolerance=1.0)
    assert not bool(m["applies"].sel(neuron="fast", integration="exact", rule="newton"))
    fig = sweep_plots.breakdown_map(m)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "n/a" in texts and "0.01 / 0.1" in texts


@pytest.mark.data
@pytest.mark.parametrize("dt", [1.0, 5.0])
def test_adjusted_is_the_gradient_of_the_discretized_forward_at_trained_weights(data_dir, dt):
    """At the trained weights of a committed MNIST network (784-800-10), PS(3) with linear spike
    interpolation: along random directions where no spike appears or vanishes, central finite
    differences of the integrated network's own forward equal the adjusted gradient (to 1e-5), while
    BATS's piggyback formulas at the integrated spike times are another vector (more than 1 % off)."""
    from snnlib.model.discretization import Discretization
    from snnlib.training.probes import finite_difference_check

    net, _, _, sets = transfer.load_trained("spiketime-mnist", "quick", 0, {"test": 10}, 10)
    x = sets["test"][0][0]
    d = Discretization("ps", 3, dt, "linear", "exact")
    adj = finite_difference_check(net.with_(d, "adjusted"), x, n_directions=6, eps=1e-5)
    pig = finite_difference_check(net.with_(d, "piggyback"), x, n_directions=6, eps=1e-5)
    assert adj["valid"].sum() >= 4 and pig["valid"].sum() >= 4
    assert adj["max_relative_error"] < 1e-5
    assert pig["max_relative_error"] > 1e-2
    np.testing.assert_allclose(adj["fd"], pig["fd"])  # the same forward: only the gradients differ
    # a step large enough to make spikes appear or vanish leaves the direction out
    assert not finite_difference_check(net.with_(d, "adjusted"), x, n_directions=3, eps=0.5)["valid"].any()


def test_the_breakdown_table_and_curves_read_the_map():
    from snnlib.analyses import sweep_plots

    breaks = {"euler": 0.1, "ps3": 1.0, "exact": 10.0}
    sweeps = {"fast": _breakdown_sweep(5.0, [0.005, 0.05, 0.5, 5.0, 50.0], breaks)}
    m = transfer_.breakdown_map(sweeps, {"fast": 5.0}, tolerance=1.0)
    t = transfer_.breakdown_table(m)
    assert t.loc[("fast", "euler"), "snap"] == "0.01 / 0.1"
    assert t.loc[("fast", "exact"), "newton"] == "n/a" and t.loc[("fast", "exact"), "linear"] == "1 / 10"
    fig = sweep_plots.breakdown_lines(sweeps, {"fast": 5.0}, 1.0)
    assert len([a for a in fig.axes if a.has_data()]) == 3  # one panel per rule
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and "tau_s = 5 ms" in ax.get_title()
    # euler's curve falls by 30 points at h / tau_s = 0.1
    euler = next(line for line in ax.get_lines() if line.get_label() == "euler")
    assert euler.get_ydata()[2] == pytest.approx(-30, abs=1)
    # the summary: Euler broken from 0.1; exact trusted furthest (1, below the largest step tried, 10)
    s = transfer_.breakdown_summary(m, {"fast": 10.0})
    assert s.startswith("- **fast**: Euler broken from $h/\\tau_s$ = 0.1; trusted up to 1 at best: exact with")
    assert "largest step tried" not in s
    assert "(the largest step tried)" in transfer_.breakdown_summary(m, {"fast": 1.0})


def test_breakdown_sweeps_leaves_out_a_neuron_without_points(isolated_runs):
    assert transfer_.breakdown_sweeps("quick") == {}


def test_event_gaps_reads_each_networks_window_and_activity():
    """The mean gap between the events each layer receives: the source's window (the fast Yin-Yang
    networks: t_max = 150 ms) over the distinct input times per test sample (the hidden layer's: Yin-Yang
    has four inputs and a bias spike, all at distinct times) and over the analytic network's hidden spikes
    per test sample (the output layer's)."""
    from snnlib.study.loading import load_sweep

    ds = load_sweep("transfer-yinyang-fast", "quick")
    g = transfer_.event_gaps({"fast": ds}, n_inputs=200).loc["fast"]
    assert g["window (ms)"] == 150.0 and g["tau_s (ms)"] == 5.0
    assert g["input times / sample"] == 5.0 and g["input gap / tau_s"] == pytest.approx(150.0 / 5 / 5.0)
    assert g["hidden spikes / sample"] == pytest.approx(float(ds["exact_hidden_spikes"].sel(split="test").mean()))
    assert g["hidden gap (ms)"] * g["hidden spikes / sample"] == pytest.approx(150.0)
    assert g["hidden gap / tau_s"] == pytest.approx(g["hidden gap (ms)"] / 5.0)


def _gain_sweep(linear_minus_snap, dts=(0.5, 1.5), seeds=4):
    """A synthetic breakdown sweep: snap at 60 %, linear at 60 % + the given gain (points) per step and
    seed."""
    gain = np.asarray(linear_minus_snap, dtype=float).reshape(len(dts), seeds)
    acc = np.stack([np.full((len(dts), seeds), 0.6), 0.6 + gain / 100])  # rule, dt, seed
    return xr.Dataset({"accuracy": (("integration", "rule", "dt", "split", "seed"), acc[None, :, :, None, :])},
                      coords={"integration": ["euler"], "rule": ["snap", "linear"], "dt": list(dts),
                              "split": ["test"], "seed": np.arange(seeds)})


def test_interpolation_gain_and_its_difference_between_networks():
    """Linear minus snap per step in h / tau_s (mean +- 95 % half-width over seeds), and the difference of
    two networks' gains with a Welch interval: equal gains give an interval around zero, a large one
    excludes it."""
    usual = _gain_sweep([[0, 0, 0, 0], [2, 4, 2, 4]])
    high = _gain_sweep([[0, 0, 0, 0], [12, 14, 12, 14]])
    tau = {"usual": 5.0, "high": 5.0}
    table = transfer_.interpolation_gain({"usual": usual, "high": high}, tau)
    assert list(table.index) == [0.1, 0.3] and table.loc[0.3, "usual"].startswith("+3.0 ± ")
    assert table.loc[0.1, "high"] == "+0.0 ± 0.0"
    d, lo, hi = transfer_.gain_difference({"usual": usual, "high": high}, tau, "high", "usual", 0.3)
    assert d == pytest.approx(10.0) and 0 < lo < d < hi
    d, lo, hi = transfer_.gain_difference({"usual": usual, "same": _gain_sweep([[0] * 4, [4, 2, 4, 2]])},
                                          {"usual": 5.0, "same": 5.0}, "same", "usual", 0.3)
    assert d == pytest.approx(0.0) and lo < 0 < hi
    with pytest.raises(ValueError, match="no step at h / tau_s = 1"):
        transfer_.gain_difference({"usual": usual, "high": high}, tau, "high", "usual", 1.0)
