"""Gradient quality inside trained integrated networks (seed 001: piggyback against adjusted).

A point reads one committed point of a direct-training sweep of integrated networks
(:mod:`snnlib.training.schemes.integrated`, e.g. ``direct-yinyang-fast``): the network trained with one
gradient (``trained``) at one integration and step, its best-validation weights. At those weights, in
float64, on the first ``n_samples`` validation samples of the source's own data and loss, it measures
both gradients of the *same* discretized forward:

- ``cosine``: the cosine similarity of the training loss's gradients over all weights, per pair
  (``pair``: piggyback-adjusted, piggyback-exact, adjusted-exact; ``exact``: the gradient of the
  continuous network at the same weights, a different forward), and per layer (``cosine_layer``);
  ``norm_ratio``: the pair's norm ratio (first over second);
- finite differences of the discretized forward itself
  (:func:`snnlib.training.probes.finite_difference_check`): along ``n_directions`` random unit directions of
  all weights, the central difference of a functional smooth in the output spike times against each
  gradient's directional derivative (``fd``; ``analytic``, dim ``gradient``); a direction counts
  (``valid``; ``valid_fraction``) only where no spike appears or vanishes between ``w - eps v`` and
  ``w + eps v`` and its one-sided differences agree (no kink, such as a crossing moving into another
  step, inside the difference). Where the forward is smooth, ``adjusted`` is its exact gradient
  (relative error at rounding level) and ``piggyback`` another vector; ``relative_error`` is the
  median over valid directions of ``|analytic - fd| / |fd|`` (``max_relative_error`` the largest).

The count loss is piecewise constant in the weights (a spike count changes in jumps), so no finite
difference of the training loss exists to compare with; the smooth functional measures the same
spike-time derivatives that the loss's gradient is built from.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
import xarray as xr

from snnlib.config import Config, is_positive
from snnlib.experiments import transfer
from snnlib.model.discretization import Discretization
from snnlib.store.runs import point_dir
from snnlib.store.sweeps import point_id
from snnlib.training import driver
from snnlib.training.probes import alignment, finite_difference_check, loss_gradients
from snnlib.training.schemes.integrated import GRADIENTS, INTEGRATIONS

NAME = "gradients"
#: the gradient pairs compared by cosine (first, second)
PAIRS = (("piggyback", "adjusted"), ("piggyback", "exact"), ("adjusted", "exact"))


@dataclasses.dataclass(frozen=True)
class GradientsConfig(Config):
    """Fields (times in ms):

    - ``source``, ``source_profile``: the direct-training sweep whose point is read; ``trained``,
      ``integration``, ``dt``, ``seed``: the point (``gradient=<trained>,integration=..,dt=..,seed=..``),
      i.e. the gradient that trained the weights, the integration and step they were trained at.
    - ``n_samples``: the first validation samples the gradients are taken on; ``n_directions``,
      ``eps``: the finite-difference directions and their half-step (float64 weights).
    """

    source: str = "direct-yinyang-fast"
    source_profile: str = "quick"
    trained: str = "adjusted"
    integration: str = "ps5"
    dt: float = 0.5
    seed: int = 0
    n_samples: int = 256
    n_directions: int = 8
    eps: float = 1e-6

    def validate(self) -> None:
        super().validate()
        c = self._check
        c("source", isinstance(self.source, str) and bool(self.source), "the name of a direct-training sweep")
        c("trained", self.trained in GRADIENTS, " or ".join(map(repr, GRADIENTS)))
        c("integration", self.integration in INTEGRATIONS, " or ".join(map(repr, INTEGRATIONS)))
        c("dt", is_positive(self.dt), "a positive step (ms)")
        c("eps", is_positive(self.eps) and self.eps < 1e-2, "a small positive half-step (e.g. 1e-6)")
        for f in ("n_samples", "n_directions"):
            c(f, isinstance(getattr(self, f), int) and getattr(self, f) >= 1, "an integer >= 1")
        self._check_non_negative_int("seed")

    @property
    def point(self) -> str:
        """The source point's id (its folder under ``runs/<source>/<source_profile>/``)."""
        return point_id({"gradient": self.trained, "integration": self.integration, "dt": float(self.dt),
                         "seed": self.seed})


Config = GradientsConfig


