"""Where results are written: every folder configurable by an environment variable.

Workers on other machines share one file system; they find the shared folders through these
variables, never through the location of the installed package.

=========================  ==========================  ==================================================
folder                     variable                    default
=========================  ==========================  ==================================================
run folders (committed)    ``SNNLIB_RUNS``             ``<project>/runs``
training checkpoints       ``SNNLIB_CHECKPOINTS``      ``<project>/checkpoints``
trained-weight artifacts   ``SNNLIB_ARTIFACTS``        ``<project>/artifacts``
benchmark result files     ``SNNLIB_BENCH_RESULTS``    ``<project>/benchmarks/results``
papermill notebooks        ``SNNLIB_NOTEBOOKS``        ``<project>/notebooks``
the book's sources         (none)                      ``<project>/book``
=========================  ==========================  ==================================================

``<project>`` is ``$SNNLIB_HOME`` if set, else the nearest folder at or above the current working
directory that holds ``pyproject.toml`` and ``notebooks/`` (the checkout; papermill runs its
kernels there), else the working directory itself. The notebooks and the book are sources, not
results: when the working directory is outside any checkout they are taken from the checkout the
package is installed from (an editable install), if it has them.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["project_root", "runs_root", "checkpoints_root", "artifacts_root", "bench_results_root",
           "notebooks_root", "book_root"]

#: the checkout this package is installed from, when it is an editable install of one
_INSTALLED_FROM = Path(__file__).resolve().parent.parent


def project_root() -> Path:
    env = os.environ.get("SNNLIB_HOME")
    if env:
        return Path(env)
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "notebooks").is_dir():
            return folder
    return cwd


def _folder(variable: str, default: str, root: str | os.PathLike | None) -> Path:
    if root is not None:
        return Path(root)
    env = os.environ.get(variable)
    return Path(env) if env else project_root() / default


def runs_root(root: str | os.PathLike | None = None) -> Path:
    """The runs folder: ``root``, else ``$SNNLIB_RUNS``, else ``<project>/runs``."""
    return _folder("SNNLIB_RUNS", "runs", root)


def checkpoints_root(root: str | os.PathLike | None = None) -> Path:
    """Per-epoch training checkpoints (never committed): ``$SNNLIB_CHECKPOINTS`` or ``<project>/checkpoints``."""
    return _folder("SNNLIB_CHECKPOINTS", "checkpoints", root)


def artifacts_root(root: str | os.PathLike | None = None) -> Path:
    """Trained weights not committed with their run: ``$SNNLIB_ARTIFACTS`` or ``<project>/artifacts``."""
    return _folder("SNNLIB_ARTIFACTS", "artifacts", root)


def bench_results_root(root: str | os.PathLike | None = None) -> Path:
    """Benchmark JSON files: ``$SNNLIB_BENCH_RESULTS`` or ``<project>/benchmarks/results``."""
    return _folder("SNNLIB_BENCH_RESULTS", "benchmarks/results", root)


def _source_folder(name: str) -> Path:
    here = project_root() / name
    if here.is_dir() or not (_INSTALLED_FROM / name).is_dir():
        return here
    return _INSTALLED_FROM / name


def notebooks_root(root: str | os.PathLike | None = None) -> Path:
    """The papermill notebooks of the runs: ``root``, else ``$SNNLIB_NOTEBOOKS``, else ``<project>/notebooks``."""
    if root is not None:
        return Path(root)
    env = os.environ.get("SNNLIB_NOTEBOOKS")
    return Path(env) if env else _source_folder("notebooks")


def book_root() -> Path:
    """The Jupyter Book's sources (``_toc.yml``): ``<project>/book``."""
    return _source_folder("book")
