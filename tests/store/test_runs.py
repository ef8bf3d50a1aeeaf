"""Configs refuse bad values before any compute; run folders are written atomically and never lost, and
cannot silently lie: checksums in meta.json, strict JSON, named errors for damaged files."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import xarray as xr

from snnlib import files
from snnlib.config import Config, ConfigError
from snnlib.experiments import data_overview
from snnlib.store import runs


@dataclasses.dataclass(frozen=True)
class ToyConfig(Config):
    """Fields: ``n`` (points, >= 1), ``scale`` (positive), ``seed``."""

    n: int = 3
    scale: float = 1.0
    seed: int = 0

    def validate(self):
        super().validate()
        self._check("seed", isinstance(self.seed, int) and self.seed >= 0, "a non-negative integer")
        self._check("n", isinstance(self.n, int) and self.n >= 1, "an integer >= 1")
        self._check("scale", self.scale > 0, "a positive number")


def toy_run(cfg: ToyConfig) -> xr.Dataset:
    x = np.arange(cfg.n) * cfg.scale
    return xr.Dataset({"y": (("x",), x**2, {"units": "1"})}, coords={"x": x})


def toy_summary(ds):
    return {"total": float(ds["y"].sum())}


@pytest.mark.parametrize(
    "kwargs, field",
    [({"n": 0}, "n"), ({"scale": -1.0}, "scale"), ({"seed": -2}, "seed")],
)
def test_invalid_config_names_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=rf"ToyConfig\.{field} = "):
        ToyConfig(**kwargs)


def test_experiment_config_refuses_bad_values_before_compute():
    with pytest.raises(ConfigError, match="nmnist_subset"):
        data_overview.Config(nmnist_subset="everything")
    with pytest.raises(ConfigError, match="t_in"):
        data_overview.Config(t_in=float("inf"))


def test_from_dict_refuses_unknown_fields_and_converts_lists():
    with pytest.raises(ConfigError, match="no field.*nn"):
        ToyConfig.from_dict({"nn": 3})
    assert ToyConfig.from_dict({"n": 5}).n == 5


def test_save_and_load_roundtrip(isolated_runs):
    cfg = ToyConfig(n=4, scale=0.5, seed=3)
    path = runs.run_dir("toy", "a")
    run = runs.run_or_load(cfg, path, toy_run, toy_summary)
    assert run.path == path and path.is_relative_to(isolated_runs)
    loaded = runs.load("toy", "a")
    xr.testing.assert_identical(loaded.results.drop_attrs(), toy_run(cfg).drop_attrs())
    assert loaded.config == cfg.to_dict()
    assert loaded.summary == {"total": float((np.arange(4) * 0.5) ** 2 @ np.ones(4))}
    assert loaded.results.attrs["time_unit"] == "ms"
    assert "scale: 0.5" in loaded.results.attrs["config"]
    meta = json.loads((path / "meta.json").read_text())
    assert meta["seed"] == 3 and meta["wall_time_s"] >= 0
    assert {"torch", "numpy", "xarray", "python"} <= set(meta["versions"])
    assert "git_commit" in meta and "device" in meta
    assert not runs.is_complete(path)  # no executed notebook yet


def test_results_compress_only_the_arrays_worth_it(isolated_runs):
    """A point's short learning curves are stored as they are (HDF5's index of a compressed variable costs
    more than it saves), a long array compressed; both read back identical."""
    curves = {f"curve{i}": ("epoch", np.linspace(0, 1, 10) + i) for i in range(10)}
    small = xr.Dataset(curves, coords={"epoch": np.arange(1, 11)})
    big = small.assign(trace=("t", np.repeat(np.arange(5.0), 2000)))
    for name, ds in (("small", small), ("big", big)):
        runs.save(runs.run_dir("toy", name), ToyConfig(), ds, {"total": 1.0}, 0.0)
        back = xr.load_dataset(runs.run_dir("toy", name) / "results.nc")
        xr.testing.assert_identical(back.drop_attrs(), ds)
        assert all(not back[v].encoding.get("zlib") for v in curves)
    assert xr.open_dataset(runs.run_dir("toy", "big") / "results.nc")["trace"].encoding["zlib"]
    # ten 10-number curves: 14 kB as they are (each compressed: 35 kB)
    assert (runs.run_dir("toy", "small") / "results.nc").stat().st_size < 25_000
    assert (runs.run_dir("toy", "big") / "results.nc").stat().st_size < big["trace"].nbytes / 4


def test_existing_results_are_loaded_not_recomputed(isolated_runs):
    path = runs.run_dir("toy", "b")
    runs.run_or_load(ToyConfig(), path, toy_run, toy_summary)

    def must_not_run(cfg):
        raise AssertionError("recomputed a run that was complete")

    assert runs.run_or_load(ToyConfig(), path, must_not_run, toy_summary).summary["total"] == 5.0


def test_results_of_another_config_are_never_overwritten(isolated_runs):
    path = runs.run_dir("toy", "c")
    runs.run_or_load(ToyConfig(n=3), path, toy_run, toy_summary)
    before = (path / "results.nc").read_bytes()
    with pytest.raises(ConfigError, match="fields differ: n"):
        runs.run_or_load(ToyConfig(n=5), path, toy_run, toy_summary)
    assert (path / "results.nc").read_bytes() == before


def test_a_field_added_since_at_its_default_is_the_same_config(isolated_runs):
    """Results made before ``scale`` existed (their config.yaml lacks it) load for the default
    scale, and are refused for another one."""
    import yaml

    path = runs.run_dir("toy", "e")
    runs.run_or_load(ToyConfig(n=3), path, toy_run, toy_summary)
    stored = yaml.safe_load((path / "config.yaml").read_text())
    del stored["scale"]
    (path / "config.yaml").write_text(yaml.safe_dump(stored))
    runs.record_checksums(path, ["config.yaml"])  # as it was recorded then

    def must_not_run(cfg):
        raise AssertionError("recomputed a run that was complete")

    assert runs.run_or_load(ToyConfig(n=3), path, must_not_run, toy_summary).summary["total"] == 5.0
    with pytest.raises(ConfigError, match="fields differ: scale"):
        runs.run_or_load(ToyConfig(n=3, scale=2.0), path, must_not_run, toy_summary)


def test_interrupted_run_leaves_nothing_that_looks_complete(isolated_runs):
    path = runs.run_dir("toy", "d")

    def interrupted(cfg):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runs.run_or_load(ToyConfig(), path, interrupted, toy_summary)
    assert not path.exists() or list(path.iterdir()) == []


def test_atomic_write_keeps_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "results.nc"
    files.atomic_write(target, b"old")

    def failing_writer(p):
        p.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        files.atomic_write(target, failing_writer)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.nc"]


def test_in_memory_run_writes_nothing(isolated_runs):
    run = runs.run_or_load(ToyConfig(), None, toy_run, toy_summary)
    assert run.path is None and run.summary["total"] == 5.0
    assert not isolated_runs.exists()


def test_load_missing_run_says_how_to_make_it(isolated_runs):
    with pytest.raises(FileNotFoundError, match="snnlib execute toy/zz"):
        runs.load("toy", "zz")


def test_bad_run_ids_are_refused():
    for bad in ("", "a/b", ".hidden"):
        with pytest.raises(ConfigError):
            runs.run_dir("toy", bad)


def test_from_dict_parses_a_json_or_yaml_string_as_papermill_passes_it():
    """`papermill -p config '{"n": 3}'` hands the notebook a string, not a mapping."""
    assert ToyConfig.from_dict('{"n": 3}') == ToyConfig(n=3)
    assert ToyConfig.from_dict("{n: 4}") == ToyConfig(n=4)  # YAML flow mapping
    assert ToyConfig.from_dict("n: 5\n") == ToyConfig(n=5)
    with pytest.raises(ConfigError, match="no field.*nn"):  # still validated field by field
        ToyConfig.from_dict('{"nn": 3}')


@pytest.mark.parametrize("text", ["3", "[1, 2]", "epochs", '{"n": 3'])
def test_from_dict_refuses_a_string_that_is_not_a_mapping_and_shows_the_y_form(text):
    with pytest.raises(ConfigError) as e:
        ToyConfig.from_dict(text)
    msg = str(e.value)
    assert "-y 'config: {" in msg
    assert "has no field" not in msg  # never a list of single characters as unknown fields

# ---- integrity: a damaged file never loads as data ----


def _epochs_run(cfg):
    return xr.Dataset({"test_accuracy": (("epoch",), np.array([0.5, 0.8, 0.9]))},
                      coords={"epoch": np.arange(1, 4)})


def _made(isolated_runs, name="p", run=_epochs_run, summary=lambda ds: {"acc": float(ds["test_accuracy"][-1]),
                                                                      "ci": math.nan}):
    path = runs.run_dir("toy", name)
    runs.run_or_load(ToyConfig(), path, run, summary)
    (path / runs.NOTEBOOK).write_text("{}")
    return path


def _flip_coordinate_byte(path, old=3, new=67):
    """Change the last value of the ``epoch`` coordinate in the netCDF bytes (as a flipped byte would)."""
    data = bytearray((path / "results.nc").read_bytes())
    needle = np.array([1, 2, old], dtype=np.int64).tobytes()
    i = bytes(data).find(needle)
    assert i >= 0, "the epoch coordinate is stored uncompressed"
    data[i + 16] = new
    (path / "results.nc").write_bytes(bytes(data))


def test_a_flipped_coordinate_byte_is_refused_naming_the_file(isolated_runs):
    path = _made(isolated_runs)
    assert runs.is_complete(path)
    _flip_coordinate_byte(path)
    # the damaged file would still load as data (epoch 67), which is what the checksum prevents
    with xr.open_dataset(path / "results.nc") as ds:
        assert int(ds["epoch"][-1]) == 67
    with pytest.raises(runs.DamagedRunError, match=r"results\.nc is damaged.*git checkout|delete the folder"):
        runs.load(path)
    assert not runs.is_complete(path)  # a sweep counts it as missing and remakes it


@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_empty_or_truncated_results_name_the_file(isolated_runs, damage):
    path = _made(isolated_runs)
    data = (path / "results.nc").read_bytes()
    (path / "results.nc").write_bytes(b"" if damage == "empty" else data[: len(data) // 2])
    with pytest.raises(runs.DamagedRunError, match=str(path / "results.nc")):
        runs.load(path)


def test_an_unreadable_file_with_a_matching_checksum_is_named_too(isolated_runs):
    path = _made(isolated_runs)
    (path / "results.nc").write_bytes(b"not netcdf")
    runs.record_checksums(path, ["results.nc"])  # someone re-blessed it: still a named error, no HDF trace
    with pytest.raises(runs.DamagedRunError, match=r"results\.nc cannot be read"):
        runs.load(path)


def test_a_run_without_recorded_checksums_is_refused(isolated_runs):
    path = _made(isolated_runs)
    meta = json.loads((path / "meta.json").read_text())
    del meta["checksums"]
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(runs.DamagedRunError, match="records no checksums"):
        runs.load(path)


def test_run_or_load_remakes_a_damaged_run_and_keeps_the_damaged_files(isolated_runs, capsys):
    path = _made(isolated_runs)
    good = (path / "results.nc").read_bytes()
    _flip_coordinate_byte(path)
    run = runs.run_or_load(ToyConfig(), path, _epochs_run, lambda ds: {"acc": 0.9})
    assert run.results["epoch"].values.tolist() == [1, 2, 3]
    assert (path / "results.nc.damaged").is_file() and (path / "results.nc").read_bytes() != b""
    assert "Remaking the run" in capsys.readouterr().err
    assert good  # the remade file is verified on load
    runs.verify(path)


def test_summary_json_is_strict_json_with_null_for_nan(isolated_runs):
    path = _made(isolated_runs)
    text = (path / "summary.json").read_text()
    assert "NaN" not in text and json.loads(text)["ci"] is None
    assert math.isnan(runs.load(path).summary["ci"])  # read back as NaN


def test_weights_and_log_written_later_are_checked_too(isolated_runs):
    path = _made(isolated_runs)
    (path / "weights.npz").write_bytes(b"weights")
    runs.record_checksums(path, ["weights.npz"])
    runs.verify(path)
    (path / "weights.npz").write_bytes(b"weighta")
    with pytest.raises(runs.DamagedRunError, match=r"weights\.npz is damaged"):
        runs.verify(path)


def test_a_training_meta_lists_every_session_and_the_total_compute(isolated_runs):
    sessions = [{"git_commit": "a" * 40, "git_dirty": False, "training_code": "x", "first_epoch": 1,
                 "last_epoch": 2, "started": "2026-01-01T00:00:00+00:00", "finished": "2026-01-01T00:01:00+00:00",
                 "wall_time_s": 60.0},
                {"git_commit": "b" * 40, "git_dirty": False, "training_code": "x", "first_epoch": 3,
                 "last_epoch": 3, "started": "2999-01-01T00:00:00+00:00", "finished": "2999-01-01T00:00:30+00:00",
                 "wall_time_s": 30.0}]

    def trained(cfg):
        ds = _epochs_run(cfg)
        ds.attrs["trained_by"] = json.dumps(sessions)
        return ds

    path = _made(isolated_runs, run=trained)
    meta = runs.load(path).meta
    assert [s["git_commit"][0] for s in meta["trained_by"]] == ["a", "b"]
    assert meta["train_wall_time_s"] == 90.0
    # the first session ended before this run started: its minute counts in the run's compute
    assert runs.cost_s(meta) == pytest.approx(meta["wall_time_s"] + 60.0)


def test_toy_summary_roundtrip_still_exact(isolated_runs):
    path = runs.run_dir("toy", "t")
    runs.run_or_load(ToyConfig(), path, toy_run, toy_summary)
    assert runs.load(path).summary == {"total": 5.0}


def test_meta_records_the_kind_of_cpu(isolated_runs):
    """The same code gives other floats on another CPU kind (seen: a committed BPTT point retrained by
    its own commit on another machine drifts from the second logged loss on): meta.json says which."""
    import torch  # noqa: F401  the run's process has torch loaded, as every training and experiment has

    meta = runs.environment_meta()["device"]
    assert meta["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    import os

    if os.path.exists("/proc/cpuinfo"):  # Linux: the model name the kernel reports
        assert isinstance(meta["cpu_model"], str) and meta["cpu_model"]
