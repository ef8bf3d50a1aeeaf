"""Runs that read other runs: declared once in the plan, recorded when made, re-made when what they
read changes (by the execution path and by ``make runs``), and the committed readers current."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import nbformat
import pytest
from conftest import ROOT

from snnlib.cli import main
from snnlib.pipeline import execution, makerules, records
from snnlib.store import runs
from snnlib.study import plan

SOURCE = '''
import dataclasses
import numpy as np, xarray as xr
from snnlib.config import Config
from snnlib.store import runs

@dataclasses.dataclass(frozen=True)
class Source(Config):
    x: float = 1.0

run = runs.run_or_load(Source.from_dict(config), run_dir,
                       lambda c: xr.Dataset({"v": ("i", c.x * np.arange(3.0))}), lambda ds: {"total": float(ds.v.sum())})
'''

# a page: trains its own network (logged each time it trains), shows a number of the run it reads
PAGE = '''
import dataclasses, os, pathlib
import numpy as np, xarray as xr
from snnlib.config import Config
from snnlib.store import runs

@dataclasses.dataclass(frozen=True)
class Page(Config):
    seed: int = 0

def train(c):
    with open(os.environ["READER_LOG"], "a") as f:
        f.write("page trained\\n")
    return xr.Dataset({"acc": ("epoch", np.arange(2.0))})

run = runs.run_or_load(Page(), run_dir, train, lambda ds: {"acc": float(ds.acc[-1])})
source = runs.load(pathlib.Path(run_dir).parents[1] / "source" / "r1")
print("source total", source.summary["total"])
'''

# a table computed from the run it reads (the findings' kind): nothing trained
TABLE = '''
import dataclasses, os, pathlib
import xarray as xr
from snnlib.config import Config
from snnlib.store import runs

@dataclasses.dataclass(frozen=True)
class Table(Config):
    name: str = "table"

def compute(c):
    with open(os.environ["READER_LOG"], "a") as f:
        f.write("table computed\\n")
    source = runs.load(pathlib.Path(run_dir).parents[1] / "source" / "r1")
    return xr.Dataset({"total": ((), source.summary["total"])})

run = runs.run_or_load(Table(), run_dir, compute, lambda ds: {"total": float(ds.total)})
'''


def _write(path, body: str, params: str = "run_dir = None"):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}), nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture
def toy_readers(tmp_path, monkeypatch):
    """A source run, a page that reads it (its own results trained) and a table computed from it,
    in a private runs folder; ``declare(x, reads=True)`` sets the plan."""
    for name, body, params in (("source", SOURCE, "run_dir = None\nconfig = {}"), ("page", PAGE, "run_dir = None"),
                               ("table", TABLE, "run_dir = None")):
        _write(tmp_path / f"{name}.ipynb", body, params)
    monkeypatch.setattr(plan, "NOTEBOOKS", tmp_path)
    monkeypatch.setattr(plan, "SWEEPS", ())
    monkeypatch.setenv("READER_LOG", str(tmp_path / "reader.log"))
    root = tmp_path / "runs"
    monkeypatch.setenv("SNNLIB_RUNS", str(root))
    monkeypatch.setenv("SNNLIB_HOME", str(ROOT))  # the project, though make runs in tmp_path

    def declare(x: float, reads: bool = True):
        r = ("source/r1",) if reads else ()
        monkeypatch.setattr(plan, "PLAN", (
            plan.PlannedRun("source", "r1", "source.ipynb", ("quick",), {"config": {"x": x}}),
            plan.PlannedRun("page", "r1", "page.ipynb", ("quick",), reads=r),
            plan.PlannedRun("table", "r1", "table.ipynb", ("quick",), reads=r, derived=True)))
    return root, declare


def _log(root) -> list[str]:
    path = root.parent / "reader.log"
    return path.read_text().splitlines() if path.exists() else []


def _make_all(cwd) -> str:
    """``make -n`` over the generated rules with the Makefile's own run rule: the commands it would run."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = lines.index("runs/%/notebook.ipynb: | $(STAMP)")
    rule = [lines[start]] + [ln for ln in lines[start + 1:start + 4] if ln.startswith("\t")]
    (cwd / "rules.mk").write_text(makerules.make_rules("quick"))
    (cwd / "Makefile").write_text("PY := python\nRUN_THREADS := 1\ninclude rules.mk\nall: $(RUN_TARGETS)\n"
                                  + "\n".join(rule) + "\n")
    out = subprocess.run(["make", "-n", "all"], cwd=cwd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _total(root, name) -> float:
    return runs.load(root / name / "r1").summary["total" if name != "page" else "acc"]


def _page_text(root) -> str:
    nb = nbformat.read(root / "page" / "r1" / runs.NOTEBOOK, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_a_stale_reader_is_detected_and_remade(toy_readers, tmp_path, monkeypatch):
    root, declare = toy_readers
    declare(1.0)
    for key in ("source/r1", "page/r1", "table/r1"):
        execution.execute(key)
    assert _log(root) == ["page trained", "table computed"]
    assert [r.status for r in records.readers("quick")] == ["current", "current"]
    record = json.loads((root / "page" / "r1" / records.READS).read_text())
    assert list(record["reads"]) == ["source/r1"] and "git_commit" in record
    assert records.READS in runs.verify(root / "page" / "r1")["checksums"]  # the record is part of the run
    monkeypatch.chdir(tmp_path)
    assert "snnlib execute" not in _make_all(tmp_path)
    assert main(["stale"]) == 0

    # the source is made again with other results (here, or on another machine and pulled)
    shutil.rmtree(root / "source")
    declare(2.0)
    execution.execute("source/r1")
    page, table = records.readers("quick")
    assert (page.status, page.changed, table.status) == ("stale", ("source/r1",), "stale")
    assert not execution.complete(execution.task("page/r1")) and runs.is_complete(root / "page" / "r1")
    assert records.to_remake("quick") == ["page/r1", "table/r1"]
    commands = _make_all(tmp_path)
    assert "snnlib execute --remake 'page/r1'" in commands and "snnlib execute --remake 'table/r1'" in commands
    assert "'source/r1'" not in commands
    assert main(["stale"]) == 1

    # the execution path re-makes them: the page is re-rendered from its own results (nothing
    # trained again), the table recomputed (its previous results kept as *.stale)
    execution.execute("page/r1")
    execution.execute("table/r1")
    assert _log(root) == ["page trained", "table computed", "table computed"]
    assert "source total 6.0" in _page_text(root) and _total(root, "page") == 1.0
    assert _total(root, "table") == 6.0
    assert json.loads((root / "table" / "r1" / "summary.json.stale").read_text())["total"] == 3.0
    assert [r.status for r in records.readers("quick")] == ["current", "current"]
    assert records.to_remake("quick") == [] and "snnlib execute" not in _make_all(tmp_path)
    execution.execute("table/r1")  # complete: nothing recomputed
    assert len(_log(root)) == 3


def test_a_reader_of_a_run_made_in_the_same_pass_is_remade_by_make(toy_readers, tmp_path, monkeypatch):
    root, declare = toy_readers
    declare(1.0)
    for key in ("source/r1", "page/r1", "table/r1"):
        execution.execute(key)
    shutil.rmtree(root / "source")  # to be made by this pass of make: its readers after it, again
    monkeypatch.chdir(tmp_path)
    commands = _make_all(tmp_path).splitlines()
    order = [next(i for i, c in enumerate(commands) if f"'{k}'" in c) for k in ("source/r1", "page/r1", "table/r1")]
    assert order == sorted(order) and "--remake 'page/r1'" in commands[order[1]]


def test_a_failed_recomputation_leaves_the_previous_results(toy_readers, tmp_path):
    root, declare = toy_readers
    declare(1.0)
    for key in ("source/r1", "table/r1"):
        execution.execute(key)
    before = {p.name: p.read_bytes() for p in (root / "table" / "r1").iterdir() if p.is_file() and p.name != ".lock"}
    _write(tmp_path / "table.ipynb", "raise RuntimeError('interrupted')")
    with pytest.raises(Exception, match="interrupted"):
        execution.execute("table/r1", remake=True)
    after = {p.name: p.read_bytes() for p in (root / "table" / "r1").iterdir()
             if p.is_file() and p.name not in (".lock", "notebook.failed.ipynb")}
    assert after == before and runs.is_complete(root / "table" / "r1")


def test_a_reader_made_before_records_is_stale_once_a_run_it_reads_is_newer(toy_readers):
    """Without a record, a reader is complete unless a run it reads was made after it; ``execute
    --remake`` re-makes it anyway, with a record."""
    root, declare = toy_readers
    declare(1.0, reads=False)
    for key in ("source/r1", "page/r1"):
        execution.execute(key)
    declare(1.0)  # the plan now says what the page reads
    assert records.reader("page/r1").status == "unrecorded" and records.reader("page/r1").changed == ()
    assert execution.complete(execution.task("page/r1")) and records.to_remake("quick") == []
    meta = json.loads((root / "source" / "r1" / "meta.json").read_text())
    (root / "source" / "r1" / "meta.json").write_text(json.dumps(dict(meta, finished="2999-01-01T00:00:00+00:00")))
    assert records.reader("page/r1").changed == ("source/r1",)
    assert not execution.complete(execution.task("page/r1")) and records.to_remake("quick") == ["page/r1"]
    (root / "source" / "r1" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(Exception, match="reads no other run"):
        execution.execute("source/r1", remake=True)
    execution.execute("page/r1", remake=True)
    assert records.reader("page/r1").status == "current" and _log(root) == ["page trained"]


def test_a_damaged_record_counts_as_stale(tmp_path):
    folder = tmp_path / "reader"
    folder.mkdir()
    assert records.current(folder, (), tmp_path)  # reads nothing
    assert records.current(folder, ("a/b",), tmp_path)  # no record: made before records
    (folder / records.READS).write_text("{not json")
    assert not records.current(folder, ("a/b",), tmp_path)
    records.write(folder, records.state(("a/b",), tmp_path))
    assert records.current(folder, ("a/b",), tmp_path)
    assert not records.current(folder, ("a/b", "a/c"), tmp_path)  # the plan names another run now


# --- the plan: what each reader reads ------------------------------------------------------------

def test_what_every_run_reads_resolves_to_runs_of_the_plan():
    for profile in plan.PROFILES:
        keys = set(plan.targets(profile))
        for s in plan.sweeps(profile, in_progress=True):
            keys |= {p.key for p in s.points(profile)}
        for key in plan.targets(profile):
            for read in plan.reads(key):
                assert read != key
                assert read in keys or isinstance(plan.find(read), (plan.PlannedRun, plan.SweepPoint)), (key, read)


def test_the_seed002_pages_read_the_encoding_runs_and_the_ttfs_page_its_rate_run():
    from snnlib.experiments import snntorch_tutorial as exp

    for coding in ("rate", "ttfs"):
        r = plan.find(f"{exp.SETUPS['tutorial'][coding]}/quick")
        for name in exp.SETUPS["study"].values():
            assert {p.key for p in plan.sweep(name).points("quick")} <= set(plan.reads(r.key))
        if r.parameters.get("rate_run"):
            assert r.parameters["rate_run"] in r.reads
    assert "seed002-rate/quick" in plan.reads("seed002-ttfs/quick")


def test_the_findings_read_every_other_run_of_their_profile_and_transfer_points_their_network():
    for profile in plan.PROFILES:
        others = [k for k in plan.targets(profile) if k != f"findings/{profile}" and plan.chapter(k) is None]
        assert set(plan.reads(f"findings/{profile}")) == set(others)
    pt = plan.sweep("transfer").points("quick")[0]
    assert plan.reads(pt.key) == (f"{pt.config['source']}/quick/seed={pt.config['seed']}",)
    assert execution.task(pt.key).derived and execution.task("findings/quick").derived
    assert not execution.task("seed002-ttfs/quick").derived  # its networks are trained, never recomputed


# --- the committed runs --------------------------------------------------------------------------

def _committed_readers():
    return [r for p in plan.PROFILES for r in records.readers(p, ROOT / "runs")]


def test_every_committed_reader_was_made_from_what_it_reads_now():
    """Every committed run that reads other runs names, in its record, the present state (the
    ``meta.json``: commit, checksums) of each run it reads; a reader without a record reads no run
    made after it. Fails until the stale readers are re-made (``make runs``, or ``python -m snnlib
    execute --remake KEY`` from a clean tree)."""
    bad = {f"{r.key} ({r.status}: {', '.join(r.changed[:3]) or 'record unreadable'}"
           + (f" and {len(r.changed) - 3} more)" if len(r.changed) > 3 else ")")
           for r in _committed_readers()
           if r.status in ("stale", "damaged") or (r.status == "unrecorded" and r.changed)}
    assert not bad, "readers made from runs that changed since:\n" + "\n".join(sorted(bad))


def test_every_committed_reader_has_a_record():
    legacy = sorted({r.key for r in _committed_readers() if r.status == "unrecorded" and not r.changed})
    if legacy:
        pytest.skip(f"{len(legacy)} readers were made before runs recorded what they read (none reads a run "
                    f"made after it); `python -m snnlib stale` lists them: {', '.join(legacy[:4])} ...")
