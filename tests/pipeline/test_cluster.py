"""Sweeps on a real Dask LocalCluster of 2 process workers: end to end, idempotent reruns, and a
worker killed mid-run (no corrupt point; resubmitted, or completed by the rerun)."""

from __future__ import annotations

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


@pytest.fixture
def toy_sweep(isolated_runs, tmp_path, monkeypatch):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("run_dir = None\ntitle = ''\nconfig = {}", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(TOY)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "toy.ipynb")
    monkeypatch.setattr(plan, "NOTEBOOKS", tmp_path)

    def declare(sleep: float, xs=(1.0, 2.0), seeds=(0, 1)):
        s = Sweep("toy", "toy.ipynb", {"quick": SweepProfile({"sleep": sleep}, {"x": list(xs), "seed": list(seeds)})})
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
