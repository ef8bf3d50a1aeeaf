"""Training throughput and peak memory: exact spike-time training (BATS, snnlib.events.exact, numba
kernels) vs snnTorch BPTT, MNIST 784-800-10, batch 50, one thread.

* **spiketime**: :class:`snnlib.training.schemes.spiketime.SpikeTimeNetwork` with BATS's multi-spike MNIST
  configuration (thresholds 0.2 / 1.3 in BATS units, K = 30 / 30, window 200 ms, U(-1, 1)
  weights), float32, spike-count loss (15 / 3), Adam 0.003. Input: ``snnlib.data.encoding.ttfs``
  (one spike per non-black pixel at ``100 ms * (1 - pixel/255)``).
* **snntorch**: ``torch.nn.Linear`` 784-800-10 with ``snntorch.Synaptic`` neurons (decays of
  1-ms steps for tau_s = 130 ms, tau = 260 ms), the same TTFS spikes binned into T = 100 steps of
  1 ms (dense raster), BPTT, ``snntorch.functional.ce_count_loss``, Adam.

**Like for like** (``snntorch_matched``, ``snnlib_matched``): the two computations above differ in
activity (the snnTorch network at its default initialisation fires about 30 times more hidden spikes
than the spike-time network). These two BPTT methods train the same 784-800-10 spike-count network
with its first-layer weights (and snnTorch's bias) scaled, before timing, so that its hidden layer fires as many spikes
per digit on the first warm-up batch as the spike-time network measured in the same repeat
(bisection on the scale), and every timed step starts from these weights (restored outside the
timer; the step itself, Adam included, is unchanged), because BPTT training would otherwise raise
the activity several-fold within a few batches. The methods: snnTorch's ``Synaptic`` layers (dense, its cost does not depend on the
activity) and snnlib's clock-driven layers with sparse input and sparse hidden projections
(:class:`snnlib.clock.network.ClockNetwork`, whose cost does).

A step is forward + backward + Adam on a batch of real training digits (encoding, and for
snnTorch making the raster dense, done before the step's timer starts).
``torch.set_num_threads(1)`` and ``numba.set_num_threads(1)``. Each measurement runs
in its own subprocess (the methods alternate, ``--repeats`` times, so drifting machine load hits
both); peak memory is that subprocess's ``ru_maxrss`` at the end, also given before training (data,
imports and model loaded). Reported: samples/s (median over repeats of total samples / total
time of the timed steps), the ratio spiketime / snntorch, peak memory, hidden spikes per sample.
Writes ``benchmarks/results/spiketime.json`` (``spiketime_quick.json`` with ``--quick``), atomically.

    SNNLIB_DATA=/work/shared/data .venv/bin/python benchmarks/bench_spiketime.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import _floor

from snnlib.memory import keep_freed_memory
from snnlib.paths import bench_results_root

B, T_STEPS, SIZES = 50, 100, (784, 800, 10)
METHODS = ("spiketime", "snntorch", "snntorch_matched", "snnlib_matched")
OUT = bench_results_root() / "spiketime.json"


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _match_activity(hidden_per_sample, scale_weights, target: float, tol: float = 0.03) -> float:
    """Bisect (on a log scale) the factor ``g`` given to ``scale_weights(g)`` until
    ``hidden_per_sample()`` is within ``tol`` (relative) of ``target``; returns ``g``."""
    lo, hi = 1e-3, 1e2
    g = 1.0
    for _ in range(40):
        g = math.sqrt(lo * hi)
        scale_weights(g)
        h = hidden_per_sample()
        if abs(h - target) <= tol * target:
            return g
        lo, hi = (g, hi) if h < target else (lo, g)
    raise RuntimeError(f"no weight scale gives {target:.0f} hidden spikes per sample (last {h:.0f} at {g:.3g})")


def _worker(method: str, n_batches: int, warmup: int, target: float | None = None) -> dict:
    import numba
    import numpy as np
    import torch

    from snnlib.data import datasets as data
    from snnlib.data import encoding

    torch.set_num_threads(1)

    keep_freed_memory()  # as training does (snnlib.memory), for every implementation timed here
    numba.set_num_threads(1)
    images, labels = data.load_mnist("train")
    n = (n_batches + warmup) * B
    ys = [torch.as_tensor(labels[i:i + B]) for i in range(0, n, B)]
    if method == "spiketime":
        from snnlib.training.losses import spike_count_loss
        from snnlib.training.schemes.spiketime import BatsConfig, SpikeTimeNetwork

        cfg = BatsConfig()
        net = SpikeTimeNetwork(cfg, dtype=torch.float32, generator=torch.Generator().manual_seed(0))
        xs = [encoding.ttfs(images[i:i + B], 100.0, dtype=torch.float32) for i in range(0, n, B)]

        def step(x, y):
            out, hidden = net(x)
            loss = spike_count_loss(out, y, cfg.target_true, cfg.target_false)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return float(hidden[0].float().mean())

        lr = cfg.lr
    elif method in ("snntorch", "snntorch_matched"):
        import snntorch as snn
        import snntorch.functional as SF

        alpha, beta = math.exp(-1.0 / 130.0), math.exp(-1.0 / 260.0)

        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1, self.fc2 = torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.Linear(SIZES[1], SIZES[2])
                self.l1, self.l2 = snn.Synaptic(alpha=alpha, beta=beta), snn.Synaptic(alpha=alpha, beta=beta)

            def forward(self, x):
                syn1, mem1 = self.l1.init_synaptic()
                syn2, mem2 = self.l2.init_synaptic()
                out, count = [], 0.0
                for t in range(x.shape[0]):
                    spk1, syn1, mem1 = self.l1(self.fc1(x[t]), syn1, mem1)
                    spk2, syn2, mem2 = self.l2(self.fc2(spk1), syn2, mem2)
                    out.append(spk2)
                    count = count + spk1.detach().sum(1)
                return torch.stack(out), count

        torch.manual_seed(0)
        net = Net()
        loss_fn = SF.ce_count_loss()
        # sparse rasters, made dense one batch at a time outside the timed step (so the stored
        # inputs do not inflate the peak memory)
        xs = [encoding.ttfs_raster(images[i:i + B], T_STEPS, 1.0) for i in range(0, n, B)]

        def step(x, y):
            out, count = net(x)  # x: dense [T, B, 784]
            loss = loss_fn(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return float(count.mean())

        lr = 1e-3
    elif method == "snnlib_matched":
        from snnlib.clock.network import ClockNetwork
        from snnlib.clock.recurrence import CubaDiscrete
        from snnlib.training.losses import count_cross_entropy

        net = ClockNetwork(SIZES, CubaDiscrete(math.exp(-1.0 / 130.0), math.exp(-1.0 / 260.0), 1.0),
                           generator=torch.Generator().manual_seed(0), sparse_hidden=True)
        xs = [encoding.ttfs_raster(images[i:i + B], T_STEPS, 1.0) for i in range(0, n, B)]

        def step(x, y):
            out, hidden = net(x)  # x: sparse Raster
            loss = count_cross_entropy(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return float(hidden[0].float().mean())

        lr = 1e-3
    else:
        raise ValueError(method)
    scale = None
    if method.endswith("_matched"):
        if target is None:
            raise ValueError(f"{method}: the target hidden activity (--target) is required")
        # snnTorch's first Linear has a bias, which alone drives its neurons: scaled with the weights
        w1 = [net.fc1.weight, net.fc1.bias] if method == "snntorch_matched" else [net.weights[0]]
        w0 = [w.detach().clone() for w in w1]
        x0 = xs[0].to_dense() if method == "snntorch_matched" else xs[0]

        def hidden_per_sample():
            with torch.no_grad():
                return float(net(x0)[1].mean() if method == "snntorch_matched" else net(x0)[1][0].float().mean())

        def scale_weights(g):
            with torch.no_grad():
                for w, v in zip(w1, w0):
                    w.copy_(v * g)

        scale = _match_activity(hidden_per_sample, scale_weights, target)
        matched = {k: v.detach().clone() for k, v in net.state_dict().items()}
    from snnlib.training.loop import make_adam
    opt = make_adam(net.parameters(), lr)  # the training loop's Adam (fused), for every method
    rss_setup = _maxrss_mib()
    dense = (lambda r: r.to_dense()) if method.startswith("snntorch") else (lambda x: x)
    for i in range(warmup):  # includes loading (or compiling) the numba kernels
        step(dense(xs[i]), ys[i])
    times, cpus, spikes = [], [], []
    for i in range(warmup, warmup + n_batches):
        if scale is not None:  # the matched weights again, outside the timer: the activity stays matched
            net.load_state_dict(matched)
        x = dense(xs[i])
        c0, t0 = time.process_time(), time.perf_counter()
        spikes.append(step(x, ys[i]))
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)

        del x
    cpu = sum(cpus)
    return {
        "method": method,
        "batches": n_batches,
        "samples_per_s": n_batches * B / sum(times),
        "median_step_ms": 1e3 * statistics.median(times),
        "cpu_samples_per_s": n_batches * B / cpu,
        "hidden_spikes_per_sample": float(np.mean(spikes)),
        "input_events_per_sample": float(np.mean([(float(torch.isfinite(x).sum()) if torch.is_tensor(x)
                                                          else x.t.numel()) / B for x in xs[warmup:]])),
        "peak_rss_mib": _maxrss_mib(),
        "setup_peak_rss_mib": rss_setup,
        **({"first_layer_scale": scale, "target_hidden_spikes": target} if scale is not None else {}),
    }


def _run(method: str, n_batches: int, warmup: int, target: float | None = None) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    cmd = [sys.executable, __file__, "--worker", method, "--batches", str(n_batches), "--warmup", str(warmup)]
    if target is not None:
        cmd += ["--target", str(target)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{method} worker failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _cpu_model():
    if not os.path.exists("/proc/cpuinfo"):
        return None
    with open("/proc/cpuinfo") as f:
        return next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), None)


def _machine() -> dict:
    import numba
    import snntorch
    import torch

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_average_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numba": numba.__version__,
        "snntorch": snntorch.__version__,
    }


def _write(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, path)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="few batches, one repeat (smoke run)")
    ap.add_argument("--batches", type=int, default=None, help="timed batches per measurement")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None,
                    help=f"result file (default {OUT.name}; with --quick spiketime_quick.json, not committed)")
    ap.add_argument("--worker", choices=list(METHODS), help=argparse.SUPPRESS)
    ap.add_argument("--target", type=float, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        print(json.dumps(_worker(a.worker, a.batches, a.warmup, a.target)))
        return {}
    n_batches = a.batches or (4 if a.quick else 30)
    repeats = a.repeats or (1 if a.quick else 5)
    machine = _machine()
    runs = {m: [] for m in METHODS}
    t0 = time.time()
    for r in range(repeats):
        # the spike-time network first (its activity is the matched methods' target), the others
        # in alternating order
        runs["spiketime"].append(_run("spiketime", n_batches, a.warmup))
        target = runs["spiketime"][-1]["hidden_spikes_per_sample"]
        others = METHODS[1:] if r % 2 == 0 else METHODS[:0:-1]
        for m in others:
            runs[m].append(_run(m, n_batches, a.warmup, target if m.endswith("_matched") else None))
        for m in METHODS:
            print(f"{m}: {runs[m][-1]['samples_per_s']:.1f} samples/s", file=sys.stderr)
    machine["load_average_end"] = list(os.getloadavg())
    summary = {m: {
        "samples_per_s": statistics.median(x["samples_per_s"] for x in rs),
        "cpu_samples_per_s": statistics.median(x["cpu_samples_per_s"] for x in rs),
        "peak_rss_mib": max(x["peak_rss_mib"] for x in rs),
        "setup_peak_rss_mib": max(x["setup_peak_rss_mib"] for x in rs),
        "hidden_spikes_per_sample": statistics.median(x["hidden_spikes_per_sample"] for x in rs),
    } for m, rs in runs.items()}
    ratio = summary["spiketime"]["samples_per_s"] / summary["snntorch"]["samples_per_s"]
    per_repeat = {m: [a_["samples_per_s"] / b_["samples_per_s"] for a_, b_ in zip(runs["spiketime"], runs[m])]
                  for m in METHODS[1:]}
    prims = _floor.primitives()
    st = summary["spiketime"]
    floor = _floor.event_floor(prims, SIZES, B, [statistics.median(x["input_events_per_sample"] for x in runs["spiketime"]),
                                                 st["hidden_spikes_per_sample"]])
    st_s = B / st["samples_per_s"]
    result = {
        "benchmark": "spiketime-vs-snntorch-training",
        "units": {"samples_per_s": "training samples per second (forward + backward + Adam)",
                  "peak_rss_mib": "MiB (ru_maxrss of the measuring subprocess)"},
        "config": {"sizes": SIZES, "batch_size": B, "threads": 1, "batches": n_batches, "warmup": a.warmup,
                   "repeats": repeats, "input": "MNIST train digits, ttfs(100 ms); snnTorch: 100 bins of 1 ms",
                   "spiketime": "BatsConfig() multi-spike, float32, spike-count loss",
                   "snntorch": "Synaptic(alpha=exp(-1/130), beta=exp(-1/260)), ce_count_loss",
                   "matched": "first-layer weights scaled to the spike-time network's hidden spikes per digit "
                              "(first warm-up batch, within 3%)"},
        "machine": machine,
        "summary": summary,
        "ratio_spiketime_over_snntorch": ratio,
        **{f"ratio_spiketime_over_{m}": summary["spiketime"]["samples_per_s"] / summary[m]["samples_per_s"]
           for m in METHODS[2:]},
        "ratio_range": {m: [min(v), max(v)] for m, v in per_repeat.items()},
        "ratio_repeats": per_repeat,
        "floor_s": floor["floor_s"], "floor_parts_s": floor["parts_s"], "floor_fraction_spiketime": floor["floor_s"] / st_s,
        "primitives": prims.as_dict(),
        "cpu_time_ratio": summary["spiketime"]["cpu_samples_per_s"] / summary["snntorch"]["cpu_samples_per_s"],
        "target_ratio": 10.0,
        "runs": runs,
        "wall_s": time.time() - t0,
        "quick": a.quick,
    }
    _write(result, a.out or (OUT.with_name("spiketime_quick.json") if a.quick else OUT))
    print(f"floor fraction (exact spike-time, event floor): {floor['floor_s'] / st_s:.3f}")
    print(json.dumps({"ratio": round(ratio, 2), **{m: round(s["samples_per_s"], 1) for m, s in summary.items()}}))
    return result


if __name__ == "__main__":
    main()
