"""Seed 002 as published: snnTorch's tutorial 5 on MNIST, with its own ``snn.Leaky`` and ``nn.Linear``.

Two codings of the same 784-1000-10 network (25 steps, ``Leaky(beta=0.95)``: threshold 1, reset by
subtraction, snnTorch's default arctan surrogate with ``alpha = 2``; Adam 5e-4, betas (0.9, 0.999),
batch 128 with ``drop_last``, one epoch), after snnTorch's tutorial 5 (Eshraghian et al. 2023,
``docs/tutorials/tutorial_5.rst``) and the seed's slides:

``coding = "rate"``
    the tutorial exactly: the image (pixels in [0, 1]) is fed as a *constant current* at every step
    (``cur1 = fc1(x)`` each step; no spikes at the input, so "rate" names the output code only), the
    loss is the cross-entropy of the output membrane potential summed over the steps, and a digit
    is predicted by the output neuron with the most spikes.
``coding = "ttfs"``
    the seed's variant: time-to-first-spike input from ``snntorch.spikegen.latency`` (options in
    :class:`TutorialConfig`), ``snntorch.functional.ce_temporal_loss`` on the output spikes (logits
    ``-t`` of the first-spike steps; ``dt/ds = -1`` at the first spike, a neuron that never fires
    counts as firing at the last step), prediction by the earliest output spike (snnTorch's
    ``accuracy_temporal`` rule). The seed does not give the encoder options; see the config.

Two shortcuts that change no number: the rate code's ``fc1(x)`` is computed once per batch and
reused at every step (the tutorial recomputes the same product 25 times; autograd sums the same
gradient), and the TTFS raster is multiplied by ``fc1``'s weights as a sparse matrix (a digit has
about 150 input spikes in 25 x 784 entries), then ``fc1``'s bias added at every step.

The training loop is :func:`snnlib.training.loop.fit` (Adam with PyTorch's default betas, which are the
tutorial's); the validation digits (``n_val``, the project's split) are held out of the 60,000
training digits, which the tutorial does not do. Time is in steps (the tutorial has no time unit).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from snnlib.config import Config, ConfigError, is_positive
from snnlib.data import datasets as data
from snnlib.inference import paired
from snnlib.metrics import mean_diff_ci
from snnlib.paths import checkpoints_root
from snnlib.report import glue_training
from snnlib.store import runs
from snnlib.training.base import config_digest
from snnlib.study.loading import sweep_run
from snnlib.training.loop import Batches, fit, seed_everything, summarize_curves

NAME = "snntorch-tutorial"
CODINGS = ("rate", "ttfs")
#: the test accuracies the seed quotes (tutorial 5's printed result; the seed's own TTFS run)
PUBLISHED = {"rate": 0.9387, "ttfs": 0.9535}


@dataclasses.dataclass(frozen=True)
class TutorialConfig(Config):
    """Fields (defaults: the tutorial's values):

    - ``coding``: ``"rate"`` (tutorial 5: constant current in, membrane cross-entropy, spike-count
      prediction) or ``"ttfs"`` (latency input, ``ce_temporal_loss``, first-spike prediction).
    - ``hidden``: hidden neurons (1000); ``n_steps``: simulation steps (25); ``beta``: the
      ``Leaky`` decay per step (0.95).
    - ``latency_tau``, ``latency_threshold``, ``latency_clip``, ``latency_normalize``,
      ``latency_linear``: options of ``snntorch.spikegen.latency`` for ``coding = "ttfs"``; the
      defaults are those of snnTorch's tutorial 1 (``tau=5, threshold=0.01, clip=True,
      normalize=True, linear=True``): pixel ``p`` in [0, 1] fires once, at step
      ``round((n_steps - 1) (1 - p))`` (``normalize`` replaces ``tau`` by ``n_steps - 1``), and
      pixels below 0.01 never fire.
    - ``lr`` (5e-4), ``batch_size`` (128), ``drop_last`` (the tutorial drops the incomplete last
      training batch), ``epochs`` (1).
    - ``n_train``, ``n_test``: first digits used (0: all); ``n_val``, ``val_seed``: validation digits
      held out of the official training set (the project's split); ``seeds``: one training per seed.
    - ``log_every``: training batches per logged mean loss (the tutorial plots every batch; 5 keeps
      the progress log short).
    """

    coding: str = "rate"
    hidden: int = 1000
    n_steps: int = 25
    beta: float = 0.95
    latency_tau: float = 5.0
    latency_threshold: float = 0.01
    latency_clip: bool = True
    latency_normalize: bool = True
    latency_linear: bool = True
    lr: float = 5e-4
    batch_size: int = 128
    drop_last: bool = True
    epochs: int = 1
    n_train: int = 0
    n_val: int = 5000
    val_seed: int = 0
    n_test: int = 0
    log_every: int = 5
    seeds: tuple = (0, 1, 2)

    def validate(self) -> None:
        super().validate()
        c = self._check
        self._check_seeds()
        c("coding", self.coding in CODINGS, "'rate' or 'ttfs'")
        for f in ("hidden", "n_steps", "batch_size", "epochs", "log_every"):
            v = getattr(self, f)
            c(f, isinstance(v, int) and not isinstance(v, bool) and v >= 1, "an integer >= 1")
        c("beta", isinstance(self.beta, (int, float)) and 0 <= self.beta <= 1, "a decay in [0, 1]")
        c("latency_tau", is_positive(self.latency_tau), "a positive number of steps")
        c("latency_threshold", isinstance(self.latency_threshold, (int, float)) and 0 <= self.latency_threshold < 1,
          "a pixel level in [0, 1)")
        for f in ("latency_clip", "latency_normalize", "latency_linear", "drop_last"):
            c(f, isinstance(getattr(self, f), bool), "true or false")
        if self.coding == "ttfs" and not self.latency_normalize:
            # without normalize the latest spike step depends on tau and may fall outside the window
            ok = self.latency_linear and self.latency_tau * (1 - self.latency_threshold) <= self.n_steps - 1
            c("latency_normalize", ok, "true, or a linear code whose latest spike tau (1 - threshold) "
              "falls within n_steps - 1")
        c("lr", is_positive(self.lr), "a positive learning rate")
        self._check_non_negative_int("n_train", "n_test", "n_val", "val_seed")


Config = TutorialConfig


class TutorialNet(torch.nn.Module):
    """Tutorial 5's ``Net``: ``fc1 -> Leaky -> fc2 -> Leaky`` unrolled over ``n_steps`` steps.

    ``forward(x)``: ``x`` is ``[B, 784]`` (a constant current, fed at every step) or a spike raster
    ``[T, B, 784]``. Returns ``(out, [hidden_spikes])``: ``out`` ``[2, T, B, 10]`` stacks the output
    spikes (``out[0]``) and membrane potentials (``out[1]``); ``hidden_spikes`` ``[B]``.
    """

    def __init__(self, n_in: int, n_hidden: int, n_out: int, beta: float, n_steps: int):
        import snntorch as snn  # optional: snnTorch, only for seed 002's tutorial runs

        super().__init__()
        self.n_steps = n_steps
        self.fc1 = torch.nn.Linear(n_in, n_hidden)
        self.lif1 = snn.Leaky(beta=beta)
        self.fc2 = torch.nn.Linear(n_hidden, n_out)
        self.lif2 = snn.Leaky(beta=beta)

    def input_current(self, x: torch.Tensor) -> torch.Tensor:
        """``fc1`` of the input: ``[B, H]`` for a constant current, ``[T, B, H]`` for a raster
        (a sparse product over its spikes; equal to ``self.fc1(x)``)."""
        if x.dim() == 2:
            return self.fc1(x)
        T, B, N = x.shape
        w = torch.sparse.mm(x.reshape(T * B, N).to_sparse(), self.fc1.weight.t())
        return (w + self.fc1.bias).reshape(T, B, -1)

    def forward(self, x: torch.Tensor):
        if x.dim() == 3 and x.shape[0] != self.n_steps:
            raise ValueError(f"input raster has {x.shape[0]} steps; the network simulates {self.n_steps}.")
        cur = self.input_current(x)
        mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        spk2_rec, mem2_rec, hidden = [], [], 0
        for step in range(self.n_steps):
            cur1 = cur if x.dim() == 2 else cur[step]
            spk1, mem1 = self.lif1(cur1, mem1)
            hidden = hidden + spk1.detach().sum(1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            spk2_rec.append(spk2)
            mem2_rec.append(mem2)
        return torch.stack([torch.stack(spk2_rec), torch.stack(mem2_rec)]), [hidden]


def encoder(cfg: TutorialConfig):
    """``encode(x, idx)``: pixels of images ``x[idx]`` scaled to [0, 1] (the tutorial's ``ToTensor``;
    its ``Normalize((0,), (1,))`` changes nothing), flattened to ``[B, 784]``; for TTFS, their
    ``spikegen.latency`` raster ``[T, B, 784]``."""
    from snntorch import spikegen  # optional: snnTorch, only for seed 002's tutorial runs

    def encode(x, idx):
        pixels = torch.as_tensor(np.asarray(x[idx]), dtype=torch.float32).reshape(len(idx), -1) / 255
        if cfg.coding == "rate":
            return pixels
        return spikegen.latency(pixels, num_steps=cfg.n_steps, tau=cfg.latency_tau,
                                threshold=cfg.latency_threshold, clip=cfg.latency_clip,
                                normalize=cfg.latency_normalize, linear=cfg.latency_linear)
    return encode


def loss_and_predict(cfg: TutorialConfig):
    """``(loss(out, y), predict(out))`` of the coding, on the network's ``[2, T, B, 10]`` output."""
    import snntorch.functional as SF  # optional: snnTorch, only for seed 002's tutorial runs

    if cfg.coding == "rate":
        ce = torch.nn.CrossEntropyLoss()

        def loss(out, y):  # tutorial 5, eq. (10): the cross-entropy of every step's potential, summed
            mem = out[1]
            return sum(ce(mem[t], y) for t in range(mem.shape[0]))

        def predict(out):  # the output neuron with the most spikes (``spk.sum(0).max(1)``)
            return out[0].sum(0).argmax(1)
        return loss, predict

    temporal = SF.ce_temporal_loss()  # inverse="negate": logits -t

    def loss(out, y):
        return temporal(out[0], y)

    def predict(out):  # snnTorch's accuracy_temporal: the earliest first spike (none: the last step)
        first = SF.loss.SpikeTime.FirstSpike.apply(out[0], out.device)
        return first.min(1).indices
    return loss, predict


def load(cfg: TutorialConfig) -> dict:
    """``{"train", "val", "test"}`` -> ``(images [N, 28, 28] uint8, labels [N])``."""
    sets = {s: data.load_mnist(s, n_val=cfg.n_val, val_seed=cfg.val_seed) for s in ("train", "val", "test")}
    for split, n in (("train", cfg.n_train), ("test", cfg.n_test)):
        if n:
            x, y = sets[split]
            sets[split] = (x[:n], y[:n])
    if cfg.drop_last and len(sets["train"][1]) < cfg.batch_size:
        raise ConfigError(f"TutorialConfig: {len(sets['train'][1])} training digits make no full batch of "
                          f"batch_size = {cfg.batch_size} with drop_last = true.")
    if cfg.n_val == 0:
        raise ConfigError("TutorialConfig.n_val = 0: the run reports a validation accuracy; hold out >= 1 digit.")
    return sets


def _checkpoint(cfg, seed: int) -> Path:
    """Per-epoch checkpoint of one seed, keyed by the config (``$SNNLIB_CHECKPOINTS/snntorch_tutorial``)."""
    return checkpoints_root() / NAME / f"{config_digest(cfg.to_dict())}-seed{seed}.pt"


def run_seed(cfg: TutorialConfig, seed: int, sets=None, progress: bool = True) -> xr.Dataset:
    """Train one network (seed ``seed``: initial weights and batch order) and return its curves."""
    seed_everything(seed)  # nn.Linear draws its initial weights from torch's global generator
    sets = load(cfg) if sets is None else sets
    model = TutorialNet(784, cfg.hidden, 10, cfg.beta, cfg.n_steps)
    loss, predict = loss_and_predict(cfg)
    encode = encoder(cfg)
    batches = {s: Batches(*xy, cfg.batch_size, encode, shuffle=(s == "train"), seed=seed,
                           drop_last=cfg.drop_last and s == "train") for s, xy in sets.items()}
    ds = fit(model, loss, predict, batches["train"], batches["val"], batches["test"], epochs=cfg.epochs,
             lr=cfg.lr, log_every=cfg.log_every, checkpoint=_checkpoint(cfg, seed),
             progress=progress, description=f"snntorch tutorial {cfg.coding} seed={seed}")
    seen = cfg.batch_size * cfg.log_every * np.arange(1, ds.sizes["log_chunk"] + 1)
    return ds.assign_coords(samples_seen=("log_chunk", np.minimum(seen, len(batches["train"]) * cfg.batch_size)))


def run(cfg: TutorialConfig, progress: bool = True) -> xr.Dataset:
    """Learning curves of every seed (dims ``seed``, ``epoch``, ``log_chunk``)."""
    sets = load(cfg)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: these small per-step products gain little from more
    try:
        ds = xr.concat([run_seed(cfg, s, sets, progress) for s in cfg.seeds], dim="seed").assign_coords(seed=list(cfg.seeds))
        ds.attrs.update({f"n_{split}": len(y) for split, (_, y) in sets.items()})
    finally:
        torch.set_num_threads(threads)
    ds.attrs.update(scheme="bptt", library="snntorch", coding=cfg.coding, dataset="mnist",
                    sizes=str((784, cfg.hidden, 10)), time_unit_note="steps (the tutorial has no time unit)",
                    published_test_accuracy=PUBLISHED[cfg.coding])
    return ds


def summarize(ds: xr.Dataset) -> dict:
    out = summarize_curves(ds)
    out["published_test_accuracy"] = float(ds.attrs["published_test_accuracy"])
    return out


# ------------------------------------------------------------------ the two setups, side by side
#: the runs of each setup and coding: the tutorial's (this module) and this study's (snnlib's BPTT)
SETUPS = {"tutorial": {"rate": "seed002-rate", "ttfs": "seed002-ttfs"},
          "study": {"rate": "encoding-rate", "ttfs": "encoding-ttfs"}}
SETUP_NAMES = {"tutorial": "snnTorch tutorial 5 (this chapter)", "study": "this study's encoding runs"}


def compare(load, setups=("tutorial", "study")) -> dict:
    """Test accuracy (final epoch, %) of each coding under each setup and, where both codings ran,
    their difference (Welch 95% interval over seeds).

    ``load(experiment)`` returns that experiment's :class:`~snnlib.store.runs.Run` or raises
    :class:`FileNotFoundError`. Returns ``{setup: {"rate", "rate_ci", "epochs_rate", "ttfs", ...,
    "diff", "diff_ci"}}`` (a coding's keys only where its run is found).
    """
    out = {}
    for setup in setups:
        row, acc = {}, {}
        for c in CODINGS:
            try:
                r = load(SETUPS[setup][c])
            except FileNotFoundError:
                continue
            acc[c] = np.asarray(r.summary["final_test_accuracy_per_seed"], dtype=float)
            row.update({c: 100 * r.summary["final_test_accuracy"], f"{c}_ci": 100 * r.summary["final_test_accuracy_ci95"],
                        f"epochs_{c}": r.summary["epochs"]})
        if len(acc) == len(CODINGS):
            d, h = mean_diff_ci(acc["ttfs"], acc["rate"])
            row.update(diff=100 * d, diff_ci=100 * h)
        if row:
            out[setup] = row
    return out


def study_run(coding: str, profile: str = "quick") -> runs.Run:
    """This study's encoding run of ``coding`` (a training sweep over seeds: its points' results,
    summarised over seeds, with the sweep's base config), as one :class:`~snnlib.store.runs.Run`."""
    return sweep_run(SETUPS["study"][coding], profile)


def loader(this, rate_run: str = ""):
    """``load(experiment)`` for :func:`compare` on a page: ``this`` run (a :class:`~snnlib.store.runs.Run`
    of this module), the rate run ``rate_run`` (``"experiment/run-id"``) when given, and this
    study's quick encoding runs; any other run counts as missing, so a page never depends on which
    runs happened to exist when it was executed."""
    own = SETUPS["tutorial"][this.config["coding"]]
    study = set(SETUPS["study"].values())

    def load(experiment: str):
        if experiment == own:
            return this
        if rate_run and experiment == rate_run.split("/")[0]:
            return runs.load(*rate_run.split("/"))
        if experiment in study:
            return study_run({v: k for k, v in SETUPS["study"].items()}[experiment])
        raise FileNotFoundError(f"{experiment} is not among this page's runs")
    return load


def comparison_markdown(rows: dict) -> str:
    """The two codings of :func:`compare` side by side per setup, as a Markdown table (numbers
    formatted from the runs, never typed; setups without both codings left out). Descriptive: the
    seed's ranking is judged once, in the findings chapter (:mod:`snnlib.analyses.findings`)."""
    both = {k: v for k, v in rows.items() if "diff" in v}
    lines = ["| setup | rate coding (%) | TTFS coding (%) | TTFS − rate (points, Welch 95% interval) |",
             "|---|---|---|---|"]
    for setup, r in both.items():
        lines.append(f"| {SETUP_NAMES[setup]} | {r['rate']:.2f} ± {r['rate_ci']:.2f} | {r['ttfs']:.2f} ± "
                     f"{r['ttfs_ci']:.2f} | {r['diff']:+.2f} ± {r['diff_ci']:.2f} |")
    return "\n".join(lines) + "\n"


def setup_markdown(tutorial: dict, study: dict) -> str:
    """How this chapter's run (config ``tutorial``) and this study's run of the same coding (config
    ``study``, a BPTT config) differ, as a Markdown table built from the two configs."""
    coding = tutorial["coding"]
    if coding == "rate":
        ours = "the image as a constant current at every step (no input spikes)"
        theirs = f"Bernoulli spikes, probability {study['rate_gain']:g}·p per step"
        loss = ("cross-entropy of the output potential at every step, summed", "cross-entropy of output spike counts")
        predict = ("most output spikes", "most output spikes")
    else:
        ours = (f"`spikegen.latency` (linear={tutorial['latency_linear']}, normalize={tutorial['latency_normalize']}, "
                f"clip={tutorial['latency_clip']}, threshold={tutorial['latency_threshold']:g}): one spike at step "
                f"round({tutorial['n_steps'] - 1}·(1 − p))")
        theirs = f"one spike at step floor({study['t_in']:g}·(1 − p)) (snnlib's TTFS raster)"
        loss = ("`ce_temporal_loss` on first-spike steps", "snnlib's `temporal_ce` (the same loss)")
        predict = ("earliest first spike", "earliest first spike, ties by spike count")
    neuron = f"`snn.Leaky(beta={tutorial['beta']:g})`"
    study_beta = float(np.exp(-float(study["dt"]) / float(study["tau"])))
    rows = [("input (pixel p in [0, 1])", ours, theirs), ("loss", *loss), ("prediction", *predict),
            ("neuron", neuron, f"snnlib's clock layer, Leaky, β = {study_beta:.3f}"),
            ("surrogate", "snnTorch's default arctan (α = 2)", f"`{study['surrogate']}`"),
            ("initial weights", "`nn.Linear` default", f"Kaiming-uniform × {study['weight_scale']:g}"),
            ("learning rate, epochs", f"{tutorial['lr']:g}, {tutorial['epochs']}", f"{study['lr']:g}, {study['epochs']}")]
    lines = ["| | this chapter (snnTorch tutorial 5) | this study's encoding run |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines) + "\n"


def glue_numbers(run, study) -> None:
    """Glue this run's numbers (:func:`snnlib.report.glue_training` plus the published accuracy, the
    recipe's accuracy minus it with its 95% interval (the paired t of the findings' "consistent with the published number" test), its config) and those of this study's run ``study`` of the
    same coding (prefixed ``study_``), for the page's prose."""
    from myst_nb import glue  # optional: myst_nb is there only where the book's notebooks run


    glue_training(run.results, run.summary)
    s, cfg = run.summary, run.config
    published = s["published_test_accuracy"]
    acc = 100 * np.asarray(s["final_test_accuracy_per_seed"], dtype=float)
    gap = paired(acc - 100 * published) if acc.size > 1 else None  # the findings' test of "consistent with the published number"
    numbers = {"published": 100 * published, "minus_published": float(acc.mean() - 100 * published),
               "minus_published_lo": gap.lo if gap else math.nan, "minus_published_hi": gap.hi if gap else math.nan,
               "n_val": int(run.results.attrs["n_val"]), "n_steps": cfg["n_steps"], "beta": cfg["beta"],
               "hidden": cfg["hidden"], "lr": cfg["lr"], "batch_size": cfg["batch_size"],
               "study_acc": 100 * study.summary["final_test_accuracy"],
               "study_ci": 100 * study.summary["final_test_accuracy_ci95"], "study_epochs": study.summary["epochs"]}
    d, h = mean_diff_ci(s["final_test_accuracy_per_seed"], study.summary["final_test_accuracy_per_seed"])
    numbers.update(tutorial_minus_study=100 * d, tutorial_minus_study_ci=100 * h)
    texts = {"coding": {"rate": "rate (constant-current input)", "ttfs": "time-to-first-spike"}[cfg["coding"]]}
    for key, value in {**numbers, **texts}.items():
        glue(key, value, display=False)
