"""The training loop's Adam (:func:`snnlib.training.loop.make_adam`): fused, the same update as the
per-tensor loop up to float32 rounding, and a checkpoint resumes with the optimizer it was saved with."""

import torch

from snnlib.training.loop import make_adam


def _params(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.rand(40, 30, generator=g)), torch.nn.Parameter(torch.rand(5, 40, generator=g))]


def _steps(opt, params, n=20):
    g = torch.Generator().manual_seed(1)
    for _ in range(n):
        for p in params:
            p.grad = torch.randn(p.shape, generator=g)
        opt.step()


def test_fused_adam_equals_the_loop_up_to_rounding():
    a, b = _params(), _params()
    fused, loop = make_adam(a, 3e-3), torch.optim.Adam(b, lr=3e-3)
    assert fused.param_groups[0]["fused"] is True
    _steps(fused, a)
    _steps(loop, b)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=1e-6, atol=1e-6)


def test_a_checkpoint_resumes_with_its_own_optimizer():
    old = torch.optim.Adam(_params(), lr=1e-3)  # saved before the fused Adam
    opt = make_adam(_params(), 1e-3)
    opt.load_state_dict(old.state_dict())
    assert not opt.param_groups[0]["fused"]
