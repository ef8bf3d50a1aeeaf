"""Integrated event network training steps against the exact one, quickly: ``adjusted`` and ``piggyback``
training steps (PS(3), linear rule, dt = 1 ms) as ratios to the exact BATS training step, measured in
the same process, rounds interleaved (median of per-round ratios), one thread, six batches of 50 MNIST
training digits, as :mod:`bench_integrated` (784-800-10, TTFS input, K = 30), and the peak memory an
adjusted training step adds (three measurements: the glibc heap state makes it vary). Prints only;
writes no results file.

    SNNLIB_DATA=/work/shared/data NUMBA_NUM_THREADS=1 .venv/bin/python benchmarks/bench_integrated_train.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import _results

B, N_BATCHES = 50, 6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()

    import numba
    import torch

    from snnlib.data import datasets as data
    from snnlib.data import encoding
    from snnlib.events.layer import event_layer
    from snnlib.model.discretization import Discretization as D
    from snnlib.training.losses import spike_count_loss
    from snnlib.training.schemes.spiketime import BatsConfig

    torch.set_num_threads(1)
    numba.set_num_threads(1)
    images, labels = data.load_mnist("train")
    xs = [encoding.ttfs(images[i * B:(i + 1) * B], 100.0, dtype=torch.float32) for i in range(N_BATCHES + 1)]
    ys = [torch.as_tensor(labels[i * B:(i + 1) * B]) for i in range(N_BATCHES + 1)]
    cfg = BatsConfig()
    ph, po = cfg.params()
    g = torch.Generator().manual_seed(0)
    init = [torch.rand(800, 784, generator=g) * 2 - 1, torch.rand(10, 800, generator=g) * 2 - 1]

    def train_rate(d, gradient):
        W = [w.clone().requires_grad_() for w in init]
        opt = torch.optim.Adam(W, lr=cfg.lr)

        def step(x, y):
            h, c = event_layer(x, W[0], ph, d, t_max=200.0, max_spikes=30, gradient=gradient)
            o, _ = event_layer(h, W[1], po, d, t_max=200.0, max_spikes=30, gradient=gradient, in_counts=c)
            loss = spike_count_loss(o, y, cfg.target_true, cfg.target_false)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        def run():
            t0 = time.perf_counter()
            for x, y in zip(xs[1:], ys[1:]):
                step(x, y)
            return N_BATCHES * B / (time.perf_counter() - t0)
        step(xs[0], ys[0])  # compile / warm up
        return run

    ps3 = D("ps", 3, 1.0, "linear")
    methods = {"adjusted": train_rate(ps3, "adjusted"), "piggyback": train_rate(ps3, "piggyback"),
               "exact": train_rate(D(), "exact")}
    rates = {k: [] for k in methods}
    for _ in range(a.rounds):
        for k, run in methods.items():
            rates[k].append(run())
    for k, v in rates.items():
        print(f"train/{k}: median {statistics.median(v):.0f} samples/s, rounds {[round(r) for r in v]}")
    for k in ("adjusted", "piggyback"):
        r = [u / e for u, e in zip(rates[k], rates["exact"])]
        print(f"train/{k} vs exact: {statistics.median(r):.3f}x (median of per-round ratios)")
    tr = train_rate(ps3, "adjusted")
    peaks = [_results.peak_increase_mib(tr) for _ in range(3)]
    print("adjusted training step (6 batches), peak / added MiB: " + ", ".join(f"{p:.0f} / {d:.1f}" for p, d in peaks))


if __name__ == "__main__":
    main()
