"""``scripts/compile_cuda_kernels.py`` records the kernels' signatures from real launches under the
simulator (no hand-written list to drift): the recording reaches every CUDA kernel, and each recorded
signature types in numba."""

import importlib.util
from pathlib import Path

import pytest
from numba import config

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "compile_cuda_kernels.py"


def _script():
    spec = importlib.util.spec_from_file_location("compile_cuda_kernels", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.skipif(not config.ENABLE_CUDASIM, reason="the recording runs under the CUDA simulator")
def test_recording_launches_every_kernel_with_typeable_arguments():
    mod = _script()
    launches = mod.record()
    assert {(k[0], k[1], k[3]) for k, _ in launches} == set(mod.KERNELS)
    for key, desc in launches:
        types = [mod._numba_type(d) for d in desc]
        assert all(t is not None for t in types)
        if key[1] == "_kernels" and key[3] == 0 and key[0].endswith("exact_cuda"):
            assert types[5].ndim == 3  # the weights carry the run axis: [R, N_in, N]
