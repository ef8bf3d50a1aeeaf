"""NEST (``nest-simulator``) as an independent oracle for the CuBa-LIF network.

NEST's ``iaf_psc_exp_ps`` is this project's neuron with precise, off-grid spike times (exact
integration between events, spike times located inside the step), for any ``tau`` and ``tau_s``:
with ``C_m = 1`` pF, ``E_L = V_reset = 0`` mV, ``tau_m = tau``, ``tau_syn_ex = tau_syn_in = tau_s``
and weights in pA equal to ours, ``C_m dV/dt = -V C_m / tau_m + I`` is ``dV/dt = -V/tau + I`` and a
spike of weight ``w`` makes ``I`` jump by ``w``. Differences, each accounted for here:

- every connection has a delay of at least one resolution step: the input generators and each
  layer's connections use ``delay = resolution``, and ``l + 1`` delays are subtracted from the
  spike times of layer ``l`` (counting from 0);
- after a spike NEST holds ``V`` at ``V_reset`` for ``t_ref`` (at least one resolution step), where
  ours resets to 0 and continues at once: later spikes of a neuron differ by ``O(resolution)``;
- reset to ``V_reset = 0`` (ours: 0 or subtraction, equal for the exact flow);
- no spike cap: NEST emits every spike (compare networks whose caps do not bind).

NEST is run in a subprocess (:func:`simulate`): in one process, ``nest.ResetKernel()`` after numba's
threads had started crashed with a segmentation fault.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from snnlib.model.neuron import NeuronParams

__all__ = ["available", "simulate"]


def available() -> bool:
    """Whether ``nest`` imports (in a subprocess, for the reason in the module docstring)."""
    r = subprocess.run([sys.executable, "-c", "import nest"], capture_output=True, timeout=120)
    return r.returncode == 0


def _run(job: dict) -> list:
    """In a fresh process: the spike times of every layer, ``[layer][sample][neuron] -> array``."""
    import nest  # optional: the NEST oracle (pip install nest-simulator)

    res, t_max = job["resolution"], job["t_max"]
    nest.ResetKernel()
    nest.set(resolution=res, tics_per_ms=job["tics_per_ms"], print_time=False)
    # every sample is its own copy of the network in one simulation (one kernel, one run)
    recorded = []
    for x in job["inputs"]:  # one sample: [N_in] lists of input spike times
        gens = nest.Create("spike_generator", len(x))
        for g, times in zip(gens, x):
            # the generator is delayed by one resolution step; its times are kept as given
            g.set(spike_times=[float(t) for t in times], precise_times=True)
        prev, layers = gens, []
        for W, p in zip(job["weights"], job["params"]):
            pop = nest.Create("iaf_psc_exp_ps", W.shape[0], params=dict(
                C_m=1.0, E_L=0.0, V_reset=0.0, V_m=0.0, I_e=0.0, tau_m=p["tau"], tau_syn_ex=p["tau_s"],
                tau_syn_in=p["tau_s"], V_th=p["theta"], t_ref=res, V_min=-1e12))
            nest.Connect(prev, pop, "all_to_all", syn_spec={"weight": W, "delay": res})
            rec = nest.Create("spike_recorder")
            nest.Connect(pop, rec)
            layers.append((pop, rec))
            prev = pop
        recorded.append(layers)
    nest.Simulate(t_max + (len(job["weights"]) + 2) * res)
    out = []
    for layers in recorded:
        sample = []
        for l, (pop, rec) in enumerate(layers):
            ev = rec.get("events")
            first = pop.tolist()[0]
            times = [[] for _ in range(len(pop))]
            for s, t in zip(ev["senders"], ev["times"]):
                t = float(t) - (l + 1) * res
                if t <= t_max:
                    times[int(s) - first].append(t)
            sample.append([np.sort(np.asarray(t)) for t in times])
        out.append(sample)
    return [[out[b][l] for b in range(len(out))] for l in range(len(job["weights"]))]


def simulate(weights: Sequence[np.ndarray], params: Sequence[NeuronParams], inputs: Sequence[Sequence],
             t_max: float, resolution: float = 1e-3, tics_per_ms: int = 1_000_000) -> list:
    """Spike times (ms) of every layer of the network ``weights`` (``[N_out, N_in]`` per layer) with
    neurons ``params``, simulated by NEST's ``iaf_psc_exp_ps`` in a subprocess:
    ``result[layer][sample][neuron]`` is a sorted array. ``inputs[sample][input]``: the input spike
    times (ms, strictly positive: NEST's generators cannot emit at 0). ``resolution`` (ms) sets the
    delays and refractory hold (module docstring)."""
    for x in inputs:
        for times in x:
            if len(times) and min(times) <= 0:
                raise ValueError("NEST's spike generators emit only at t > 0: shift the input spike times")
    job = dict(weights=[np.asarray(W, dtype=np.float64) for W in weights],
               params=[dict(tau_s=p.tau_s, tau=p.tau, theta=p.theta) for p in params],
               inputs=[[list(map(float, t)) for t in x] for x in inputs], t_max=float(t_max),
               resolution=float(resolution), tics_per_ms=int(tics_per_ms))
    with tempfile.TemporaryDirectory() as d:
        src, dst = Path(d) / "job.pkl", Path(d) / "out.pkl"
        src.write_bytes(pickle.dumps(job))
        code = ("import pickle, sys; from snnlib.interop.nest import _run; "
                "open(sys.argv[2], 'wb').write(pickle.dumps(_run(pickle.loads(open(sys.argv[1], 'rb').read()))))")
        r = subprocess.run([sys.executable, "-c", code, str(src), str(dst)], capture_output=True, text=True,
                           timeout=3600)
        if r.returncode != 0:
            tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
            raise RuntimeError(f"NEST simulation failed (exit {r.returncode}): {' | '.join(tail)}")
        return pickle.loads(dst.read_bytes())
