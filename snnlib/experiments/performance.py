"""Performance appendix: the benchmark result files of ``make bench``, gathered into one run.

Reads ``benchmarks/results/{bptt,events,spiketime,integrated,cost_in_t,direct}.json`` (whichever exist), and
``gpu.json`` when a GPU run of ``benchmarks/bench_gpu.py`` has been committed, so the book quotes
measured numbers only. ``make bench`` rewrites those files and removes this run so that the next
``make runs`` gathers the new numbers.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import xarray as xr

from snnlib.config import Config
from snnlib.model.discretization import parse_integration
from snnlib.paths import bench_results_root

NAME = "performance"
BENCHMARKS = ("bptt", "events", "spiketime", "integrated", "cost_in_t", "direct")


@dataclasses.dataclass(frozen=True)
class PerformanceConfig(Config):
    """Fields: ``benchmarks``: which result files to gather (names under ``benchmarks/results/``)."""

    benchmarks: tuple = ("bptt", "events", "spiketime", "integrated", "cost_in_t", "direct")

    def validate(self) -> None:
        super().validate()
        self._check("benchmarks", isinstance(self.benchmarks, tuple) and len(self.benchmarks) > 0
                    and all(b in BENCHMARKS for b in self.benchmarks), "a tuple of " + ", ".join(map(repr, BENCHMARKS)))


Config = PerformanceConfig


#: the same benchmarks run on an earlier commit of the code (``benchmarks/results/baseline/``, with the
#: commit in ``COMMIT``): the page's before / after table
BASELINE = "baseline"


def _load(name: str, folder: str | None = None) -> dict | None:
    root = bench_results_root() / folder if folder else bench_results_root()
    path = root / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _headline(name: str, doc: dict) -> dict:
    """The training throughputs (samples/s) and fractions of floor a result file gives, by workload."""
    out = {}
    if name == "bptt":
        for r in doc["results"]:
            out[f"BPTT {r['input']}"] = (r["snnlib_samples_per_s"], r.get("floor_fraction_snnlib", np.nan))
    elif name == "spiketime":
        out["exact spike-time"] = (doc["summary"]["spiketime"]["samples_per_s"], doc.get("floor_fraction_spiketime", np.nan))
    elif name == "integrated":
        rates = {r["method"]: r["samples_per_s"] for r in doc["results"]}
        ff = doc.get("floor_fraction", {})
        for g in ("adjusted", "piggyback", "exact"):
            out[f"integrated PS(3) {g}" if g != "exact" else "exact (integrated benchmark)"] = (
                rates[f"train/{g}"], ff.get(f"train/{g}", np.nan))
    return out


def run(cfg: PerformanceConfig) -> xr.Dataset:
    ds = xr.Dataset()
    found = []
    docs = {name: _load(name) for name in BENCHMARKS + ("gpu",)}  # each result file read once
    if "bptt" in cfg.benchmarks and (doc := docs["bptt"]):
        rows = doc["results"]
        ds = ds.assign_coords(bptt_input=[r["input"] for r in rows])
        for key in ("snnlib_samples_per_s", "snntorch_samples_per_s", "speedup",
                    "training_peak_mib_snnlib", "training_peak_mib_snntorch", "input_spikes_per_sample"):
            ds[f"bptt_{key}"] = ("bptt_input", np.array([float(r[key]) for r in rows]))
        for key in ("floor_s", "floor_fraction_snnlib", "floor_fraction_snntorch"):  # fraction of the sparse floor
            ds[f"bptt_{key}"] = ("bptt_input", np.array([float(r.get(key, np.nan)) for r in rows]))
        for i, side in enumerate(("lo", "hi")):  # per-round ratio to snnTorch
            ds[f"bptt_speedup_{side}"] = ("bptt_input", np.array([float(r.get("speedup_range", [np.nan] * 2)[i])
                                                                  for r in rows]))
        ds.attrs["bptt_finished"] = doc["finished"]
        found.append("bptt")
    if "events" in cfg.benchmarks and (doc := docs["events"]):
        rows = doc["results"]
        names = [r["integrator"] + (f"({r['order']})" if "order" in r else "") + (f" dt={r['dt']:g} ms" if "dt" in r else "")
                 for r in rows]
        ds = ds.assign_coords(events_case=names)
        for key in ("samples_per_s", "forward_peak_mib", "hidden_spikes_per_sample"):
            ds[f"events_{key}"] = ("events_case", np.array([float(r[key]) for r in rows]))
        ds.attrs["events_finished"] = doc["finished"]
        found.append("events")
    if "spiketime" in cfg.benchmarks and (doc := docs["spiketime"]):
        impls = list(doc["summary"])
        ds = ds.assign_coords(spiketime_impl=impls)
        for key in ("samples_per_s", "peak_rss_mib", "setup_peak_rss_mib", "hidden_spikes_per_sample"):
            ds[f"spiketime_{key}"] = ("spiketime_impl", np.array([float(doc["summary"][i][key]) for i in impls]))
        ds["spiketime_training_peak_mib"] = ds["spiketime_peak_rss_mib"] - ds["spiketime_setup_peak_rss_mib"]
        ds.attrs["spiketime_speedup"] = float(doc["ratio_spiketime_over_snntorch"])
        for k, v in doc.items():  # like for like: BPTT at the spike-time network's activity
            if k.startswith("ratio_spiketime_over_") and k.endswith("_matched"):
                ds.attrs[f"spiketime_speedup_{k.removeprefix('ratio_spiketime_over_')}"] = float(v)
        ds.attrs["spiketime_finished"] = doc["machine"].get("finished", "")
        if "floor_fraction_spiketime" in doc:
            ds.attrs["spiketime_floor_fraction"] = float(doc["floor_fraction_spiketime"])
            ds.attrs["spiketime_speedup_lo"], ds.attrs["spiketime_speedup_hi"] = map(float, doc["ratio_range"]["snntorch"])
        found.append("spiketime")
    if "integrated" in cfg.benchmarks and (doc := docs["integrated"]):
        rows = doc["results"]
        ds = ds.assign_coords(integrated_method=[r["method"] for r in rows])
        ds["integrated_samples_per_s"] = ("integrated_method", np.array([float(r["samples_per_s"]) for r in rows]))
        for k, v in doc["ratios"].items():
            ds.attrs[f"integrated_{k}"] = float(v)
        ds.attrs["integrated_train_peak_added_mib"] = float(doc["train_peak_added_mib"])
        for k, v in doc.get("floor_fraction", {}).items():  # train/adjusted -> integrated_floor_fraction_adjusted
            ds.attrs[f"integrated_floor_fraction_{k.split('/')[1]}"] = float(v)
        for k, (lo, hi) in doc.get("ratio_range", {}).items():
            ds.attrs[f"integrated_{k}_lo"], ds.attrs[f"integrated_{k}_hi"] = float(lo), float(hi)
        ds.attrs["integrated_finished"] = doc["finished"]
        found.append("integrated")
    if "cost_in_t" in cfg.benchmarks and (doc := docs["cost_in_t"]):  # a step's cost against T
        rows = doc["results"]
        ds = ds.assign_coords(cost_T=[int(r["T"]) for r in rows])
        ds["cost_h_ms"] = ("cost_T", np.array([float(r["h_ms"]) for r in rows]))
        for m in ("bptt", "spiketime"):
            for key in ("s_per_sample", "training_peak_mib", "hidden_spikes_per_sample"):
                ds[f"cost_{m}_{key}"] = ("cost_T", np.array([float(r[f"{m}_{key}"]) for r in rows]))
            for key in COST_KEYS.values():  # each repeat (the two methods back to back)
                if all(f"{m}_{key}_repeats" in r for r in rows):
                    ds[f"cost_{m}_{key}_repeats"] = (("cost_T", "cost_repeat"),
                                                     np.array([r[f"{m}_{key}_repeats"] for r in rows], float))
        ds.attrs.update(cost_finished=doc["finished"], cost_tau_s=float(doc["neuron"]["tau_s"]),
                        cost_window_ms=float(doc["window_ms"]), cost_batch=int(rows[0]["batch"]))
        found.append("cost_in_t")
    if "direct" in cfg.benchmarks and (doc := docs["direct"]):  # the Yin-Yang direct-training steps
        rows = doc["results"]
        ds = ds.assign_coords(direct_method=[r["method"] for r in rows],
                              direct_round=np.arange(len(rows[0]["rounds_s_per_sample"])))
        ds["direct_s_per_sample"] = ("direct_method", np.array([float(r["s_per_sample"]) for r in rows]))
        ds["direct_rounds_s_per_sample"] = (("direct_method", "direct_round"),
                                            np.array([r["rounds_s_per_sample"] for r in rows], float))
        ds["direct_hidden_spikes_per_sample"] = ("direct_method",
                                                 np.array([float(r["hidden_spikes_per_sample"]) for r in rows]))
        ds.attrs.update(direct_finished=doc["finished"], direct_tau_s=float(doc["tau_s"]),
                        direct_weights=doc["weights"], direct_sweep=doc["sweep"], direct_batch=int(doc["batch"]))
        found.append("direct")
    if doc := docs["gpu"]:  # only written on a machine with a GPU
        rows = [r for r in doc["results"] if "samples_per_s" in r]
        ds = ds.assign_coords(gpu_method=[r["method"] for r in rows])
        ds["gpu_samples_per_s"] = ("gpu_method", np.array([float(r["samples_per_s"]) for r in rows]))
        ds.attrs.update(gpu_device=doc["device"], gpu_finished=doc["finished"],
                        gpu_failed=json.dumps({r["method"]: r["error"] for r in doc["results"] if "error" in r}),
                        gpu_cpus=int(doc["machine"]["cpus"]))
        for k in ("first_loss_gap", "euler_first_loss_gap"):
            ds.attrs[f"gpu_{k}"] = float(doc[k])
        for r in rows:  # torch.compile's first call: compilation included in the method's wall time
            if r["method"] == "bptt_cuda_compiled" and "wall_s" in r:
                ds.attrs["gpu_compiled_wall_s"] = float(r["wall_s"])
        found.append("gpu")
    rows = {}
    for name in found:  # before / after: the baseline's file beside today's, where one was committed
        if name != "gpu" and (old := _load(name, BASELINE)):
            new = _headline(name, docs[name])
            for k, (rate, frac) in _headline(name, old).items():
                if k in new:
                    rows[k] = (rate, new[k][0], frac, new[k][1])
    if rows:
        ds = ds.assign_coords(workload=list(rows))
        for i, key in enumerate(("before_samples_per_s", "after_samples_per_s", "before_floor_fraction",
                                 "after_floor_fraction")):
            ds[key] = ("workload", np.array([float(v[i]) for v in rows.values()]))
        commit = bench_results_root() / BASELINE / "COMMIT"
        ds.attrs["baseline_commit"] = commit.read_text().strip() if commit.is_file() else "unknown"
    prims = {}
    for name in found:  # the machine's measured primitives (benchmarks/_floor.py), as each file recorded them
        doc = docs[name]
        prims.update(doc.get("primitives", {}))
    if prims:
        ds = ds.assign_coords(primitive=sorted(prims))
        ds["primitive_rate"] = ("primitive", np.array([prims[k] for k in sorted(prims)]))
    if not found:
        raise FileNotFoundError(f"no benchmark results in {bench_results_root()}: run `make bench` first.")
    ds.attrs["benchmarks"] = ",".join(found)
    return ds


def summarize(ds: xr.Dataset) -> dict:
    out = {}
    if "bptt_speedup" in ds:
        for inp in ds["bptt_input"].values:
            key = str(inp).replace("-", "_")
            out[f"bptt_speedup_{key}"] = float(ds["bptt_speedup"].sel(bptt_input=inp))
            out[f"bptt_samples_per_s_{key}"] = float(ds["bptt_snnlib_samples_per_s"].sel(bptt_input=inp))
            for v in ("floor_fraction_snnlib", "floor_fraction_snntorch", "speedup_lo", "speedup_hi"):
                if f"bptt_{v}" in ds:
                    out[f"bptt_{v}_{key}"] = float(ds[f"bptt_{v}"].sel(bptt_input=inp))
            out[f"bptt_peak_mib_{key}"] = float(ds["bptt_training_peak_mib_snnlib"].sel(bptt_input=inp))
            out[f"snntorch_peak_mib_{key}"] = float(ds["bptt_training_peak_mib_snntorch"].sel(bptt_input=inp))
    if "spiketime_speedup" in ds.attrs:
        out["spiketime_speedup"] = float(ds.attrs["spiketime_speedup"])
        for k in ("spiketime_floor_fraction", "spiketime_speedup_lo", "spiketime_speedup_hi"):
            if k in ds.attrs:
                out[k] = float(ds.attrs[k])
        out.update({k: float(v) for k, v in ds.attrs.items() if k.startswith("spiketime_speedup_")
                    and k not in ("spiketime_speedup_lo", "spiketime_speedup_hi")})
        for impl in ds["spiketime_impl"].values:
            out[f"spiketime_samples_per_s_{impl}"] = float(ds["spiketime_samples_per_s"].sel(spiketime_impl=impl))
            out[f"spiketime_training_peak_mib_{impl}"] = float(ds["spiketime_training_peak_mib"].sel(spiketime_impl=impl))
            out[f"spiketime_hidden_spikes_per_sample_{impl}"] = float(
                ds["spiketime_hidden_spikes_per_sample"].sel(spiketime_impl=impl))
    if "events_samples_per_s" in ds:
        for case in ds["events_case"].values:
            key = str(case).replace("(", "").replace(")", "").replace(" dt=", "_dt").replace(" ms", "").replace(".", "p")
            out[f"events_samples_per_s_{key}"] = float(ds["events_samples_per_s"].sel(events_case=case))
    for k, v in ds.attrs.items():
        if k.startswith("integrated_") and k != "integrated_finished":
            out[k] = float(v)
    if "gpu_samples_per_s" in ds:
        out.update(gpu_ratios(ds))
    if "cost_bptt_s_per_sample" in ds:
        out.update(cost_in_t(ds))
    if "after_samples_per_s" in ds:
        for w in ds["workload"].values:
            key = str(w).replace(" ", "_").replace("-", "_").replace("(", "").replace(")", "")
            r = ds.sel(workload=w)
            out[f"speedup_since_baseline_{key}"] = float(r["after_samples_per_s"] / r["before_samples_per_s"])
    return out


def direct_label(integration: str, dt: float, gradient: str) -> str:
    """The direct-training benchmark's name of one (integration, step, gradient) training step
    (``benchmarks/bench_direct.py``); ``"exact"`` names the exact spike-time step."""
    return f"{integration} dt={float(dt):g} {gradient}"


def direct_step_log_ratios(ds: xr.Dataset, num: str, den: str) -> np.ndarray:
    """Per round of the direct-training benchmark: ln(seconds per sample of step ``num`` / of step
    ``den``) (:func:`direct_label` names), the two timed in the same round of one process."""
    if "direct_rounds_s_per_sample" not in ds:
        raise ValueError("the performance run has no direct-training benchmark (benchmarks/bench_direct.py).")
    r = ds["direct_rounds_s_per_sample"]
    return np.log(r.sel(direct_method=num).values / r.sel(direct_method=den).values)


def direct_table(ds: xr.Dataset) -> pd.DataFrame:
    """The direct-training benchmark: per training step, ms per sample (median over rounds), hidden
    spikes per sample at the benchmark's weights, and the median of the per-round ratios to the exact
    step."""
    rows = []
    for m in ds["direct_method"].values:
        m = str(m)
        ratio = np.exp(np.median(direct_step_log_ratios(ds, m, "exact")))
        rows.append({"training step": m, "ms per sample": 1e3 * float(ds["direct_s_per_sample"].sel(direct_method=m)),
                     "hidden spikes per sample": float(ds["direct_hidden_spikes_per_sample"].sel(direct_method=m)),
                     "/ exact (median of rounds)": float(ratio)})
    return pd.DataFrame(rows).set_index("training step")


#: the cost-in-T benchmark's two quantities, by the name its summary and the findings give them
COST_KEYS = {"time": "s_per_sample", "memory": "training_peak_mib"}


def cost_in_t(ds: xr.Dataset) -> dict:
    """How each method's training step grows with T (``benchmarks/bench_cost_in_t.py``): the slope of
    ln(cost) against ln(T) (least squares over the step counts; 1: proportional to T, 0: flat) of the
    time per sample and of the training peak memory, and BPTT's cost over the exact spike-time step's
    at every T (``cost_memory_ratio_T150``, ...)."""
    lt = np.log(ds["cost_T"].values.astype(float))
    out = {}
    for m in ("bptt", "spiketime"):
        for q, key in COST_KEYS.items():
            out[f"cost_{m}_{q}_slope"] = float(np.polyfit(lt, np.log(ds[f"cost_{m}_{key}"].values.astype(float)), 1)[0])
    for q, key in COST_KEYS.items():
        ratio = ds[f"cost_bptt_{key}"] / ds[f"cost_spiketime_{key}"]
        for T in ds["cost_T"].values:
            out[f"cost_{q}_ratio_T{int(T)}"] = float(ratio.sel(cost_T=T))
    return out


def cost_log_ratios(ds: xr.Dataset, T: int, quantity: str) -> np.ndarray:
    """ln(BPTT / spike-time) of ``quantity`` (``"time"`` or ``"memory"``) at ``T``, one value per repeat
    (the two methods measured back to back), for a paired test over the repeats."""
    key = COST_KEYS[quantity]
    if f"cost_bptt_{key}_repeats" not in ds:
        raise ValueError("the cost-in-T benchmark file has no per-repeat values: rerun benchmarks/bench_cost_in_t.py.")
    b, s = (ds[f"cost_{m}_{key}_repeats"].sel(cost_T=T).values for m in ("bptt", "spiketime"))
    return np.log(b / s)


def cost_table(ds: xr.Dataset) -> pd.DataFrame:
    """One row per T: the step h (ms) and h / tau_s, each method's time per sample (ms), training peak
    memory (MiB) and hidden spikes per sample, and BPTT's over the spike-time step's."""
    t = pd.DataFrame({"h (ms)": ds["cost_h_ms"].values, "h / tau_s": ds["cost_h_ms"].values / ds.attrs["cost_tau_s"]},
                     index=pd.Index(ds["cost_T"].values, name="T"))
    for m, label in (("bptt", "BPTT"), ("spiketime", "spike-time")):
        t[f"{label} ms / sample"] = 1e3 * ds[f"cost_{m}_s_per_sample"].values
        t[f"{label} MiB"] = ds[f"cost_{m}_training_peak_mib"].values
        t[f"{label} hidden spikes"] = ds[f"cost_{m}_hidden_spikes_per_sample"].values
    t["time ratio"] = t["BPTT ms / sample"] / t["spike-time ms / sample"]
    t["memory ratio"] = t["BPTT MiB"] / t["spike-time MiB"]
    return t.round(3)


# (name, numerator, denominator): GPU against the CPU kernels of the same machine, and the BPTT variants
GPU_RATIOS = (("gpu_spiketime_over_cpu_1", "spiketime_cuda", "spiketime_cpu_1"),
              ("gpu_spiketime_over_cpu_all", "spiketime_cuda", "spiketime_cpu_all"),
              ("gpu_adjusted_over_cpu_1", "euler_adjusted_cuda", "euler_adjusted_cpu_1"),
              ("gpu_piggyback_over_cpu_1", "euler_piggyback_cuda", "euler_piggyback_cpu_1"),
              ("gpu_bptt_over_snntorch", "bptt_cuda", "snntorch_cuda"),
              ("gpu_bptt_compiled_over_eager", "bptt_cuda_compiled", "bptt_cuda"))


def gpu_ratios(ds: xr.Dataset) -> dict:
    """Throughput ratios of the GPU benchmark (those whose two methods both ran), with the rates."""
    rates = dict(zip([str(m) for m in ds["gpu_method"].values], ds["gpu_samples_per_s"].values.astype(float)))
    out = {f"gpu_samples_per_s_{m}": v for m, v in rates.items()}
    out.update({name: rates[a] / rates[b] for name, a, b in GPU_RATIOS if a in rates and b in rates})
    if "gpu_compiled_wall_s" in ds.attrs and "bptt_cuda" in rates and "bptt_cuda_compiled" in rates:
        wall = out["gpu_compiled_wall_s"] = float(ds.attrs["gpu_compiled_wall_s"])
        # samples after which the compiled step has made up its first call (an upper bound: that wall
        # time also holds the benchmark's own batches)
        out["gpu_compile_break_even_samples"] = wall / (1 / rates["bptt_cuda"] - 1 / rates["bptt_cuda_compiled"])
    return out


PRIMITIVE_UNITS = {"gemm": ("GFLOP/s", 1e9), "stream": ("GB/s", 1e9), "scatter": ("G adds/s", 1e9),
                   "grid": ("G updates/s", 1e9)}


def primitives_table(ds: xr.Dataset) -> pd.DataFrame:
    """The machine's measured primitives (``benchmarks/_floor.py``): one row per primitive and shape."""
    rows = []
    for name, rate in zip(ds["primitive"].values, ds["primitive_rate"].values):
        kind, _, shape = str(name).partition(" ")
        unit, scale = PRIMITIVE_UNITS[kind]
        rows.append({"primitive": kind, "shape": shape, "rate": round(float(rate) / scale, 2), "unit": unit})
    return pd.DataFrame(rows).set_index(["primitive", "shape"])


