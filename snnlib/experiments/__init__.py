"""The per-run experiments: each module a frozen ``Config``, ``run(config) -> xarray.Dataset`` and
``summarize`` (and, for its page, helpers that read its runs), executed by its notebook in
``notebooks/``.

:mod:`~snnlib.experiments.data_overview`, :mod:`~snnlib.experiments.single_neuron` (numerics of one
neuron), :mod:`~snnlib.experiments.transfer` (a point of seed 001's transfer sweep),
:mod:`~snnlib.experiments.hpsearch` (validation-only searches around a planned sweep),
:mod:`~snnlib.experiments.performance` (the benchmarks' results) and
:mod:`~snnlib.experiments.snntorch_tutorial` (seed 002 as published). The training runs are not
here: they are the schemes of :mod:`snnlib.training`; the chapters' analyses are
:mod:`snnlib.analyses`.
"""
