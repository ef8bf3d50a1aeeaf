"""Training throughput on a GPU against the CPU kernels of the same machine, MNIST 784-800-10,
batch 50 (BATS's published setting), real training digits.

Methods (each a forward + backward + Adam step; inputs encoded and moved before the timer):

* ``spiketime_cpu_1`` / ``spiketime_cpu_all``: the exact spike-time network
  (:class:`snnlib.training.schemes.spiketime.SpikeTimeNetwork`, BATS's multi-spike MNIST settings) on
  the numba CPU kernels, one thread / every core;
* ``spiketime_cuda``: the same network, the same initial weights, on the GPU
  (:mod:`snnlib.events.kernels.exact_cuda`);
* ``euler_adjusted_cpu_1`` / ``euler_adjusted_cuda`` and ``euler_piggyback_*``: that network
  integrated by forward-Euler (1 ms, linear spike rule; the direct-training chapter's setting)
  with the adjusted / piggyback gradient, CPU kernels (one thread) / GPU
  (:mod:`snnlib.events.kernels.integrated_cuda`);
* ``bptt_cuda``: snnlib's clock-driven BPTT network (:class:`snnlib.clock.network.ClockNetwork`, sparse
  input, T = 100 steps of 1 ms) on the GPU (its PyTorch path), and ``bptt_cuda_compiled``: the same
  under ``torch.compile`` (recorded with the error if it fails);
* ``snntorch_cuda``: snnTorch ``Synaptic`` layers, dense raster, on the GPU (the BPTT reference).

Also recorded: the first batch's loss on CPU and GPU for the spike-time network (the kernels
agree to rounding) and the GPU's name. Without CUDA the benchmark says so and writes nothing;
``--device cpu --quick`` runs the same code on the CPU as a smoke check of the script.

    SNNLIB_DATA=... python benchmarks/bench_gpu.py [--batches 20] [--quick] [--device cuda]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numba
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _results import write  # noqa: E402

B, T_STEPS, SIZES = 50, 100, (784, 800, 10)


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _time(step, batches, dev, warmup: int) -> float:
    """Samples per second of ``step`` over ``batches`` after ``warmup`` untimed batches."""
    for x, y in batches[:warmup]:
        step(x, y)
    _sync(dev)
    t0 = time.perf_counter()
    for x, y in batches[warmup:]:
        step(x, y)
    _sync(dev)
    return (len(batches) - warmup) * B / (time.perf_counter() - t0)


def _spiketime(dev, threads, images, labels, n, warmup, gradient=None):
    """The spike-time network, or with ``gradient`` its Euler-integrated twin (1 ms, linear)."""
    from snnlib.data import encoding
    from snnlib.model.discretization import Discretization
    from snnlib.training.losses import spike_count_loss
    from snnlib.training.schemes.spiketime import BatsConfig, SpikeTimeNetwork

    numba.set_num_threads(threads)
    cfg = BatsConfig()
    net = SpikeTimeNetwork(cfg, dtype=torch.float32, generator=torch.Generator().manual_seed(0))
    if gradient is not None:
        net = net.with_(Discretization("euler", None, 1.0, "linear"), gradient)
    net = net.to(dev)
    from snnlib.training.loop import make_adam
    opt = make_adam(net.parameters(), cfg.lr)
    batches = [(encoding.ttfs(images[i:i + B], 100.0, dtype=torch.float32).to(dev),
                torch.as_tensor(labels[i:i + B]).to(dev)) for i in range(0, n * B, B)]
    with torch.no_grad():
        first = float(spike_count_loss(net(batches[0][0])[0], batches[0][1], cfg.target_true, cfg.target_false))

    def step(x, y):
        out, _ = net(x)
        loss = spike_count_loss(out, y, cfg.target_true, cfg.target_false)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return _time(step, batches, dev, warmup), first


def _bptt(dev, images, labels, n, warmup, compiled: bool):
    from snnlib.clock.network import ClockNetwork
    from snnlib.clock.recurrence import CubaDiscrete
    from snnlib.data import encoding
    from snnlib.device import to_device
    from snnlib.training.losses import count_cross_entropy

    net = ClockNetwork(SIZES, CubaDiscrete(math.exp(-1.0 / 130.0), math.exp(-1.0 / 260.0), 1.0),
                       generator=torch.Generator().manual_seed(0), sparse_hidden=True).to(dev)
    from snnlib.training.loop import make_adam
    opt = make_adam(net.parameters(), 1e-3)
    fwd = torch.compile(net) if compiled else net
    batches = [(to_device(encoding.ttfs_raster(images[i:i + B], T_STEPS, 1.0), dev),
                torch.as_tensor(labels[i:i + B]).to(dev)) for i in range(0, n * B, B)]

    def step(x, y):
        out, _ = fwd(x)
        loss = count_cross_entropy(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return _time(step, batches, dev, warmup)


def _snntorch(dev, images, labels, n, warmup):
    import snntorch as snn
    import snntorch.functional as SF

    from snnlib.data import encoding

    alpha, beta = math.exp(-1.0 / 130.0), math.exp(-1.0 / 260.0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = torch.nn.Linear(784, 800), torch.nn.Linear(800, 10)
            self.l1 = snn.Synaptic(alpha=alpha, beta=beta)
            self.l2 = snn.Synaptic(alpha=alpha, beta=beta)

        def forward(self, x):
            s1, m1 = self.l1.init_synaptic()
            s2, m2 = self.l2.init_synaptic()
            out = []
            for t in range(x.shape[0]):
                spk, s1, m1 = self.l1(self.fc1(x[t]), s1, m1)
                o, s2, m2 = self.l2(self.fc2(spk), s2, m2)
                out.append(o)
            return torch.stack(out)

    torch.manual_seed(0)
    net = Net().to(dev)
    from snnlib.training.loop import make_adam
    opt = make_adam(net.parameters(), 1e-3)
    loss_fn = SF.ce_count_loss()
    batches = [(encoding.ttfs_raster(images[i:i + B], T_STEPS, 1.0).to_dense().to(dev),
                torch.as_tensor(labels[i:i + B]).to(dev)) for i in range(0, n * B, B)]

    def step(x, y):
        loss = loss_fn(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return _time(step, batches, dev, warmup)


def main(argv=None) -> dict | None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=20, help="timed batches per method")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--device", default="cuda", help="cuda (the benchmark) or cpu (a smoke check of the script)")
    ap.add_argument("--quick", action="store_true", help="a few batches; writes gpu_quick.json")
    a = ap.parse_args(argv)
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        print("bench_gpu: no CUDA device visible; nothing measured (the GPU benchmark needs a GPU).")
        return None
    if a.quick:
        a.batches, a.warmup = 2, 1
    from snnlib.data import datasets as data
    from snnlib.events.kernels import exact_cuda as spiketime_cuda

    dev = torch.device(a.device)
    n = a.batches + a.warmup
    images, labels = data.load_mnist("train")
    torch.set_num_threads(os.cpu_count() or 1)
    results = []
    st = {}
    cpu, every = torch.device("cpu"), numba.config.NUMBA_NUM_THREADS
    for name, d, threads, gradient in (("spiketime_cpu_1", cpu, 1, None), ("spiketime_cpu_all", cpu, every, None),
                                       ("spiketime_cuda", dev, every, None),
                                       ("euler_adjusted_cpu_1", cpu, 1, "adjusted"),
                                       ("euler_adjusted_cuda", dev, every, "adjusted"),
                                       ("euler_piggyback_cpu_1", cpu, 1, "piggyback"),
                                       ("euler_piggyback_cuda", dev, every, "piggyback")):
        rate, first = _spiketime(d, threads, images, labels, n, a.warmup, gradient)
        st[name] = first
        results.append({"method": name, "samples_per_s": rate, "first_batch_loss": first, "numba_threads": threads})
        print(f"{name}: {rate:.0f} samples/s", flush=True)

    def save():
        rates = {r["method"]: r.get("samples_per_s") for r in results}
        extra = {"device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
                 "cuda_kernels": bool(spiketime_cuda.supports(torch.empty(0, device=dev))),
                 "batch": B, "sizes": list(SIZES),
                 "cuda_over_cpu_1": rates["spiketime_cuda"] / rates["spiketime_cpu_1"],
                 "cuda_over_cpu_all": rates["spiketime_cuda"] / rates["spiketime_cpu_all"],
                 "euler_adjusted_cuda_over_cpu_1": rates["euler_adjusted_cuda"] / rates["euler_adjusted_cpu_1"],
                 "first_loss_gap": abs(st["spiketime_cuda"] - st["spiketime_cpu_1"]),
                 "euler_first_loss_gap": abs(st["euler_adjusted_cuda"] - st["euler_adjusted_cpu_1"])}
        write("gpu", __doc__.split("\n\n")[0], results, a.quick or dev.type != "cuda", **extra)
        return extra

    # torch.compile last, and the results written before it: its compilation can take minutes
    for name, fn in (("bptt_cuda", lambda: _bptt(dev, images, labels, n, a.warmup, False)),
                     ("snntorch_cuda", lambda: _snntorch(dev, images, labels, n, a.warmup)),
                     ("bptt_cuda_compiled", lambda: _bptt(dev, images, labels, n, a.warmup, True))):
        if name == "bptt_cuda_compiled":
            extra = save()
        t0 = time.perf_counter()
        try:
            rate = fn()
            results.append({"method": name, "samples_per_s": rate, "wall_s": time.perf_counter() - t0})
            print(f"{name}: {rate:.0f} samples/s", flush=True)
        except Exception as e:  # torch.compile may not handle the sparse path: recorded, not hidden
            results.append({"method": name, "error": f"{type(e).__name__}: {str(e)[:300]}"})
            print(f"{name}: failed ({type(e).__name__})", flush=True)
    extra = save()
    return extra


if __name__ == "__main__":
    main()
