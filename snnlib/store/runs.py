"""Run folders and their results: save, load, and compute-or-load by config.

Every run lives in ``runs/<experiment>/<run-id>/`` and holds

``config.yaml``
    the resolved config (every field, defaults included);
``results.nc``
    an :class:`xarray.Dataset` (dims such as ``epoch``, ``dt``, ``order``, ``seed``; units and the
    config in its attributes; time in ms);
``summary.json``
    the headline numbers that the book quotes;
``meta.json``
    git commit, package versions, device, wall time (s), start and end time;
``notebook.ipynb``
    the papermill-executed notebook, written last: a run folder is complete when it exists;
``weights.npz``
    training runs whose weights a later experiment consumes: the best-validation weights (float32).

A sweep's points are run folders ``runs/<sweep>/<profile>/<point-id>/`` (:func:`point_dir`);
:func:`snnlib.study.loading.load_sweep` gathers them into one Dataset. The folders are found
through :mod:`snnlib.paths` (``$SNNLIB_RUNS``); a run's config is a :class:`snnlib.config.Config`.

Every file is written atomically (:func:`snnlib.files.atomic_write`: a temporary file in the same
folder, then :func:`os.replace`), so an interrupted run leaves either the previous complete file or
nothing, never half a file.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata as md
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple

import xarray as xr
import yaml

from snnlib.config import Config, ConfigError, plain
from snnlib.files import atomic_write
from snnlib.paths import runs_root

__all__ = ["NOTEBOOK", "Run", "run_dir", "save", "load", "is_complete", "run_or_load", "environment_meta", "point_dir"]

#: the executed notebook of a run folder, written last: its presence says the run is complete
NOTEBOOK = "notebook.ipynb"


class Run(NamedTuple):
    """A loaded run: its folder, resolved config, results, headline numbers and provenance."""

    path: Path
    config: dict[str, Any]
    results: xr.Dataset
    summary: dict[str, Any]
    meta: dict[str, Any]


def run_dir(experiment: str, run_id: str, root: str | os.PathLike | None = None) -> Path:
    for name, value in (("experiment", experiment), ("run_id", run_id)):
        if not value or "/" in value or value.startswith("."):
            raise ConfigError(f"{name} = {value!r} is not a valid folder name.")
    return runs_root(root) / experiment / run_id


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=Path(__file__).resolve().parent, capture_output=True, text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def environment_meta() -> dict[str, Any]:
    """Provenance of a run: git commit (and whether the tree was dirty), versions, device.

    torch's threads and GPU are read from the torch this process has loaded (every training and
    experiment has); the store itself does not load it (``None`` where a run never did)."""
    torch = sys.modules.get("torch")
    versions = {"python": platform.python_version()}
    for pkg in ("snnlib", "torch", "numpy", "xarray", "snntorch", "tonic", "papermill"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    # the code's state: results being (re)made under runs/ do not make the code dirty
    status = _git("status", "--porcelain", "--untracked-files=no", "--", ":(top)", ":(top,exclude)runs")
    return {
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "versions": versions,
        "device": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads() if torch else None,
            "cuda": torch.cuda.get_device_name(0) if torch and torch.cuda.is_available() else None,
        },
    }


def _json(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, default=float) + "\n"


def save(
    path: str | os.PathLike,
    config: Config,
    results: xr.Dataset,
    summary: Mapping[str, Any],
    wall_time_s: float,
    started: str | None = None,
) -> Path:
    """Write ``config.yaml``, ``results.nc``, ``summary.json`` and ``meta.json`` atomically.

    The config is also stored in the Dataset's attributes (``config``, as YAML) together with
    ``time_unit = "ms"``, so ``results.nc`` alone says how it was made.
    """
    path = Path(path)
    cfg = config.to_dict()
    cfg_yaml = yaml.safe_dump(cfg, sort_keys=True)
    results = results.copy()
    results.attrs.update(
        {"config": cfg_yaml, "config_class": type(config).__name__, "time_unit": "ms"}
    )
    atomic_write(path / "config.yaml", cfg_yaml)
    encoding = {v: {"zlib": True, "complevel": 4} for v in results.data_vars
                if results[v].dtype.kind in "iuf"}
    atomic_write(path / "results.nc", lambda p: results.to_netcdf(p, encoding=encoding))
    atomic_write(path / "summary.json", _json(dict(summary)))
    meta = environment_meta()
    meta.update(
        {
            "config_class": type(config).__name__,
            "seed": getattr(config, "seeds", getattr(config, "seed", None)),
            "wall_time_s": float(wall_time_s),
            "started": started,
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
    )
    # meta.json last: its presence says the other three are complete.
    atomic_write(path / "meta.json", _json(meta))
    return path


def _has_results(path: Path) -> bool:
    return all((path / f).is_file() for f in ("config.yaml", "results.nc", "summary.json", "meta.json"))


def is_complete(path: str | os.PathLike) -> bool:
    """A run folder is complete when its results and its executed notebook are written."""
    path = Path(path)
    return _has_results(path) and (path / NOTEBOOK).is_file()


def load(
    experiment: str | os.PathLike, run_id: str | None = None, root: str | os.PathLike | None = None
) -> Run:
    """Load a run by ``(experiment, run_id)`` or by its folder path.

    Raises :class:`FileNotFoundError` naming the folder and the command that makes the run when
    its results are missing.
    """
    path = Path(experiment) if run_id is None else run_dir(str(experiment), run_id, root)
    if not _has_results(path):
        key = f"{path.parent.name}/{path.name}"
        raise FileNotFoundError(
            f"No complete results in {path}. Make them with `make runs` or "
            f"`.venv/bin/python -m snnlib execute {key}`."
        )
    config = yaml.safe_load((path / "config.yaml").read_text())
    with xr.open_dataset(path / "results.nc") as ds:
        results = ds.load()
    summary = json.loads((path / "summary.json").read_text())
    meta = json.loads((path / "meta.json").read_text())
    return Run(path, config, results, summary, meta)


def run_or_load(
    config: Config,
    path: str | os.PathLike | None,
    run: Callable[[Any], xr.Dataset],
    summarize: Callable[[xr.Dataset], Mapping[str, Any]],
) -> Run:
    """Return the run in ``path``: computed now if absent, loaded if already there.

    A folder that holds results of a *different* config is never overwritten (results are never
    lost): a :class:`ConfigError` says which fields differ. A field the stored config lacks counts
    as equal when the config holds its default (a field added to the class since); execution fields
    (``Config.EXECUTION``, e.g. the device) are not compared. ``path=None`` (interactive
    exploration) computes and returns the run without writing anything.
    """
    if path is None:
        t0 = time.perf_counter()
        results = run(config)
        meta = dict(environment_meta(), wall_time_s=time.perf_counter() - t0)
        return Run(None, config.to_dict(), results, dict(summarize(results)), meta)
    path = Path(path)
    if _has_results(path):
        stored = yaml.safe_load((path / "config.yaml").read_text())
        wanted = config.to_dict()
        # fields added to the config class after these results were made, at their default: the
        # same config (the default is what the code did before the field existed)
        added = {f.name for f in dataclasses.fields(config) if f.name not in stored
                 and f.default is not dataclasses.MISSING and plain(f.default) == wanted.get(f.name)}
        added |= set(type(config).EXECUTION)  # where it ran does not make it another run
        diff = sorted(k for k in set(stored) | set(wanted) if k not in added and stored.get(k) != wanted.get(k))
        if diff:
            raise ConfigError(
                f"{path} already holds results for another config (fields differ: "
                f"{', '.join(diff)}). Delete that folder or choose another run id."
            )
        return load(path)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    results = run(config)
    wall = time.perf_counter() - t0
    save(path, config, results, summarize(results), wall, started=started)
    return load(path)


def point_dir(sweep: str, profile: str, point_id: str, root: str | os.PathLike | None = None) -> Path:
    """``runs/<sweep>/<profile>/<point-id>``."""
    return run_dir(sweep, profile, root) / point_id


