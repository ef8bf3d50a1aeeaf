"""The training schemes, one module each, and the one table of them.

* :mod:`~snnlib.training.schemes.bptt`: BPTT with surrogate gradients (SLAYER) on clock-driven
  networks (:mod:`snnlib.clock`);
* :mod:`~snnlib.training.schemes.spiketime`: exact spike-time gradients (BATS) on event networks;
* :mod:`~snnlib.training.schemes.integrated`: numerically integrated event networks with the
  ``piggyback`` or ``adjusted`` gradient (seed 001).

:data:`SCHEMES` maps each scheme's name (its config class's ``SCHEME``, also the folder of its
checkpoints and weights) to the scheme (:class:`snnlib.training.base.Scheme`). A new scheme is a
module here and a line in this table.
"""

from __future__ import annotations

from snnlib.training.base import Scheme, check_scheme
from snnlib.training.schemes.bptt import BPTTScheme
from snnlib.training.schemes.integrated import IntegratedScheme
from snnlib.training.schemes.spiketime import SpikeTimeScheme

__all__ = ["SCHEMES"]

#: name -> scheme, every scheme of the library
SCHEMES: dict[str, Scheme] = {s.name: check_scheme(s) for s in (BPTTScheme(), SpikeTimeScheme(), IntegratedScheme())}
