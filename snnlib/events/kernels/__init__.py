"""The compiled kernels of the event layers: numba on the CPU, numba-CUDA on a GPU.

``exact_cpu`` / ``exact_cuda``: BATS's closed-form layer and its backward; ``integrated_cpu``,
``integrated_adjoint``, ``integrated_cuda`` (+ ``integrated_cuda_kernels``): the integrated layer's
forward, adjusted backward and GPU versions. Called only through :mod:`snnlib.events.layer`'s
implementations; each is tested against :mod:`snnlib.events.reference`.
"""
