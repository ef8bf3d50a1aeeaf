"""Transfer (seed 001, experiment 1): the weights of the exact (analytic, event-driven) network,
simulated by numerically integrated networks.

A point of the transfer sweep is one source network (a seed of an exact spike-time training run,
:mod:`snnlib.experiments.spiketime`, whose weights are committed) and one integrator (forward
Euler, Parker-Sochacki of order ``k``, or the exact flow stepped on the grid) with one input
handling; inside the point every spike rule and step ``dt`` is evaluated on fixed subsets of the
validation and test sets (:class:`snnlib.discretization.Discretization`). Nothing is trained: the
same weights, another simulation.

Measured per ``(rule, dt, split)``: accuracy; *agreement*, the fraction of samples whose predicted
label equals the analytic network's; hidden and output spikes per sample; the first-output-spike
time error ``|t_first - t_first^exact|`` (ms; earliest output spike of a sample, over samples
where both networks have one) and the fraction of samples where only one of them has an output
spike; wall time per sample of the forward pass (one thread), and its ratio to the analytic
network's forward timed in the same process (robust to the machine's load).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch
import xarray as xr

from ..discretization import SPIKE_RULES, Discretization
from ..runs import Config, is_positive

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
        return "ps" if self.integration.startswith("ps") else self.integration

    @property
    def order(self) -> int | None:
        return int(self.integration[2:]) if self.integration.startswith("ps") else (1 if self.integration == "euler" else None)

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


def compare(net, batches, labels: torch.Tensor, predict, reference) -> dict:
    """The metrics of :mod:`this module <snnlib.experiments.transfer>` for ``net`` against the
    analytic network's ``reference = _forward(...)`` on the same ``batches``."""
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
    }


def load_source(cfg: TransferConfig):
    """``(network (float64), its prediction rule, source config, {split: (encoded batches, labels)})``
    of the source run."""
    from .. import driver
    from ..runs import point_dir

    model, scfg = driver.load_model(point_dir(cfg.source, cfg.source_profile, f"seed={cfg.seed}"))
    scheme = driver.scheme_of(scfg)
    sets = scheme.data(scfg)
    out = {}
    for split, n in (("val", cfg.n_val), ("test", cfg.n_test)):
        x, y = sets[split]
        if n > len(y):
            raise ValueError(f"n_{split} = {n}: the source's {split} split has only {len(y)} samples")
        encode = scheme.encoder(scfg, split)
        idx = np.arange(n)
        batches = [encode(x, idx[i:i + cfg.batch_size]).double() for i in range(0, n, cfg.batch_size)]
        out[split] = (batches, torch.as_tensor(y[:n]))
    return model.double(), scheme.predict(scfg), scfg, out


def run(cfg: TransferConfig, progress: bool = True) -> xr.Dataset:
    """Metrics along ``(rule, dt, split)``, the analytic network's along ``split`` (``exact_*``)."""
    from tqdm.auto import tqdm

    torch.set_num_threads(1)
    net, predict, scfg, sets = load_source(cfg)
    splits, rules = list(sets), list(cfg.rules_used)
    metrics = ("accuracy", "agreement", "hidden_spikes", "output_spikes", "first_spike_error",
               "first_spike_mismatch", "wall_ms_per_sample", "wall_vs_exact")
    vals = {m: np.full((len(rules), len(cfg.dts), len(splits)), np.nan) for m in metrics}
    exact = {m: np.full(len(splits), np.nan) for m in metrics}
    bar = tqdm(total=len(rules) * len(cfg.dts) * len(splits), desc=f"transfer {cfg.integration} input={cfg.input} "
               f"seed={cfg.seed}", disable=not progress)
    for s, split in enumerate(splits):
        batches, labels = sets[split]
        ref = _forward(net, batches, predict)
        for m, v in compare(net, batches, labels, predict, ref).items():
            exact[m][s] = v
        for r, rule in enumerate(rules):
            for j, dt in enumerate(cfg.dts):
                d = cfg.discretization(rule, dt)
                for m, v in compare(net.with_(d), batches, labels, predict, ref).items():
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


