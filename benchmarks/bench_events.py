"""Event-driven forward throughput of the 784-800-10 CuBa-LIF network on MNIST time-to-first-spike input.

For each time handling (``exact`` event-driven closed form, ``euler`` and ``ps`` order 3 at a few
``dt``) it measures samples/s of ``snnlib.events.reference.network_forward`` (pure PyTorch, one thread) and
the peak memory the forward passes add (a fresh process per case; see
``_results.peak_increase_mib``). The network is BATS's multi-spike MNIST network as initialised
for training. Writes ``benchmarks/results/events.json``.

    .venv/bin/python benchmarks/bench_events.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import _results

CASES = [
    {"integrator": "exact"},
    {"integrator": "euler", "dt": 1.0, "spike_rule": "linear"},
    {"integrator": "euler", "dt": 4.0, "spike_rule": "linear"},
    {"integrator": "ps", "order": 3, "dt": 1.0, "spike_rule": "newton"},
    {"integrator": "ps", "order": 3, "dt": 4.0, "spike_rule": "newton"},
]


def measure(case: dict, batch: int, repeats: int) -> dict:
    import torch

    from snnlib.data import datasets as data
    from snnlib.data import encoding

    torch.set_num_threads(1)
    x, _ = data.load_mnist("test")
    inp = encoding.ttfs(x[:batch], 100.0)
    # BATS's multi-spike MNIST network as initialised for training: U(-1, 1) weights, thresholds
    # 0.2 / 1.3 in BATS's units (200 / 1300 here: snnlib.training.schemes.spiketime.BatsConfig)
    from snnlib.training.schemes.spiketime import BatsConfig

    cfg = BatsConfig()
    p_h, p_o = cfg.params()
    g = torch.Generator().manual_seed(0)
    w1 = torch.rand(800, 784, generator=g, dtype=torch.float64) * 2 - 1
    w2 = torch.rand(10, 800, generator=g, dtype=torch.float64) * 2 - 1
    from snnlib.events.reference import network_forward
    from snnlib.model.discretization import Discretization

    kw = dict(t_max=200.0, max_spikes=[30, 30], discretization=Discretization(**case))
    times = []

    def timed():
        with torch.no_grad():
            for _ in range(repeats):
                t0 = time.perf_counter()
                out = network_forward(inp, [w1, w2], [p_h, p_o], **kw)
                times.append((time.perf_counter() - t0, out))

    with torch.no_grad():
        network_forward(inp, [w1, w2], [p_h, p_o], **kw)  # warm-up
    peak, increase = _results.peak_increase_mib(timed)
    best, out = min(times, key=lambda x: x[0])
    return {
        **case,
        "batch": batch,
        "samples_per_s": batch / best,
        "hidden_spikes_per_sample": float(out[0][1].sum()) / batch,
        "output_spikes_per_sample": float(out[1][1].sum()) / batch,
        "peak_rss_mib": peak,
        "forward_peak_mib": increase,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small batch, one repeat (smoke test)")
    ap.add_argument("--case", type=int, help=argparse.SUPPRESS)  # internal: run one case in this process
    a = ap.parse_args()
    batch, repeats = (4, 1) if a.quick else (16, 3)
    if a.case is not None:
        print(json.dumps(measure(CASES[a.case], batch, repeats)))
        return
    results = []
    for i in range(len(CASES)):
        # one process per case: its peak memory is that case's alone
        out = subprocess.run([sys.executable, __file__, "--case", str(i)] + (["--quick"] if a.quick else []),
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(r)
        name = r["integrator"] + (f"({r['order']})" if "order" in r else "") + (f" dt={r['dt']}" if "dt" in r else "")
        print(f"{name:18s} {r['samples_per_s']:8.2f} samples/s   forward peak {r['forward_peak_mib']:6.0f} MiB   "
              f"hidden spikes/sample {r['hidden_spikes_per_sample']:.0f}")
    _results.write("events", "event-driven forward, 784-800-10, MNIST TTFS (snnlib.events.reference.network_forward)",
                   results, a.quick)

if __name__ == "__main__":
    main()
