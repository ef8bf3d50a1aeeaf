"""Shared fixtures. Tests that need the real datasets skip, with the reason, when they are absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from snnlib.data import location

ROOT = Path(__file__).resolve().parent.parent


def _have(path: Path) -> bool:
    return path.exists()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data directory ($SNNLIB_DATA); skips when MNIST or N-MNIST is not there."""
    root = location.data_root()
    if not (_have(root / "mnist") and _have(root / "nmnist" / "Train")):
        pytest.skip(f"real data not found under {root.resolve()} (set SNNLIB_DATA, e.g. ../shared/data)")
    return root


@pytest.fixture
def isolated_runs(tmp_path, monkeypatch) -> Path:
    """Private runs/, checkpoints/ and artifacts/ folders so tests never touch the committed results
    or resume from a checkpoint of another session."""
    root = tmp_path / "runs"
    monkeypatch.setenv("SNNLIB_RUNS", str(root))
    monkeypatch.setenv("SNNLIB_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("SNNLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    return root
