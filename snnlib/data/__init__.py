"""Data: where the datasets live, loading and verifying them, splits and spike encodings.

:mod:`~snnlib.data.location` (the data folder, :class:`DataError`), :mod:`~snnlib.data.datasets`
(MNIST, thresholded MNIST, N-MNIST, with integrity checks), :mod:`~snnlib.data.yinyang` (the Yin-Yang
dataset generated from its published definition, seeded), :mod:`~snnlib.data.downloads`,
:mod:`~snnlib.data.splits` (train / validation / test of a training config),
:mod:`~snnlib.data.encoding` (time-to-first-spike, rate, events as rasters or spike times) and
``checksums/`` (the shipped N-MNIST manifest).
"""
