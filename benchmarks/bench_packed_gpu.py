"""Packed training throughput on a GPU: R = 1, 4, 16 exact spike-time trainings of MNIST 784-800-10,
batch 50 (BATS's multi-spike settings), in one process and one kernel launch per layer
(:mod:`snnlib.training.packed`).

Methods (each timed step: every run's forward, loss, backward and Adam step; inputs encoded and
moved before the timer; run ``r`` trains on its own digits, seed ``r``):

* ``packed``: a :class:`snnlib.events.network.PackedEventNetwork` of ``R`` networks, one launch per
  layer for all runs, one Adam per run;
* ``separate`` (``--separate``): the same ``R`` networks stepped one after the other in one process
  (what ``R`` trainings cost without packing).

Reported per method and ``R``: samples per second in total and per run, and for ``packed`` the gain
over ``R = 1``. Also the largest gap between a packed run's first-batch loss and the same run's alone
(0 on a CPU; GPU atomics sum in no fixed order). Without CUDA the benchmark says so in one line and
writes nothing; ``--device cpu`` runs the same code on the CPU (the CPU comparison of packed and
separate runs; written as ``packed_gpu_quick.json``, not committed).

    SNNLIB_DATA=... python benchmarks/bench_packed_gpu.py [--runs 1,4,16] [--batches 10] [--separate]
"""

from __future__ import annotations

import argparse
import os
import sys

import numba
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _results import write  # noqa: E402
from bench_gpu import B, SIZES  # noqa: E402
from bench_gpu import _time as _samples_per_s  # noqa: E402



def _setup(R, dev, images, labels, n):
    """``R`` spike-time networks (seeds ``0 .. R-1``), their Adams and ``n`` batches ``[R, B, ...]``
    (run ``r``'s own digits)."""
    from snnlib.data import encoding
    from snnlib.training.loop import make_adam
    from snnlib.training.schemes.spiketime import BatsConfig, SpikeTimeNetwork

    cfg = BatsConfig()
    nets = [SpikeTimeNetwork(cfg, dtype=torch.float32, generator=torch.Generator().manual_seed(r)).to(dev)
            for r in range(R)]
    opts = [make_adam(net.parameters(), cfg.lr) for net in nets]  # the training loop's Adam, as packed training
    batches = []
    for i in range(n):
        idx = [((i * R + r) * B) % (len(labels) - B) for r in range(R)]
        x = torch.stack([encoding.ttfs(images[j:j + B], 100.0, dtype=torch.float32) for j in idx])
        y = torch.stack([torch.as_tensor(labels[j:j + B]) for j in idx])
        batches.append((x.to(dev), y.to(dev)))
    return cfg, nets, opts, batches


def _time(step, batches, dev, warmup: int) -> float:
    """Seconds per step (:func:`bench_gpu._time` gives samples per second of batches of ``B``)."""
    return B / _samples_per_s(step, batches, dev, warmup)


def _packed(R, dev, images, labels, n, warmup):
    from snnlib.events.network import PackedEventNetwork
    from snnlib.training.losses import spike_count_loss

    cfg, nets, opts, batches = _setup(R, dev, images, labels, n)
    model = PackedEventNetwork(nets)
    with torch.no_grad():  # the first batch's losses, packed and alone
        x, y = batches[0]
        out = model(x)[0]
        gap = max(abs(float(spike_count_loss(out[r], y[r], cfg.target_true, cfg.target_false))
                      - float(spike_count_loss(nets[r](x[r])[0], y[r], cfg.target_true, cfg.target_false)))
                  for r in range(R))

    def step(x, y):
        for opt in opts:
            opt.zero_grad(set_to_none=True)
        outs = model(x)[0].unbind(0)
        torch.autograd.backward([spike_count_loss(outs[r], y[r], cfg.target_true, cfg.target_false)
                                 for r in range(R)])
        for opt in opts:
            opt.step()

    return _time(step, batches, dev, warmup), gap


def _separate(R, dev, images, labels, n, warmup):
    from snnlib.training.losses import spike_count_loss

    cfg, nets, opts, batches = _setup(R, dev, images, labels, n)

    def step(x, y):
        for r, (net, opt) in enumerate(zip(nets, opts)):
            opt.zero_grad(set_to_none=True)
            spike_count_loss(net(x[r])[0], y[r], cfg.target_true, cfg.target_false).backward()
            opt.step()

    return _time(step, batches, dev, warmup)


def main(argv=None) -> list | None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", default="1,4,16", help="comma-separated numbers of packed runs R")
    ap.add_argument("--batches", type=int, default=10, help="timed batches (steps) per R")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--separate", action="store_true", help="also time the R runs stepped one after the other")
    ap.add_argument("--device", default="cuda", help="cuda (the benchmark) or cpu (the CPU comparison)")
    ap.add_argument("--threads", type=int, default=1, help="numba threads on the CPU")
    ap.add_argument("--quick", action="store_true", help="2 timed batches; writes packed_gpu_quick.json")
    a = ap.parse_args(argv)
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        print("bench_packed_gpu: no CUDA device visible; nothing measured (this benchmark needs a GPU).")
        return None
    if a.quick:
        a.batches, a.warmup = 2, 1
    runs = [int(r) for r in a.runs.split(",")]
    from snnlib.data import datasets as data
    from snnlib.events.kernels import exact_cuda

    dev = torch.device(a.device)
    numba.set_num_threads(a.threads)
    torch.set_num_threads(a.threads if dev.type == "cpu" else (os.cpu_count() or 1))
    images, labels = data.load_mnist("train")
    n = a.batches + a.warmup
    results = []
    base = None
    for R in runs:
        methods = [("packed", lambda: _packed(R, dev, images, labels, n, a.warmup))]
        if a.separate:
            methods.append(("separate", lambda: (_separate(R, dev, images, labels, n, a.warmup), None)))
        for name, fn in methods:
            sec, gap = fn()
            total = R * B / sec
            row = {"method": name, "runs": R, "samples_per_s_total": total, "samples_per_s_per_run": total / R,
                   "step_s": sec}
            if gap is not None:
                row["first_loss_gap"] = gap
            if name == "packed":
                base = total if R == 1 else base
                if base:
                    row["total_over_r1"] = total / base
            results.append(row)
            print(f"{name} R={R}: {total:.0f} samples/s in total, {total / R:.0f} per run"
                  + (f", first-loss gap {gap:.2e}" if gap is not None else ""), flush=True)
    extra = {"device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
             "cuda_kernels": bool(exact_cuda.supports(torch.empty(0, device=dev))), "batch": B,
             "sizes": list(SIZES), "numba_threads": a.threads if dev.type == "cpu" else None}
    write("packed_gpu", __doc__.split("\n\n")[0], results, a.quick or dev.type != "cuda", **extra)
    return results


if __name__ == "__main__":
    main()
