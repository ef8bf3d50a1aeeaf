"""Training-step cost of the Yin-Yang direct-training study (seed 001's training times, issue 25):
each (integration, step, gradient) of the sweep ``direct-yinyang-fast`` against the exact spike-time
step, on the same network, data and batch, in one process, the methods interleaved round by round.

The network is the fast neuron's (5-120-3, tau_s = 5 ms, the sweep's thresholds, window and spike
buffers) at the trained weights of its continuous benchmark run
(``runs/timebins-yinyang-fast-exact/quick/seed=0``): the activity of most of training, not of the
initial weights. Every method trains from those weights on the same Yin-Yang training batches (50
points each), with its own configuration's loss (grid-fitted targets) and the training loop's step
and fused Adam, re-loading the weights at the start of every round. Reported per method: seconds per
training sample (median over 41 short rounds of 4 batches) and hidden spikes per sample; ratios of
medians, with the median and the middle half (quartiles) of the per-round ratios: each method against the exact step, Euler against PS(5) (same step and
gradient) and piggyback against adjusted (same integration and step). Measured in one process, so
machine load drifting over the run hits every method alike; the sweep's own wall times are only a
cross-check (two points share the machine there).

Writes ``benchmarks/results/direct.json`` (``direct_quick.json`` with ``--quick``).

    SNNLIB_DATA=/work/shared/data .venv/bin/python benchmarks/bench_direct.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time

import _results

from snnlib.experiments.performance import direct_label as label
from snnlib.memory import keep_freed_memory

SWEEP = "direct-yinyang-fast"
BENCHMARK_RUN = "timebins-yinyang-fast-exact/quick/seed=0"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two batches, one round (smoke test)")
    a = ap.parse_args()
    n_batches, rounds = (2, 1) if a.quick else (4, 41)  # short rounds, many: load drifts within seconds

    import numba
    import torch

    from snnlib.paths import runs_root
    from snnlib.study import plan
    from snnlib.training import driver
    from snnlib.training.loop import default_step, make_adam, split_batches

    torch.set_num_threads(1)
    numba.set_num_threads(1)
    keep_freed_memory()  # as training does (snnlib.memory)

    exact_model, exact_cfg = driver.load_model(runs_root() / BENCHMARK_RUN)
    state = {k: v.clone() for k, v in exact_model.state_dict().items()}
    scheme = driver.scheme_of(exact_cfg)
    sets = scheme.data(exact_cfg)
    train = split_batches({"train": sets["train"]}, exact_cfg.batch_size, lambda s: scheme.encoder(exact_cfg, s),
                          exact_cfg.seed)["train"]
    data = [b for _, b in zip(range(n_batches + 1), train)]  # the first batch warms up (compiles)

    cases = {"exact": (exact_cfg, scheme)}
    for p in plan.sweep(SWEEP).points("quick"):
        if p.params["seed"] == exact_cfg.seed:
            cfg = driver.scheme_of("integrated").config.from_dict(p.config)
            cases[label(cfg.integration, cfg.dt, cfg.gradient)] = (cfg, driver.scheme_of(cfg))

    def trainer(cfg, sch):
        model = sch.build(cfg, torch.Generator().manual_seed(cfg.seed))
        model.load_state_dict(state)  # the same names and shapes: integrated networks are exact ones re-simulated
        loss, step = sch.loss(cfg), getattr(sch, "step", default_step)
        opt = make_adam(model.parameters(), cfg.lr)

        def one(x, y):
            opt.zero_grad(set_to_none=True)
            step(model, x, y, loss)
            opt.step()

        def run():
            model.load_state_dict(state)
            t0 = time.perf_counter()
            for x, y in data[1:]:
                one(x, y)
            seconds = (time.perf_counter() - t0) / (n_batches * len(data[1][1]))
            with torch.no_grad():
                model.load_state_dict(state)
                hidden = sum(float(sum(c.sum() for c in model(x)[1])) for x, _ in data[1:])
            return seconds, hidden / (n_batches * len(data[1][1]))

        one(*data[0])  # compile, warm up
        return run

    methods = {name: trainer(*case) for name, case in cases.items()}
    secs = {k: [] for k in methods}
    hidden = {}
    for r in range(rounds):
        for name, run in methods.items():
            s, h = run()
            secs[name].append(s)
            hidden[name] = h
        if (r + 1) % 10 == 0 or r + 1 == rounds:
            print(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {1e3 * statistics.median(v):.3f} ms"
                                                         for k, v in secs.items()))
    med = {k: statistics.median(v) for k, v in secs.items()}

    def ratio(num, den):
        per_round = sorted(x / y for x, y in zip(secs[num], secs[den]))
        q = len(per_round) // 4  # the middle half of the per-round ratios: a few rounds hit by load spikes
        return {"ratio": med[num] / med[den], "median_of_rounds": statistics.median(per_round),
                "lo": per_round[q], "hi": per_round[-1 - q]}

    ratios = {f"{k} / exact": ratio(k, "exact") for k in methods if k != "exact"}
    for k in methods:
        if k.startswith("euler "):
            ratios[f"{k} / ps5"] = ratio(k, k.replace("euler ", "ps5 ", 1))
        if k.endswith(" piggyback"):
            ratios[f"{k} / adjusted"] = ratio(k, k.removesuffix("piggyback") + "adjusted")
    for k, v in ratios.items():
        print(f"{k}: {v['ratio']:.2f} ({v['lo']:.2f}-{v['hi']:.2f})")
    results = [{"method": k, "s_per_sample": med[k], "rounds_s_per_sample": secs[k],
                "hidden_spikes_per_sample": hidden[k]} for k in methods]
    _results.write("direct", f"training steps of {SWEEP} (Yin-Yang 5-120-3, tau_s = {exact_cfg.tau_s:g} ms) at the "
                   f"trained weights of {BENCHMARK_RUN}, batch {exact_cfg.batch_size}", results, a.quick,
                   batch=exact_cfg.batch_size, tau_s=exact_cfg.tau_s, weights=BENCHMARK_RUN, sweep=SWEEP,
                   batches=n_batches, rounds=rounds, ratios=ratios)


if __name__ == "__main__":
    main()
