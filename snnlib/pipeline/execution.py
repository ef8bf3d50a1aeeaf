"""Executing one run: a planned run, a sweep's chapter or a sweep point, with papermill.

A :class:`Task` is self-contained (the notebook itself, the run folder relative to the runs
folder, the papermill parameters), so that a worker on another machine needs only the installed
package and the shared runs folder (:mod:`snnlib.pipeline.cluster`). :func:`execute_task` holds a
lock on the run folder, refuses a parameter the notebook does not declare, writes the executed
notebook last (an interrupted run never looks complete), moves what the run printed to stderr into
``run.log`` and removes the notebooks of the chapters that the new point makes stale. A run that
reads other runs (a sweep's chapter, the findings, a seed 002 page, a transfer point) writes a
completion record (:data:`READS`, :mod:`snnlib.pipeline.records`: the runs it read and the state of
each), so that it is executed once per state of what it read, however many sweeps finish at once,
and re-made when one of them changes.
"""

from __future__ import annotations

import contextlib
import copy
import html
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any, NamedTuple

from snnlib.config import ConfigError
from snnlib.files import atomic_write
from snnlib.paths import project_root, runs_root
from snnlib.pipeline import records
from snnlib.pipeline.records import READS, STALE_SUFFIX
from snnlib.provenance import code_state
from snnlib.report import unknown_parameters
from snnlib.store.runs import NOTEBOOK, RESULT_FILES, is_complete, point_dir, record_checksums, run_dir
from snnlib.store.sweeps import SweepPoint
from snnlib.study import plan as plan_
from snnlib.training.driver import WEIGHTS, run_weights

__all__ = ["KERNEL", "RUN_LOG", "READS", "ALLOW_DIRTY", "check_clean", "Task", "task", "execute", "execute_task",
           "papermill_parameters", "check_task_parameters", "reads_state", "complete", "move_stderr_to_log",
           "show_parameters_once", "strip_outputs"]

KERNEL = "snnlib"


#: what a run printed to stderr (progress bars, warnings), moved out of its executed notebook
RUN_LOG = "run.log"

#: set to 1 to make runs for the book from a modified tree (``--allow-dirty``; the book marks them)
ALLOW_DIRTY = "SNNLIB_ALLOW_DIRTY"


def check_clean(out_dir: Path) -> None:
    """Refuse (:class:`ConfigError`) to make a run for the book (a folder under the project's
    ``runs/``) from a tree whose code differs from its commit: the code behind the run could not be
    recovered. ``SNNLIB_ALLOW_DIRTY=1`` (``--allow-dirty``) makes it anyway; its ``meta.json`` says
    ``git_dirty: true`` and the chapters that read it mark it."""
    book_runs = (project_root() / "runs").resolve()
    if os.environ.get(ALLOW_DIRTY) == "1" or not out_dir.resolve().is_relative_to(book_runs):
        return
    if code_state()["git_dirty"]:
        raise ConfigError(
            f"the code has uncommitted changes (`git status`), so the run in {out_dir} could not be "
            "traced to a commit: commit them first, or pass --allow-dirty (SNNLIB_ALLOW_DIRTY=1) and the "
            "book marks the run as made from modified code.")


def _kernel_name() -> str:
    from jupyter_client.kernelspec import KernelSpecManager  # optional: the notebook stack, only when a run is executed

    return KERNEL if KERNEL in KernelSpecManager().find_kernel_specs() else "python3"


