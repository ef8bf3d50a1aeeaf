"""Experiment configs, run folders and their results.

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

A sweep's points are run folders ``runs/<sweep>/<profile>/<point-id>/``; :func:`load_sweep` gathers
them into one Dataset. The folders are found through :mod:`snnlib.paths` (``$SNNLIB_RUNS``).

Every file is written atomically (temporary file in the same folder, then :func:`os.replace`), so an
interrupted run leaves either the previous complete file or nothing, never half a file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, NamedTuple

import xarray as xr
import yaml

from .paths import runs_root

__all__ = [
    "ConfigError",
    "Config",
    "Run",
    "runs_root",
    "run_dir",
    "atomic_write",
    "save",
    "load",
    "is_complete",
    "run_or_load",
    "environment_meta",
    "point_dir",
    "load_sweep",
    "MissingPointsError",
]

NOTEBOOK = "notebook.ipynb"


def is_positive(v) -> bool:
    """A finite positive number (not a bool): the most common rule of config fields."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < float("inf")


class ConfigError(ValueError):
    """An invalid config value; the message names the field."""


@dataclasses.dataclass(frozen=True)
class Config:
    """Base of the experiment configs: frozen, validated before any compute.

    Subclasses declare their fields (each documented in the class docstring; a ``seed`` or
    ``seeds`` field where results depend on randomness) and extend :meth:`validate`, calling
    :meth:`_check` for each rule. Unknown keys are refused by :meth:`from_dict` so a typo in a
    papermill parameter never silently falls back to a default. ``EXECUTION``: fields that say
    how a run is executed, not what it computes (a training config's ``device``); a run's identity
    ignores them.
    """

    EXECUTION: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid field (subclasses extend this)."""

    def _check(self, field: str, ok: bool, expected: str) -> None:
        if not ok:
            value = getattr(self, field)
            raise ConfigError(
                f"{type(self).__name__}.{field} = {value!r} is invalid: expected {expected}."
            )

    # the rules several configs share
    def _check_non_negative_int(self, *fields: str) -> None:
        for f in fields:
            v = getattr(self, f)
            self._check(f, isinstance(v, int) and v >= 0, "a non-negative integer")

    def _check_seeds(self, field: str = "seeds") -> None:
        v = getattr(self, field)
        self._check(field, isinstance(v, tuple) and len(v) > 0 and all(isinstance(x, int) and x >= 0 for x in v),
                    "a tuple of non-negative integers")

    def to_dict(self) -> dict[str, Any]:
        return {k: _plain(v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | str) -> "Config":
        """The config of ``values``: a mapping, or its JSON/YAML text (``papermill -p config
        '{"epochs": 3}'`` passes a string)."""
        if isinstance(values, str):
            values = _parse_mapping(cls.__name__, values)
        if not isinstance(values, Mapping):
            raise ConfigError(f"{cls.__name__}: config = {values!r} is not a mapping. " + _CONFIG_FORM)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(
                f"{cls.__name__} has no field(s) {', '.join(unknown)}; known fields: "
                f"{', '.join(sorted(names))}."
            )
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name in values:
                v = values[f.name]
                # YAML and papermill give lists where the dataclass holds tuples.
                kwargs[f.name] = tuple(v) if isinstance(v, list) else v
        return cls(**kwargs)


_CONFIG_FORM = ("Give the fields as a mapping, e.g. with papermill `-y 'config: {epochs: 3, seeds: [0]}'` "
                "(or `-p config '{\"epochs\": 3}'`, parsed as JSON/YAML).")


def _parse_mapping(name: str, text: str) -> Any:
    try:
        return json.loads(text)  # first: PyYAML would read JSON's 1e-3 as a string
    except json.JSONDecodeError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{name}: config = {text!r} is not valid JSON/YAML ({e}). " + _CONFIG_FORM) from e


def _plain(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    return v


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


def atomic_write(path: str | os.PathLike, data: str | bytes | Callable[[Path], None]) -> Path:
    """Write ``data`` (text, bytes, or a function that writes a given path) to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        if callable(data):
            data(tmp)
        elif isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


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
    """Provenance of a run: git commit (and whether the tree was dirty), versions, device."""
    import importlib.metadata as md

    import torch

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
            "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
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
                 and f.default is not dataclasses.MISSING and _plain(f.default) == wanted.get(f.name)}
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


