"""The CUDA kernels' tests (``tests/gpu``) on a machine without a GPU: run in a fresh process
under numba's CUDA simulator, which has to be switched on before numba is imported."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from snnlib.events.kernels import exact_cuda as spiketime_cuda

HERE = Path(__file__).resolve().parent


@pytest.mark.skipif(spiketime_cuda.available() and not spiketime_cuda.simulated(),
                    reason="a GPU is visible: tests/gpu run on it directly")
def test_cuda_kernels_under_the_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", OMP_NUM_THREADS="1")
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(HERE / "gpu")],
                         cwd=HERE.parent, env=env, capture_output=True, text=True, timeout=900)
    tail = (res.stdout + res.stderr)[-3000:]
    assert res.returncode == 0, tail
    assert " passed" in res.stdout and "skipped" not in res.stdout, tail  # they ran, none skipped
