"""The benchmarks' floor models (``benchmarks/_floor.py``): the primitives compute what they claim to
time, and each floor counts what its docstring says at the given rates."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _floor  # noqa: E402


class _Fixed(_floor.Primitives):
    """Every primitive at a round rate, so that the floors can be checked by hand."""

    def gemm(self, m, k, n):
        return 100e9

    def stream(self, nbytes):
        return 20e9

    def scatter(self, row, n_src, n_dst, n_ops=0):
        return 10e9

    def grid(self, n, k):
        return 5e9 / k


def test_primitive_kernels_compute_their_operations():
    rng = np.random.default_rng(1)
    src, dst = rng.random((7, 5), np.float32), np.zeros((4, 5), np.float32)
    s, d = np.array([0, 3, 3, 6]), np.array([0, 0, 2, 3])
    _floor._scatter(dst, d, src, s)
    ref = np.zeros_like(dst)
    np.add.at(ref, d, src[s])
    np.testing.assert_allclose(dst, ref, rtol=1e-6)
    a, b, c = np.empty(9, np.float32), rng.random(9, np.float32), rng.random(9, np.float32)
    _floor._triad(a, b, c, np.float32(0.5))
    np.testing.assert_array_equal(a, b + np.float32(0.5) * c)
    v, i = np.ones(3), np.ones(3)
    cf = np.zeros((3, 2))
    cf[:, 0] = [0.5, 0.25, 0.5]  # A = 0.5, B = 0.25, C = 0.5 (constant polynomials)
    _floor._grid(v, i, cf, 2)
    np.testing.assert_allclose(v, 0.5 * (0.5 + 0.25) + 0.25 * 0.5)
    np.testing.assert_allclose(i, 0.25)


def test_measured_primitives_are_positive_and_cached():
    p = _floor.Primitives(rounds=1)
    r = p.scatter(16, 32, 8, n_ops=200)
    assert math.isfinite(r) and r > 0
    assert p.scatter(16, 32, 8, n_ops=200) == r and list(p.as_dict()) == ["scatter 16 32 8"]


def test_bptt_floor_counts_sparse_projections_gemms_state_and_adam():
    p = _Fixed()
    B, T, sizes = 2, 10, (30, 20, 5)
    f = _floor.bptt_floor(p, sizes, B, T, spikes=[40, 100])
    parts = f["parts_s"]
    assert parts["projection 0 forward"] == pytest.approx(min(40 * 20 / 10e9, 2 * 20 * 30 * 20 / 100e9))
    assert parts["projection 1 input gradient"] == pytest.approx(2 * 20 * 20 * 5 / 100e9)
    assert parts["neurons 0 state"] == pytest.approx(28 * 20 * 20 / 20e9)
    assert parts["adam"] == pytest.approx(28 * (30 * 20 + 20 * 5) / 20e9)
    assert f["floor_s"] == pytest.approx(sum(parts.values()))


def test_event_and_grid_floors_count_pairs_and_steps():
    p = _Fixed()
    e = _floor.event_floor(p, (30, 20, 5), 4, events=[10, 6])
    assert e["parts_s"]["layer 0 pairs"] == pytest.approx(2 * 4 * 10 * 20 / 10e9)
    assert e["parts_s"]["layer 1 pairs"] == pytest.approx(3 * 4 * 6 * 5 / 10e9)
    assert e["parts_s"]["layer 0 decay steps"] == pytest.approx(2 * 4 * 10 * 20 / 5e9)
    g = _floor.grid_floor(p, (30, 20, 5), 4, events=[10, 6], points=[50, 40], order=3)
    assert g["parts_s"]["layer 1 grid"] == pytest.approx(2 * 4 * 40 * 5 / (5e9 / 3))
    assert "layer 0 decay steps" not in g["parts_s"]  # the grid's steps include the decay to each event


def test_performance_page_reads_fractions_of_floor(monkeypatch, tmp_path):
    from snnlib.experiments import performance

    monkeypatch.setenv("SNNLIB_BENCH_RESULTS", str(tmp_path))
    row = {"input": "mnist-ttfs", "snnlib_samples_per_s": 500.0, "snntorch_samples_per_s": 70.0, "speedup": 7.0,
           "speedup_range": [6.0, 8.0], "floor_s": 0.04, "floor_fraction_snnlib": 0.3,
           "floor_fraction_snntorch": 0.04, "training_peak_mib_snnlib": 50.0, "training_peak_mib_snntorch": 140.0,
           "input_spikes_per_sample": 140.0}
    (tmp_path / "bptt.json").write_text(json.dumps({"finished": "x", "results": [row],
                                                     "primitives": {"gemm 6400x784x800": 1.2e11}}))
    ds = performance.run(performance.Config(benchmarks=("bptt",)))
    s = performance.summarize(ds)
    assert s["bptt_floor_fraction_snnlib_mnist_ttfs"] == 0.3 and s["bptt_speedup_hi_mnist_ttfs"] == 8.0
    t = performance.floor_table(ds)
    assert t.loc["BPTT mnist-ttfs", "fraction of floor"] == 0.3 and t.loc["BPTT mnist-ttfs", "range over rounds"] == "6.0-8.0"
    assert performance.primitives_table(ds).loc[("gemm", "6400x784x800"), "rate"] == 120.0


def test_performance_page_compares_with_the_baseline_commit(monkeypatch, tmp_path):
    from snnlib.experiments import performance

    monkeypatch.setenv("SNNLIB_BENCH_RESULTS", str(tmp_path))

    def doc(rate, frac):
        return {"finished": "x", "summary": {"spiketime": {"samples_per_s": rate, "peak_rss_mib": 1.0,
                                                           "setup_peak_rss_mib": 0.5, "hidden_spikes_per_sample": 1.0},
                                             "snntorch": {"samples_per_s": 100.0, "peak_rss_mib": 1.0,
                                                          "setup_peak_rss_mib": 0.5, "hidden_spikes_per_sample": 1.0}},
                "ratio_spiketime_over_snntorch": rate / 100, "machine": {}, "floor_fraction_spiketime": frac,
                "ratio_range": {"snntorch": [1.0, 2.0]}}
    (tmp_path / "spiketime.json").write_text(json.dumps(doc(3000.0, 0.3)))
    (tmp_path / "baseline").mkdir()
    (tmp_path / "baseline" / "spiketime.json").write_text(json.dumps(doc(2000.0, 0.2)))
    (tmp_path / "baseline" / "COMMIT").write_text("a43049c\n")
    ds = performance.run(performance.Config(benchmarks=("spiketime",)))
    t = performance.before_after_table(ds)
    assert t.loc["exact spike-time", "speed-up"] == 1.5 and t.loc["exact spike-time", "fraction of floor before"] == 0.2
    assert ds.attrs["baseline_commit"] == "a43049c"
    assert performance.summarize(ds)["speedup_since_baseline_exact_spike_time"] == 1.5


def _cost_doc(bptt_mib, st_mib=30.0):
    """A cost-in-T result file: BPTT's memory and time given as functions of T, the spike-time step flat."""
    jitter = np.array([0.98, 1.0, 1.03])  # three repeats
    rows = [{"T": T, "h_ms": 150 / T, "batch": 50, "bptt_s_per_sample": 1e-5 * T, "bptt_training_peak_mib": bptt_mib(T),
             "bptt_hidden_spikes_per_sample": 600.0, "spiketime_s_per_sample": 2e-3,
             "spiketime_training_peak_mib": st_mib, "spiketime_hidden_spikes_per_sample": 604.0,
             "bptt_s_per_sample_repeats": list(1e-5 * T * jitter), "spiketime_s_per_sample_repeats": list(2e-3 * jitter[::-1]),
             "bptt_training_peak_mib_repeats": list(bptt_mib(T) * jitter),
             "spiketime_training_peak_mib_repeats": [st_mib] * 3}
            for T in (25, 50, 100, 150, 300, 600)]
    return {"finished": "x", "neuron": {"tau_s": 130.0}, "window_ms": 150.0, "results": rows}


