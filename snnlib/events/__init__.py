"""Event-driven networks: spike trains in, spike trains out, under any discretization.

One door, :func:`snnlib.events.layer.event_layer`, maps (discretization, gradient, backend, device)
to one implementation: the exact (BATS) layer (:mod:`~snnlib.events.exact`), the integrated layer
with the piggyback and adjusted gradients (:mod:`~snnlib.events.integrated`), their CPU and CUDA
kernels (:mod:`snnlib.events.kernels`) and the pure-PyTorch reference
(:mod:`~snnlib.events.reference`); :mod:`~snnlib.events.grid` holds the inputs' grid rule and
:mod:`~snnlib.events.network` the network (:class:`EventNetwork`).
"""
