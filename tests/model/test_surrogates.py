"""Spike functions: Heaviside forward; backward equals the derivative of each surrogate's primitive."""

from __future__ import annotations

import pytest
import torch

from snnlib.model.surrogates import SURROGATES, get_surrogate, spike


@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("width", [None, 0.5])
def test_backward_is_derivative_of_primitive(name, width):
    sg = get_surrogate(name, width)
    x = torch.linspace(-3, 3, 601, dtype=torch.float64)
    x = x[x.abs() > 1e-3]  # the primitives of slayer/fast_sigmoid have a kink at 0 only in |x|
    h = 1e-6
    fd = (sg.primitive(x + h) - sg.primitive(x - h)) / (2 * h)
    xg = x.clone().requires_grad_()
    (g,) = torch.autograd.grad(spike(xg, sg).sum(), xg)
    torch.testing.assert_close(g, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", SURROGATES)
def test_forward_is_heaviside(name):
    x = torch.tensor([-1.0, -1e-9, 0.0, 1e-9, 2.0])
    assert spike(x, name).tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]


def test_arctan_matches_snntorch():
    """snnTorch's atan surrogate (alpha=2) has the same backward."""
    from snntorch import surrogate

    x = torch.linspace(-2, 2, 101, dtype=torch.float64, requires_grad=True)
    (ours,) = torch.autograd.grad(spike(x, "arctan").sum(), x)
    x2 = x.detach().clone().requires_grad_()
    (theirs,) = torch.autograd.grad(surrogate.atan(alpha=2.0)(x2).sum(), x2)
    torch.testing.assert_close(ours, theirs)


def test_fast_sigmoid_matches_snntorch():
    from snntorch import surrogate

    x = torch.linspace(-2, 2, 101, dtype=torch.float64, requires_grad=True)
    (ours,) = torch.autograd.grad(spike(x, "fast_sigmoid").sum(), x)
    x2 = x.detach().clone().requires_grad_()
    (theirs,) = torch.autograd.grad(surrogate.fast_sigmoid(slope=25)(x2).sum(), x2)
    torch.testing.assert_close(ours, theirs)


def test_bad_surrogates_are_refused():
    with pytest.raises(ValueError, match="surrogate"):
        get_surrogate("relu")
    with pytest.raises(ValueError, match="width"):
        get_surrogate("slayer", width=0.0)
