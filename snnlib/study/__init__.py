"""The study: what runs and sweeps it is made of, and how a sweep's points are read back.

:mod:`~snnlib.study.plan` (the planned runs and sweeps per profile, the book's table of contents)
and :mod:`~snnlib.study.loading` (:func:`load_sweep`).
"""
