"""Command line: ``python -m snnlib {targets,execute,download} ...`` (used by the Makefile)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import plan as plan_
from .runs import NOTEBOOK, run_dir, runs_root

KERNEL = "snnlib"
#: what a run printed to stderr (progress bars, warnings), moved out of its executed notebook
RUN_LOG = "run.log"


def _kernel_name() -> str:
    from jupyter_client.kernelspec import KernelSpecManager

    return KERNEL if KERNEL in KernelSpecManager().find_kernel_specs() else "python3"


def execute(key: str, root: str | None = None) -> Path:
    """Execute the planned run ``key`` (``experiment/run_id``) with papermill into its run folder.

    The notebook is written to a temporary name and renamed to ``notebook.ipynb`` only when every
    cell succeeded, so an interrupted or failed run never looks complete; a failed execution is
    kept as ``notebook.failed.ipynb`` to show the error (stderr included). A successful run's
    stderr (progress bars, warnings) goes to ``run.log`` in the run folder, not into the notebook.
    """
    import papermill as pm

    run = plan_.find(key)
    out_dir = run_dir(run.experiment, run.run_id, root)
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = out_dir / ".notebook.partial.ipynb"
    failed = out_dir / "notebook.failed.ipynb"
    # Relative to the project root (the kernel's working directory) so that the executed notebook
    # does not record this machine's absolute paths.
    shown = os.path.relpath(out_dir.resolve(), plan_.NOTEBOOKS.parent)
    params = dict(run.parameters, run_dir=shown if not shown.startswith("..") else str(out_dir.resolve()))
    try:
        pm.execute_notebook(
            str(plan_.NOTEBOOKS / run.notebook), str(partial), parameters=params,
            kernel_name=_kernel_name(), progress_bar=sys.stderr.isatty(), log_output=True,
            cwd=str(plan_.NOTEBOOKS.parent),
        )
    except BaseException:
        if partial.exists():
            os.replace(partial, failed)
        print(f"snnlib: run {key} failed; the executed notebook is {failed}", file=sys.stderr)
        raise
    failed.unlink(missing_ok=True)
    if run.parameters.get("title"):
        _retitle(partial, run.parameters["title"])
    move_stderr_to_log(partial, out_dir / RUN_LOG)
    os.replace(partial, out_dir / NOTEBOOK)
    return out_dir / NOTEBOOK


def move_stderr_to_log(notebook: Path, log: Path) -> int:
    """Move the stderr streams of an executed notebook (progress bars, library warnings) into the
    text file ``log``, cell by cell, and drop them from the notebook; returns the lines logged.

    Progress bars redraw themselves with carriage returns; each redraw becomes one log line. The
    log is written (atomically) even when empty, so every run folder says what its run printed.
    """
    import nbformat

    from .runs import atomic_write

    nb = nbformat.read(notebook, as_version=4)
    lines = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        keep = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                text = out.get("text", "")
                text = "".join(text) if isinstance(text, list) else text
                redraws = [ln.rstrip() for ln in text.replace("\r", "\n").split("\n")]
                lines += [f"[cell {i}] {ln}" for ln in redraws if ln.strip()]
            else:
                keep.append(out)
        cell["outputs"] = keep
    atomic_write(log, "".join(ln + "\n" for ln in lines))
    nbformat.write(nb, notebook)
    return len(lines)


def _retitle(path: Path, title: str) -> None:
    """Give the executed notebook its run's title as its first heading: one notebook serves several
    runs (e.g. every BPTT run), and the book's table of contents must tell them apart."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            cell.source = f"# {title}\n" + cell.source.split("\n", 1)[1] if "\n" in cell.source else f"# {title}"
            break
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="snnlib", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("targets", help="print the notebook targets of a profile (for make)")
    t.add_argument("--profile", default="quick")
    e = sub.add_parser("execute", help="execute one planned run, e.g. data-overview/quick")
    e.add_argument("key")
    c = sub.add_parser("toc", help="print the book's table of contents for a profile")
    c.add_argument("--profile", default="quick")
    d = sub.add_parser("download", help="download a dataset into $SNNLIB_DATA")
    d.add_argument("dataset", choices=["mnist", "nmnist"])
    a = p.parse_args(argv)
    if a.cmd == "targets":
        root = runs_root()
        cwd = Path.cwd().resolve()
        for r in plan_.planned(a.profile):
            path = (root / r.experiment / r.run_id / NOTEBOOK).resolve()
            print(os.path.relpath(path, cwd))
    elif a.cmd == "execute":
        execute(a.key)
    elif a.cmd == "toc":
        toc = plan_.NOTEBOOKS.parent / "book" / "_toc.yml"
        sys.stdout.write(plan_.book_toc(toc.read_text(), a.profile))
    elif a.cmd == "download":
        from . import data

        if a.dataset == "mnist":
            for split in ("train-full", "test"):
                data.load_mnist(split, download=True)
        else:
            data.download_nmnist()
        print(f"{a.dataset} is in {data.data_root()}")
    return 0
