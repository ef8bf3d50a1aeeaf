"""Spike functions: Heaviside forward, surrogate derivative backward.

Each surrogate is the derivative of a smooth *primitive* ``F(x)`` (``x = v - theta``) that tends to
the Heaviside step; the backward pass uses ``F'(x)`` in place of the Dirac delta. Tests check the
backward against finite differences of ``F``.

=============  ==========================================================  ==============================
name           derivative ``F'(x)``                                        reference
=============  ==========================================================  ==============================
``slayer``     ``(scale / (2 tau)) exp(-|x| / tau)``                       SLAYER PDF (Shrestha & Orchard 2018)
``arctan``     ``(alpha / 2) / (1 + (pi alpha x / 2)^2)``                  snnTorch ``surrogate.atan``
``fast_sigmoid`` ``1 / (1 + slope |x|)^2``                                 snnTorch ``surrogate.fast_sigmoid``
=============  ==========================================================  ==============================
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

__all__ = ["Surrogate", "get_surrogate", "spike", "SURROGATES"]

class Surrogate(NamedTuple):
    """A surrogate by name with its one shape parameter (``tau`` / ``alpha`` / ``slope``) and scale."""

    name: str = "slayer"
    width: float | None = None  # tau (slayer), alpha (arctan), slope (fast_sigmoid)
    scale: float = 1.0

    @property
    def resolved_width(self) -> float:
        """``width``, or the surrogate's default (slayer 1, arctan 2, fast_sigmoid 25)."""
        return self.width if self.width is not None else _DEFAULT_WIDTH[self.name]

    def derivative(self, x: Tensor) -> Tensor:
        w = self.resolved_width
        if self.name == "slayer":
            return self.scale / (2 * w) * torch.exp(-x.abs() / w)
        if self.name == "arctan":
            return self.scale * (w / 2) / (1 + (math.pi * w / 2 * x) ** 2)
        return self.scale / (1 + w * x.abs()) ** 2

    def primitive(self, x: Tensor) -> Tensor:
        """A smooth step whose derivative is :meth:`derivative` (for tests and plots)."""
        w = self.resolved_width
        if self.name == "slayer":
            return self.scale * 0.5 * (1 + torch.sign(x) * (1 - torch.exp(-x.abs() / w)))
        if self.name == "arctan":
            return self.scale * (torch.atan(math.pi * w / 2 * x) / math.pi + 0.5)
        # the fast sigmoid x / (1 + slope |x|): a step of height 2 / slope, centred on 0
        return self.scale * x / (1 + w * x.abs())


_DEFAULT_WIDTH = {"slayer": 1.0, "arctan": 2.0, "fast_sigmoid": 25.0}
SURROGATES = tuple(_DEFAULT_WIDTH)


def get_surrogate(name: str | Surrogate = "slayer", width: float | None = None, scale: float = 1.0) -> Surrogate:
    if isinstance(name, Surrogate):
        return name
    if name not in _DEFAULT_WIDTH:
        raise ValueError(f"surrogate = {name!r}: expected one of {', '.join(SURROGATES)}.")
    if width is not None and not (width > 0 and math.isfinite(width)):
        raise ValueError(f"surrogate width = {width}: expected a positive number.")
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"surrogate scale = {scale}: expected a positive number.")
    return Surrogate(name, width, scale)


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, surrogate: Surrogate) -> Tensor:
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (x,) = ctx.saved_tensors
        return grad * ctx.surrogate.derivative(x), None


def spike(x: Tensor, surrogate: Surrogate | str = "slayer") -> Tensor:
    """``H(x)`` (1 where ``x >= 0``) with the surrogate derivative in the backward pass."""
    return _Spike.apply(x, get_surrogate(surrogate))
