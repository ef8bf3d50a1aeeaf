"""Tests of the CUDA kernels. They run on a GPU, or on the CPU through numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1`` set before numba is imported; ``tests/test_gpu_kernels_simulated.py`` runs
this folder that way); otherwise they skip."""

import sys
from pathlib import Path

import pytest
import torch

from snnlib.events.kernels import exact_cuda as spiketime_cuda

HERE = Path(__file__).resolve().parent
# the CPU tests whose problems these tests reuse (test_spiketime, test_integrated)
sys.path.insert(0, str(HERE.parent / "events"))


def pytest_collection_modifyitems(config, items):
    # a session-wide hook: it sees every collected test, so it marks only this folder's
    if not spiketime_cuda.available():
        skip = pytest.mark.skip(reason="no CUDA GPU for numba and NUMBA_ENABLE_CUDASIM is not set")
        for item in items:
            if HERE in Path(str(item.fspath)).resolve().parents:
                item.add_marker(skip)


@pytest.fixture
def dev() -> torch.device:
    """Where the kernels take their tensors: the CPU under the simulator, else the GPU."""
    return torch.device("cpu" if spiketime_cuda.simulated() else "cuda")
