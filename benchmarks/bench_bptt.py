"""BPTT training throughput and peak memory: snnlib's clock-driven CuBa-LIF vs snnTorch ``Synaptic``.

Network 784-800-10, batch 64, T = 100 steps of 1 ms, CE loss on output spike counts, Adam; one
thread (``torch.set_num_threads(1)``; the machine's second core is shared). Two inputs:

* ``mnist-ttfs``: real MNIST digits in time-to-first-spike code (one spike per non-black pixel).
* ``nmnist-like``: Bernoulli spikes at the density of the real N-MNIST recordings in 1 ms bins
  (measured here from the development recordings), on the same 784 inputs.

Both implementations train the same network on the same batches in the same process, alternating,
so machine load affects both; the ratio is the result. Also reported: the share of the *dense
matmul floor* reached, i.e. the time of the dense matmuls alone that a clock-driven layer stack
must do (forward and backward of ``[T*B, 784] x [784, 800]`` and ``[T*B, 800] x [800, 10]``)
divided by the measured step time (above 1 means sparsity beat the dense floor). Peak memory:
each implementation also runs alone in a fresh subprocess; reported is its peak resident memory
during training (``VmHWM``, reset through ``/proc/self/clear_refs`` once the data are loaded)
minus the resident memory at that point, i.e. what training adds (Linux only).
Writes ``benchmarks/results/bptt.json``.

    .venv/bin/python benchmarks/bench_bptt.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import _results

B, T, SIZES = 64, 100, (784, 800, 10)
ALPHA, BETA, THETA = 0.75, 0.97, 1.0  # lava-dl's NMNIST decays (current 0.25, voltage 0.03)


def _inputs(kind: str, n_batches: int):
    import torch

    from snnlib import data, encoding

    if kind == "mnist-ttfs":
        x, y = data.load_mnist("test")
        batches = [slice(i * B, (i + 1) * B) for i in range(n_batches)]
        return [encoding.ttfs_raster(x[b], T, 1.0) for b in batches], [torch.as_tensor(y[b]) for b in batches]
    ds = data.NMNIST("train")
    recs = [ds[i][0] for i in range(50)]
    density = float(encoding.events_raster(recs, 300, 1.0).t.numel()) / (300 * 50 * 2312)
    g = torch.Generator().manual_seed(0)
    rasters = [(torch.rand(T, B, SIZES[0], generator=g) < density).float() for _ in range(n_batches)]
    labels = [torch.randint(0, 10, (B,), generator=g) for _ in range(n_batches)]
    from snnlib.clock import Raster

    return [Raster.from_dense(r) for r in rasters], labels, density


def _ours():
    import torch

    from snnlib.clock import ClockNetwork, CubaDiscrete

    net = ClockNetwork(SIZES, CubaDiscrete(ALPHA, BETA, THETA), generator=torch.Generator().manual_seed(0))
    return net, (lambda r: net(r)[0])


def _snntorch():
    import snntorch as snn
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = torch.nn.Linear(784, 800), torch.nn.Linear(800, 10)
            self.l1 = snn.Synaptic(alpha=ALPHA, beta=BETA, threshold=THETA)
            self.l2 = snn.Synaptic(alpha=ALPHA, beta=BETA, threshold=THETA)

        def forward(self, x):
            syn1, mem1 = self.l1.init_synaptic()
            syn2, mem2 = self.l2.init_synaptic()
            out = []
            for t in range(x.shape[0]):
                s1, syn1, mem1 = self.l1(self.fc1(x[t]), syn1, mem1)
                s2, syn2, mem2 = self.l2(self.fc2(s1), syn2, mem2)
                out.append(s2)
            return torch.stack(out)

    net = Net()
    return net, (lambda r: net(r.to_dense()))


def _step_time(make, rasters, labels, repeats):
    import torch

    from snnlib.losses import count_cross_entropy

    net, forward = make()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    times = []
    for _ in range(repeats):
        for r, y in zip(rasters, labels):
            t0 = time.perf_counter()
            loss = count_cross_entropy(forward(r), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]  # median step


def _dense_floor(repeats=5):
    import torch

    x = torch.rand(T * B, 784)
    w1, w2 = torch.rand(800, 784, requires_grad=True), torch.rand(10, 800, requires_grad=True)
    s = torch.rand(T * B, 800)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        (x @ w1.t()).sum().backward()
        (s.requires_grad_() @ w2.t()).sum().backward()
        best = min(best, time.perf_counter() - t0)
    return best


def _one(impl: str, kind: str, n_batches: int):
    import numba
    import torch

    torch.set_num_threads(1)
    numba.set_num_threads(1)
    got = _inputs(kind, n_batches)
    rasters, labels = got[0], got[1]
    # one step first, so that compilation (numba) and one-off allocations are not counted
    make = _ours if impl == "snnlib" else _snntorch
    _step_time(make, rasters[:1], labels[:1], 1)
    peak, increase = _results.peak_increase_mib(lambda: _step_time(make, rasters, labels, 1))
    return {"peak_rss_mib": peak, "training_peak_mib": increase}


def main():
    import numba

    numba.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few batches (smoke test)")
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    n_batches, repeats = (2, 1) if a.quick else (4, 3)
    if a.one:
        print(json.dumps(_one(a.one[0], a.one[1], n_batches)))
        return
    import torch

    torch.set_num_threads(1)
    floor = _dense_floor()
    results = []
    for kind in ("mnist-ttfs", "nmnist-like"):
        got = _inputs(kind, n_batches)
        rasters, labels = got[0], got[1]
        ours = theirs = float("inf")
        for _ in range(2):  # alternate, so slow phases of the shared machine hit both
            ours = min(ours, _step_time(_ours, rasters, labels, repeats))
            theirs = min(theirs, _step_time(_snntorch, rasters, labels, repeats))
        mem = {}
        for impl in ("snnlib", "snntorch"):
            out = subprocess.run([sys.executable, __file__, "--one", impl, kind] + (["--quick"] if a.quick else []),
                                 capture_output=True, text=True, check=True)
            mem[impl] = json.loads(out.stdout.strip().splitlines()[-1])["training_peak_mib"]
        r = {"input": kind, "snnlib_samples_per_s": B / ours, "snntorch_samples_per_s": B / theirs,
             "speedup": theirs / ours, "dense_floor_share_snnlib": floor / ours,
             "dense_floor_share_snntorch": floor / theirs,
             "input_spikes_per_sample": float(sum(r.t.numel() for r in rasters)) / (B * len(rasters)),
             "training_peak_mib_snnlib": mem["snnlib"], "training_peak_mib_snntorch": mem["snntorch"]}
        if len(got) > 2:
            r["nmnist_density"] = got[2]
        results.append(r)
        print(f"{kind:12s} snnlib {r['snnlib_samples_per_s']:7.1f}/s  snnTorch {r['snntorch_samples_per_s']:6.1f}/s  "
              f"speedup {r['speedup']:5.2f}x  dense-floor share {r['dense_floor_share_snnlib']:.2f}  "
              f"training peak MiB {mem['snnlib']:.0f} vs {mem['snntorch']:.0f}")
    _results.write("bptt", "BPTT training step, 784-800-10, B=64, T=100, 1 thread", results, a.quick,
                   dense_floor_s=floor)

if __name__ == "__main__":
    main()
