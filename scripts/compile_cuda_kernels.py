"""Compile every CUDA kernel of snnlib to PTX, without a GPU: the check that the kernels type and
compile for the real target (the simulator, which the tests use, runs them as Python and accepts
code the CUDA compiler refuses).

The signatures are not written here by hand (a hand-written list drifted from the kernels and failed
to compile for reasons that had nothing to do with the kernels): a first step runs small layers through
every CUDA path under numba's CUDA simulator, in a subprocess with ``NUMBA_ENABLE_CUDASIM=1``
(:func:`record`: the exact spike-time layer forward and backward, single and packed runs; the
integrated layer with the adjusted and the piggyback gradients, inputs delivered exactly and on the
grid, float32 and float64), and records the argument types of every kernel launch; then every
(kernel, signature) seen is compiled for the target.

Needs numba's CUDA target and NVVM (``pip install '.[gpu]'``; if NVVM or NVRTC is not found, point
``CUDA_HOME`` at the ``nvidia/cuda_nvcc`` folder of site-packages and add the ``lib`` folders of
``nvidia/cuda_nvrtc`` and ``nvidia/cuda_nvcc/nvvm/lib64`` to ``LD_LIBRARY_PATH``). Exits non-zero
if a kernel does not compile.

    python scripts/compile_cuda_kernels.py [--cc 9.0]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

#: every kernel the recording must have launched: (module, factory or attribute, index in the factory's tuple)
KERNELS = {
    ("snnlib.events.kernels.exact_cuda", "_kernels", 0): "spike-time forward",
    ("snnlib.events.kernels.exact_cuda", "_kernels", 1): "spike-time backward",
    ("snnlib.events.kernels.integrated_cuda_kernels", "_kernels", 0): "integrated forward",
    ("snnlib.events.kernels.integrated_cuda_kernels", "_kernels", 1): "integrated adjusted backward",
    ("snnlib.events.kernels.integrated_cuda_kernels", "_piggyback_log", None): "piggyback log",
}


def _describe(a) -> object:
    """A JSON description of a kernel argument's numba type."""
    if isinstance(a, np.ndarray):
        layout = "C" if a.flags.c_contiguous else ("F" if a.flags.f_contiguous else "A")
        return {"array": a.dtype.str, "ndim": a.ndim, "layout": layout}
    if isinstance(a, (bool, np.bool_)):
        return "bool"
    if isinstance(a, (int, np.integer)):
        return "int" if isinstance(a, int) else {"scalar": np.dtype(type(a)).str}
    if isinstance(a, (float, np.floating)):
        return "float" if isinstance(a, float) else {"scalar": np.dtype(type(a)).str}
    raise TypeError(f"kernel argument of type {type(a).__name__}: not described")


def _numba_type(d):
    from numba import from_dtype, types

    if d == "bool":
        return types.boolean
    if d == "int":
        return types.int64
    if d == "float":
        return types.float64
    if "scalar" in d:
        return from_dtype(np.dtype(d["scalar"]))
    return types.Array(from_dtype(np.dtype(d["array"])), d["ndim"], d["layout"])