def _kernel_manager_class():
    """The kernel manager class of a run (nbclient creates, owns and shuts down the manager):

    - on POSIX, the kernel's channels are Unix sockets under a path of their own (``ipc`` transport),
      not TCP ports. jupyter_client picks a TCP port by binding port 0 and releasing it, so two kernels
      started at once (two sweep workers) can both take it: the second kernel's heartbeat cannot bind
      ("Address already in use"), and when its run ends, nbclient's clean-up waits for that heartbeat
      forever (a sweep worker stalled for good after its run's last cell; jupyter_client issue 487).
      A socket path made unique per kernel cannot collide;
    - elsewhere, TCP, encrypted where pyzmq has CurveZMQ (else ipykernel warns of an unencrypted TCP
      kernel at every run);
    - no interrupt when the kernel is shut down after its last cell. jupyter_client sends SIGINT before
      every shutdown; a kernel caught inside a message handler then logs ``[IPKernelApp] ERROR |
      KeyboardInterrupt caught in kernel.`` on the terminal of a run that succeeded. An interrupt while
      cells run (a timeout) is sent as before."""
    import zmq  # optional: the notebook stack, only when a run is executed
    from jupyter_client.manager import AsyncKernelManager  # optional: the notebook stack, only when a run is executed

    class RunKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            if os.name == "posix":
                kwargs.setdefault("transport", "ipc")
            if kwargs.get("transport", "tcp") == "tcp":
                kwargs.setdefault("transport_encryption", "required" if zmq.has("curve") else "disabled")
            super().__init__(**kwargs)
            if self.transport == "ipc":  # the channels' socket paths: <ip>-<n>, unique to this kernel and short
                self.ip = os.path.join(tempfile.gettempdir(), f"snnlib-kernel-{uuid.uuid4().hex[:16]}")

        async def _async_interrupt_kernel(self) -> None:
            if self.shutting_down:  # every cell has run: nothing to interrupt
                return
            await super()._async_interrupt_kernel()

    return RunKernelManager


class Task(NamedTuple):
    """One unit of work, self-contained so that a worker on another machine needs only the installed
    package and the shared runs folder: the notebook itself (not its path), the run folder relative
    to the runs folder (resolved on the worker: ``root``, else its ``$SNNLIB_RUNS``), the papermill
    parameters, and whether the trained weights go into the run folder."""

    key: str
    notebook: Any  # nbformat.NotebookNode
    folder: str  # relative to the runs folder: "<experiment>/<run-id>" or "<sweep>/<profile>/<point-id>"
    parameters: dict
    keep_weights: bool = False
    stale: tuple = ()  # a sweep point: the chapters ("<sweep>/<profile>") its new results make stale
    root: str | None = None
    #: a sweep point's notebook is kept without outputs: its record is its results, the chapters
    #: are what a reader sees (and the figures would be most of the committed bytes)
    keep_outputs: bool = True
    #: the run folders it reads (relative to the runs folder, :func:`snnlib.study.plan.reads`); its
    #: completion record (:data:`READS`) says which states of them it was made from
    reads: tuple = ()
    #: a sweep's chapter: a notebook without results of its own
    chapter: bool = False
    #: its results are computed from what it reads: re-made, they are recomputed, not loaded
    derived: bool = False

    @property
    def out_dir(self) -> Path:
        return runs_root(self.root).joinpath(*self.folder.split("/"))


def task(key: str, root: str | None = None) -> Task:
    """The :class:`Task` of the planned run, sweep chapter or sweep point ``key``."""
    import nbformat  # optional: the notebook stack, only when a run is executed

    run = plan_.find(key)
    reads = plan_.reads_of(run)
    if isinstance(run, SweepPoint):
        point_dir(run.sweep.name, run.profile, run.id)  # validates the names
        folder, keep, derived = run.key, run.sweep.keep_weights, bool(reads)  # a point reads what it computes from
        stale = tuple(f"{s.name}/{run.profile}" for s in plan_.chapters_reading(run.sweep.name, run.profile))
    else:
        run_dir(run.experiment, run.run_id)
        folder, keep, stale, derived = run.key, False, (), run.derived
    nb = nbformat.read(plan_.NOTEBOOKS / run.notebook, as_version=4)
    return Task(key, nb, folder, dict(run.parameters), keep, stale, None if root is None else str(Path(root).resolve()),
                keep_outputs=not isinstance(run, SweepPoint), reads=reads, chapter=plan_.chapter(key) is not None,
                derived=derived)


