"""The run store: run folders and their files, and the declaration of sweeps and their points.

:mod:`~snnlib.store.runs` (save, load, ``run_or_load``, provenance) and
:mod:`~snnlib.store.sweeps` (:class:`Sweep`, point ids). Knows nothing of what is trained.
"""