def floor_table(ds: xr.Dataset) -> pd.DataFrame:
    """Each training workload against the machine (fraction of its floor, ``benchmarks/_floor.py``)
    and against snnTorch (median per-round ratio and its range), with the memory training adds."""
    rows = {}
    if "bptt_floor_fraction_snnlib" in ds:
        for inp in ds["bptt_input"].values:
            r = ds.sel(bptt_input=inp)
            rows[f"BPTT {inp}"] = {"samples/s": float(r["bptt_snnlib_samples_per_s"]),
                                   "fraction of floor": float(r["bptt_floor_fraction_snnlib"]),
                                   "snnTorch's fraction": float(r["bptt_floor_fraction_snntorch"]),
                                   "vs snnTorch": float(r["bptt_speedup"]),
                                   "range": f"{float(r['bptt_speedup_lo']):.1f}-{float(r['bptt_speedup_hi']):.1f}",
                                   "training peak MiB": float(r["bptt_training_peak_mib_snnlib"])}
    if "spiketime_floor_fraction" in ds.attrs:
        a = ds.attrs
        rows["exact spike-time (event floor)"] = {
            "samples/s": float(ds["spiketime_samples_per_s"].sel(spiketime_impl="spiketime")),
            "fraction of floor": a["spiketime_floor_fraction"], "vs snnTorch": a["spiketime_speedup"],
            "range": f"{a['spiketime_speedup_lo']:.1f}-{a['spiketime_speedup_hi']:.1f}",
            "training peak MiB": float(ds["spiketime_training_peak_mib"].sel(spiketime_impl="spiketime"))}
    rates = dict(zip([str(m) for m in ds["integrated_method"].values], ds["integrated_samples_per_s"].values)) \
        if "integrated_method" in ds.coords else {}
    for g in ("adjusted", "piggyback"):
        if f"integrated_floor_fraction_{g}" in ds.attrs:
            a = ds.attrs
            rows[f"integrated PS(3), {g} (grid floor)"] = {
                "samples/s": float(rates[f"train/{g}"]), "fraction of floor": a[f"integrated_floor_fraction_{g}"],
                "vs exact step": a[f"integrated_train_{g}_vs_exact"],
                "range": f"{a[f'integrated_train_{g}_vs_exact_lo']:.2f}-{a[f'integrated_train_{g}_vs_exact_hi']:.2f}"
                         " (vs exact)",
                "training peak MiB": a["integrated_train_peak_added_mib"] if g == "adjusted" else np.nan}
    df = pd.DataFrame.from_dict(rows, orient="index")
    df = df.rename(columns={"range": "range over rounds"})
    return df.round(3).astype(object).where(df.notna(), "")  # a blank where a ratio does not apply


