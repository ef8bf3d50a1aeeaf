"""One-off migration (issue 8): the committed multi-seed training runs ``runs/<exp>/quick/`` become
sweeps with one point per seed, ``runs/<exp>/quick/seed=<k>/``, without retraining.

For each training sweep of the quick plan whose old run folder is there: every seed's learning
curves are cut out of the old ``results.nc`` (dim ``seed`` dropped; the validation curve at epoch
ends added along ``samples_seen``, which is what ``evals_per_epoch = 1`` records), the config is
the plan's point config resolved by the new config class (checked field by field against the old
one: only the renamed sentinels may differ), ``summary.json`` is recomputed per seed, and
``meta.json`` keeps the old provenance with a ``migrated_from`` note. The old files are removed;
then each point notebook and the chapter are executed with papermill (they load the results: no
training). Migrated points have no trained weights (the old runs did not keep them).

Run from the repository root: ``PYTHONPATH=$PWD .venv/bin/python scripts/migrate_runs_to_sweeps.py``.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import xarray as xr
import yaml

from snnlib import files
from snnlib.paths import runs_root
from snnlib.pipeline import execution
from snnlib.store import runs
from snnlib.study import plan
from snnlib.training import driver

RENAMED = {"seeds", "n_train", "n_test", "lr"}  # 0 sentinels -> None, seeds -> seed


def _check(old: dict, new: dict, key: str) -> None:
    for k, v in old.items():
        if k in RENAMED:
            continue
        if new.get(k) != v:
            raise SystemExit(f"{key}: field {k} was {v!r}, the plan's point config gives {new.get(k)!r}")
    for k in ("n_train", "n_test"):
        if old.get(k, 0) != (new[k] or 0):
            raise SystemExit(f"{key}: {k} {old.get(k)!r} -> {new[k]!r}")
    if old.get("lr") not in (0, 0.0, None) and old["lr"] != new["lr"]:
        raise SystemExit(f"{key}: lr {old['lr']!r} -> {new['lr']!r}")


def migrate(s, profile: str = "quick") -> bool:
    old_dir = runs_root() / s.name / profile
    if not (old_dir / "results.nc").is_file():
        return False
    old_cfg = yaml.safe_load((old_dir / "config.yaml").read_text())
    old_meta = json.loads((old_dir / "meta.json").read_text())
    with xr.open_dataset(old_dir / "results.nc") as f:
        old = f.load()
    scheme = driver.scheme_of(s.scheme)
    for pt in s.points(profile):
        cfg = scheme.config.from_dict(pt.config)
        new = cfg.to_dict()
        _check(old_cfg, new, pt.key)
        ds = old.sel(seed=cfg.seed).drop_vars("seed")
        n_train = int(old.attrs["n_train"])
        ds = ds.assign(val_accuracy_curve=("samples_seen", ds["val_accuracy"].values,
                                           {"units": "1", "long_name": "val accuracy at fixed numbers of training samples"}),
                       val_loss_curve=("samples_seen", ds["val_loss"].values,
                                       {"units": "1", "long_name": "val loss at fixed numbers of training samples"}))
        ds = ds.assign_coords(samples_seen=("samples_seen", ds["epoch"].values.astype(np.int64) * n_train,
                                            {"units": "training samples"}))
        attrs = {k: v for k, v in old.attrs.items() if k not in ("config", "config_class")}
        lr = cfg.lr if cfg.lr is not None else scheme.default_lr(cfg)
        best = int(ds["val_accuracy"].fillna(-1).argmax("epoch")) + 1
        attrs.update(scheme=scheme.name, seed=cfg.seed, lr=lr, best_epoch=best)
        ds.attrs = attrs
        point = runs.point_dir(s.name, profile, pt.id)
        cfg_yaml = yaml.safe_dump(new, sort_keys=True)
        ds.attrs.update(config=cfg_yaml, config_class=type(cfg).__name__, time_unit="ms")
        files.atomic_write(point / "config.yaml", cfg_yaml)
        enc = {v: {"zlib": True, "complevel": 4} for v in ds.data_vars if ds[v].dtype.kind in "iuf"}
        files.atomic_write(point / "results.nc", lambda p: ds.to_netcdf(p, encoding=enc))
        files.atomic_write(point / "summary.json", runs._json(driver.summarize(ds)))
        meta = dict(old_meta, config_class=type(cfg).__name__, seed=cfg.seed,
                    wall_time_s=float(ds["epoch_time"].sum()),
                    migrated_from={"run": f"runs/{s.name}/{profile}", "seeds": old_cfg.get("seeds"),
                                   "git_commit": old_meta.get("git_commit"),
                                   "wall_time_s_all_seeds": old_meta.get("wall_time_s"),
                                   "note": "cut out of the multi-seed run without retraining; wall_time_s is "
                                           "this seed's training time (sum of epoch_time); no trained weights"})
        files.atomic_write(point / "meta.json", runs._json(meta))
    for f in ("config.yaml", "results.nc", "summary.json", "meta.json", "notebook.ipynb"):
        (old_dir / f).unlink(missing_ok=True)
    return True


def main() -> int:
    for s in plan.sweeps("quick"):
        if s.scheme is None or not migrate(s):
            continue
        print(f"migrated {s.name}; executing its notebooks", file=sys.stderr)
        for pt in s.points("quick"):
            execution.execute_task(execution.task(pt.key)._replace(keep_weights=False))
        execution.execute(f"{s.name}/quick")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
