"""Performance appendix: the benchmark result files of ``make bench``, gathered into one run.

Reads ``benchmarks/results/{bptt,events,spiketime,integrated}.json`` (whichever exist), and
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
BENCHMARKS = ("bptt", "events", "spiketime", "integrated")


@dataclasses.dataclass(frozen=True)
class PerformanceConfig(Config):
    """Fields: ``benchmarks``: which result files to gather (names under ``benchmarks/results/``)."""

    benchmarks: tuple = ("bptt", "events", "spiketime", "integrated")

    def validate(self) -> None:
        super().validate()
        self._check("benchmarks", isinstance(self.benchmarks, tuple) and len(self.benchmarks) > 0
                    and all(b in BENCHMARKS for b in self.benchmarks), "a tuple of " + ", ".join(map(repr, BENCHMARKS)))


Config = PerformanceConfig


def _load(name: str) -> dict | None:
    path = bench_results_root() / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def run(cfg: PerformanceConfig) -> xr.Dataset:
    ds = xr.Dataset()
    found = []
    if "bptt" in cfg.benchmarks and (doc := _load("bptt")):
        rows = doc["results"]
        ds = ds.assign_coords(bptt_input=[r["input"] for r in rows])
        for key in ("snnlib_samples_per_s", "snntorch_samples_per_s", "speedup", "dense_floor_share_snnlib",
                    "dense_floor_share_snntorch", "training_peak_mib_snnlib", "training_peak_mib_snntorch",
                    "input_spikes_per_sample"):
            ds[f"bptt_{key}"] = ("bptt_input", np.array([float(r[key]) for r in rows]))
        ds.attrs["bptt_finished"] = doc["finished"]
        found.append("bptt")
    if "events" in cfg.benchmarks and (doc := _load("events")):
        rows = doc["results"]
        names = [r["integrator"] + (f"({r['order']})" if "order" in r else "") + (f" dt={r['dt']:g} ms" if "dt" in r else "")
                 for r in rows]
        ds = ds.assign_coords(events_case=names)
        for key in ("samples_per_s", "forward_peak_mib", "hidden_spikes_per_sample"):
            ds[f"events_{key}"] = ("events_case", np.array([float(r[key]) for r in rows]))
        ds.attrs["events_finished"] = doc["finished"]
        found.append("events")
    if "spiketime" in cfg.benchmarks and (doc := _load("spiketime")):
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
        found.append("spiketime")
    if "integrated" in cfg.benchmarks and (doc := _load("integrated")):
        rows = doc["results"]
        ds = ds.assign_coords(integrated_method=[r["method"] for r in rows])
        ds["integrated_samples_per_s"] = ("integrated_method", np.array([float(r["samples_per_s"]) for r in rows]))
        for k, v in doc["ratios"].items():
            ds.attrs[f"integrated_{k}"] = float(v)
        ds.attrs["integrated_train_peak_added_mib"] = float(doc["train_peak_added_mib"])
        ds.attrs["integrated_finished"] = doc["finished"]
        found.append("integrated")
    if doc := _load("gpu"):  # only written on a machine with a GPU
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
            out[f"bptt_floor_share_{key}"] = float(ds["bptt_dense_floor_share_snnlib"].sel(bptt_input=inp))
            out[f"bptt_peak_mib_{key}"] = float(ds["bptt_training_peak_mib_snnlib"].sel(bptt_input=inp))
            out[f"snntorch_peak_mib_{key}"] = float(ds["bptt_training_peak_mib_snntorch"].sel(bptt_input=inp))
    if "spiketime_speedup" in ds.attrs:
        out["spiketime_speedup"] = float(ds.attrs["spiketime_speedup"])
        out.update({k: float(v) for k, v in ds.attrs.items() if k.startswith("spiketime_speedup_")})
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
    return out


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
