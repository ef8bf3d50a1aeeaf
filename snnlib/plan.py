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
