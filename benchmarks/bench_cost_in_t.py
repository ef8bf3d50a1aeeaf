"""How a training step's cost grows with the number of time steps T: BPTT against exact spike-time
gradients, on the same network, neuron, weights and batch (the survey's "cost of BPTT is huge: all
activations, all timesteps").

**The network.** 784-800-10 on MNIST in time-to-first-spike code (inputs in [0, 100] ms), BATS's
multi-spike neuron (tau_s = 130 ms, tau = 260 ms, thresholds 200 / 1300 in this project's units,
U(-1, 1) initial weights drawn by the one rule both schemes share), a 150 ms window, BATS's
spike-count loss (15 / 3), Adam, batch 50, one thread.

* **bptt**: the BPTT scheme's exact-grid clock network (``clock="exact"``) on T steps of
  h = 150 ms / T, SLAYER's surrogate (width 0.1 theta): every step's state is kept for the backward
  pass, so its memory and time should grow with T.
* **spiketime**: the exact spike-time scheme (BATS's event-driven network, no grid, at most 30 spikes
  per neuron): it has no T. It is measured beside every T all the same (the same subprocesses,
  alternating), so that the ratio at each T is taken under the same machine load.

Each (method, T) runs in its own subprocess, ``--repeats`` times, the methods alternating: after
``warmup`` steps, ``n_batches`` training steps (forward, backward, Adam) on real training digits
(encoding done before the timer), reporting the time per sample (total time of the timed steps /
samples) and the training peak memory (``VmHWM`` reset once the data and the network are loaded,
and the kernels compiled on two samples, over the warm-up and the timed steps, minus the resident
memory then: what training adds; the freed memory is kept, as training keeps it, so a baseline after
a full-size warm-up step would hide the working set). Reported per T: each repeat's time per sample and
peak of each method (a repeat runs the two back to back: a pair), their medians over the repeats, the
ratios bptt / spiketime of the medians, and the hidden spikes per sample (the same in both at a fine
step: one network). Writes ``benchmarks/results/cost_in_t.json``.

    SNNLIB_DATA=/work/shared/data .venv/bin/python benchmarks/bench_cost_in_t.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import _results

from snnlib.memory import keep_freed_memory

WINDOW = 150.0
#: the step counts: h = 150 ms / T from 6 ms (h / tau_s = 0.046) down to 0.25 ms (0.0019); T = 150 is the
#: study's 1 ms step
TS = (25, 50, 100, 150, 300, 600)
METHODS = ("bptt", "spiketime")
B = 50
NEURON = {"tau_s": 130.0, "theta_bats": (0.2, 1.3), "weight_scale": 1.0, "targets": (15.0, 3.0)}


def configs(T: int, n_train: int):
    """The two schemes' configs of the same network at T steps: ``(bptt, spiketime)``."""
    from snnlib.training.schemes import bptt, spiketime

    common = {"dataset": "mnist", "hidden": (800,), "batch_size": B, "n_train": n_train, "n_val": 1000,
              "n_test": 1000, "lr": 3e-3}
    b = bptt.BPTTConfig(**common, encoding="ttfs", t_in=100.0, dt=WINDOW / T, n_steps=T + 1, k=1,
                        tau_s=NEURON["tau_s"], tau=2 * NEURON["tau_s"],
                        theta=tuple(1000 * t for t in NEURON["theta_bats"]), clock="exact", init="uniform",
                        weight_scale=NEURON["weight_scale"], loss="count_mse", targets=NEURON["targets"],
                        surrogate_unit="theta", surrogate_width=0.1)
    s = spiketime.Config(**common, variant="multi", t_max=WINDOW, tau_s=NEURON["tau_s"],
                         theta_bats=NEURON["theta_bats"], weight_scale=NEURON["weight_scale"],
                         targets=NEURON["targets"])
    return b, s


