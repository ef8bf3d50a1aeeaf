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
    git commit (and whether the tree was modified), package versions, device, wall time (s), start
    and end time, the SHA-256 of every result file (``checksums``) and, for a training, the code
    that trained it (``trained_by``: one entry per training session when it resumed);
``notebook.ipynb``
    the papermill-executed notebook, written last: a run folder is complete when it exists;
``weights.npz``
    training runs whose weights a later experiment consumes: the best-validation weights (float32).

A sweep's points are run folders ``runs/<sweep>/<profile>/<point-id>/`` (:func:`point_dir`);
:func:`snnlib.study.loading.load_sweep` gathers them into one Dataset. The folders are found
through :mod:`snnlib.paths` (``$SNNLIB_RUNS``); a run's config is a :class:`snnlib.config.Config`.

Results cannot silently lie: :func:`load` and :func:`is_complete` check every result file against
the SHA-256 recorded in ``meta.json`` (:func:`verify`); a damaged, truncated or edited file raises
:class:`DamagedRunError` naming the file and the fix, and :func:`run_or_load` remakes such a run
(keeping the damaged files as ``*.damaged``). ``summary.json`` is strict JSON: a NaN is written as
``null`` and read back as NaN.

Every file is written atomically (:func:`snnlib.files.atomic_write`: a temporary file in the same
folder, then :func:`os.replace`), so an interrupted run leaves either the previous complete file or
nothing, never half a file.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata as md
import json
import os
import math
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple

import numpy as np
import xarray as xr
import yaml

from snnlib.config import Config, ConfigError, plain
from snnlib.files import atomic_write, sha256_bytes
from snnlib.paths import runs_root
from snnlib.provenance import code_state

__all__ = ["NOTEBOOK", "RESULT_FILES", "DamagedRunError", "Run", "run_dir", "save", "load", "verify",
           "verify_all", "record_checksums", "sha256_of", "cost_s", "is_complete", "run_or_load", "environment_meta", "point_dir"]

#: the executed notebook of a run folder, written last: its presence says the run is complete
NOTEBOOK = "notebook.ipynb"

#: the result files :func:`save` writes; ``meta.json`` (written last) records their SHA-256
RESULT_FILES = ("config.yaml", "results.nc", "summary.json")


class DamagedRunError(RuntimeError):
    """A run folder's file is damaged (unreadable, truncated, or not the bytes its ``meta.json``
    recorded); the message names the file and the fix."""


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


def environment_meta() -> dict[str, Any]:
    """Provenance of a run: git commit (and whether the tree was dirty), versions, device (with the
    CPU's model and the instruction set torch uses: a training is bit-reproducible on the same kind).

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
    return {
        **code_state(),
        "versions": versions,
        "device": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            # float results are bit-reproducible on the same kind of CPU only (kernels are chosen by
            # instruction set): the model and the instruction set torch dispatches to say which kind
            "cpu_model": _cpu_model(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability() if torch else None,
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads() if torch else None,
            "cuda": torch.cuda.get_device_name(0) if torch and torch.cuda.is_available() else None,
        },
    }


def _cpu_model() -> str | None:
    """The CPU's model name (``/proc/cpuinfo`` on Linux; ``None`` where it cannot be read)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), None)
    except OSError:
        return None


def _strict(obj: Any) -> Any:
    """``obj`` as strict JSON holds it: NaN and infinities as ``None`` (``null``), numpy scalars as
    Python numbers, tuples as lists."""
    if isinstance(obj, dict):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_strict(v) for v in obj]
    if isinstance(obj, (np.integer, np.bool_)):
        return obj.item()
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def _json(obj: Any) -> str:
    return json.dumps(_strict(obj), indent=2, sort_keys=True, allow_nan=False) + "\n"


def _nan_for_null(obj: Any) -> Any:
    """A loaded summary: ``null`` (how strict JSON writes a NaN) back to NaN."""
    if isinstance(obj, dict):
        return {k: _nan_for_null(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_nan_for_null(v) for v in obj]
    return math.nan if obj is None else obj


def _sha256(path: Path) -> str:
    return sha256_bytes(path.read_bytes())


def sha256_of(path: str | os.PathLike) -> str | None:
    """The SHA-256 of the file ``path``, ``None`` when there is none (e.g. a run not made yet)."""
    path = Path(path)
    return _sha256(path) if path.is_file() else None


#: ``results.nc``: numeric variables of more bytes than this are compressed (zlib), smaller ones stored as they are
COMPRESS_ABOVE = 4096


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
    # only arrays worth it are compressed: HDF5 gives each compressed (chunked) variable its own index and
    # filter pipeline, about 2 kB: a point's dozen short learning curves took 45 kB instead of 22 kB
    encoding = {v: {"zlib": True, "complevel": 4} for v in results.data_vars
                if results[v].dtype.kind in "iuf" and results[v].nbytes > COMPRESS_ABOVE}
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
            "checksums": {f: _sha256(path / f) for f in RESULT_FILES},
        }
    )
    if "trained_by" in results.attrs:  # a training: the code of each session that trained it
        sessions = json.loads(results.attrs["trained_by"])
        meta["trained_by"] = sessions
        meta["train_wall_time_s"] = float(sum(s["wall_time_s"] for s in sessions))
        # the compute a run took: this session's wall time plus the sessions it resumed from
        earlier = [s for s in sessions if started and s.get("finished") and s["finished"] < started]
        meta["total_wall_time_s"] = float(wall_time_s) + float(sum(s["wall_time_s"] for s in earlier))
    # meta.json last: its presence says the other three are complete.
    atomic_write(path / "meta.json", _json(meta))
    return path


