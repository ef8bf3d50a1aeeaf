"""snnlib: time discretization and the training of spiking neural networks.

Modules (see the book and ``DESIGN.md``): ``neuron`` (CuBa-LIF), ``integrators``, ``crossing``,
``events`` (event-driven layers), ``encoding``, ``data``, ``runs`` (configs and run folders),
``plotting``, ``experiments`` (one module per experiment family). Time is in ms everywhere.
"""

__version__ = "0.1.0"
