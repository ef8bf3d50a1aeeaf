"""BPTT training throughput and peak memory: snnlib's clock-driven CuBa-LIF vs snnTorch ``Synaptic``.

Three cases, CE loss on output spike counts, Adam, one thread (``torch.set_num_threads(1)``; the
machine's second core is shared), steps of 1 ms:

* ``mnist-ttfs``: 784-800-10, B = 64, T = 100; real MNIST digits in time-to-first-spike code.
* ``nmnist-like``: 784-800-10, B = 64, T = 100; Bernoulli spikes at the density of the real
  N-MNIST recordings in 1 ms bins (measured here from the development recordings).
* ``nmnist-like-dense``: the same, the input given to snnlib as a dense tensor (the sparse path
  then finds its spikes itself); ``snnlib-dense-hidden`` there is the all-dense-matmul path.
* ``nmnist-2312-512-512-10``: lava-dl's N-MNIST network, B = 32, T = 300, real N-MNIST recordings
  (one event per bin, pixel and polarity). Its second projection reads the first hidden layer's
  spikes: snnlib's sparse path for hidden spikes (:func:`snnlib.clock.raster.spike_projection`) is what
  this case measures; ``snnlib-dense-hidden`` (a dense matmul there) is timed too.

The implementations train the same network on the same batches in the same process, interleaved
step by step (snnlib, snnTorch, snnlib, ...), so load on the shared machine hits all of them. A
*round* is one pass over the batches; reported are the median step time over all rounds and the
ratio of the two implementations' times per round, as median and range over the rounds.

**Fraction of floor**: the *sparse floor* of the step (:func:`_floor.bptt_floor`, measured primitives
of this machine: GEMM at the layer shapes, triad bandwidth at the state arrays' size, scatter-add
throughput at the rows' width) divided by the median step time. The floor counts, per projection,
the forward and weight gradient at the cheaper of one weight-row scatter-add per input spike (the
spikes measured in the timed steps) and the dense GEMM, the input gradient (past the first
projection) as a dense GEMM, 28 bytes of neuron state traffic per (step, sample, neuron) and 28
bytes of Adam traffic per weight; nothing overlapped. Peak memory: each implementation
also runs alone in a fresh subprocess; reported is its peak resident memory during training
(``VmHWM``, reset through ``/proc/self/clear_refs`` once the data are loaded) minus the resident
memory at that point, i.e. what training adds (Linux only).
Writes ``benchmarks/results/bptt.json``.

    .venv/bin/python benchmarks/bench_bptt.py [--quick] [--cases mnist-ttfs,...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import _floor
import _results

from snnlib.memory import keep_freed_memory

ALPHA, BETA, THETA = 0.75, 0.97, 1.0  # lava-dl's NMNIST decays (current 0.25, voltage 0.03)
#: case -> (layer sizes, batch size, time steps)
CASES = {"mnist-ttfs": ((784, 800, 10), 64, 100), "nmnist-like": ((784, 800, 10), 64, 100),
         "nmnist-like-dense": ((784, 800, 10), 64, 100), "nmnist-2312-512-512-10": ((2312, 512, 512, 10), 32, 300)}
#: cases whose input reaches snnlib as a dense tensor (as snnTorch always gets it)
DENSE_INPUT = ("nmnist-like-dense",)


def _inputs(kind: str, n_batches: int):
    """``(rasters, labels, extra)`` of ``n_batches`` batches of a case."""
    import torch

    from snnlib.clock.raster import Raster
    from snnlib.data import datasets as data
    from snnlib.data import encoding

    sizes, B, T = CASES[kind]
    if kind in DENSE_INPUT:
        kind = kind[: -len("-dense")]
    if kind == "mnist-ttfs":
        x, y = data.load_mnist("test")
        batches = [slice(i * B, (i + 1) * B) for i in range(n_batches)]
        return [encoding.ttfs_raster(x[b], T, 1.0) for b in batches], [torch.as_tensor(y[b]) for b in batches], {}
    ds = data.NMNIST("train")
    if kind == "nmnist-2312-512-512-10":
        if len(ds) < n_batches * B:
            raise SystemExit(f"{len(ds)} N-MNIST recordings, {n_batches * B} needed: use fewer batches.")
        idx = [list(range(i * B, (i + 1) * B)) for i in range(n_batches)]
        rasters = [encoding.events_raster([ds[j][0] for j in b], T, 1.0) for b in idx]
        return rasters, [torch.as_tensor(ds.targets[b]) for b in idx], {}
    recs = [ds[i][0] for i in range(50)]
    density = float(encoding.events_raster(recs, 300, 1.0).t.numel()) / (300 * 50 * 2312)
    g = torch.Generator().manual_seed(0)
    rasters = [(torch.rand(T, B, sizes[0], generator=g) < density).float() for _ in range(n_batches)]
    labels = [torch.randint(0, 10, (B,), generator=g) for _ in range(n_batches)]
    return [Raster.from_dense(r) for r in rasters], labels, {"nmnist_density": density}


def _ours(sizes, sparse_hidden=True, dense_input=False):
    import torch

    from snnlib.clock.network import ClockNetwork
    from snnlib.clock.recurrence import CubaDiscrete

    net = ClockNetwork(sizes, CubaDiscrete(ALPHA, BETA, THETA), generator=torch.Generator().manual_seed(0),
                       sparse_hidden=sparse_hidden)
    net.spikes_seen = []  # per step: the spikes entering each projection (input's, then hidden layers')

    def forward(r):
        out, hidden = net(r.to_dense() if dense_input else r)
        n_in = r.t.numel() if hasattr(r, "t") else int(r.count_nonzero())
        net.spikes_seen.append([n_in] + [float(h.sum()) for h in hidden])
        return out
    return net, forward


def _snntorch(sizes):
    import snntorch as snn
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
            self.lif = torch.nn.ModuleList(snn.Synaptic(alpha=ALPHA, beta=BETA, threshold=THETA) for _ in self.fc)

        def forward(self, x):
            state = [lif.init_synaptic() for lif in self.lif]
            out = []
            for t in range(x.shape[0]):
                s = x[t]
                for i, (fc, lif) in enumerate(zip(self.fc, self.lif)):
                    s, syn, mem = lif(fc(s), *state[i])
                    state[i] = (syn, mem)
                out.append(s)
            return torch.stack(out)

    net = Net()
    return net, (lambda r: net(r.to_dense()))


IMPLS = {"snnlib": _ours, "snnlib-dense-hidden": lambda sizes: _ours(sizes, sparse_hidden=False),
         "snnlib-dense-input": lambda sizes: _ours(sizes, dense_input=True),
         "snnlib-dense-input-dense-hidden": lambda sizes: _ours(sizes, sparse_hidden=False, dense_input=True),
         "snntorch": _snntorch}


def _trainer(make, sizes):
    """A closure that runs one training step on ``(raster, labels)`` and returns its wall time."""
    from snnlib.training.loop import make_adam
    from snnlib.training.losses import count_cross_entropy

    net, forward = make(sizes)
    opt = make_adam(net.parameters(), 1e-3)  # the training loop's Adam (fused), for every implementation

    def step(r, y):
        t0 = time.perf_counter()
        loss = count_cross_entropy(forward(r), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return time.perf_counter() - t0

    step.net = net
    return step


def _interleaved(impls, sizes, rasters, labels, rounds):
    """Step times of each implementation per round (one pass over the batches), the steps interleaved
    (one of each in turn), and the spikes per step entering each projection of ``impls[0]``."""
    steps = {name: _trainer(IMPLS[name], sizes) for name in impls}
    for name in impls:  # one step first: compilation (numba) and one-off allocations not counted
        steps[name](rasters[0], labels[0])
    seen = getattr(steps[impls[0]].net, "spikes_seen", None)
    if seen is not None:
        seen.clear()
    times = {name: [] for name in impls}
    for _ in range(rounds):
        for name in impls:
            times[name].append([])
        for r, y in zip(rasters, labels):
            for name in impls:
                times[name][-1].append(steps[name](r, y))
    return times, seen


def _summary(times: dict, ours: str, theirs: str) -> dict:
    """Median step time of each implementation, and the per-round ratio theirs / ours (median, range)."""
    med = {name: statistics.median(t for rnd in rounds for t in rnd) for name, rounds in times.items()}
    ratios = [sum(b) / sum(a) for a, b in zip(times[ours], times[theirs])]
    return {"median_s": med, "ratio_median": statistics.median(ratios), "ratio_range": [min(ratios), max(ratios)],
            "ratio_rounds": ratios}


def _one(impl: str, kind: str, n_batches: int):
    import numba
    import torch

    torch.set_num_threads(1)

    keep_freed_memory()  # as training does (snnlib.memory), for every implementation timed here
    numba.set_num_threads(1)
    rasters, labels, _ = _inputs(kind, n_batches)
    sizes = CASES[kind][0]
    _trainer(IMPLS[impl], sizes)(rasters[0], labels[0])  # compilation (numba) before the measurement

    def train():  # a fresh network and optimiser, as a training run starts
        step = _trainer(IMPLS[impl], sizes)
        for r, y in zip(rasters, labels):
            step(r, y)

    peak, increase = _results.peak_increase_mib(train)
    return {"peak_rss_mib": peak, "training_peak_mib": increase}


def main():
    import numba

    numba.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few batches (smoke test)")
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated cases (default: all)")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    n_batches, rounds = (2, 1) if a.quick else (4, 9)
    if a.one:
        print(json.dumps(_one(a.one[0], a.one[1], n_batches)))
        return
    import torch

    torch.set_num_threads(1)

    keep_freed_memory()  # as training does (snnlib.memory), for every implementation timed here
    prims = _floor.primitives()
    results = []
    for kind in a.cases.split(","):
        if kind not in CASES:
            raise SystemExit(f"case {kind!r}: expected one of {', '.join(CASES)}.")
        sizes, B, T = CASES[kind]
        rasters, labels, extra = _inputs(kind, n_batches)
        dense = kind in DENSE_INPUT
        ours_name = "snnlib-dense-input" if dense else "snnlib"
        # the dense path for comparison: dense hidden projections (and, for a dense input, the input's)
        dense_name = "snnlib-dense-input-dense-hidden" if dense else "snnlib-dense-hidden"
        impls = [ours_name, "snntorch"] + ([dense_name] if (len(sizes) > 3 or dense) else [])
        times, seen = _interleaved(impls, sizes, rasters, labels, rounds)
        times["snnlib"] = times.pop(ours_name)
        if dense_name in times:
            times["snnlib-dense-hidden"] = times.pop(dense_name)
        summ = _summary(times, "snnlib", "snntorch")
        med = summ["median_s"]
        spikes = [statistics.mean(s[l] for s in seen) for l in range(len(sizes) - 1)]
        floor = _floor.bptt_floor(prims, sizes, B, T, spikes)
        mem = {}
        for impl in (ours_name, "snntorch"):
            if a.no_memory:
                mem["snntorch" if impl == "snntorch" else "snnlib"] = float("nan")
                continue
            out = subprocess.run([sys.executable, __file__, "--one", impl, kind] + (["--quick"] if a.quick else []),
                                 capture_output=True, text=True, check=True)
            mem["snntorch" if impl == "snntorch" else "snnlib"] = \
                json.loads(out.stdout.strip().splitlines()[-1])["training_peak_mib"]
        ours, theirs = med["snnlib"], med["snntorch"]
        r = {"input": kind, "sizes": list(sizes), "batch": B, "steps": T, "rounds": rounds,
             "batches_per_round": n_batches,
             "snnlib_samples_per_s": B / ours, "snntorch_samples_per_s": B / theirs,
             "speedup": summ["ratio_median"], "speedup_range": summ["ratio_range"],
             "speedup_rounds": summ["ratio_rounds"],
             "floor_s": floor["floor_s"], "floor_parts_s": floor["parts_s"],
             "floor_fraction_snnlib": floor["floor_s"] / ours, "floor_fraction_snntorch": floor["floor_s"] / theirs,
             "spikes_per_sample": [x / B for x in spikes],
             "input_spikes_per_sample": float(sum(r.t.numel() for r in rasters)) / (B * len(rasters)),
             "training_peak_mib_snnlib": mem["snnlib"], "training_peak_mib_snntorch": mem["snntorch"], **extra}
        if "snnlib-dense-hidden" in med:
            r["speedup_dense_hidden"] = theirs / med["snnlib-dense-hidden"]
        results.append(r)
        lo, hi = r["speedup_range"]
        print(f"{kind:24s} snnlib {r['snnlib_samples_per_s']:7.1f}/s  snnTorch {r['snntorch_samples_per_s']:6.1f}/s  "
              f"speedup {r['speedup']:5.2f}x [{lo:.2f}, {hi:.2f}]" +
              (f" (dense hidden {r['speedup_dense_hidden']:.2f}x)" if "speedup_dense_hidden" in r else "") +
              f"  floor fraction {r['floor_fraction_snnlib']:.2f} (snnTorch {r['floor_fraction_snntorch']:.3f})  "
              f"training peak MiB {mem['snnlib']:.0f} vs {mem['snntorch']:.0f}")
    _results.write("bptt", "BPTT training step vs snnTorch: 784-800-10 (B=64, T=100) and 2312-512-512-10 "
                   "(B=32, T=300), 1 thread, interleaved", results, a.quick, primitives=prims.as_dict())


if __name__ == "__main__":
    main()