def record() -> list:
    """Under the CUDA simulator: run small layers through every CUDA path and return each distinct
    ``[kernel key, argument descriptions]`` launched (kernel key: module, factory or attribute, the
    factory's arguments, index in its tuple)."""
    from numba import config

    if not config.ENABLE_CUDASIM:
        raise RuntimeError("record() runs under the CUDA simulator (NUMBA_ENABLE_CUDASIM=1)")
    import torch

    from snnlib.events.kernels import exact_cuda as sc
    from snnlib.events.kernels import integrated_cuda as ic
    from snnlib.events.kernels import integrated_cuda_kernels as ik
    from snnlib.events.layer import event_layer
    from snnlib.model.discretization import Discretization as D
    from snnlib.model.neuron import NeuronParams

    tags: dict[int, list] = {id(ik._piggyback_log): [ik.__name__, "_piggyback_log", None, None]}

    def tagging(module, attr, name):
        orig = getattr(module, attr)

        def factory(*args):
            made = orig(*args)
            for i, k in enumerate(made):
                tags[id(k)] = [name, "_kernels", list(args), i]
            return made
        return orig, factory

    saved = {}
    for module, name in ((sc, sc.__name__), (ic, ik.__name__)):  # integrated_cuda imported _kernels by name
        saved[module], factory = tagging(module, "_kernels", name)
        module._kernels = factory
    seen: dict[str, list] = {}
    launch = sc._launch

    def recording_launch(kernel, blocks, tpb, like, *args):
        desc = [_describe(a.numpy() if isinstance(a, torch.Tensor) else a) for a in args]
        entry = [tags[id(kernel)], desc]
        seen.setdefault(json.dumps(entry), entry)
        return launch(kernel, blocks, tpb, like, *args)

    sc._launch = recording_launch
    try:
        g = torch.Generator().manual_seed(0)
        p = NeuronParams(tau_s=2.0, theta=0.4)
        for dtype in (torch.float32, torch.float64):
            x = torch.rand(2, 4, 1, generator=g, dtype=dtype) * 6
            W1 = (torch.rand(3, 4, generator=g, dtype=dtype) * 2 - 0.5).requires_grad_()
            W2 = (torch.rand(2, 3, generator=g, dtype=dtype) * 2 - 0.5).requires_grad_()
            for d, grads in ((D(), ("exact",)), (D("euler", None, 0.7, "linear", "exact"), ("adjusted", "piggyback")),
                             (D("ps", 2, 0.7, "newton", "grid"), ("adjusted", "piggyback"))):
                for gradient in grads:
                    h, c = event_layer(x, W1, p, d, t_max=10.0, max_spikes=3, gradient=gradient, backend="cuda")
                    o, _ = event_layer(h, W2, p, d, t_max=10.0, max_spikes=3, gradient=gradient, backend="cuda",
                                       in_counts=c)
                    torch.where(torch.isfinite(o), o, torch.zeros_like(o)).sum().backward()
            Wp = (torch.rand(2, 3, 4, generator=g, dtype=dtype) * 2 - 0.5).requires_grad_()  # two packed runs
            o, _ = event_layer(x.expand(2, -1, -1, -1), Wp, p, t_max=10.0, max_spikes=3, backend="cuda")
            torch.where(torch.isfinite(o), o, torch.zeros_like(o)).sum().backward()
    finally:
        sc._launch = launch
        for module, orig in saved.items():
            module._kernels = orig
    return list(seen.values())


def _kernel(key):
    module, attr, args, index = key
    obj = getattr(importlib.import_module(module), attr)
    return obj(*args)[index] if attr == "_kernels" else obj


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cc", default="9.0", help="compute capability, e.g. 8.0 (A100) or 9.0 (H100)")
    ap.add_argument("--record", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.record:
        print(json.dumps(record()))
        return 0
    cc = tuple(int(x) for x in a.cc.split("."))

    from numba import config, cuda

    if config.ENABLE_CUDASIM:
        print("NUMBA_ENABLE_CUDASIM is set: unset it to compile for a real target")
        return 2
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    out = subprocess.run([sys.executable, __file__, "--record"], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        print(f"recording the kernels' signatures under the simulator failed:\n{out.stderr[-3000:]}")
        return 1
    launches = json.loads(out.stdout.strip().splitlines()[-1])
    missing = set(KERNELS) - {(k[0], k[1], k[3]) for k, _ in launches}
    for key in sorted(missing, key=str):
        print(f"FAILED  {KERNELS[key]}: never launched by the recording (extend record())")

    # device functions compile for the current device: stand in one of the requested capability
    import numba.cuda.dispatcher as disp

    class _Device:
        compute_capability = cc

    disp.get_current_device = lambda: _Device()

    failed = len(missing)
    for key, desc in launches:
        name = KERNELS[(key[0], key[1], key[3])]
        types = tuple(_numba_type(d) for d in desc)
        try:
            ptx, _ = cuda.compile_ptx(_kernel(key).py_func, types, cc=cc)
            print(f"ok      {name} {key[2] or ''}: {len(ptx)} characters of PTX for sm_{cc[0]}{cc[1]}")
        except Exception as e:  # report every kernel, then fail
            failed += 1
            print(f"FAILED  {name} {key[2] or ''} {[str(t) for t in types]}: {type(e).__name__}: {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