# ------------------------------------------------------------------ the chapter (the whole sweep)
def with_drop(ds: xr.Dataset) -> xr.Dataset:
    """The sweep (:func:`snnlib.runs.load_sweep`) with ``drop``: accuracy minus the analytic
    network's accuracy, in points (percent), per point, rule, dt and split."""
    rules = [r for r in ("snap", "linear", "newton") if r in ds["rule"].values]
    ds = ds.reindex(rule=rules)  # the book's order (a merged sweep sorts them)
    ds["drop"] = 100.0 * (ds["accuracy"] - ds["exact_accuracy"])
    ds["drop"].attrs.update(units="points", long_name="accuracy - analytic accuracy")
    return ds


def tolerable_step(ds: xr.Dataset, max_drop: float = 1.0, split: str = "test") -> xr.DataArray:
    """Per point and rule, the largest ``dt`` up to which the mean accuracy drop over seeds stays
    within ``max_drop`` points at every step (NaN: not even the smallest step)."""
    drop = with_drop(ds)["drop"].sel(split=split).mean("seed")
    ok = (drop >= -max_drop).cumprod("dt").astype(bool)  # true until the first step beyond the bound
    dts = xr.DataArray(ds["dt"].values, dims="dt", coords={"dt": ds["dt"]})
    return dts.where(ok).max("dt")


def _stat(da: xr.DataArray) -> tuple[float, float]:
    """Mean and 95% Student-t half-width over seeds of a per-seed quantity."""
    from ..metrics import mean_ci

    return mean_ci(np.asarray(da.values, dtype=float).ravel())


def claims(ds: xr.Dataset, small_dt: float = 1.0, large_dt: float = 5.0) -> dict:
    """The numbers that decide seed 001's transfer claims: test split, inputs split at their
    times, points of accuracy, each a mean over seeds with its 95% half-width (``*_ci``):

    - *similar*: the worst accuracy drop against the analytic network at ``dt <= small_dt`` over
      PS(k >= 2) with an interpolating rule (MNIST), and the worst at ``large_dt``;
    - *interpolation stabilises*: Euler at ``large_dt``: the drop with snap and with linear
      interpolation, their paired difference, and the hidden spikes per sample of each;
    - *high orders robust*: the drop at ``large_dt`` with newton of Euler and of the highest order;
    - *thresholding*: the gain of interpolation (linear minus snap, Euler, ``large_dt``) on MNIST
      and on thresholded MNIST.
    """
    d = with_drop(ds).sel(split="test", input="exact")
    drop = d["drop"]
    srcs = [str(s) for s in ds["source"].values]
    src = [s for s in srcs if "threshold" not in s][0]
    thr = [s for s in srcs if "threshold" in s]
    ints = [str(m) for m in ds["integration"].values]
    pss = [m for m in ints if m.startswith("ps")]
    top = max(pss, key=lambda m: int(m[2:]))
    m = drop.sel({"source": src})
    small = m.sel({"integration": pss, "rule": ["linear", "newton"]}).where(d["dt"] <= small_dt, drop=True)
    large = m.sel({"integration": pss, "rule": ["linear", "newton"], "dt": large_dt})
    e = m.sel({"integration": "euler", "dt": large_dt})
    hid = d["hidden_spikes"].sel({"source": src, "integration": "euler", "dt": large_dt})
    out = {"small_dt": small_dt, "large_dt": large_dt, "top_integration": top}

    def put(name, da):
        out[name], out[name + "_ci"] = _stat(da)

    out["similar_worst_drop"] = float(small.mean("seed").min())
    # the finest step, PS(k >= 3) + newton, every seed and source: the analytic network reproduced?
    hi = [m for m in pss if int(m[2:]) >= 3]
    fine = with_drop(ds)["drop"].sel({"split": "test", "integration": hi, "rule": "newton"}).isel(dt=0)
    out["fine_dt"] = float(ds["dt"].values[0])
    out["fine_max_abs_diff"] = float(np.abs(fine).max())
    out["large_worst_drop"] = float(large.mean("seed").min())
    put("euler_snap_drop", e.sel(rule="snap"))
    put("euler_linear_drop", e.sel(rule="linear"))
    put("interp_gain_mnist", e.sel(rule="linear") - e.sel(rule="snap"))
    put("euler_snap_hidden", hid.sel(rule="snap"))
    put("euler_linear_hidden", hid.sel(rule="linear"))
    put("exact_hidden", d["exact_hidden_spikes"].sel({"source": src}).mean("integration"))
    put("euler_newton_drop", e.sel(rule="newton"))
    put("top_newton_drop", m.sel({"integration": top, "rule": "newton", "dt": large_dt}))
    put("exact_accuracy", 100.0 * d["exact_accuracy"].sel({"source": src}).mean("integration"))
    if thr:
        t = drop.sel({"source": thr[0], "integration": "euler", "dt": large_dt})
        put("interp_gain_threshold", t.sel(rule="linear") - t.sel(rule="snap"))
        put("exact_accuracy_threshold", 100.0 * d["exact_accuracy"].sel({"source": thr[0]}).mean("integration"))
    return out


