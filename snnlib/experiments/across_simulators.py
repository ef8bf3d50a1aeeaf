"""Across simulators: networks trained in continuous time, exported to NIR and run by other
libraries' importers (:mod:`snnlib.interop.importers`) and by this project's own integrators, each at
its own time step.

A run takes the best-validation weights of the committed exact spike-time training runs (the source
sweep's seeds), exports each network to a NIR graph (:func:`snnlib.interop.nir.to_nir`, written to a
file and read back, as a user would) and simulates the test digits with every *simulator* at every
step ``h``:

- ``snntorch``, ``norse``: the importers as they import the graph; ``snntorch+corrected``,
  ``norse+corrected``: after their one documented correction (an input spike counted as a delta of
  area 1, :func:`snnlib.interop.importers.correct`);
- ``<integration>-<rule>-<input>``: this project's event network under that discretization
  (:class:`snnlib.model.discretization.Discretization`), e.g. ``euler-snap-grid``, the scheme the
  importers use (forward Euler, spikes on the grid, inputs delivered at the next grid point) with our
  reset by subtraction and spike cap.

Measured per ``(seed, simulator, h)``: test accuracy; *agreement*, the fraction of digits whose
predicted label equals the analytic (exact, event-driven) network's; output spikes per digit; the
first-output-spike time error against the analytic network (ms, digits where both spike) and the
fraction where only one of them spikes; wall time per digit (one thread). Per digit
(``test_correct``, ``exact_test_correct``): 1 where it is classified right, for the paired tests of
the findings. The prediction rule is the source's (most output spikes; ties: earliest first spike).
"""

from __future__ import annotations

import copy
import dataclasses
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
import pandas as pd
import torch
import xarray as xr
from tqdm.auto import tqdm

from snnlib import inference
from snnlib.config import Config, is_positive
from snnlib.experiments.transfer import first_output_time, load_trained
from snnlib.files import sha256_bytes
from snnlib.events.network import EventNetwork
from snnlib.interop import importers, nest
from snnlib.interop import nir as snir
from snnlib.model.discretization import SPIKE_RULES, Discretization, parse_integration
from snnlib.model.neuron import NeuronParams
from snnlib.training.losses import predict_events_by_count

NAME = "across-simulators"
#: a spike buffer no neuron of these networks fills in the window (the importers' networks have no cap)
UNCAPPED = 200
#: the importers' simulator names: as imported, and with the documented correction
IMPORTED = tuple(f"{imp}{suffix}" for imp in importers.IMPORTERS for suffix in ("", "+corrected"))


def own_discretization(name: str, h: float) -> Discretization:
    """``"<integration>-<rule>-<input>"`` (e.g. ``"ps3-linear-exact"``) at the step ``h`` ms."""
    try:
        integration, rule, inp = name.split("-")
    except ValueError:
        raise ValueError(f"simulator {name!r}: expected <integration>-<rule>-<input>, e.g. 'euler-snap-grid'") from None
    integrator, order = parse_integration(integration)
    return Discretization(integrator, order, h, rule, inp)


