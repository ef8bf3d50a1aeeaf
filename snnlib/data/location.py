"""Where the datasets live, and the error every loader raises when they are missing or corrupt.

``root`` argument, else ``$SNNLIB_DATA``, else ``data/`` (relative to the working directory).
MNIST is read from ``<root>/mnist/`` and N-MNIST from ``<root>/nmnist/{Train,Test}/<label>/``.
"""

from __future__ import annotations

import os
from pathlib import Path


class DataError(RuntimeError):
    """Data missing or corrupted; the message says what to do."""


def data_root(root: str | os.PathLike | None = None) -> Path:
    """``root``, else ``$SNNLIB_DATA``, else ``data/``."""
    return Path(root if root is not None else os.environ.get("SNNLIB_DATA", "data"))


def restore_hint(dataset: str) -> str:
    """How to get an intact copy of ``dataset`` (``"mnist"`` or ``"nmnist"``): the sentence every
    corrupted-file error ends with."""
    return (
        f"Delete it and restore the dataset with `python -m snnlib download {dataset}` (on a machine "
        f"with network access; files are verified as they arrive), or point SNNLIB_DATA at a folder "
        f"that holds an intact {dataset}/ (e.g. `export SNNLIB_DATA=../shared/data`)."
    )


SPLIT_FOLDER = {"train": "Train", "test": "Test"}