def check_task_parameters(t: Task) -> None:
    """Refuse (:class:`ConfigError`) a parameter the task's notebook does not declare in its
    ``parameters`` cell (papermill would only warn, and the run would use the notebook's value)."""
    cell = next((c for c in t.notebook.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])),
                None)
    given = [k for k in t.parameters if k != "run_dir"]  # every run is given its folder
    unknown_parameters(given if cell is not None else [*given, "run_dir"],
                       cell.source if cell is not None else "", f"the notebook of {t.key}")


def reads_state(t: Task) -> dict[str, str | None]:
    """The state of the runs ``t`` reads: run folder -> SHA-256 of its ``meta.json`` (rewritten
    whenever the run is made or remade), ``None`` for a run that is not there."""
    return records.state(t.reads, t.root)


def complete(t: Task) -> bool:
    """A run is complete when it is made (a chapter: its notebook written; a run with results:
    :func:`snnlib.store.runs.is_complete`) and, if it reads other runs, its completion record
    (:data:`READS`) names them in their current state: a run made or remade since, by this machine or
    another, makes it stale. A reader made before records existed is complete unless a run it reads
    was made after it (:func:`snnlib.pipeline.records.current`; ``python -m snnlib stale`` lists
    such readers)."""
    out = t.out_dir
    made = (out / NOTEBOOK).is_file() if t.chapter else is_complete(out)
    return made and records.current(out, t.reads, t.root)


def execute(key: str, root: str | None = None, remake: bool = False) -> Path:
    """Execute the planned run ``key`` (``experiment/run_id``, ``sweep/profile`` for a sweep's
    chapter, ``sweep/profile/point-id`` for a point) with papermill into its run folder.

    ``remake``: re-make a run that reads other runs although it is complete (e.g. a reader made
    before completion records existed): its page is re-rendered and, for a run whose results are
    computed from what it reads, its results recomputed. Refused for a run that reads nothing: its
    results are its own (delete its folder to remake it)."""
    t = task(key, root)
    if remake and not t.reads:
        raise ConfigError(f"--remake {key}: it reads no other run, so it is never stale; its results are its "
                          f"own (delete {t.out_dir} to make it again)")
    return execute_task(t, force=remake)