@dataclasses.dataclass(frozen=True)
class AcrossConfig(Config):
    """Fields (times in ms):

    - ``source``, ``source_profile``, ``seeds``: the training sweep points whose best-validation
      weights are exported (``runs/<source>/<source_profile>/seed=<seed>``).
    - ``simulators``: importers (``snntorch``, ``norse``, each also ``+corrected``) and this
      project's discretizations (``<integration>-<rule>-<input>``).
    - ``steps``: the time steps ``h``.
    - ``n_test``: the first test digits (all 10,000 by default); ``n_vectors``: test digits shipped
      with each export as its test vectors; ``vector_steps``: the steps at which every importer,
      as imported and corrected, is checked on them (:func:`check_vectors`), against the shipped
      output and against the same network without its spike cap; ``batch_size``:
      digits per forward pass.
    - ``nest_resolutions``: NEST's resolutions (ms) of the oracle check (:func:`nest_check`); ``()``
      skips it.
    """

    source: str = "spiketime-mnist"
    source_profile: str = "quick"
    seeds: tuple = (0, 1, 2)
    simulators: tuple = IMPORTED + ("euler-snap-grid", "exact-snap-grid", "ps3-linear-exact")
    steps: tuple = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 35.0, 50.0, 70.0, 100.0)
    n_test: int = 10000
    n_vectors: int = 8
    vector_steps: tuple = (0.01, 0.1, 1.0)
    batch_size: int = 500
    nest_resolutions: tuple = (1e-3, 1e-4)

    def validate(self) -> None:
        c = self._check
        c("seeds", isinstance(self.seeds, tuple) and len(self.seeds) >= 1
          and all(isinstance(s, int) and s >= 0 for s in self.seeds), "a tuple of seeds (integers >= 0)")
        c("steps", isinstance(self.steps, tuple) and len(self.steps) >= 1 and all(is_positive(h) for h in self.steps),
          "a tuple of positive steps (ms)")
        c("simulators", isinstance(self.simulators, tuple) and len(self.simulators) >= 1, "a non-empty tuple")
        for s in self.simulators:
            if s in IMPORTED:
                continue
            try:
                own_discretization(s, 1.0)
            except ValueError as e:
                c("simulators", False, f"importers ({', '.join(IMPORTED)}) or <integration>-<rule>-<input> "
                  f"with rule one of {', '.join(SPIKE_RULES)} ({e})")
        c("n_test", isinstance(self.n_test, int) and self.n_test >= 1, "a number of test digits >= 1")
        c("n_vectors", isinstance(self.n_vectors, int) and 1 <= self.n_vectors <= self.n_test,
          "a number of test vectors in [1, n_test]")
        c("vector_steps", isinstance(self.vector_steps, tuple) and all(is_positive(h) for h in self.vector_steps),
          "a tuple of positive steps (ms)")
        c("batch_size", isinstance(self.batch_size, int) and self.batch_size >= 1, "an integer >= 1")


Config = AcrossConfig


def raster_times(raster: torch.Tensor, h: float) -> torch.Tensor:
    """Spike times ``[B, C, K]`` (``n h`` for a spike at step ``n``, ``+inf`` padded, float64) of an
    output raster ``[T, B, C]``."""
    spiked = raster > 0
    K = max(1, int(spiked.sum(0).max()))
    T = raster.shape[0]
    steps = torch.arange(T, dtype=torch.float64)[:, None, None].expand(spiked.shape)
    t = torch.where(spiked, steps * h, torch.full_like(steps, float("inf")))
    return torch.sort(t.permute(1, 2, 0), dim=-1).values[..., :K]


def _metrics(out: torch.Tensor, labels: torch.Tensor, ref_pred: torch.Tensor, ref_first: torch.Tensor) -> dict:
    pred = predict_events_by_count(out)
    first = first_output_time(out).double()
    both = torch.isfinite(first) & torch.isfinite(ref_first)
    return {"accuracy": float((pred == labels).double().mean()),
            "agreement": float((pred == ref_pred).double().mean()),
            "output_spikes": float(torch.isfinite(out).sum((1, 2)).double().mean()),
            "first_spike_error": float((first - ref_first)[both].abs().mean()) if bool(both.any()) else float("nan"),
            "first_spike_mismatch": float((torch.isfinite(first) != torch.isfinite(ref_first)).double().mean()),
            "correct": (pred == labels).numpy().astype(np.int8)}


def check_vectors(graph, sim: str, h: float, references: dict | None = None) -> dict:
    """An importer (``sim`` in :data:`IMPORTED`) at the step ``h`` ms on the graph's shipped test
    vectors, against the exact output they carry (key ``""``) and against each of ``references``
    (``{suffix: output spike times of the same inputs}``): per reference, the mean first-spike
    time error over the outputs where both spike (ms), the fraction of outputs where only one of
    them spikes, and the mean absolute difference of the spike counts (keys ``<metric><suffix>``)."""
    x, y = snir.test_vectors(graph)
    imp, corrected = sim.split("+")[0], sim.endswith("+corrected")
    got = raster_times(importers.simulate(graph, imp, h, x, corrected=corrected), h)
    out = {}
    for suffix, ref in {"": y, **(references or {})}.items():
        f_got, f_ref = got[..., 0], ref[..., 0]
        both = torch.isfinite(f_got) & torch.isfinite(f_ref)
        n_got, n_ref = torch.isfinite(got).sum(-1), torch.isfinite(ref).sum(-1)
        out[f"first_error{suffix}"] = float((f_got - f_ref)[both].abs().mean()) if bool(both.any()) else float("nan")
        out[f"first_mismatch{suffix}"] = float((torch.isfinite(f_got) != torch.isfinite(f_ref)).double().mean())
        out[f"count_error{suffix}"] = float((n_got - n_ref).abs().double().mean())
    return out


