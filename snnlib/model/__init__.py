"""The model: the continuous CuBa-LIF neuron, its integrators, spike-time rules, surrogates, and
the discretization values (and the grid rule) that every simulator takes.

:mod:`~snnlib.model.neuron` (parameters, exact flow, closed-form crossings),
:mod:`~snnlib.model.integrators` (exact, Euler, Parker-Sochacki of order k),
:mod:`~snnlib.model.crossing` (spike rules within a step, the grazing guard),
:mod:`~snnlib.model.surrogates` (spike derivatives for BPTT),
:mod:`~snnlib.model.discretization` (:class:`Discretization`, :class:`ClockDiscretization`,
:func:`grid_index`). Imports only the ground floor and third-party libraries.
"""