def verdicts(c: dict, tolerance: float = 1.0) -> dict:
    """Seed 001's transfer claims, each ``(verdict, reason)`` from :func:`claims` (``tolerance``:
    points of accuracy that count as "similar")."""
    def beyond(mean, half, bound):  # the interval lies entirely above ``bound``
        return mean - (half if np.isfinite(half) else 0.0) > bound

    out = {}
    if c["similar_worst_drop"] >= -tolerance:
        out["similar"] = ("confirmed" if c["large_worst_drop"] >= -tolerance else "qualified",
                          "within the tolerance up to the small step" +
                          ("" if c["large_worst_drop"] >= -tolerance else ", not at the large one"))
    else:
        out["similar"] = ("refuted", "the drop exceeds the tolerance already at small steps")
    g, h = c["interp_gain_mnist"], c["interp_gain_mnist_ci"]
    more_spikes = c["euler_snap_hidden"] > c["euler_linear_hidden"]
    if beyond(g, h, 0.0):
        out["interpolation"] = ("confirmed" if more_spikes else "qualified",
                                "interpolation raises accuracy" + ("" if more_spikes else
                                                                   ", but snap does not raise the activity"))
    elif beyond(-g, h, 0.0):
        out["interpolation"] = ("refuted", "interpolation lowers accuracy")
    else:
        out["interpolation"] = ("qualified", "no significant difference at this step")
    top_ok = c["top_newton_drop"] >= -tolerance
    euler_bad = c["euler_newton_drop"] < -tolerance
    out["high_order"] = ("confirmed" if top_ok and euler_bad else "qualified" if top_ok else "refuted",
                         "high order within the tolerance" + (" where Euler is not" if euler_bad else
                                                              ", but so is Euler") if top_ok else
                         "the highest order loses more than the tolerance")
    if "interp_gain_threshold" in c:
        gm, hm = c["interp_gain_mnist"], c["interp_gain_mnist_ci"]
        gt, ht = c["interp_gain_threshold"], c["interp_gain_threshold_ci"]
        effect_mnist = beyond(gm, hm, 0.0) or beyond(-gm, hm, 0.0)
        effect_thr = beyond(gt, ht, 0.0) or beyond(-gt, ht, 0.0)
        if not effect_mnist and not effect_thr:
            out["threshold"] = ("qualified", "interpolation has no measurable effect on either data set, so "
                                "thresholding has nothing to suppress here")
        elif effect_mnist and not effect_thr:
            out["threshold"] = ("confirmed", "interpolation matters on MNIST and not on thresholded MNIST")
        else:
            out["threshold"] = ("refuted", "interpolation matters on thresholded MNIST too")
    return out


def wall_minutes(sweep: str = "transfer", profile: str = "quick") -> float:
    """Minutes of one core that the complete points of the sweep took (their ``meta.json``)."""
    from .. import plan
    from ..runs import is_complete, load, point_dir

    total = 0.0
    for p in plan.sweep(sweep).points(profile):
        d = point_dir(sweep, profile, p.id)
        if is_complete(d):
            total += float(load(d).meta.get("wall_time_s", 0.0))
    return total / 60.0
