"""Sweeps on a Dask cluster: every missing point is one task; workers write to the shared runs folder.

``python -m snnlib sweep NAME [--profile P] [--scheduler ADDRESS]``: with no address a
:class:`distributed.LocalCluster` of process workers sized to the machine (one thread each) runs
the points; with an address (``tcp://host:8786``: a cluster started by ``dask-jobqueue`` on
SLURM/PBS, by the Dask Kubernetes operator, or by hand with ``dask scheduler`` / ``dask worker``)
the missing points are submitted there. Workers need the installed package, the data
(``$SNNLIB_DATA``) and the runs folder on a shared file system (their ``$SNNLIB_RUNS``; a task
names its run folder relative to it, so the submitting machine may mount it elsewhere).

Each task executes its point's notebook through :func:`snnlib.pipeline.execution.execute_task`: results are
written atomically and the executed notebook last, so a point whose worker dies leaves no result
that looks complete; Dask reschedules the task of a dead worker on another one, and a task that
still fails with :class:`distributed.KilledWorker` is submitted again (``resubmit`` times). A
rerun executes only the points that are not complete. A point that fails is reported with what it
left to look at (:class:`SweepError`); a scheduler address where nothing listens is refused within
seconds (:class:`SchedulerError`, :data:`CONNECT_TIMEOUT_S`).
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Iterable

from tqdm.std import tqdm

from snnlib.pipeline.checks import check_configs
from snnlib.pipeline import records
from snnlib.pipeline.execution import Task, execute_task, task
from snnlib.store.runs import is_complete, point_dir
from snnlib.study import plan as plan_

__all__ = ["SweepError", "SchedulerError", "CONNECT_TIMEOUT_S", "check_workers", "missing_tasks", "run_tasks",
           "run_sweeps"]

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


class SweepError(RuntimeError):
    """Some points failed; ``failed`` maps their keys to what happened and what is left to look at."""

    def __init__(self, failed: dict[str, str]):
        lines = "\n".join(f"  {k}: {v}" for k, v in failed.items())
        super().__init__(f"{len(failed)} sweep point(s) failed; the others are complete:\n{lines}")
        self.failed = failed


class SchedulerError(ConnectionError):
    """The Dask scheduler cannot be reached; the message names the address and what to check."""


#: seconds to wait for a TCP connection to a Dask scheduler before giving up
CONNECT_TIMEOUT_S = 5.0


def _left_behind(t: Task) -> str:
    """What a failed point left in its run folder to look at (a failed point never looks complete)."""
    out = t.out_dir
    if (out / "notebook.failed.ipynb").is_file():
        return f"the executed notebook is {out / 'notebook.failed.ipynb'}"
    if (out / ".notebook.partial.ipynb").is_file():
        return f"the cells that ran before the worker died are in {out / '.notebook.partial.ipynb'}"
    return f"no notebook was written (in {out}); a rerun starts the point again, from its last checkpoint"


def check_workers(n: int | None, what: str = "workers") -> None:
    """Refuse a number of workers (or threads) that is not a positive integer (``None``: the default)."""
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise ValueError(f"{what} = {n!r}: expected a positive integer (or leave it out for the default)")


def missing_tasks(names: Iterable[str], profile: str, root: str | None = None) -> tuple[list[Task], int]:
    """The tasks of the points of sweeps ``names`` that are not complete (a point that reads other
    runs, e.g. a transfer point's trained network, also when its record says one of them changed),
    and the number of points. A point that reads a run which is not made yet (a point of a sweep
    still in progress) waits: it is left out, and a line on stderr says how many wait."""
    points = [p for n in names for p in plan_.sweep(n).points(profile)]
    check_configs(points)  # refuse an invalid point before any compute
    folders = {p.key: point_dir(p.sweep.name, p.profile, p.id, root) for p in points}
    todo, waiting = [], []
    for p in points:
        if is_complete(folders[p.key]) and records.current(folders[p.key], p.reads, root):
            continue
        absent = [k for k in p.reads if not is_complete(records.run_folder(k, root))]
        (waiting if absent else todo).append((p, absent))
    if waiting:
        print(f"sweep: {len(waiting)} points wait for runs they read that are not made yet (e.g. {waiting[0][1][0]}); "
              "they are made once those are", file=sys.stderr)
    return [task(p.key, root) for p, _ in todo], len(points)


def _run(t: Task, threads: int) -> str:
    """Executed on a worker: one point, with ``threads`` threads for its kernel."""
    for v in THREAD_VARIABLES:
        os.environ[v] = str(threads)
    execute_task(t)
    return t.key


def _reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse (:class:`SchedulerError`, one line) a TCP scheduler address where nothing listens,
    before Dask retries it for its connect timeout (30 s) with pages of tracebacks."""
    from distributed.comm import parse_address  # optional: Dask, only when sweeps run on a cluster
    from distributed.comm.addressing import parse_host_port  # optional: Dask, only when sweeps run on a cluster

    try:
        scheme, loc = parse_address(address)
    except ValueError as err:
        raise SchedulerError(f"--scheduler {address}: not a Dask address ({err}); expected e.g. "
                             "tcp://head-node:8786") from None
    if scheme != "tcp":
        return  # tls://, ucx:// ...: Dask's own connect (with the timeout below) checks them
    try:
        host, port = parse_host_port(loc)
    except ValueError as err:
        raise SchedulerError(f"--scheduler {address}: {err}; expected e.g. tcp://head-node:8786") from None
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as err:
        why = err.strerror or type(err).__name__
        raise SchedulerError(
            f"cannot reach the Dask scheduler at {address} ({why}): is the scheduler running "
            "(`dask scheduler`), are host and port right, and does a firewall let this machine in?") from None


def _client(scheduler: str | None, n_workers: int | None):
    from distributed import Client, LocalCluster  # optional: Dask, only when sweeps run on a cluster

    check_workers(n_workers)
    if scheduler:
        _reachable(scheduler)
        try:
            return Client(scheduler), None  # reachable: Dask's own connect timeout for a slow handshake
        except Exception as err:  # noqa: BLE001  timeouts, refused handshakes, a peer that is no Dask scheduler
            what = f"{type(err).__name__}: {str(err).splitlines()[0]}" if str(err) else type(err).__name__
            raise SchedulerError(f"cannot connect to the Dask scheduler at {scheduler} ({what}): is a Dask "
                                 "scheduler of this distributed version listening at that address?") from None
    n = n_workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
    return Client(cluster), cluster


def run_tasks(tasks: list[Task], *, total: int | None = None, scheduler: str | None = None,
              n_workers: int | None = None, client=None, threads: int = 1, resubmit: int = 2,
              progress: bool = True) -> list[str]:
    """Execute ``tasks`` on a Dask cluster (``client``, else ``scheduler``, else a new LocalCluster of
    ``n_workers`` processes) with one progress bar (points done / ``total``, ETA); return the keys
    executed. Raises :class:`SweepError` naming the points that failed after the others finished."""
    from distributed import KilledWorker, as_completed  # optional: Dask, only when sweeps run on a cluster

    check_workers(threads, "threads")
    total = len(tasks) if total is None else total
    if not tasks:
        return []
    own = None
    if client is None:
        client, own = _client(scheduler, n_workers)
    bar = tqdm(total=total, initial=total - len(tasks), desc="sweep", unit="point", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    done, failed, tries = [], {}, {}
    try:
        by_future = {client.submit(_run, t, threads, pure=False, key=f"point-{t.key}-0"): t for t in tasks}
        queue = as_completed(list(by_future))
        for fut in queue:
            t = by_future.pop(fut)
            try:
                fut.result()
                done.append(t.key)
                bar.update(1)
            except KilledWorker:
                tries[t.key] = tries.get(t.key, 0) + 1
                if tries[t.key] > resubmit:
                    failed[t.key] = (f"its workers died in each of {tries[t.key]} submissions (out of "
                                     f"memory? see the worker logs); {_left_behind(t)}")
                    continue
                new = client.submit(_run, t, threads, pure=False, key=f"point-{t.key}-{tries[t.key]}")
                by_future[new] = t
                queue.add(new)
            except Exception as e:  # noqa: BLE001  a failed notebook: report it, let the others finish
                msg = str(e).strip().splitlines()[-1] if str(e).strip() else ""
                failed[t.key] = f"{type(e).__name__}: {msg}; {_left_behind(t)}"
    finally:
        bar.close()
        if own is not None:
            client.close()
            own.close()
    if failed:
        raise SweepError(failed)
    return done


def run_sweeps(names: Iterable[str], profile: str = "quick", *, scheduler: str | None = None,
               n_workers: int | None = None, root: str | None = None, threads: int = 1,
               progress: bool = True) -> list[str]:
    """Execute every missing point of the sweeps ``names`` (see the module docstring), then their
    chapters (cheap aggregation notebooks, here). Returns the keys executed."""
    names = list(names)
    tasks, total = missing_tasks(names, profile, root)
    if not tasks:
        print(f"sweep: all {total} points of {', '.join(names)} ({profile}) are complete", file=sys.stderr)
    done = run_tasks(tasks, total=total, scheduler=scheduler, n_workers=n_workers, threads=threads,
                     progress=progress)
    # chapters of sweeps still being made in this profile are not in the book yet: not made here either
    chapters = dict.fromkeys(c.name for name in names for c in plan_.chapters_reading(name, profile)
                             if profile not in c.in_progress)
    for name in chapters:
        if plan_.chapter(f"{name}/{profile}") is not None:
            execute_task(task(f"{name}/{profile}", root))  # only if stale: its completion record says
    return done