@contextlib.contextmanager
def _locked(folder: Path):
    """Hold an exclusive lock on ``folder/.lock`` (one executor per run folder, even across machines
    that share the file system with POSIX locks); released when the process dies."""
    import fcntl  # optional: POSIX only

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def papermill_parameters(params: dict) -> dict:
    """``params`` as papermill can write them into a notebook: tuples (a config's multi-valued fields,
    e.g. ``theta_bats``) become lists, at any depth. Papermill's Python translator writes the repr
    of a type it does not know *as a string*, so a tuple would reach the notebook as ``'(0.5, 0.65)'``;
    ``Config.from_dict`` turns the lists back into tuples."""
    def plain(v):
        if isinstance(v, (tuple, list)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return {k: plain(v) for k, v in params.items()}


def execute_task(t: Task, force: bool = False) -> Path:
    """Execute one :class:`Task`.

    The notebook is written to a temporary name and renamed to ``notebook.ipynb`` only when every
    cell succeeded (and, for ``keep_weights``, the weights are in the folder), so an interrupted or
    failed run never looks complete; a failed execution is kept as ``notebook.failed.ipynb``. A run
    folder that is already complete (:func:`complete`) is left as it is, unless ``force``.

    A stale reader is re-made in place: its notebook is executed again and its record rewritten. A
    run whose results come from what it read (``derived``) has its previous result files set aside
    as ``*.stale`` first, so that its notebook recomputes them (``runs.run_or_load`` would load
    them); they are put back if the execution fails. Any other reader's notebook loads its results
    (e.g. a page's trained networks are not trained again): only the page is re-rendered.
    """
    import papermill as pm  # optional: the notebook stack, only when a run is executed

    out_dir = t.out_dir.resolve()

    def done() -> bool:
        return not force and complete(t)

    if not done():
        check_task_parameters(t)
        check_clean(out_dir)  # before the lock creates the folder
    with _locked(out_dir):
        if done():  # made meanwhile, e.g. by a concurrent sweep
            return out_dir / NOTEBOOK
        reads = reads_state(t) if t.reads else None  # before it runs: a point landing meanwhile makes it stale
        stale = force or not records.current(out_dir, t.reads, t.root)
        aside = _set_aside_results(t, out_dir) if t.derived and stale else []
        # a run re-rendered from its kept results (not derived) keeps the log of the run that made them
        made_log = (out_dir / RUN_LOG).read_text() if (
            not t.derived and (out_dir / "meta.json").is_file() and (out_dir / RUN_LOG).is_file()) else None
        partial = out_dir / ".notebook.partial.ipynb"
        failed = out_dir / "notebook.failed.ipynb"
        # Relative to the project root (the kernel's working directory) so that the executed notebook
        # does not record this machine's absolute paths.
        cwd = project_root()
        shown = os.path.relpath(out_dir, cwd)
        params = papermill_parameters(dict(t.parameters, run_dir=shown if not shown.startswith("..") else str(out_dir)))
        try:
            pm.execute_notebook(
                copy.deepcopy(t.notebook), str(partial), parameters=params, kernel_name=_kernel_name(),
                kernel_manager_class=_kernel_manager_class(), progress_bar=sys.stderr.isatty(), log_output=True, cwd=str(cwd),
            )
            if t.keep_weights:
                src = run_weights(out_dir)
                if src != out_dir / WEIGHTS:
                    atomic_write(out_dir / WEIGHTS, src.read_bytes())
        except BaseException:
            if partial.exists():
                os.replace(partial, failed)
            for name in aside:  # the run stays as it was: stale, not lost
                os.replace(out_dir / (name + STALE_SUFFIX), out_dir / name)
            print(f"snnlib: run {t.key} failed; the executed notebook is {failed}", file=sys.stderr)
            raise
        failed.unlink(missing_ok=True)
        if t.parameters.get("title"):
            _retitle(partial, t.parameters["title"])
        move_stderr_to_log(partial, out_dir / RUN_LOG)
        if made_log:
            again = (out_dir / RUN_LOG).read_text()
            atomic_write(out_dir / RUN_LOG, made_log + (f"\n# the page re-rendered from these results:\n{again}"
                                                        if again.strip() else ""))
        show_parameters_once(partial)
        if not t.keep_outputs:
            strip_outputs(partial)
        if reads is not None:
            records.write(out_dir, reads)
        if (out_dir / "meta.json").is_file():  # a run with results (a chapter has none)
            record_checksums(out_dir, [RUN_LOG, *([READS] if reads is not None else []),
                                       *([WEIGHTS] if t.keep_weights else [])])
        os.replace(partial, out_dir / NOTEBOOK)
    for chapter in t.stale:
        # a chapter aggregating this point is re-executed by the next `make runs` / `snnlib sweep`
        (runs_root(t.root).joinpath(*chapter.split("/")) / NOTEBOOK).unlink(missing_ok=True)
    return out_dir / NOTEBOOK


def _set_aside_results(t: Task, out_dir: Path) -> list[str]:
    """Rename the files of a derived run's previous results (and its notebook, so that it never
    looks complete meanwhile) to ``*.stale``, so that its notebook recomputes them; returns the
    names moved. Nothing to move for a run not made yet (or made without results)."""
    names = [n for n in ("meta.json", *RESULT_FILES, READS, RUN_LOG, NOTEBOOK) if (out_dir / n).is_file()]
    if "meta.json" not in names:
        return []
    print(f"snnlib: {t.key}: its results are computed from the runs it reads, which changed since it was made "
          f"(or --remake): recomputing them; the previous files are kept as *{STALE_SUFFIX} in {out_dir}",
          file=sys.stderr)
    for name in names:
        os.replace(out_dir / name, out_dir / (name + STALE_SUFFIX))
    return names


def move_stderr_to_log(notebook: Path, log: Path) -> int:
    """Move the stderr streams of an executed notebook (progress bars, library warnings) into the
    text file ``log``, cell by cell, and drop them from the notebook; returns the lines logged.

    Progress bars redraw themselves with carriage returns; each redraw becomes one log line. A
    progress bar drawn as a Jupyter widget (``tqdm.auto`` where ipywidgets is installed) is logged
    as its last state and dropped too, with the notebook's widget state: a page is read without a
    kernel, where a widget shows nothing. The log is written (atomically) even when empty, so every
    run folder says what its run printed.
    """
    import nbformat  # optional: the notebook stack, only when a run is executed

    nb = nbformat.read(notebook, as_version=4)
    state = nb.metadata.get("widgets", {}).get(_WIDGET_STATE, {}).get("state", {})

    def widget_text(out) -> str:
        model = state.get(out["data"][_WIDGET_VIEW].get("model_id"), {})
        parts = [state.get(c.removeprefix("IPY_MODEL_"), {}).get("state", {}).get("value")
                 for c in model.get("state", {}).get("children", [])]
        text = " ".join(html.unescape(v).replace("\u2007", " ") for v in parts if isinstance(v, str))
        return text or "".join(out["data"].get("text/plain", "(a widget)"))

    lines, widgets_left = [], False
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
            elif _is_progress_widget(out, state):
                lines.append(f"[cell {i}] {widget_text(out)}")
            else:
                widgets_left |= _WIDGET_VIEW in out.get("data", {})
                keep.append(out)
        cell["outputs"] = keep
    if not widgets_left:
        nb.metadata.pop("widgets", None)
    atomic_write(log, "".join(ln + "\n" for ln in lines))
    nbformat.write(nb, notebook)
    return len(lines)


#: the MIME types of a Jupyter widget's view (an output) and of the notebook's widget state (metadata)
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _is_progress_widget(out, state: dict) -> bool:
    """A progress bar widget (tqdm's: a box holding a progress model), or a widget view whose model
    was not saved (nothing a page could show)."""
    view = out.get("data", {}).get(_WIDGET_VIEW)
    if view is None:
        return False
    model = state.get(view.get("model_id"))
    if model is None:
        return True
    children = [state.get(c.removeprefix("IPY_MODEL_"), {}) for c in model.get("state", {}).get("children", [])]
    return any(c.get("model_name") in ("FloatProgressModel", "IntProgressModel") for c in children)


def show_parameters_once(notebook: Path) -> bool:
    """Show an executed notebook's parameters once: the values papermill injected, in a collapsed
    cell (tag ``hide-input``), and not the notebook's defaults (its ``parameters`` cell, tagged
    ``remove-cell``), which the injected values override. Only tags change; returns whether the
    notebook had injected parameters (a notebook without them keeps its defaults in view)."""
    import nbformat  # optional: the notebook stack, only when a run is executed

    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    injected = [c for c in code if "injected-parameters" in c.metadata.get("tags", [])]
    if not injected:
        return False
    changed = False
    for cells, tag in (([c for c in code if "parameters" in c.metadata.get("tags", [])], "remove-cell"),
                       (injected, "hide-input")):
        for c in cells:
            tags = c.metadata.setdefault("tags", [])
            if tag not in tags:
                tags.append(tag)
                changed = True
    if changed:
        nbformat.write(nb, notebook)
    return True


def strip_outputs(notebook: Path) -> int:
    """Drop every output and execution count of ``notebook`` (rewritten in place); returns the outputs
    dropped. A sweep point's notebook keeps its code (with the injected parameters) without them."""
    import nbformat  # optional: the notebook stack, only when a run is executed

    nb = nbformat.read(notebook, as_version=4)
    n = 0
    for cell in nb.cells:
        if cell.cell_type == "code":
            n += len(cell.get("outputs", []))
            cell["outputs"], cell["execution_count"] = [], None
    nbformat.write(nb, notebook)
    return n


def _retitle(path: Path, title: str) -> None:
    """Give the executed notebook its run's title as its first heading: one notebook serves several
    runs (e.g. every BPTT run), and the book's table of contents must tell them apart."""
    import nbformat  # optional: the notebook stack, only when a run is executed

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            cell.source = f"# {title}\n" + cell.source.split("\n", 1)[1] if "\n" in cell.source else f"# {title}"
            break
    nbformat.write(nb, path)
