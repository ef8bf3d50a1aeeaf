"""Where training runs: the ``device`` of a training config, resolved, and batches moved there.

``device`` is an execution setting, not part of what is trained: the network is built with the
same CPU generator on every device (so its initial weights are identical), and a run's identity
(:func:`snnlib.training.base.config_digest`, :func:`snnlib.store.runs.run_or_load`) ignores it. Results are not
bit-identical across devices, nor from one GPU run to the next: float64 atomic additions sum in
whatever order the threads arrive, and the GPU fuses multiply-adds, so values differ by rounding,
which a threshold crossing can occasionally turn into one spike more or less (which training then
carries on).

- ``"cpu"``: the numba kernels of every scheme;
- ``"cuda"`` (or ``"cuda:<index>"``): PyTorch tensors on the GPU, with the schemes' CUDA paths
  (:mod:`snnlib.events.kernels.exact_cuda` for exact spike-time layers, the PyTorch clock-driven layer for
  BPTT); an error when no GPU is visible;
- ``"auto"``: ``cuda`` when a GPU is visible, else ``cpu``.
"""

from __future__ import annotations

import re
from typing import Any

import torch

__all__ = ["DEVICES", "valid_device", "resolve_device", "to_device", "device_name"]

#: the values a training config's ``device`` takes (``cuda:<index>`` too)
DEVICES = ("auto", "cpu", "cuda")


def valid_device(spec: Any) -> bool:
    """Whether ``spec`` is ``auto``, ``cpu``, ``cuda`` or ``cuda:<index>``."""
    return isinstance(spec, str) and (spec in DEVICES or re.fullmatch(r"cuda:\d+", spec) is not None)


def resolve_device(spec: str) -> torch.device:
    """The :class:`torch.device` of a config's ``device``. ``cuda`` with no GPU visible is an error
    (never a silent fall-back to the CPU: a full-profile sweep would take weeks there)."""
    if not valid_device(spec):
        raise ValueError(f"device = {spec!r}: expected one of {DEVICES} or 'cuda:<index>'.")
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(spec)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"device = {spec!r} but torch sees no GPU (torch {torch.__version__}, "
                               f"CUDA build {torch.version.cuda}); use 'cpu' or 'auto'.")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise RuntimeError(f"device = {spec!r} but only {torch.cuda.device_count()} GPU(s) are visible.")
    return dev


def device_name(dev: torch.device) -> str:
    """``"cpu"`` or the GPU's name (recorded with the results)."""
    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"


def to_device(obj: Any, dev: torch.device) -> Any:
    """``obj`` with every tensor in it moved to ``dev``: tensors, and tuples (named ones, such as a
    :class:`snnlib.clock.raster.Raster`, keep their type), lists and dicts of them; other values as they
    are. To a GPU the copy goes through pinned memory, asynchronously."""
    if isinstance(obj, torch.Tensor):
        if obj.device == dev:
            return obj
        if dev.type == "cuda" and obj.device.type == "cpu":
            return obj.pin_memory().to(dev, non_blocking=True)
        return obj.to(dev)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(to_device(v, dev) for v in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(to_device(v, dev) for v in obj)
    if isinstance(obj, dict):
        return {k: to_device(v, dev) for k, v in obj.items()}
    return obj