def cost_s(meta: Mapping[str, Any]) -> float:
    """Seconds of compute a run took: ``total_wall_time_s`` (its wall time plus the training sessions
    it resumed from) where recorded, else its ``wall_time_s``."""
    return float(meta.get("total_wall_time_s", meta.get("wall_time_s", 0.0)))


def _has_results(path: Path) -> bool:
    return all((path / f).is_file() for f in (*RESULT_FILES, "meta.json"))


def _fix(path: Path) -> str:
    return (f"restore it (`git checkout -- {path}` for a committed run) or delete the folder {path} "
            "to remake the run")


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads((path / "meta.json").read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise DamagedRunError(f"{path / 'meta.json'} cannot be read ({err}); {_fix(path)}.") from None
    if not isinstance(meta, dict):
        raise DamagedRunError(f"{path / 'meta.json'} is not a JSON object; {_fix(path)}.")
    return meta


def verify(path: str | os.PathLike) -> dict[str, Any]:
    """Check every file ``meta.json`` lists under ``checksums`` (the result files, and files added
    later such as ``weights.npz``) against its recorded SHA-256; return the meta. Raises
    :class:`DamagedRunError` naming the first file that is missing or differs, and the fix."""
    path = Path(path)
    meta = _read_meta(path)
    sums = meta.get("checksums")
    if not isinstance(sums, dict) or not set(RESULT_FILES) <= set(sums):
        raise DamagedRunError(
            f"{path / 'meta.json'} records no checksums of the result files, so they cannot be "
            "verified (made by code older than the checksums, or edited); remake the run: delete the "
            f"folder {path} and run it again.")
    for name, digest in sums.items():
        f = path / name
        if not f.is_file():
            raise DamagedRunError(f"{f} is missing (meta.json records its checksum); {_fix(path)}.")
        if _sha256(f) != digest:
            raise DamagedRunError(
                f"{f} is damaged: its SHA-256 is not the one meta.json recorded when the run was "
                f"written ({f.stat().st_size} bytes now); {_fix(path)}.")
    return meta


def verify_all(root: str | os.PathLike | None = None) -> tuple[int, dict[Path, str]]:
    """Verify every run folder with results under the runs folder (``root``, else ``$SNNLIB_RUNS``):
    ``(number of folders, {folder: error message} of those that fail)``. ``python -m snnlib verify``."""
    folders = sorted(p.parent for p in runs_root(root).rglob("meta.json"))
    failed = {}
    for folder in folders:
        try:
            verify(folder)
        except DamagedRunError as err:
            failed[folder] = str(err)
    return len(folders), failed


def record_checksums(path: str | os.PathLike, names: tuple[str, ...] | list[str]) -> None:
    """Add the SHA-256 of the files ``names`` (written after the results, e.g. ``weights.npz``) to
    the ``checksums`` of the run folder's ``meta.json`` (rewritten atomically)."""
    path = Path(path)
    meta = _read_meta(path)
    meta.setdefault("checksums", {}).update({n: _sha256(path / n) for n in names})
    atomic_write(path / "meta.json", _json(meta))


def is_complete(path: str | os.PathLike, *, verified: bool = True) -> bool:
    """A run folder is complete when its results and its executed notebook are written and every
    result file matches its recorded checksum (a damaged run counts as missing: a sweep remakes it).
    ``verified=False``: written, damaged or not (a reader then loads it, and a damaged file raises)."""
    path = Path(path)
    if not (_has_results(path) and (path / NOTEBOOK).is_file()):
        return False
    if not verified:
        return True
    try:
        verify(path)
    except DamagedRunError:
        return False
    return True


def load(
    experiment: str | os.PathLike, run_id: str | None = None, root: str | os.PathLike | None = None
) -> Run:
    """Load a run by ``(experiment, run_id)`` or by its folder path, verified (:func:`verify`).

    Raises :class:`FileNotFoundError` naming the folder and the command that makes the run when
    its results are missing, and :class:`DamagedRunError` naming the file when one is damaged.
    """
    path = Path(experiment) if run_id is None else run_dir(str(experiment), run_id, root)
    if not _has_results(path):
        key = f"{path.parent.name}/{path.name}"
        raise FileNotFoundError(
            f"No complete results in {path}. Make them with `make runs` or "
            f"`.venv/bin/python -m snnlib execute {key}`."
        )
    meta = verify(path)

    def read(name: str, parse: Callable[[Path], Any]) -> Any:
        try:
            return parse(path / name)
        except Exception as err:  # noqa: BLE001  netCDF/HDF, YAML and JSON errors: name the file
            raise DamagedRunError(f"{path / name} cannot be read ({type(err).__name__}: {err}); "
                                  f"{_fix(path)}.") from None

    def dataset(p: Path) -> xr.Dataset:
        with xr.open_dataset(p) as ds:
            return ds.load()

    config = read("config.yaml", lambda p: yaml.safe_load(p.read_text()))
    results = read("results.nc", dataset)
    summary = _nan_for_null(read("summary.json", lambda p: json.loads(p.read_text())))
    return Run(path, config, results, summary, meta)


def _set_aside(path: Path, err: DamagedRunError) -> None:
    """Rename a damaged run's files to ``*.damaged`` (kept, never lost), so that it is remade."""
    print(f"snnlib: {err} Remaking the run; its files are kept as *.damaged.", file=sys.stderr)
    for name in ("meta.json", *RESULT_FILES, NOTEBOOK):
        if (path / name).exists():
            os.replace(path / name, path / f"{name}.damaged")


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
        try:
            verify(path)
        except DamagedRunError as err:
            _set_aside(path, err)
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


