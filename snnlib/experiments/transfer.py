"""Transfer (seed 001, experiment 1): the weights of the exact (analytic, event-driven) network,
simulated by numerically integrated networks.

A point of the transfer sweep is one source network (a seed of an exact spike-time training run,
:mod:`snnlib.training.schemes.spiketime`, whose weights are committed) and one integrator (forward
Euler, Parker-Sochacki of order ``k``, or the exact flow stepped on the grid) with one input
handling; inside the point every spike rule and step ``dt`` is evaluated on fixed subsets of the
validation and test sets (:class:`snnlib.model.discretization.Discretization`). Nothing is trained: the
same weights, another simulation.

Measured per ``(rule, dt, split)``: accuracy; *agreement*, the fraction of samples whose predicted
label equals the analytic network's; hidden and output spikes per sample; the first-output-spike
time error ``|t_first - t_first^exact|`` (ms; earliest output spike of a sample, over samples
where both networks have one) and the fraction of samples where only one of them has an output
spike; wall time per sample of the forward pass (one thread), and its ratio to the analytic
network's forward timed in the same process (robust to the machine's load). Per test sample (dim
``test_sample``): ``test_correct`` (rule, dt) and ``exact_test_correct``, 1 where it is classified
right, for the per-sample paired tests (exact McNemar) of the findings.

The chapter's numbers over the whole sweep are :mod:`snnlib.analyses.transfer`; its claims are decided
in :mod:`snnlib.analyses.findings`.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch
import xarray as xr
from tqdm.auto import tqdm

from snnlib.config import Config, is_positive
from snnlib.model.discretization import SPIKE_RULES, Discretization, parse_integration
from snnlib.store.runs import point_dir
from snnlib.training import driver

NAME = "transfer"
#: ``integration``: the integrator and its order; ``"exact"``: the exact flow stepped on the grid (the
#: spike rule's error alone, the ablation seed 001 lacks)
INTEGRATIONS = ("euler", "ps2", "ps3", "ps4", "ps5", "ps6", "exact")


@dataclasses.dataclass(frozen=True)
class TransferConfig(Config):
    """Fields (times in ms):

    - ``source``, ``source_profile``, ``seed``: the training sweep point whose best-validation
      weights are transferred (``runs/<source>/<source_profile>/seed=<seed>``).
    - ``integration``: ``"euler"``, ``"ps2"`` .. ``"ps6"`` (Parker-Sochacki of that order) or ``"exact"``
      (the exact flow stepped on the grid: only the spike rule's error); ``input``: ``"exact"``
      (steps split at input times) or ``"grid"`` (inputs delivered at the next grid point).
    - ``rules``: spike rules evaluated (``newton`` is skipped for ``"exact"``: its root is the closed
      form); ``dts``: grid steps.
    - ``n_val``, ``n_test``: the first samples of the source run's validation and test splits
      (the same for every point); ``batch_size``: samples per forward pass.
    """

    source: str = "spiketime-mnist"
    source_profile: str = "quick"
    seed: int = 0
    integration: str = "ps3"
    input: str = "exact"
    rules: tuple = ("snap", "linear", "newton")
    dts: tuple = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
    n_val: int = 500
    n_test: int = 2000
    batch_size: int = 250

    def validate(self) -> None:
        super().validate()
        c = self._check
        c("source", isinstance(self.source, str) and bool(self.source), "the name of a training sweep")
        c("integration", self.integration in INTEGRATIONS, " or ".join(map(repr, INTEGRATIONS)))
        c("input", self.input in ("exact", "grid"), "'exact' or 'grid'")
        c("rules", isinstance(self.rules, tuple) and len(self.rules) > 0 and all(r in SPIKE_RULES for r in self.rules)
          and len(set(self.rules)) == len(self.rules), f"a tuple of distinct rules from {SPIKE_RULES}")
        c("dts", isinstance(self.dts, tuple) and len(self.dts) > 0 and all(is_positive(d) for d in self.dts)
          and list(self.dts) == sorted(set(self.dts)), "an increasing tuple of positive steps (ms)")
        for f in ("n_val", "n_test", "batch_size"):
            c(f, isinstance(getattr(self, f), int) and getattr(self, f) >= 1, "an integer >= 1")
        self._check_non_negative_int("seed")

    @property
    def integrator(self) -> str:
        return parse_integration(self.integration)[0]

    @property
    def order(self) -> int | None:
        return parse_integration(self.integration)[1]

    @property
    def rules_used(self) -> tuple:
        return tuple(r for r in self.rules if not (self.integration == "exact" and r == "newton"))

    def discretization(self, rule: str, dt: float) -> Discretization:
        return Discretization(self.integrator, self.order, dt, rule, self.input)


Config = TransferConfig


def first_output_time(out_times: torch.Tensor) -> torch.Tensor:
    """Earliest output spike of each sample ``[B]`` (``+inf`` when the output layer is silent)."""
    return out_times[..., 0].min(dim=1).values


def _forward(net, batches, predict):
    """Predictions, first output times, hidden and output spikes per sample, wall time."""
    preds, first, hid, out_n = [], [], [], []
    t0 = time.perf_counter()
    with torch.no_grad():
        for x in batches:
            out, hidden = net(x)
            preds.append(predict(out))
            first.append(first_output_time(out).double())
            hid.append(hidden[0].double())
            out_n.append(torch.isfinite(out).sum((1, 2)).double())
    wall = time.perf_counter() - t0
    return torch.cat(preds), torch.cat(first), torch.cat(hid), torch.cat(out_n), wall


def compare(net, batches, labels: torch.Tensor, predict, reference, per_sample: bool = False) -> dict:
    """The metrics of :mod:`this module <snnlib.experiments.transfer>` for ``net`` against the
    analytic network's ``reference = _forward(...)`` on the same ``batches``; with ``per_sample``
    also ``correct``, whether each sample is classified right (``[n]`` booleans: the per-sample paired
    tests of :mod:`snnlib.analyses.findings` read them)."""
    pred, first, hid, out_n, wall = _forward(net, batches, predict)
    ref_pred, ref_first = reference[0], reference[1]
    both = torch.isfinite(first) & torch.isfinite(ref_first)
    n = len(labels)
    return {
        "accuracy": float((pred == labels).double().mean()),
        "agreement": float((pred == ref_pred).double().mean()),
        "hidden_spikes": float(hid.mean()),
        "output_spikes": float(out_n.mean()),
        "first_spike_error": float((first - ref_first)[both].abs().mean()) if bool(both.any()) else float("nan"),
        "first_spike_mismatch": float((torch.isfinite(first) != torch.isfinite(ref_first)).double().mean()),
        "wall_ms_per_sample": 1000.0 * wall / n,
        "wall_vs_exact": wall / reference[4],  # a ratio in one process: robust to the machine's load
    } | ({"correct": (pred == labels).numpy()} if per_sample else {})


def load_source(cfg: TransferConfig):
    """``(network (float64), its prediction rule, source config, {split: (encoded batches, labels)})``
    of the source run."""
    return load_trained(cfg.source, cfg.source_profile, cfg.seed, {"val": cfg.n_val, "test": cfg.n_test},
                        cfg.batch_size)


def load_trained(source: str, source_profile: str, seed: int, splits: dict, batch_size: int):
    """``(network (float64), its prediction rule, source config, {split: (encoded batches, labels)})``
    of the training sweep point ``runs/<source>/<source_profile>/seed=<seed>`` (its best-validation
    weights), with the first ``splits[split]`` samples of each split encoded as the source did."""
    return load_point(point_dir(source, source_profile, f"seed={seed}"), splits, batch_size)


def load_point(folder, splits: dict, batch_size: int):
    """:func:`load_trained` of the training point in ``folder`` (any sweep's point, e.g. one of a
    direct-training sweep's grid)."""
    model, scfg = driver.load_model(folder)
    scheme = driver.scheme_of(scfg)
    sets = scheme.data(scfg)
    out = {}
    for split, n in splits.items():
        x, y = sets[split]
        if n > len(y):
            raise ValueError(f"n_{split} = {n}: the source's {split} split has only {len(y)} samples")
        encode = scheme.encoder(scfg, split)
        idx = np.arange(n)
        batches = [encode(x, idx[i:i + batch_size]).double() for i in range(0, n, batch_size)]
        out[split] = (batches, torch.as_tensor(y[:n]))
    return model.double(), scheme.predict(scfg), scfg, out


def run(cfg: TransferConfig, progress: bool = True) -> xr.Dataset:
    """Metrics along ``(rule, dt, split)``, the analytic network's along ``split`` (``exact_*``)."""
    torch.set_num_threads(1)
    net, predict, scfg, sets = load_source(cfg)
    splits, rules = list(sets), list(cfg.rules_used)
    metrics = ("accuracy", "agreement", "hidden_spikes", "output_spikes", "first_spike_error",
               "first_spike_mismatch", "wall_ms_per_sample", "wall_vs_exact")
    vals = {m: np.full((len(rules), len(cfg.dts), len(splits)), np.nan) for m in metrics}
    exact = {m: np.full(len(splits), np.nan) for m in metrics}
    n_test = len(sets["test"][1])  # per test sample, right or wrong: the paired tests' data
    correct = np.zeros((len(rules), len(cfg.dts), n_test), dtype=np.int8)
    exact_correct = np.zeros(n_test, dtype=np.int8)
    bar = tqdm(total=len(rules) * len(cfg.dts) * len(splits), desc=f"transfer {cfg.integration} input={cfg.input} "
               f"seed={cfg.seed}", disable=not progress)
    for s, split in enumerate(splits):
        batches, labels = sets[split]
        ref = _forward(net, batches, predict)
        got = compare(net, batches, labels, predict, ref, per_sample=split == "test")
        if split == "test":
            exact_correct[:] = got.pop("correct")
        for m, v in got.items():
            exact[m][s] = v
        for r, rule in enumerate(rules):
            for j, dt in enumerate(cfg.dts):
                d = cfg.discretization(rule, dt)
                got = compare(net.with_(d), batches, labels, predict, ref, per_sample=split == "test")
                if split == "test":
                    correct[r, j] = got.pop("correct")
                for m, v in got.items():
                    vals[m][r, j, s] = v
                bar.update()
    bar.close()
    units = {"hidden_spikes": "spikes / sample", "output_spikes": "spikes / sample", "first_spike_error": "ms",
             "wall_ms_per_sample": "ms", "wall_vs_exact": "ratio"}
    ds = xr.Dataset({m: (("rule", "dt", "split"), vals[m]) for m in metrics},
                    coords={"rule": rules, "dt": list(cfg.dts), "split": splits})
    for m in metrics:
        ds[f"exact_{m}"] = ("split", exact[m])
        for name in (m, f"exact_{m}"):
            ds[name].attrs["units"] = units.get(m, "fraction")
    ds["test_correct"] = (("rule", "dt", "test_sample"), correct)
    ds["exact_test_correct"] = ("test_sample", exact_correct)
    for name in ("test_correct", "exact_test_correct"):
        ds[name].attrs["long_name"] = "1 where the test sample is classified right (first n_test test samples)"
    ds["dt"].attrs["units"] = "ms"
    ds.attrs.update(source=f"{cfg.source}/{cfg.source_profile}/seed={cfg.seed}", dataset=scfg.dataset,
                    integration=cfg.integration, integrator=cfg.integrator,
                    order=cfg.order if cfg.order is not None else "none", input=cfg.input, time_unit="ms", threads=1)
    return ds


def summarize(ds: xr.Dataset) -> dict:
    """Test accuracy at the smallest step per rule, and the analytic network's."""
    test = ds.sel(split="test")
    out = {"exact_test_accuracy": float(test["exact_accuracy"])}
    for rule in ds["rule"].values:
        out[f"test_accuracy_{rule}_dt_min"] = float(test["accuracy"].sel(rule=rule).isel(dt=0))
        out[f"test_accuracy_{rule}_dt_max"] = float(test["accuracy"].sel(rule=rule).isel(dt=-1))
    return out