@pytest.mark.parametrize("mib, memory_verdict", [(lambda T: 0.5 * T, "confirmed"), (lambda T: 20.0, "refuted")])
def test_bptt_cost_in_t_is_read_as_slopes_and_ratios_and_decided(monkeypatch, tmp_path, mib, memory_verdict):
    """Memory proportional to T: slope 1, BPTT costlier at 1 ms (75 against 30 MiB); a flat 20 MiB:
    slope 0, cheaper. Time 1e-5 T s against a flat 2 ms: slope 1, 0.75 x at T = 150 (cheaper)."""
    from types import SimpleNamespace

    from snnlib.analyses import findings
    from snnlib.experiments import performance

    monkeypatch.setenv("SNNLIB_BENCH_RESULTS", str(tmp_path))
    (tmp_path / "cost_in_t.json").write_text(json.dumps(_cost_doc(mib)))
    ds = performance.run(performance.Config(benchmarks=("cost_in_t",)))
    s = performance.summarize(ds)
    assert s["cost_bptt_time_slope"] == pytest.approx(1.0) and s["cost_spiketime_time_slope"] == pytest.approx(0.0, abs=1e-9)
    assert s["cost_time_ratio_T150"] == pytest.approx(0.75)
    t = performance.cost_table(ds)
    assert list(t.index) == [25, 50, 100, 150, 300, 600] and t.loc[150, "h (ms)"] == 1.0
    verdict, tree = findings.decide_one("s003_bptt_cost", lambda e: SimpleNamespace(summary=s, results=ds))
    parts = {k: findings._verdict(v) for k, v in tree[1].items()}
    assert parts["time grows with T"] == "confirmed" and parts["more time at 1 ms"] == "refuted"
    assert parts["memory grows with T"] == parts["more memory at 1 ms"] == memory_verdict


def test_bptt_cost_waits_for_its_benchmark():
    from types import SimpleNamespace

    from snnlib.analyses import findings

    reason, tree = findings.decide_one("s003_bptt_cost", lambda e: SimpleNamespace(summary={}, results=None))
    assert tree is None and "bench_cost_in_t" in reason
