"""The runs of the study, per profile: what ``make runs`` executes and the book shows.

``quick`` fits this project's 2-core development machine (subsets, few epochs); ``full`` is the
paper-scale profile for a GPU or a cluster. A run is ``runs/<experiment>/<run_id>/``, made by
executing ``notebook`` with papermill and ``parameters`` (plus ``run_dir``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping

PROFILES = ("quick", "full")
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@dataclasses.dataclass(frozen=True)
class PlannedRun:
    experiment: str
    run_id: str
    notebook: str
    profiles: tuple[str, ...]
    parameters: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.experiment}/{self.run_id}"


PLAN: tuple[PlannedRun, ...] = (
    PlannedRun("data-overview", "quick", "data_overview.ipynb", ("quick",), {"nmnist_subset": "quick"}),
    PlannedRun("data-overview", "full", "data_overview.ipynb", ("full",), {"nmnist_subset": "full"}),
    # cheap and machine-independent but for its timings: the same run in both profiles
    PlannedRun("single-neuron", "quick", "single_neuron.ipynb", ("quick", "full")),
    # machine-dependent timings gathered from `make bench` (benchmarks/results/*.json)
    PlannedRun("performance", "quick", "performance.ipynb", ("quick", "full")),
    # exact spike-time gradients (BATS scheme), BATS's multi-spike MNIST settings, 3 seeds
    PlannedRun("spiketime-mnist", "quick", "spiketime.ipynb", ("quick",), {
        "title": "Exact spike-time gradients (BATS) on MNIST, 784-800-10",
        "config": {"variant": "multi", "hidden": [800], "lr_schedule": "cosine", "epochs": 10,
                   "seeds": [0, 1, 2]}}),
    # BPTT (SLAYER scheme), quick profile: 3 seeds each
    PlannedRun("bptt-mnist-ttfs", "quick", "bptt.ipynb", ("quick",), {
        "title": "BPTT on MNIST (time-to-first-spike), 784-800-10",
        "config": {"dataset": "mnist", "encoding": "ttfs", "hidden": [800], "n_steps": 100, "dt": 1.0,
                   "theta": 2.0, "weight_scale": 0.5, "loss": "count_ce", "lr": 2e-3,
                   "lr_schedule": "cosine", "batch_size": 64, "epochs": 10, "seeds": [0, 1, 2]}}),
    PlannedRun("bptt-nmnist", "quick", "bptt.ipynb", ("quick",), {
        "title": "BPTT on N-MNIST (1,000 / 100 recordings), 2312-500-10",
        "config": {"dataset": "nmnist", "hidden": [500], "n_steps": 300, "dt": 1.0, "theta": 1.25,
                   "weight_scale": 0.3, "loss": "rate", "true_rate": 0.2, "false_rate": 0.03,
                   "lr": 1e-3, "batch_size": 32, "epochs": 20, "n_val": 100, "seeds": [0, 1, 2]}}),
    PlannedRun("bptt-nmnist-lava", "quick", "bptt.ipynb", ("quick",), {
        "title": "BPTT on N-MNIST (1,000 / 100 recordings), lava-dl recipe 2312-512-512-10",
        "config": {"dataset": "nmnist", "hidden": [512, 512], "n_steps": 300, "dt": 1.0, "theta": 1.25,
                   "weight_scale": 0.1, "loss": "rate", "true_rate": 0.2, "false_rate": 0.03,
                   "lr": 1e-3, "batch_size": 32, "epochs": 20, "n_val": 100, "seeds": [0, 1, 2]}}),
    # seed 002: snnTorch-style Leaky network (no synaptic current), rate vs time-to-first-spike coding.
    # Same network, steps and optimiser; the initial weight scale follows the input spike count
    # (rate coding sends about 15x more input spikes than TTFS).
    PlannedRun("encoding-rate", "quick", "bptt.ipynb", ("quick",), {
        "title": "Rate coding: Leaky 784-1000-10 (BPTT)",
        "config": {"dataset": "mnist", "encoding": "rate", "rate_gain": 1.0, "hidden": [1000], "tau_s": 0.0,
                   "tau": 19.5, "n_steps": 25, "theta": 1.0, "weight_scale": 0.41, "loss": "count_ce",
                   "lr": 2e-3, "batch_size": 128, "epochs": 2, "seeds": [0, 1, 2]}}),
    PlannedRun("encoding-ttfs", "quick", "bptt.ipynb", ("quick",), {
        "title": "Time-to-first-spike coding: Leaky 784-1000-10 (BPTT)",
        "config": {"dataset": "mnist", "encoding": "ttfs", "t_in": 25.0, "hidden": [1000], "tau_s": 0.0,
                   "tau": 19.5, "n_steps": 25, "theta": 1.0, "weight_scale": 1.5, "loss": "temporal_ce",
                   "lr": 2e-3, "batch_size": 128, "epochs": 2, "seeds": [0, 1, 2]}}),
    # --- full profile: paper-scale runs for a GPU or a cluster -----------------------------------
    PlannedRun("spiketime-mnist", "full", "spiketime.ipynb", ("full",), {
        "title": "Exact spike-time gradients (BATS) on MNIST, 784-800-10, 100 epochs",
        "config": {"variant": "multi", "hidden": [800], "epochs": 100, "seeds": [0, 1, 2, 3, 4]}}),
    PlannedRun("bptt-mnist-ttfs", "full", "bptt.ipynb", ("full",), {
        "title": "BPTT on MNIST (time-to-first-spike), 784-800-10, 100 epochs",
        "config": {"dataset": "mnist", "encoding": "ttfs", "hidden": [800], "n_steps": 100, "dt": 1.0,
                   "theta": 2.0, "weight_scale": 0.5, "loss": "count_ce", "lr": 2e-3,
                   "lr_schedule": "cosine", "batch_size": 64, "epochs": 100, "seeds": [0, 1, 2, 3, 4]}}),
    PlannedRun("bptt-nmnist", "full", "bptt.ipynb", ("full",), {
        "title": "BPTT on N-MNIST (full set), lava-dl recipe 2312-512-512-10",
        "config": {"dataset": "nmnist", "nmnist_subset": "full", "hidden": [512, 512], "n_steps": 300,
                   "dt": 1.0, "theta": 1.25, "weight_scale": 0.1, "loss": "rate", "true_rate": 0.2,
                   "false_rate": 0.03, "lr": 1e-3, "batch_size": 32, "epochs": 100, "n_val": 5000,
                   "seeds": [0, 1, 2]}}),
)


def planned(profile: str) -> list[PlannedRun]:
    if profile not in PROFILES:
        raise ValueError(f"profile = {profile!r}: expected one of {', '.join(PROFILES)}.")
    return [r for r in PLAN if profile in r.profiles]


def find(key: str) -> PlannedRun:
    for r in PLAN:
        if r.key == key:
            return r
    raise KeyError(f"no planned run {key!r}; planned: {', '.join(r.key for r in PLAN)}")


def book_toc(toc: str, profile: str) -> str:
    """The book's table of contents for ``profile``: each ``runs/<experiment>/quick/notebook`` entry
    becomes that experiment's run of the profile; experiments without one are left out."""
    if profile == "quick":
        return toc
    runs = {r.experiment: r.run_id for r in planned(profile)}
    lines = []
    for line in toc.splitlines():
        if "file: runs/" in line:
            exp = line.split("file: runs/")[1].split("/")[0]
            if exp not in runs:
                continue
            line = line.replace(f"runs/{exp}/quick/", f"runs/{exp}/{runs[exp]}/")
        lines.append(line)
    return "\n".join(lines) + "\n"