def _worker(method: str, T: int, n_batches: int, warmup: int) -> dict:
    import numba
    import numpy as np
    import torch

    from snnlib.training.loop import make_adam
    from snnlib.training.schemes import bptt, spiketime

    torch.set_num_threads(1)
    numba.set_num_threads(1)
    keep_freed_memory()  # as training does (snnlib.memory)
    cb, cs = configs(T, (n_batches + warmup) * B)
    scheme, cfg = (bptt.BPTTScheme(), cb) if method == "bptt" else (spiketime.SpikeTimeScheme(), cs)
    x, y = scheme.data(cfg)["train"]
    enc = scheme.encoder(cfg, "train")
    batches = [(enc(x, np.arange(i, i + B)), torch.as_tensor(y[i:i + B])) for i in range(0, len(y) - B + 1, B)]
    net = scheme.build(cfg, torch.Generator().manual_seed(0))
    loss_fn = scheme.loss(cfg)
    opt = make_adam(net.parameters(), cfg.lr)
    spikes = []

    def step(inp, labels):
        out, hidden = net(inp)
        loss = loss_fn(out, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        h = hidden[0]
        spikes.append(float((torch.isfinite(h).sum() if h.dim() == 3 else h.sum()) / len(labels)))

    timed = batches[warmup:warmup + n_batches]
    small = (enc(x, np.arange(2)), torch.as_tensor(y[:2]))
    step(*small)  # compilation (numba) on two samples: its memory is not training's
    opt.zero_grad(set_to_none=True)

    def train():
        for inp, labels in batches[:warmup]:  # compilation and one-off allocations: not timed
            step(inp, labels)
        spikes.clear()
        t0 = time.perf_counter()
        for inp, labels in timed:
            step(inp, labels)
        return time.perf_counter() - t0

    out = {}
    # the peak over the warm-up and the timed steps, over the memory once data, network and compiled
    # kernels are loaded: the freed memory is kept (keep_freed_memory), so a baseline taken after a
    # full-size warm-up step would already hold the training step's working set
    peak, increase = _results.peak_increase_mib(lambda: out.setdefault("s", train()))
    return {"method": method, "T": T, "s_per_sample": out["s"] / (len(timed) * B), "peak_rss_mib": peak,
            "training_peak_mib": increase, "hidden_spikes_per_sample": statistics.mean(spikes)}


def _run(method: str, T: int, n_batches: int, warmup: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", method, str(T), str(n_batches), str(warmup)],
                         capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{method} at T = {T} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two step counts, one repeat (smoke test)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        method, T, n, w = a.one
        print(json.dumps(_worker(method, int(T), int(n), int(w))))
        return
    ts, repeats, (n_batches, warmup) = ((25, 50), 1, (2, 1)) if a.quick else (TS, a.repeats, (4, 1))
    results = []
    for T in ts:
        runs = {m: [] for m in METHODS}
        for _ in range(repeats):
            for m in METHODS:  # alternating, so that drifting load hits both
                runs[m].append(_run(m, T, n_batches, warmup))
        r = {"T": T, "h_ms": WINDOW / T, "h_over_tau_s": WINDOW / T / NEURON["tau_s"], "repeats": repeats,
             "batches": n_batches, "batch": B}
        for m in METHODS:
            for k in ("s_per_sample", "training_peak_mib", "hidden_spikes_per_sample"):
                r[f"{m}_{k}"] = statistics.median(x[k] for x in runs[m])
            r[f"{m}_s_per_sample_repeats"] = [x["s_per_sample"] for x in runs[m]]
            r[f"{m}_training_peak_mib_repeats"] = [x["training_peak_mib"] for x in runs[m]]
        r["time_ratio"] = r["bptt_s_per_sample"] / r["spiketime_s_per_sample"]
        r["memory_ratio"] = r["bptt_training_peak_mib"] / r["spiketime_training_peak_mib"]
        results.append(r)
        print(f"T = {T:4d} (h = {WINDOW / T:5.2f} ms): BPTT {1e3 * r['bptt_s_per_sample']:7.2f} ms/sample "
              f"{r['bptt_training_peak_mib']:7.1f} MiB; spike-time {1e3 * r['spiketime_s_per_sample']:6.2f} ms/sample "
              f"{r['spiketime_training_peak_mib']:6.1f} MiB; ratios {r['time_ratio']:.2f} (time), "
              f"{r['memory_ratio']:.2f} (memory)", flush=True)
    _results.write("cost_in_t", "Training-step cost against the number of time steps T: BPTT (exact grid, "
                   "surrogate) vs exact spike-time gradients, 784-800-10, batch 50, 150 ms, 1 thread",
                   results, a.quick, neuron={k: list(v) if isinstance(v, tuple) else v for k, v in NEURON.items()},
                   window_ms=WINDOW)


if __name__ == "__main__":
    main()
