"""Command line: ``python -m snnlib {targets,makefile,execute,sweep,toc,download} ...`` (used by the Makefile).

Argument parsing only: each verb calls one function of :mod:`snnlib.pipeline`, :mod:`snnlib.study`
or :mod:`snnlib.data`. The verbs that execute runs import the run machinery (torch, numba, the
schemes: seconds) when called, so that ``make``, which calls ``snnlib makefile`` at every
invocation, starts in about a second.
"""

from __future__ import annotations

import argparse
import os
import sys

from snnlib.data import datasets
from snnlib.paths import book_root
from snnlib.pipeline.makerules import make_rules, target_notebooks
from snnlib.study import plan as plan_


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="snnlib", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("targets", help="print the notebook targets of a profile")
    t.add_argument("--profile", default="quick")
    m = sub.add_parser("makefile", help="print the run targets and chapter dependencies (for make)")
    m.add_argument("--profile", default="quick")
    e = sub.add_parser("execute", help="execute one planned run, chapter or sweep point, e.g. data-overview/quick")
    e.add_argument("key")
    w = sub.add_parser("sweep", help="execute the missing points of sweeps on a Dask cluster")
    w.add_argument("names", nargs="*", help="sweep names (default with --all: every sweep of the profile)")
    w.add_argument("--all", action="store_true", help="every sweep of the profile")
    w.add_argument("--profile", default="quick")
    w.add_argument("--scheduler", default=None,
                   help="address of a Dask scheduler (tcp://host:8786); default: a LocalCluster on this machine")
    w.add_argument("--workers", type=int, default=None, help="LocalCluster workers (default: one per core)")
    w.add_argument("--threads", type=int, default=int(os.environ.get("RUN_THREADS", "1")),
                   help="threads per point (default $RUN_THREADS or 1)")
    c = sub.add_parser("toc", help="print the book's table of contents for a profile")
    c.add_argument("--profile", default="quick")
    d = sub.add_parser("download", help="download a dataset into $SNNLIB_DATA")
    d.add_argument("dataset", choices=["mnist", "nmnist"])
    a = p.parse_args(argv)
    if a.cmd == "targets":
        print("\n".join(target_notebooks(a.profile)))
    elif a.cmd == "makefile":
        sys.stdout.write(make_rules(a.profile))
    elif a.cmd == "execute":
        from snnlib.pipeline.execution import execute  # deferred: the run machinery, only for this verb

        execute(a.key)
    elif a.cmd == "sweep":
        from snnlib.pipeline.cluster import SweepError, run_sweeps  # deferred: the run machinery, only for this verb

        names = [s.name for s in plan_.sweeps(a.profile)] if a.all else a.names
        if not names:
            p.error("sweep: name one or more sweeps, or --all")
        for n in names:
            plan_.sweep(n).points(a.profile)  # unknown sweep or profile: a clear error before any work
        try:
            run_sweeps(names, a.profile, scheduler=a.scheduler, n_workers=a.workers, threads=a.threads)
        except SweepError as err:
            print(err, file=sys.stderr)
            return 1
    elif a.cmd == "toc":
        sys.stdout.write(plan_.book_toc((book_root() / "_toc.yml").read_text(), a.profile))
    elif a.cmd == "download":
        print(f"{a.dataset} is in {datasets.fetch(a.dataset)}")
    return 0