def nest_check(resolutions=(1e-3, 1e-4), seed: int = 0) -> dict:
    """This project's simulations against NEST's ``iaf_psc_exp_ps`` (:mod:`snnlib.interop.nest`) on
    a random 12-10-4 network of fast neurons (``tau_s = 5`` ms, 6 samples of 12 input spikes in
    (0.5, 20.5] ms, caps that do not bind): with ``tau = 2 tau_s`` the exact event network, with
    ``tau = 15`` ms (no closed form) PS(4) with Newton's rule at 0.01 ms. Per neuron model
    (``closed_form``, ``tau15``) and NEST resolution: the largest error of the first layer's first
    spikes (ms; NEST's refractory hold does not enter them), the largest error of all output
    spikes where the counts agree (ms; O(resolution)), and the fraction of outputs whose counts
    differ."""
    g = torch.Generator().manual_seed(seed)
    x = 0.5 + 20 * torch.rand(6, 12, 1, generator=g, dtype=torch.float64)
    inputs = [[list(map(float, r[torch.isfinite(r)])) for r in sample] for sample in x]
    out = {}
    for model, tau in (("closed_form", None), ("tau15", 15.0)):
        params = [NeuronParams(tau_s=5.0, tau=tau, theta=1.5), NeuronParams(tau_s=5.0, tau=tau, theta=2.0)]
        d = Discretization() if tau is None else Discretization("ps", 4, 0.01, "newton", "exact")
        net = EventNetwork((12, 10, 4), params, max_spikes=[100, 100], t_max=40.0, init=(-0.2, 0.45),
                           generator=g, dtype=torch.float64, discretization=d)
        hidden = EventNetwork((12, 10), params[:1], max_spikes=100, t_max=40.0, dtype=torch.float64, discretization=d)
        with torch.no_grad():
            hidden.weights[0].copy_(net.weights[0])
            ours_out, ours_hid = net(x)[0], hidden(x)[0]
        for res in resolutions:
            ref = nest.simulate([W.detach().numpy() for W in net.weights], params, inputs, 40.0, resolution=res)
            first = [abs(float(ours_hid[b, i, 0]) - ref[0][b][i][0]) for b in range(6) for i in range(10)
                     if len(ref[0][b][i]) and torch.isfinite(ours_hid[b, i, 0])]
            alls, differ = [], 0
            for b in range(6):
                for c in range(4):
                    o = ours_out[b, c][torch.isfinite(ours_out[b, c])].numpy()
                    if len(o) != len(ref[1][b][c]):
                        differ += 1
                    elif len(o):
                        alls.append(float(np.abs(o - ref[1][b][c]).max()))
            out[(model, res)] = {"first_error": max(first), "all_error": max(alls), "count_differs": differ / 24}
    return out


def _simulate(sim: str, net, graph, h: float, batches) -> torch.Tensor:
    """Output spike times ``[n, C, K]`` of ``sim`` at the step ``h`` on the encoded ``batches``."""
    if sim in IMPORTED:
        imp, corrected = sim.split("+")[0], sim.endswith("+corrected")
        x = torch.cat([b for b in batches])
        raster = importers.simulate(graph, imp, h, x, corrected=corrected)
        return raster_times(raster, h)
    d = own_discretization(sim, h)
    outs = []
    with torch.no_grad():
        for b in batches:
            outs.append(net.with_(d)(b)[0])
    return _cat(outs)


def _cat(outs: list) -> torch.Tensor:
    """Spike-time batches ``[b, C, K_i]`` joined along the batch, ``+inf`` padded to the largest ``K``."""
    K = max(o.shape[-1] for o in outs)
    return torch.cat([torch.nn.functional.pad(o, (0, K - o.shape[-1]), value=float("inf")) for o in outs])


