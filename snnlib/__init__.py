"""snnlib: time discretization and the training of spiking neural networks.

Modules (see the book and ``DESIGN.md``): ``neuron`` (CuBa-LIF), ``integrators``, ``crossing``,
``events`` (event-driven layers), ``encoding``, ``data``, ``runs`` (configs, run folders,
``load_sweep``), ``sweeps`` (sweep declaration and point ids), ``plan`` (the runs and sweeps of
the study), ``driver`` (the one training driver and its scheme protocol), ``train`` (the training
loop), ``cluster`` (sweeps on Dask), ``paths`` (where results go), ``plotting``, ``experiments``
(one module per experiment family). Time is in ms everywhere.
"""

__version__ = "0.1.0"