def load_point(cfg: GradientsConfig):
    """``(network (float64, the source's discretization), source config, (inputs, labels), loss)``: the
    source point's best-validation weights and its first ``n_samples`` validation samples, encoded as
    it trained on them."""
    folder = point_dir(cfg.source, cfg.source_profile, cfg.point)
    if not (folder / "config.yaml").exists():
        raise FileNotFoundError(f"{folder}: no such training point (run the sweep {cfg.source!r} first).")
    net, _, scfg, sets = transfer.load_point(folder, {"val": cfg.n_samples}, cfg.n_samples)
    if getattr(scfg, "integration", None) != cfg.integration or float(getattr(scfg, "dt", -1)) != float(cfg.dt):
        raise ValueError(f"{folder}: trained at {getattr(scfg, 'integration', None)} dt = {getattr(scfg, 'dt', None)}, "
                         f"not {cfg.integration} dt = {cfg.dt}")
    (inputs,), labels = sets["val"]
    return net, scfg, (inputs, labels), driver.scheme_of(scfg).loss(scfg)


def run(cfg: GradientsConfig, progress: bool = True) -> xr.Dataset:
    """The measures of :mod:`this module <snnlib.experiments.gradients>` at the source point's weights."""
    torch.set_num_threads(1)
    net, scfg, (inputs, labels), loss = load_point(cfg)
    d = scfg.discretization()
    nets = {g: net.with_(d, g) for g in GRADIENTS}
    params = list(net.parameters())
    grads = {g: loss_gradients(n, inputs, labels, loss) for g, n in nets.items()}
    grads["exact"] = loss_gradients(net.with_(Discretization()), inputs, labels, loss)
    n_layers = len(params)
    cos = np.full(len(PAIRS), np.nan)
    cos_layer = np.full((len(PAIRS), n_layers), np.nan)
    ratio = np.full(len(PAIRS), np.nan)
    for k, (a, b) in enumerate(PAIRS):
        al = alignment(grads[a], grads[b], params)
        cos[k], ratio[k], cos_layer[k] = al["cosine"], al["norm_ratio"], al["cosine_per_layer"]
    # one forward for both gradients: the same directions, functional and differences
    first, *others = GRADIENTS
    chk = finite_difference_check(nets[first], inputs, n_directions=cfg.n_directions, eps=cfg.eps, seed=cfg.seed,
                                  also=tuple(nets[g] for g in others))
    fd, valid = chk["fd"], chk["valid"]
    analytic = np.stack([chk["analytic"], *chk["analytic_also"]])
    err = np.abs(analytic - fd) / np.maximum(np.abs(fd), 1e-300)
    err_valid = np.where(valid, err, np.nan)
    with np.errstate(all="ignore"):
        med = np.array([np.nanmedian(e) if np.isfinite(e).any() else np.nan for e in err_valid])
        mx = np.array([np.nanmax(e) if np.isfinite(e).any() else np.nan for e in err_valid])
    pairs = [f"{a}-{b}" for a, b in PAIRS]
    ds = xr.Dataset(
        {"cosine": ("pair", cos), "norm_ratio": ("pair", ratio), "cosine_layer": (("pair", "layer"), cos_layer),
         "fd": ("direction", fd), "analytic": (("gradient", "direction"), analytic),
         "valid": ("direction", valid), "relative_error": ("gradient", med),
         "max_relative_error": ("gradient", mx), "valid_fraction": float(valid.mean())},
        coords={"pair": pairs, "layer": np.arange(n_layers), "gradient": list(GRADIENTS),
                "direction": np.arange(cfg.n_directions)})
    ds["relative_error"].attrs["long_name"] = "median |directional derivative - central difference| / |difference|"
    ds.attrs.update(source=f"{cfg.source}/{cfg.source_profile}/{cfg.point}", dataset=scfg.dataset,
                    discretization=d.label, tau_s_ms=float(scfg.tau_s), n_samples=int(len(labels)), time_unit="ms",
                    threads=1)
    return ds


def summarize(ds: xr.Dataset) -> dict:
    """The piggyback-adjusted cosine and each gradient's median relative error against finite differences."""
    out = {"cosine_piggyback_adjusted": float(ds["cosine"].sel(pair="piggyback-adjusted"))}
    for g in ds["gradient"].values:
        out[f"fd_relative_error_{g}"] = float(ds["relative_error"].sel(gradient=g))
    out["fd_valid_fraction"] = float(ds["valid_fraction"])
    return out
