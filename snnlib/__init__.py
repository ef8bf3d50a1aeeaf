"""snnlib: time discretization and the training of spiking neural networks.

A subpackage per family, each importing only from the floors below it (``ARCHITECTURE.md`` draws
them; ``tests/test_architecture.py`` checks them), from the top:

- :mod:`snnlib.cli` (the command line) over :mod:`snnlib.pipeline` (executing runs with papermill,
  sweeps on Dask, make rules);
- :mod:`snnlib.analyses` (the chapters' claims, verdicts, figures; findings) over
  :mod:`snnlib.experiments` (per-run experiments), :mod:`snnlib.plotting` and :mod:`snnlib.report`;
- :mod:`snnlib.study` (the plan of runs and sweeps, ``load_sweep``) over :mod:`snnlib.training`
  (the loop, losses, probes, the schemes and the one driver) over :mod:`snnlib.store` (run folders,
  sweep declarations);
- :mod:`snnlib.data` (datasets, splits, encodings) over :mod:`snnlib.events` (event-driven layers,
  one door: :func:`snnlib.events.layer.event_layer`) and :mod:`snnlib.clock` (clock-driven layers);
- :mod:`snnlib.model` (the CuBa-LIF neuron, integrators, spike rules, surrogates, the
  discretization values);
- the ground floor: :mod:`snnlib.config`, :mod:`snnlib.files`, :mod:`snnlib.paths`,
  :mod:`snnlib.device`, :mod:`snnlib.memory`, :mod:`snnlib.metrics`.

Time is in ms everywhere.
"""

__version__ = "0.1.0"
