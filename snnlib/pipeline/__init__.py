"""The pipeline: executing runs with papermill, on this machine or a Dask cluster, for make.

:mod:`~snnlib.pipeline.execution` (one run, atomically), :mod:`~snnlib.pipeline.cluster` (the
missing points of sweeps on Dask), :mod:`~snnlib.pipeline.checks` (points validated before any
compute) and :mod:`~snnlib.pipeline.makerules` (the Makefile's targets and rules).
"""
