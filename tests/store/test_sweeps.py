"""Sweep declaration: stable, unique point ids; refused ambiguities; load_sweep over complete and
partial sweeps."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import xarray as xr

from snnlib.config import Config, ConfigError
from snnlib.pipeline import execution, makerules
from snnlib.pipeline.checks import check_configs
from snnlib.store import runs
from snnlib.store.sweeps import Sweep, SweepProfile, point_id
from snnlib.study import loading, plan
from snnlib.study.loading import MissingPointsError


def _sweep(grid, base=None, name="toy"):
    return Sweep(name, "toy.ipynb", {"quick": SweepProfile(base or {}, grid)})


def test_point_ids_are_readable_unique_and_in_grid_order():
    pts = _sweep({"scheme": ["bptt", "spiketime"], "bins": [75, 150], "seed": [0, 1]}).points("quick")
    ids = [p.id for p in pts]
    assert ids[:3] == ["scheme=bptt,bins=75,seed=0", "scheme=bptt,bins=75,seed=1", "scheme=bptt,bins=150,seed=0"]
    assert len(set(ids)) == len(ids) == 8
    assert pts[0].config == {"scheme": "bptt", "bins": 75, "seed": 0}


def test_point_ids_are_stable_across_base_changes_and_value_order():
    a = {p.id: p.params for p in _sweep({"dt": [0.5, 1.0], "hidden": [(512, 512)], "q": [None, True]}).points("quick")}
    b = {p.id: p.params for p in _sweep({"dt": [1.0, 0.5], "hidden": [[512, 512]], "q": [True, None]},
                                        base={"epochs": 3}).points("quick")}
    assert set(a) == set(b) == {"dt=0.5,hidden=512x512,q=none", "dt=0.5,hidden=512x512,q=true",
                                "dt=1.0,hidden=512x512,q=none", "dt=1.0,hidden=512x512,q=true"}
    # the ids of the committed sweeps are the seeds' (the folders under runs/ depend on it)
    assert [p.id for p in plan.sweep("bptt-nmnist").points("quick")] == ["seed=0", "seed=1", "seed=2"]


@pytest.mark.parametrize("grid, base, match", [
    ({"seed": [0, 1]}, {"seed": 0}, "both the base config and the grid"),
    ({"seed": []}, {}, "non-empty list"),
    ({"x": ["1", 1]}, {}, "same point id"),
    ({"x": ["a/b"]}, {}, "cannot name a run folder"),
    ({"x,y": [1]}, {}, "not a plain name"),
    ({}, {}, "empty grid"),
])
def test_ambiguous_sweeps_are_refused(grid, base, match):
    with pytest.raises(ConfigError, match=match):
        _sweep(grid, base).points("quick")


def test_every_planned_sweep_point_is_a_valid_config():
    for profile in plan.PROFILES:
        for s in plan.sweeps(profile, in_progress=True):
            cfgs = check_configs(s.points(profile))
            assert len({json.dumps(c.to_dict(), sort_keys=True) for c in cfgs}) == len(cfgs)


def test_a_point_config_with_an_unknown_field_is_refused():
    s = Sweep("toy", "train.ipynb", {"quick": SweepProfile({"epoch": 3}, {"seed": [0]})}, scheme="bptt")
    with pytest.raises(ConfigError, match="no field.*epoch"):
        check_configs(s.points("quick"))


@dataclasses.dataclass(frozen=True)
class Toy(Config):
    """Fields: ``x`` (slope), ``seed``, ``epochs``."""

    x: float = 1.0
    seed: int = 0
    epochs: int = 3


def _toy(cfg: Toy) -> xr.Dataset:
    e = np.arange(1, cfg.epochs + 1)
    return xr.Dataset({"acc": (("epoch",), cfg.x * e + cfg.seed, {"units": "1"})}, coords={"epoch": e},
                      attrs={"n_train": 10, "seed": cfg.seed})


def _write_point(pt, complete=True):
    path = runs.point_dir(pt.sweep.name, pt.profile, pt.id)
    runs.run_or_load(Toy.from_dict(pt.config), path, _toy, lambda ds: {"last": float(ds["acc"][-1])})
    if complete:
        (path / runs.NOTEBOOK).write_text("{}")
    return path


@pytest.fixture
def toy_sweep(isolated_runs, monkeypatch):
    s = Sweep("toy-sweep", "toy.ipynb", {"quick": SweepProfile({"epochs": 3}, {"x": [0.5, 2.0], "seed": [0, 1, 2]})})
    monkeypatch.setattr(plan, "SWEEPS", (s,))
    return s


def test_load_sweep_of_a_complete_sweep_has_the_grid_dims(toy_sweep):
    for pt in toy_sweep.points("quick"):
        _write_point(pt)
    ds = loading.load_sweep("toy-sweep", "quick")
    assert dict(ds["acc"].sizes) == {"x": 2, "seed": 3, "epoch": 3}
    assert ds["x"].values.tolist() == [0.5, 2.0] and ds["seed"].values.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(ds["acc"].sel(x=2.0, seed=1).values, 2.0 * np.arange(1, 4) + 1)
    assert ds["acc"].attrs["units"] == "1" and ds.attrs["time_unit"] == "ms"
    assert ds.attrs["missing"] == [] and ds.attrs["n_train"] == 10
    assert "epochs: 3" in ds.attrs["config"] and json.loads(ds.attrs["grid"]) == {"x": [0.5, 2.0], "seed": [0, 1, 2]}
    assert json.loads(ds.attrs["points"])["x=0.5,seed=2"]["attrs"] == {"seed": 2}


def test_load_sweep_names_the_missing_points(toy_sweep):
    pts = toy_sweep.points("quick")
    for pt in pts[:4]:
        _write_point(pt)
    _write_point(pts[4], complete=False)  # results written, notebook not finished: not a result yet
    with pytest.raises(MissingPointsError, match=r"2 of 6 points missing: x=2.0,seed=1, x=2.0,seed=2") as e:
        loading.load_sweep("toy-sweep", "quick")
    assert e.value.missing == ["x=2.0,seed=1", "x=2.0,seed=2"]
    with pytest.warns(UserWarning, match="x=2.0,seed=1"):
        ds = loading.load_sweep("toy-sweep", "quick", allow_missing=True)
    assert ds.attrs["missing"] == ["x=2.0,seed=1", "x=2.0,seed=2"]
    assert dict(ds["acc"].sizes) == {"x": 2, "seed": 3, "epoch": 3}
    assert np.isnan(ds["acc"].sel(x=2.0, seed=2)).all() and not np.isnan(ds["acc"].sel(x=2.0, seed=0)).any()


def test_a_changed_config_under_an_existing_point_id_is_refused(toy_sweep, monkeypatch):
    pt = toy_sweep.points("quick")[0]
    path = _write_point(pt)
    changed = Sweep("toy-sweep", "toy.ipynb", {"quick": SweepProfile({"epochs": 4}, {"x": [0.5, 2.0], "seed": [0]})})
    pt2 = changed.point("quick", pt.id)
    assert pt2.id == point_id({"x": 0.5, "seed": 0})
    with pytest.raises(ConfigError, match="fields differ: epochs"):
        runs.run_or_load(Toy.from_dict(pt2.config), path, _toy, lambda ds: {})


def test_sweep_command_refuses_unknown_sweeps_and_profiles(capsys):
    from snnlib import cli

    assert cli.main(["sweep", "nope"]) == 1  # one line, no traceback (tests/pipeline/test_cli.py)
    assert "no sweep 'nope'; sweeps: spiketime-mnist" in capsys.readouterr().err
    assert cli.main(["sweep", "encoding-rate", "--profile", "full"]) == 1
    assert "has no profile 'full'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["sweep"])
    assert "name one or more sweeps, or --all" in capsys.readouterr().err


def test_a_chapter_reading_other_sweeps_is_made_after_and_made_stale_by_their_points(monkeypatch):

    a = Sweep("toy-a", "train.ipynb", {"quick": SweepProfile({}, {"seed": [0, 1]})}, scheme="bptt",
              chapter="bptt.ipynb", reads=("toy-b",))
    b = Sweep("toy-b", "train.ipynb", {"quick": SweepProfile({"epochs": 2}, {"seed": [0]})}, scheme="bptt")
    monkeypatch.setattr(plan, "SWEEPS", (a, b))
    monkeypatch.setattr(plan, "PLAN", ())
    assert [s.name for s in plan.chapters_reading("toy-b", "quick")] == ["toy-a"]
    assert execution.task("toy-b/quick/seed=0").stale == ("toy-a/quick",)
    assert execution.task("toy-a/quick/seed=1").stale == ("toy-a/quick",)
    rule = next(ln for ln in makerules.make_rules("quick").splitlines() if ln.startswith("runs/toy-a/quick/notebook.ipynb:"))
    assert "runs/toy-b/quick/seed$(EQ)0/notebook.ipynb" in rule and "runs/toy-a/quick/seed$(EQ)1/notebook.ipynb" in rule


def test_planned_chapters_read_planned_sweeps_without_their_own_chapter():
    for s in plan.SWEEPS:
        for name in s.reads:
            other = plan.sweep(name)
            assert other.chapter is None, f"{s.name} reads {name}, which has its own chapter"
            assert set(s.profiles) <= set(other.profiles), f"{s.name} reads {name} in profiles it lacks"


def test_every_planned_point_reaches_its_notebook_as_the_same_config():
    """The parameters papermill writes into a point's notebook give back the planned config: a tuple
    field (the N-MNIST time-bin sweeps' ``theta_bats``) once arrived as the string '(0.5, 0.65)'."""
    from papermill.translators import translate_parameters

    from snnlib.pipeline.execution import papermill_parameters
    from snnlib.training import driver

    seen = 0
    for s in {s.name: s for p in plan.PROFILES for s in plan.sweeps(p, in_progress=True)}.values():
        if s.scheme is None:
            continue
        for pt in (pt for p in s.profiles for pt in s.points(p)[:1]):
            params = papermill_parameters(dict(pt.parameters, run_dir="runs/x"))
            ns: dict = {}
            exec(translate_parameters("python3", "python", params, "Parameters"), ns)
            cls = driver.scheme_of(s.scheme).config
            assert cls.from_dict(ns["config"]) == cls.from_dict(pt.parameters["config"]), s.name
            seen += 1
    assert seen > 10
    raw: dict = {}  # without the conversion, papermill writes the tuple's repr as a string
    exec(translate_parameters("python3", "python", {"config": {"theta_bats": (0.5, 0.65)}}, "P"), raw)
    assert raw["config"]["theta_bats"] == "(0.5, 0.65)"