def _json_scalar(o: Any) -> Any:
    return o.tolist() if hasattr(o, "tolist") else str(o)


class MissingPointsError(FileNotFoundError):
    """Some points of a sweep have no complete run folder; ``missing`` lists their ids."""

    def __init__(self, message: str, missing: list[str]):
        super().__init__(message)
        self.missing = missing


def point_dir(sweep: str, profile: str, point_id: str, root: str | os.PathLike | None = None) -> Path:
    """``runs/<sweep>/<profile>/<point-id>``."""
    return run_dir(sweep, profile, root) / point_id


def load_sweep(name: str, profile: str = "quick", *, root: str | os.PathLike | None = None,
               allow_missing: bool = False) -> xr.Dataset:
    """One :class:`xarray.Dataset` of the planned sweep ``name``: every point's results along the
    grid's dims (``seed`` among them), plus each point's own dims (``epoch``, ``samples_seen``, ...).

    A point counts only when its run folder is complete (executed notebook written). Missing points
    raise :class:`MissingPointsError` naming them and the command that makes them; with
    ``allow_missing=True`` they are NaN, listed in ``attrs["missing"]`` and in a warning.
    ``attrs``: ``sweep``, ``profile``, ``grid`` (JSON), ``config`` (YAML of the fields all points
    share), ``points`` (JSON: each point's grid values and varying attributes), ``time_unit``, and
    the results' attributes common to all points.
    """
    import warnings

    from . import plan
    from .sweeps import format_value

    points = plan.sweep(name).points(profile)
    grid = plan.sweep(name).profiles[profile].grid
    coord = {k: [v if isinstance(v, (int, float, str, bool)) else format_value(v) for v in vs]
             for k, vs in grid.items()}
    missing = [p.id for p in points if not is_complete(point_dir(name, profile, p.id, root))]
    if missing and not allow_missing:
        raise MissingPointsError(
            f"sweep {name}/{profile}: {len(missing)} of {len(points)} points missing: {', '.join(missing)}. "
            f"Make them with `python -m snnlib sweep {name} --profile {profile}` (or `make runs`), or "
            "pass allow_missing=True to load the others.", missing)
    if len(missing) == len(points):
        raise MissingPointsError(f"sweep {name}/{profile}: no point is complete ({len(points)} planned).", missing)
    parts, configs, point_attrs = [], [], {}
    for p in points:
        if p.id in missing:
            continue
        run = load(point_dir(name, profile, p.id, root))
        ds = run.results.expand_dims({k: [coord[k][list(grid[k]).index(v)]] for k, v in p.params.items()})
        parts.append(ds.drop_attrs(deep=False))
        configs.append(run.config)
        point_attrs[p.id] = {"params": {k: _plain(v) for k, v in p.params.items()}, "attrs": dict(run.results.attrs)}
    out = xr.merge(parts, join="outer", compat="no_conflicts", combine_attrs="drop")
    out = out.reindex({k: coord[k] for k in grid})
    for v in out.data_vars:
        out[v].attrs = dict(parts[0][v].attrs) if v in parts[0] else {}
    for c in out.coords:
        if c in parts[0].coords:
            out[c].attrs = dict(parts[0][c].attrs)
    shared_attrs = {k: v for k, v in point_attrs[next(iter(point_attrs))]["attrs"].items()
                    if k != "config" and all(a["attrs"].get(k) == v for a in point_attrs.values())}
    for a in point_attrs.values():
        a["attrs"] = {k: v for k, v in a["attrs"].items() if k not in shared_attrs and k != "config"}
    shared_cfg = {k: v for k, v in configs[0].items() if all(c.get(k) == v for c in configs) and k not in grid}
    out.attrs.update(shared_attrs)
    out.attrs.update(sweep=name, profile=profile, time_unit="ms", missing=missing,
                     grid=json.dumps({k: [_plain(v) for v in vs] for k, vs in grid.items()}),
                     config=yaml.safe_dump(shared_cfg, sort_keys=True),
                     points=json.dumps(point_attrs, default=_json_scalar))
    if missing:
        warnings.warn(f"sweep {name}/{profile}: points missing (NaN): {', '.join(missing)}", stacklevel=2)
    return out
