"""Command line: ``python -m snnlib {targets,makefile,execute,sweep,toc,edition,download,verify,stale} ...`` (used by the Makefile).

Argument parsing only: each verb calls one function of :mod:`snnlib.pipeline`, :mod:`snnlib.study`
or :mod:`snnlib.data`. Every error is one line (``--debug``: the traceback). The verbs that execute runs import the run machinery (torch, numba, the
schemes: seconds) when called, so that ``make``, which calls ``snnlib makefile`` at every
invocation, starts in about a second.
"""

from __future__ import annotations

import argparse
import os
import sys

from snnlib.data import datasets
from snnlib.memory import keep_freed_memory
from snnlib.paths import book_root
from snnlib.pipeline.makerules import make_rules, target_notebooks
from snnlib.pipeline.records import readers
from snnlib.store.runs import verify_all
from snnlib.study import plan as plan_


_DIRTY = ("make runs for the book from a tree with uncommitted changes (SNNLIB_ALLOW_DIRTY=1); their "
          "meta.json says git_dirty: true and the pages name them")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``snnlib sweep: error: ... (snnlib sweep --help)``."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} is not a positive number (leave it out for one per core)")
    return n


def main(argv: list[str] | None = None) -> int:
    """Run the command; every error is one line on stderr (``--debug``: the traceback too), exit 1
    (2 for a command line argparse refuses, 130 when interrupted)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    keep_freed_memory()  # sweeps and executions train: their large arrays reused, not faulted in afresh
    try:
        return _main(argv)
    except KeyboardInterrupt:
        if debug:
            raise
        print("snnlib: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001  the CLI's one-line errors; --debug raises
        if debug:
            raise
        print(f"snnlib: error: {_one_line(err)}", file=sys.stderr)
        return 1


def _one_line(err: BaseException) -> str:
    """An exception as one line: its message (a KeyError's without quotes); the exception's type
    where the message alone would not say what went wrong; ``--debug`` for the traceback."""
    msg = " ".join(str(err.args[0] if isinstance(err, KeyError) and err.args else err).split())
    known = isinstance(err, (ValueError, LookupError, OSError, RuntimeError))
    return (msg if known and msg else f"{type(err).__name__}: {msg}") + " (--debug shows the traceback)"


def _main(argv: list[str]) -> int:
    p = _Parser(prog="snnlib", description=__doc__,
                epilog="--debug (anywhere): show the traceback of an error instead of one line")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    t = sub.add_parser("targets", help="print the notebook targets of a profile")
    t.add_argument("--profile", default="quick")
    m = sub.add_parser("makefile", help="print the run targets and chapter dependencies (for make)")
    m.add_argument("--profile", default="quick")
    e = sub.add_parser("execute", help="execute one planned run, chapter or sweep point, e.g. data-overview/quick")
    e.add_argument("key")
    e.add_argument("--allow-dirty", action="store_true", help=_DIRTY)
    e.add_argument("--remake", action="store_true",
                   help="re-make a run that reads other runs although it is complete (e.g. one made before it "
                        "recorded what it read): its page is re-rendered, results computed from what it read recomputed")
    w = sub.add_parser("sweep", help="execute the missing points of sweeps on a Dask cluster")
    w.add_argument("names", nargs="*", help="sweep names (default with --all: every sweep of the profile)")
    w.add_argument("--all", action="store_true", help="every sweep of the profile")
    w.add_argument("--profile", default="quick")
    w.add_argument("--scheduler", default=None,
                   help="address of a Dask scheduler (tcp://host:8786); default: a LocalCluster on this machine")
    w.add_argument("--workers", type=_positive_int, default=None, help="LocalCluster workers (default: one per core)")
    w.add_argument("--threads", type=_positive_int, default=None, help="threads per point (default $RUN_THREADS or 1)")
    w.add_argument("--allow-dirty", action="store_true", help=_DIRTY + " (on a remote cluster: set it on the workers)")
    c = sub.add_parser("toc", help="print the book's table of contents for a profile")
    c.add_argument("--profile", default="quick")
    ed = sub.add_parser("edition", help="print the intro's list of the chapters in the book and planned (book/_edition.md)")
    ed.add_argument("--profile", default="quick")
    d = sub.add_parser("download", help="download a dataset into $SNNLIB_DATA")
    d.add_argument("dataset", choices=["mnist", "nmnist"])
    v = sub.add_parser("verify", help="check every run's result files against the SHA-256 in its meta.json")
    v.add_argument("--root", default=None, help="the runs folder (default $SNNLIB_RUNS, else runs/)")
    st = sub.add_parser("stale", help="list the runs that read other runs and whose record of them is stale or "
                                      "missing (exit 1 if one is stale)")
    st.add_argument("--profile", default="quick")
    st.add_argument("--root", default=None, help="the runs folder (default $SNNLIB_RUNS, else runs/)")
    a = p.parse_args(argv)
    if getattr(a, "allow_dirty", False):
        os.environ["SNNLIB_ALLOW_DIRTY"] = "1"  # read by snnlib.pipeline.execution.check_clean, here and in local workers
    if a.cmd == "targets":
        print("\n".join(target_notebooks(a.profile)))
    elif a.cmd == "makefile":
        sys.stdout.write(make_rules(a.profile))
    elif a.cmd == "execute":
        from snnlib.pipeline.execution import execute  # deferred: the run machinery, only for this verb

        execute(a.key, remake=a.remake)
    elif a.cmd == "sweep":
        from snnlib.pipeline.cluster import SweepError, run_sweeps  # deferred: the run machinery, only for this verb

        names = [s.name for s in plan_.sweeps(a.profile)] if a.all else a.names
        if not names:
            w.error("name one or more sweeps, or --all")
        for n in names:
            plan_.sweep(n).points(a.profile)  # unknown sweep or profile: a clear error before any work
        threads = a.threads if a.threads is not None else _positive_int(os.environ.get("RUN_THREADS", "1"))
        try:
            run_sweeps(names, a.profile, scheduler=a.scheduler, n_workers=a.workers, threads=threads)
        except SweepError as err:  # the failed points, one line each (the others are complete)
            print(f"snnlib: error: {err}", file=sys.stderr)
            return 1
    elif a.cmd == "toc":
        sys.stdout.write(plan_.book_toc((book_root() / "_toc.yml").read_text(), a.profile))
    elif a.cmd == "edition":
        sys.stdout.write(plan_.edition((book_root() / "_toc.yml").read_text(), a.profile))
    elif a.cmd == "download":
        print(f"{a.dataset} is in {datasets.fetch(a.dataset)}")
    elif a.cmd == "verify":
        n, failed = verify_all(a.root)
        for err in failed.values():
            print(f"snnlib: {err}", file=sys.stderr)
        print(f"{n - len(failed)} of {n} runs verify against their recorded checksums")
        return 1 if failed else 0
    elif a.cmd == "stale":
        return _stale(a.profile, a.root)
    return 0


def _stale(profile: str, root: str | None) -> int:
    """``snnlib stale``: one line per reader whose record is stale, damaged or missing, the stale
    first; exit 1 if one is stale or damaged, or has no record but reads a run made after it."""
    found = readers(profile, root)
    rank = {"stale": 0, "damaged": 1, "unrecorded": 2}
    shown = sorted((r for r in found if r.status in rank), key=lambda r: (rank[r.status], not r.changed))
    for r in shown:
        few = ", ".join(r.changed[:3]) + (f" and {len(r.changed) - 3} more" if len(r.changed) > 3 else "")
        if r.status == "stale":
            print(f"stale       {r.key}: {len(r.changed)} of the runs it read changed since it was made ({few})")
        elif r.status == "damaged":
            print(f"damaged     {r.key}: its record ({r.key}/reads.json) cannot be read")
        else:
            newer = f"{len(r.changed)} of them made after it, so it is stale ({few})" if r.changed else "none made after it"
            print(f"unrecorded  {r.key}: made before it recorded what it read; it reads {len(r.reads)} runs, {newer}")
    counts = {s: sum(r.status == s for r in found) for s in ("current", "stale", "damaged", "unrecorded", "not made")}
    print(f"{len(found)} runs of the {profile} profile read other runs: "
          + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
          + (". `make runs` re-makes the stale ones; `python -m snnlib execute --remake KEY` re-makes one and "
             "records what it read" if shown else ""))
    return 1 if any(r.status in ("stale", "damaged") or r.changed for r in shown) else 0
