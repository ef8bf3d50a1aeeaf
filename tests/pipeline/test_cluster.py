"""Sweeps on a real Dask LocalCluster of 2 process workers: end to end, idempotent reruns, and a
worker killed mid-run (no corrupt point; resubmitted, or completed by the rerun)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import nbformat
import numpy as np
import pytest

from snnlib import paths
from snnlib.store import runs
from snnlib.store.sweeps import Sweep, SweepProfile
from snnlib.study import loading, plan

pytestmark = pytest.mark.slow
distributed = pytest.importorskip("distributed")

TOY = '''
import dataclasses, time
import numpy as np, xarray as xr
from snnlib.config import Config
from snnlib.store import runs

@dataclasses.dataclass(frozen=True)
class Toy(Config):
    x: float = 1.0
    seed: int = 0
    sleep: float = 0.0

def compute(c):
    time.sleep(c.sleep)
    e = np.arange(1, 4)
    return xr.Dataset({"acc": (("epoch",), c.x * e + c.seed)}, coords={"epoch": e})

run = runs.run_or_load(Toy.from_dict(config), run_dir, compute, lambda ds: {"last": float(ds.acc[-1])})
'''


CHAPTER = '''
import os
from snnlib.paths import runs_root
from snnlib.store import runs
# the kernel does not see the test's plan: read the point folders themselves
acc = sum(float(runs.load(m.parent).results.acc.sum()) for m in (runs_root() / sweep / profile).glob("*/meta.json"))
with open(os.environ["TOY_CHAPTER_LOG"], "a") as f:  # one line per execution of the chapter
    f.write(f"{acc}\\n")
'''


@pytest.fixture
def toy_sweep(isolated_runs, tmp_path, monkeypatch):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("run_dir = None\ntitle = ''\nconfig = {}", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(TOY)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "toy.ipynb")
    monkeypatch.setattr(plan, "NOTEBOOKS", tmp_path)

    chapter = nbformat.v4.new_notebook()
    chapter.cells = [nbformat.v4.new_code_cell("run_dir = None\ntitle = ''\nsweep = ''\nprofile = ''",
                                               metadata={"tags": ["parameters"]}),
                     nbformat.v4.new_code_cell(CHAPTER)]
    chapter.metadata["kernelspec"] = nb.metadata["kernelspec"]
    nbformat.write(chapter, tmp_path / "toy_chapter.ipynb")
    monkeypatch.setenv("TOY_CHAPTER_LOG", str(tmp_path / "chapter.log"))

    def declare(sleep: float, xs=(1.0, 2.0), seeds=(0, 1), chapter=None):
        s = Sweep("toy", "toy.ipynb", {"quick": SweepProfile({"sleep": sleep}, {"x": list(xs), "seed": list(seeds)})},
                  chapter=chapter)
        monkeypatch.setattr(plan, "SWEEPS", (s,))
        return s
    return declare


def _cluster(**config):
    import dask

    with dask.config.set(config):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
    return cluster, distributed.Client(cluster)


def _check_no_corrupt_point(sweep):
    """A folder is either complete with the right results, or has no executed notebook."""
    complete = []
    for pt in sweep.points("quick"):
        path = runs.point_dir("toy", "quick", pt.id)
        if runs.is_complete(path):
            run = runs.load(path)
            np.testing.assert_array_equal(run.results["acc"].values, pt.params["x"] * np.arange(1, 4) + pt.params["seed"])
            complete.append(pt.id)
        else:
            assert not (path / runs.NOTEBOOK).exists()
    return complete


def test_local_cluster_runs_a_sweep_and_a_rerun_executes_nothing(toy_sweep):
    from snnlib.pipeline.cluster import run_sweeps

    sweep = toy_sweep(sleep=0.0)
    done = run_sweeps(["toy"], "quick", n_workers=2, progress=False)
    assert sorted(done) == sorted(p.key for p in sweep.points("quick"))
    assert len(_check_no_corrupt_point(sweep)) == 4
    ds = loading.load_sweep("toy", "quick")
    assert dict(ds["acc"].sizes) == {"x": 2, "seed": 2, "epoch": 3}
    stamps = {p: p.stat().st_mtime_ns for p in paths.runs_root().rglob(runs.NOTEBOOK)}
    assert run_sweeps(["toy"], "quick", n_workers=2, progress=False) == []
    assert {p: p.stat().st_mtime_ns for p in paths.runs_root().rglob(runs.NOTEBOOK)} == stamps


def _kill_a_busy_worker(client, root, after_s=1.5):
    """Once a point has started (its lock file exists), SIGKILL the worker process running it."""
    pids = client.run(os.getpid)
    deadline = time.time() + 60
    while time.time() < deadline and not list(root.rglob(".lock")):
        time.sleep(0.1)
    time.sleep(after_s)
    busy = [w for w, keys in client.processing().items() if keys]
    os.kill(pids[busy[0]], signal.SIGKILL)


@pytest.mark.parametrize("resubmit", [0, 1])
def test_a_killed_worker_leaves_no_corrupt_point(toy_sweep, resubmit):
    """``resubmit=0`` (and no retries by Dask): the killed point is reported and the rerun completes
    it; ``resubmit=1``: the sweep resubmits it and completes in one run."""
    from snnlib.pipeline.cluster import SweepError, missing_tasks, run_tasks

    sweep = toy_sweep(sleep=3.0)
    cluster, client = _cluster(**{"distributed.scheduler.allowed-failures": 0})
    try:
        tasks, total = missing_tasks(["toy"], "quick")
        killer = threading.Thread(target=_kill_a_busy_worker, args=(client, paths.runs_root()))
        killer.start()
        try:
            done = run_tasks(tasks, total=total, client=client, resubmit=resubmit, progress=False)
            failed = []
        except SweepError as e:
            done, failed = [], list(e.failed)
        killer.join()
        complete = _check_no_corrupt_point(sweep)
        if resubmit:
            assert len(done) == 4 and len(complete) == 4
        else:
            # the points of the killed worker (the running one and any it had queued) are reported,
            # the others finished
            assert failed and len(complete) + len(failed) == 4
            assert not {k.split("/")[-1] for k in failed} & set(complete)
            tasks, _ = missing_tasks(["toy"], "quick")
            assert sorted(t.key for t in tasks) == sorted(failed)  # the rerun executes those only
            run_tasks(tasks, client=client, progress=False)
            assert len(_check_no_corrupt_point(sweep)) == 4
    finally:
        client.close()
        cluster.close()


def _chapter_runs(tmp_path) -> int:
    log = tmp_path / "chapter.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_a_chapter_runs_once_per_state_of_its_points(toy_sweep, tmp_path):
    """A chapter's completion record names its points' states: a rerun of the sweep, and concurrent
    sweeps that finish together, leave it alone; a point remade (here, or brought by a pull) makes it
    stale."""
    from snnlib.pipeline.cluster import run_sweeps
    from snnlib.pipeline.execution import READS, complete, execute_task, task

    toy_sweep(sleep=0.0, chapter="toy_chapter.ipynb")
    run_sweeps(["toy"], "quick", n_workers=1, progress=False)
    assert _chapter_runs(tmp_path) == 1
    chapter = task("toy/quick")
    record = json.loads((chapter.out_dir / READS).read_text())
    assert sorted(record["reads"]) == sorted(chapter.reads) and len(chapter.reads) == 4
    assert all(record["reads"].values()) and "git_commit" in record
    assert run_sweeps(["toy"], "quick", n_workers=1, progress=False) == []
    assert _chapter_runs(tmp_path) == 1  # nothing new: not executed again

    # two processes finishing points together both ask for the chapter: the lock and the record let
    # one of them execute it
    (chapter.out_dir / runs.NOTEBOOK).unlink()
    threads = [threading.Thread(target=execute_task, args=(task("toy/quick"),)) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert _chapter_runs(tmp_path) == 2

    # a point remade elsewhere and pulled (its meta.json is new; the chapter's notebook is still there)
    point = runs.point_dir("toy", "quick", chapter.reads[0].split("/")[-1])
    meta = json.loads((point / "meta.json").read_text())
    (point / "meta.json").write_text(json.dumps(dict(meta, finished="later")))
    assert runs.is_complete(point) and not complete(task("toy/quick"))
    run_sweeps(["toy"], "quick", n_workers=1, progress=False)
    assert _chapter_runs(tmp_path) == 3 and complete(task("toy/quick"))


def test_a_point_that_fails_names_what_it_left(toy_sweep):
    from snnlib.pipeline.cluster import SweepError, run_tasks
    from snnlib.pipeline.execution import task

    toy_sweep(sleep=0.0, xs=("boom",), seeds=(0,))
    t = task("toy/quick/x=boom,seed=0")
    with pytest.raises(SweepError) as err:
        run_tasks([t], n_workers=1, progress=False)
    (key, why), = err.value.failed.items()
    assert key == t.key and f"the executed notebook is {t.out_dir / 'notebook.failed.ipynb'}" in why
    assert (t.out_dir / "notebook.failed.ipynb").is_file()