def run(cfg: AcrossConfig, progress: bool = True) -> xr.Dataset:
    """Metrics along ``(seed, simulator, h)``; the analytic network's along ``seed`` (``exact_*``)."""
    torch.set_num_threads(1)
    # one thread for numba too: with its OpenMP pool of several threads started (by the event network),
    # torch's operations in the importers ran 25x slower on this 2-core machine (measured)
    numba.set_num_threads(1)
    oracle = nest_check(cfg.nest_resolutions) if cfg.nest_resolutions else {}  # before numba starts its threads
    S, H, R = len(cfg.simulators), len(cfg.steps), len(cfg.seeds)
    metrics = ("accuracy", "agreement", "output_spikes", "first_spike_error", "first_spike_mismatch",
               "wall_ms_per_sample")
    vals = {m: np.full((R, S, H), np.nan) for m in metrics}
    exact = {m: np.full(R, np.nan) for m in ("accuracy", "output_spikes", "wall_ms_per_sample")}
    correct = np.zeros((R, S, H, cfg.n_test), dtype=np.int8)
    exact_correct = np.zeros((R, cfg.n_test), dtype=np.int8)
    vec_sims = [s for s in cfg.simulators if s in IMPORTED]
    vec = {f"{m}{ref}": np.full((R, len(vec_sims), len(cfg.vector_steps)), np.nan)
           for m in ("first_error", "first_mismatch", "count_error") for ref in ("", "_uncapped")}
    files = {}
    bar = tqdm(total=R * (S * H + len(vec_sims) * len(cfg.vector_steps)), desc="across simulators", disable=not progress)
    for r, seed in enumerate(cfg.seeds):
        net, _, scfg, sets = load_trained(cfg.source, cfg.source_profile, seed, {"test": cfg.n_test}, cfg.batch_size)
        batches, labels = sets["test"]
        with tempfile.TemporaryDirectory() as d:  # exported and read back, as a user would
            path = snir.write(Path(d) / "network.nir", snir.to_nir(net, test_inputs=batches[0][:cfg.n_vectors],
                                                                     metadata={"source": f"{cfg.source}/{cfg.source_profile}/seed={seed}"}))
            files[seed] = {"bytes": path.stat().st_size, "sha256": sha256_bytes(path.read_bytes())}
            graph = snir.read(path)
        t0 = time.perf_counter()
        with torch.no_grad():
            ref = _cat([net(b)[0] for b in batches])
        exact["wall_ms_per_sample"][r] = 1000 * (time.perf_counter() - t0) / cfg.n_test
        ref_pred, ref_first = predict_events_by_count(ref), first_output_time(ref).double()
        exact["accuracy"][r] = float((ref_pred == labels).double().mean())
        exact["output_spikes"][r] = float(torch.isfinite(ref).sum((1, 2)).double().mean())
        exact_correct[r] = (ref_pred == labels).numpy()
        # the importers keep no spike cap: the shipped (capped) output, and the same network uncapped
        uncapped = copy.deepcopy(net)
        uncapped.max_spikes = [UNCAPPED] * len(net.max_spikes)
        with torch.no_grad():
            free = uncapped(snir.test_vectors(graph)[0])[0]
        for v, sim in enumerate(vec_sims):
            for j, h in enumerate(cfg.vector_steps):
                for m, x in check_vectors(graph, sim, h, {"_uncapped": free}).items():
                    vec[m][r, v, j] = x
                bar.update()
        for s, sim in enumerate(cfg.simulators):
            for j, h in enumerate(cfg.steps):
                t0 = time.perf_counter()
                out = _simulate(sim, net, graph, h, batches)
                wall = time.perf_counter() - t0
                got = _metrics(out, labels, ref_pred, ref_first)
                correct[r, s, j] = got.pop("correct")
                for m, v in got.items():
                    vals[m][r, s, j] = v
                vals["wall_ms_per_sample"][r, s, j] = 1000 * wall / cfg.n_test
                bar.update()
    bar.close()
    units = {"output_spikes": "spikes / digit", "first_spike_error": "ms", "wall_ms_per_sample": "ms"}
    ds = xr.Dataset({m: (("seed", "simulator", "h"), vals[m]) for m in metrics},
                    coords={"seed": list(cfg.seeds), "simulator": list(cfg.simulators), "h": list(cfg.steps)})
    for m, v in exact.items():
        ds[f"exact_{m}"] = ("seed", v)
    for name in list(ds.data_vars):
        ds[name].attrs["units"] = units.get(name.removeprefix("exact_"), "fraction")
    ds["test_correct"] = (("seed", "simulator", "h", "test_sample"), correct)
    ds["exact_test_correct"] = (("seed", "test_sample"), exact_correct)
    for name in ("test_correct", "exact_test_correct"):
        ds[name].attrs["long_name"] = "1 where the test digit is classified right (first n_test test digits)"
    ds["h"].attrs["units"] = "ms"
    for m, v in vec.items():
        ds[f"vector_{m}"] = (("seed", "importer", "vector_h"), v)
        ds[f"vector_{m}"].attrs["units"] = {"first_error": "ms", "count_error": "spikes"}.get(
            m.removesuffix("_uncapped"), "fraction")
    ds = ds.assign_coords(importer=vec_sims, vector_h=list(cfg.vector_steps))
    ds["vector_h"].attrs["units"] = "ms"
    if oracle:
        models = ["closed_form", "tau15"]
        for m in ("first_error", "all_error", "count_differs"):
            ds[f"nest_{m}"] = (("neuron", "resolution"), np.array([[oracle[(n, r)][m] for r in cfg.nest_resolutions]
                                                                   for n in models]))
            ds[f"nest_{m}"].attrs["units"] = "fraction" if m == "count_differs" else "ms"
        ds = ds.assign_coords(neuron=models, resolution=list(cfg.nest_resolutions))
        ds["resolution"].attrs["units"] = "ms"
    tau_s = float(net.params[0].tau_s)
    ds = ds.assign_coords(h_over_tau_s=("h", np.asarray(cfg.steps) / tau_s))
    ds.attrs.update(source=f"{cfg.source}/{cfg.source_profile}", dataset=scfg.dataset, tau_s_ms=tau_s,
                    tau_ms=float(net.params[0].tau), t_max_ms=float(net.t_max),
                    max_spikes=str(tuple(net.max_spikes)), time_unit="ms", threads=1,
                    nir_files=str(files), n_test=cfg.n_test, n_vectors=cfg.n_vectors)
    return ds


