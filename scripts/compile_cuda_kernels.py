"""Compile every CUDA kernel of snnlib to PTX, without a GPU: the check that the kernels type and
compile for the real target (the simulator, which the tests use, runs them as Python and accepts
code the CUDA compiler refuses).

Needs numba's CUDA target and NVVM (``pip install '.[gpu]'``; if NVVM or NVRTC is not found, point
``CUDA_HOME`` at the ``nvidia/cuda_nvcc`` folder of site-packages and add the ``lib`` folders of
``nvidia/cuda_nvrtc`` and ``nvidia/cuda_nvcc/nvvm/lib64`` to ``LD_LIBRARY_PATH``). Exits non-zero
if a kernel does not compile.

    python scripts/compile_cuda_kernels.py [--cc 9.0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cc", default="9.0", help="compute capability, e.g. 8.0 (A100) or 9.0 (H100)")
    a = ap.parse_args(argv)
    cc = tuple(int(x) for x in a.cc.split("."))

    from numba import config, cuda, typeof

    if config.ENABLE_CUDASIM:
        print("NUMBA_ENABLE_CUDASIM is set: unset it to compile for a real target")
        return 2
    # device functions compile for the current device: stand in one of the requested capability
    import numba.cuda.dispatcher as disp

    class _Device:
        compute_capability = cc

    disp.get_current_device = lambda: _Device()

    from snnlib.events.kernels import exact_cuda as sc
    from snnlib.events.kernels import integrated_cuda_kernels as ik

    def sig(*args):
        return tuple(typeof(x) for x in args)

    f8 = lambda *s: np.zeros(s, np.float64)  # noqa: E731
    i4 = lambda *s: np.zeros(s, np.int32)  # noqa: E731
    i8 = lambda *s: np.zeros(s, np.int64)  # noqa: E731
    B, N, K, E, N_in, P = 2, 3, 4, 5, 6, 9  # shapes do not matter, dtypes and ranks do
    fwd, bwd = sc._kernels(128)
    ifwd, ibwd = ik._kernels(30, 128)
    kernels = [
        ("spike-time forward", fwd, sig(f8(B, E), i4(B, E), f8(B, E + 1), i8(B), i8(B), f8(2, N_in, N), 1.0, 1.0, K, 1.0,
                                        f8(B, N, K), i4(B, N), i4(B, N, K), f8(B, N, K), f8(B, N, K))),
        ("spike-time backward", bwd, sig(f8(B, N, K), i4(B, N, K), f8(B, N, K), f8(B, N, K), i4(B, N), i4(B, E),
                                         i4(B, E), f8(B, E + 1), i8(B), i8(B), f8(2, N_in, N), 1.0, 1.0, 1.0,
                                         True, f8(2, N_in, N), f8(B, N_in))),
        ("integrated forward", ifwd, sig(f8(B, E), i4(B, E), i8(B), f8(7), f8(N_in, N), 1, True, 1.0, f8(6, 4),
                                         f8(4), f8(B, N, K), i4(B, N), i4(B, N, K), True, True, i8(B), f8(B, P),
                                         i8(B, P + 1), np.zeros((B, P), np.bool_), i4(B, N), i4(B, N, K),
                                         i4(B, N, K), f8(B, N, K), f8(B, N, K), f8(B, P, N), f8(B, P, N))),
        ("integrated adjusted backward", ibwd, sig(f8(B, N, K), i4(B, E), f8(N_in, N), 1, True, 1.0, 1.0, f8(6, 4),
                                                   f8(4), 1.0, True, i8(B), f8(B, P), i8(B, P + 1), i4(B, N),
                                                   i4(B, N, K), i4(B, N, K), f8(B, N, K), f8(B, N, K), f8(B, P, N),
                                                   f8(B, P, N), f8(N_in, N), f8(B, E), f8(B, P))),
        ("piggyback log", ik._piggyback_log, sig(i4(B, N, K), f8(B, N, K), i4(B, N), f8(B, E), i4(B, E),
                                                 f8(N_in, N), 1.0, f8(B, N, K), f8(B, N, K))),
    ]
    failed = 0
    for name, kernel, types in kernels:
        try:
            ptx, _ = cuda.compile_ptx(kernel.py_func, types, cc=cc)
            print(f"ok      {name}: {len(ptx)} characters of PTX for sm_{cc[0]}{cc[1]}")
        except Exception as e:  # report every kernel, then fail
            failed += 1
            print(f"FAILED  {name}: {type(e).__name__}: {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