def before_after_table(ds: xr.Dataset) -> pd.DataFrame:
    """Training throughput and fraction of floor of each workload, on the baseline commit's code and
    today's, measured by the same benchmarks (each run once, on this machine)."""
    df = ds[["before_samples_per_s", "after_samples_per_s", "before_floor_fraction",
             "after_floor_fraction"]].to_dataframe()
    df.insert(2, "speed-up", df["after_samples_per_s"] / df["before_samples_per_s"])
    df.columns = ["samples/s before", "samples/s after", "speed-up", "fraction of floor before",
                  "fraction of floor after"]
    df.index.name = None
    return df.round(3)


def integrated_table(ds: xr.Dataset):
    """The integrated-network benchmark as a table: one row per (order, dt) with the forward and
    the adjusted training samples/s (``ps3 dt=1`` is the headline configuration)."""
    rates = dict(zip([str(m) for m in ds["integrated_method"].values], ds["integrated_samples_per_s"].values))
    rows = {}
    for name, v in rates.items():
        kind, _, case = name.partition("/")
        if case in ("integrated", "reference", "exact", "adjusted", "piggyback"):
            continue
        order, dt = case.split(" dt=")
        rows.setdefault((parse_integration(order)[1], float(dt)), {})[kind] = v
    rows[(3, 1.0)] = {"forward": rates["forward/integrated"], "train": rates["train/adjusted"]}
    df = pd.DataFrame.from_dict(rows, orient="index").sort_index()
    df.index.names = ["order k", "dt (ms)"]
    df.columns = [{"forward": "forward samples/s", "train": "adjusted training samples/s"}[c] for c in df.columns]
    return df.round(0)