def breakpoints(ds: xr.Dataset, tolerance: float) -> dict:
    """Per simulator, the largest ``h / tau_s`` up to which the mean test accuracy (over seeds) stays
    within ``tolerance`` (a fraction) of the analytic network's at every step from the smallest on;
    ``nan`` when the smallest step is already outside."""
    out = {}
    exact = float(ds["exact_accuracy"].mean())
    for sim in ds["simulator"].values:
        acc = ds["accuracy"].sel(simulator=sim).mean("seed").values
        ok = np.abs(acc - exact) <= tolerance
        n = int(np.argmin(ok)) if not ok.all() else len(ok)
        out[str(sim)] = float(ds["h_over_tau_s"].values[n - 1]) if n > 0 else float("nan")
    return out


def paired_estimate(ds: xr.Dataset, sim: str, h: float) -> tuple:
    """``(estimate, b, c)``: ``sim``'s test accuracy at the step ``h`` minus the analytic network's
    (points), by the exact McNemar test (:func:`snnlib.inference.mcnemar`) over every digit of every
    source network, from ``b`` digits right only in the analytic network and ``c`` right only in ``sim``."""
    z = ds["exact_test_correct"].astype(bool)
    a = ds["test_correct"].sel(simulator=sim, h=h).astype(bool)
    b, c = int((z & ~a).sum()), int((~z & a).sum())
    est = inference.mcnemar(b, c, int(a.size), strata=ds.sizes["seed"], what="test digits").scaled(100.0)
    return est, b, c


def paired_differences(ds: xr.Dataset):
    """Per ``(simulator, h)``: :func:`paired_estimate` with its two-sided 90 % interval and the
    discordant digits. A ``pandas.DataFrame``, one row per cell."""
    rows = []
    for sim in ds["simulator"].values:
        for h in ds["h"].values:
            est, b, c = paired_estimate(ds, str(sim), float(h))
            rows.append({"simulator": str(sim), "h (ms)": float(h), "h / tau_s": float(h) / float(ds.attrs["tau_s_ms"]),
                         "difference (points)": est.value, "lo": est.lo, "hi": est.hi,
                         "right only analytic": b, "right only simulator": c})
    return pd.DataFrame(rows)


def summarize(ds: xr.Dataset) -> dict:
    """The analytic network's test accuracy, and per simulator its accuracy at 1 ms and at the
    largest step (means over seeds)."""
    out = {"exact_test_accuracy": float(ds["exact_accuracy"].mean()), "tau_s_ms": float(ds.attrs["tau_s_ms"])}
    for sim in ds["simulator"].values:
        a = ds["accuracy"].sel(simulator=sim).mean("seed")
        key = str(sim).replace("+", "_").replace("-", "_")
        if 1.0 in ds["h"].values:
            out[f"test_accuracy_{key}_1ms"] = float(a.sel(h=1.0))
        out[f"test_accuracy_{key}_h_max"] = float(a.isel(h=-1))
    return out
