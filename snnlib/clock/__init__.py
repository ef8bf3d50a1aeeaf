"""Clock-driven networks (BPTT with surrogate gradients): rasters in, rasters out.

:mod:`~snnlib.clock.raster` (sparse rasters and projections), :mod:`~snnlib.clock.recurrence`
(the Loihi / lava-dl CUBA recurrence with its fused BPTT backward), :mod:`~snnlib.clock.stepping`
(the three ways to step through time: the recurrence, seed 000's step skipping, the exact grid),
:mod:`~snnlib.clock.network` (:class:`ClockNetwork`) and :mod:`~snnlib.clock.kernels` (numba).
"""
