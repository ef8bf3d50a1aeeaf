"""Training: the one loop, the losses and probes, the one driver and the table of schemes.

:mod:`~snnlib.training.base` (:class:`TrainConfig`, the scheme protocol, the config digest),
:mod:`~snnlib.training.loop` (:func:`fit`: epochs, evaluation, checkpoints),
:mod:`~snnlib.training.losses`, :mod:`~snnlib.training.probes`,
:mod:`~snnlib.training.schemes` (BPTT, spike-time, integrated; ``SCHEMES``) and
:mod:`~snnlib.training.driver` (:func:`run`, :func:`load_model`).
"""
