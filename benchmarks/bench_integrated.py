"""Numerically integrated event networks (snnlib.events.integrated): compiled kernels against the
PyTorch reference and the exact spike-time kernels, MNIST 784-800-10, batch 50, one thread.

All in one process, the methods interleaved round by round (so drifting machine load hits all of
them), real MNIST training digits with ``snnlib.data.encoding.ttfs`` input (100 ms), BATS's
multi-spike network (thresholds 0.2 / 1.3 in BATS units, K = 30 / 30, window 200 ms, U(-1, 1)
weights, float32 storage):

* **forward**: samples/s of the kernel forward (PS(3), linear rule, dt = 1 ms, inputs split at
  their times) against the pure-PyTorch reference :func:`snnlib.events.reference.network_forward` (the
  same computation; it is slow, so it runs on 16 digits of each batch) and the exact spike-time
  kernel forward (:mod:`snnlib.events.exact`);
* **training step** (forward + backward + Adam, spike-count loss): ``adjusted`` and
  ``piggyback`` against the exact BATS training step;
* **scaling**: forward and adjusted training samples/s for dt in 0.25 .. 4 ms at k = 3 and for
  k = 1 .. 5 at dt = 1 ms; peak memory added by an adjusted training step.

Rates are medians over interleaved rounds; the training ratios to the exact step are also given as
the range of the per-round ratios. **Fraction of floor** (:mod:`_floor`): the exact training step
against the *event floor* (:func:`_floor.event_floor`: per (event, neuron) pair a scatter-add and a
first-order decay step forward and backward, plus the input gradient past the first layer), the
adjusted and piggyback steps against the *grid floor* (:func:`_floor.grid_floor`: the same pairs'
scatter-adds, plus an order-3 polynomial step per grid point and neuron forward and one adjoint step
backward, the grid being the 1-ms steps of the 200-ms window merged with the distinct input times
off the grid and the hidden spike times), at the primitives' throughputs measured in the same
process.

Writes ``benchmarks/results/integrated.json`` (``integrated_quick.json`` with ``--quick``).

    SNNLIB_DATA=/work/shared/data .venv/bin/python benchmarks/bench_integrated.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import _floor
import _results

from snnlib.memory import keep_freed_memory

B = 50


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two batches, one round (smoke test)")
    a = ap.parse_args()
    n_batches, rounds = (2, 1) if a.quick else (6, 7)

    import numba
    import torch

    from snnlib.data import datasets as data
    from snnlib.data import encoding
    from snnlib.events.layer import event_layer
    from snnlib.events.reference import network_forward
    from snnlib.model.discretization import Discretization as D
    from snnlib.training.losses import spike_count_loss
    from snnlib.training.schemes.spiketime import BatsConfig

    torch.set_num_threads(1)

    keep_freed_memory()  # as training does (snnlib.memory), for every implementation timed here
    numba.set_num_threads(1)
    images, labels = data.load_mnist("train")
    xs = [encoding.ttfs(images[i * B:(i + 1) * B], 100.0, dtype=torch.float32) for i in range(n_batches + 1)]
    ys = [torch.as_tensor(labels[i * B:(i + 1) * B]) for i in range(n_batches + 1)]
    cfg = BatsConfig()
    ph, po = cfg.params()
    g = torch.Generator().manual_seed(0)
    init = [torch.rand(800, 784, generator=g) * 2 - 1, torch.rand(10, 800, generator=g) * 2 - 1]

    def forward(W, x, d, gradient):
        h, c = event_layer(x, W[0], ph, d, t_max=200.0, max_spikes=30, gradient=gradient)
        o, _ = event_layer(h, W[1], po, d, t_max=200.0, max_spikes=30, gradient=gradient, in_counts=c)
        return o, c

    def fwd_rate(d, gradient):
        def run():
            t0, hid = time.perf_counter(), 0.0
            with torch.no_grad():
                for x in xs[1:]:
                    _, c = forward(init, x, d, gradient)
                    hid += float(c.sum())
            return n_batches * B / (time.perf_counter() - t0), hid / (n_batches * B)
        return run

    def train_rate(d, gradient):
        W = [w.clone().requires_grad_() for w in init]
        from snnlib.training.loop import make_adam
        opt = make_adam(W, cfg.lr)  # the training loop's Adam (fused)

        def step(x, y):
            o, _ = forward(W, x, d, gradient)
            loss = spike_count_loss(o, y, cfg.target_true, cfg.target_false)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        def run():
            t0 = time.perf_counter()
            for x, y in zip(xs[1:], ys[1:]):
                step(x, y)
            return n_batches * B / (time.perf_counter() - t0), None
        step(xs[0], ys[0])  # compile / warm up
        return run

    def ref_rate(d):
        n_ref = 4 if a.quick else 16
        kw = dict(t_max=200.0, max_spikes=[30, 30], discretization=d)

        def run():
            t0 = time.perf_counter()
            with torch.no_grad():
                for x in xs[1:3]:
                    network_forward(x[:n_ref].double(), [w.double() for w in init], [ph, po], **kw)
            return 2 * n_ref / (time.perf_counter() - t0), None
        return run

    ps3 = D("ps", 3, 1.0, "linear")
    methods = {
        "forward/integrated": fwd_rate(ps3, "adjusted"),
        "forward/reference": ref_rate(ps3),
        "forward/exact": fwd_rate(D(), "exact"),
        "train/adjusted": train_rate(ps3, "adjusted"),
        "train/piggyback": train_rate(ps3, "piggyback"),
        "train/exact": train_rate(D(), "exact"),
    }
    for dt in (0.25, 0.5, 2.0, 4.0):
        methods[f"forward/ps3 dt={dt:g}"] = fwd_rate(D("ps", 3, dt, "linear"), "adjusted")
        methods[f"train/ps3 dt={dt:g}"] = train_rate(D("ps", 3, dt, "linear"), "adjusted")
    for k in (1, 2, 5):
        methods[f"forward/ps{k} dt=1"] = fwd_rate(D("ps", k, 1.0, "linear"), "adjusted")
        methods[f"train/ps{k} dt=1"] = train_rate(D("ps", k, 1.0, "linear"), "adjusted")
    for m in methods.values():  # compile everything before timing
        if m.__qualname__.startswith("fwd_rate"):
            m()
    rates = {k: [] for k in methods}
    hidden = {}
    for r in range(rounds):
        for name, run in methods.items():
            v, h = run()
            rates[name].append(v)
            if h is not None:
                hidden[name] = h
        print(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {statistics.median(v):.0f}/s" for k, v in rates.items()))
    med = {k: statistics.median(v) for k, v in rates.items()}
    tr = train_rate(ps3, "adjusted")
    peak, added = _results.peak_increase_mib(tr)
    results = [{"method": k, "samples_per_s": v, "rounds": rates[k], **({"hidden_spikes_per_sample": hidden[k]}
               if k in hidden else {})} for k, v in med.items()]
    ratios = {
        "forward_vs_reference": med["forward/integrated"] / med["forward/reference"],
        "forward_vs_exact": med["forward/integrated"] / med["forward/exact"],
        "train_adjusted_vs_exact": med["train/adjusted"] / med["train/exact"],
        "train_piggyback_vs_exact": med["train/piggyback"] / med["train/exact"],
    }

    def per_round(num, den):
        v = [x / y for x, y in zip(rates[num], rates[den])]
        return [min(v), max(v)]
    ratio_range = {"train_adjusted_vs_exact": per_round("train/adjusted", "train/exact"),
                   "train_piggyback_vs_exact": per_round("train/piggyback", "train/exact"),
                   "forward_vs_exact": per_round("forward/integrated", "forward/exact")}
    # floors (benchmarks/_floor.py): events and grid points per sample of the timed digits
    prims = _floor.primitives()
    events = [float(sum(torch.isfinite(x).sum() for x in xs[1:])) / (n_batches * B), hidden["forward/integrated"]]
    t_max, dt = 200.0, 1.0
    off_grid = statistics.mean(len({float(t) for t in x[b].flatten() if math.isfinite(t) and t % dt != 0.0})
                               for x in xs[1:] for b in range(len(x)))
    n_grid = t_max / dt + 1
    points = [n_grid + off_grid, n_grid + events[1]]  # hidden spike times taken as distinct (off-grid)
    floors = {"train/exact": _floor.event_floor(prims, (784, 800, 10), B, [events[0], hidden["forward/exact"]]),
              "train/adjusted": _floor.grid_floor(prims, (784, 800, 10), B, events, points, 3)}
    floors["train/piggyback"] = floors["train/adjusted"]
    floor_fraction = {k: f["floor_s"] / (B / med[k]) for k, f in floors.items()}
    for k, v in ratios.items():
        print(f"{k}: {v:.2f}x")
    print(f"adjusted training step: peak {peak:.0f} MiB, {added:.0f} MiB added")
    print("floor fractions: " + ", ".join(f"{k} {v:.3f}" for k, v in floor_fraction.items()))
    _results.write("integrated", "integrated event network (PS(3), linear, dt = 1 ms) vs the PyTorch reference "
                   "and the exact kernels, 784-800-10, batch 50, MNIST TTFS", results, a.quick, batch=B,
                   ratios=ratios, ratio_range=ratio_range, train_peak_rss_mib=peak, train_peak_added_mib=added,
                   floor_fraction=floor_fraction, floor_s={k: f["floor_s"] for k, f in floors.items()},
                   floor_parts_s={k: f["parts_s"] for k, f in floors.items()}, events_per_sample=events,
                   grid_points_per_sample=points, primitives=prims.as_dict())


if __name__ == "__main__":
    main()
