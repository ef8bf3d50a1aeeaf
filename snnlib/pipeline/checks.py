"""Checks of a sweep's points before any compute: every config valid, every point id its config's.

A training sweep's points are validated by their scheme's config class
(:data:`snnlib.training.schemes.SCHEMES`); another sweep's by its experiment's, looked up by the
sweep's ``experiment`` name in :data:`EXPERIMENTS`.
"""

from __future__ import annotations

from snnlib.config import Config, ConfigError
from snnlib.experiments import gradients, transfer
from snnlib.store.sweeps import SweepPoint, point_id
from snnlib.training.driver import scheme_of

__all__ = ["EXPERIMENTS", "check_configs"]

#: the experiments whose sweeps are not training sweeps (``Sweep.experiment``) -> their config class
EXPERIMENTS: dict[str, type[Config]] = {"transfer": transfer.TransferConfig, "gradients": gradients.GradientsConfig}


def check_configs(points: list[SweepPoint]) -> list:
    """Validate every point's config with its scheme's config class and return the configs.

    Refuses (:class:`ConfigError`) an invalid or unknown field, and a config whose resolved value of
    a grid field no longer gives the point's id (e.g. a grid value the config class converts), so a
    point id always names the config its folder holds.
    """
    configs = []
    for pt in points:
        if pt.sweep.scheme is not None:
            cls = scheme_of(pt.sweep.scheme).config
        elif pt.sweep.experiment is not None:
            if pt.sweep.experiment not in EXPERIMENTS:
                raise ConfigError(f"{pt.key}: no experiment {pt.sweep.experiment!r}; known: {', '.join(EXPERIMENTS)}")
            cls = EXPERIMENTS[pt.sweep.experiment]
        else:
            continue
        cfg = cls.from_dict(pt.config)
        resolved = cfg.to_dict()
        again = point_id({k: _plain(resolved[k]) for k in pt.params})
        if again != pt.id:
            raise ConfigError(f"{pt.key}: the config resolves the grid values to {again!r}, not the point's id; "
                              "write the grid values as the config stores them")
        configs.append(cfg)
    return configs


def _plain(v):
    return tuple(v) if isinstance(v, list) else v
