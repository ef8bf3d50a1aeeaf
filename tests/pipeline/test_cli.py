"""The command line fails fast and in one line: unknown sweeps and profiles, bad worker counts, a
scheduler where nothing listens, and ``--debug`` for the traceback; ``verify`` checks the runs."""

from __future__ import annotations

import json
import socket
import sys
import time

import pytest

from snnlib.cli import main


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("argv, words", [
    (["sweep", "NOPE"], "no sweep 'NOPE'; sweeps: spiketime-mnist"),
    (["sweep", "bptt-nmnist", "--profile", "nope"], "sweep 'bptt-nmnist' has no profile 'nope'; it has quick, full"),
    (["execute", "nope/x"], "no planned run 'nope/x'"),
])
def test_unknown_names_are_one_line_errors(capsys, argv, words):
    assert main(argv) == 1
    err = _err(capsys)
    assert err.count("\n") == 1 and err.startswith("snnlib: error: ") and words in err
    assert "--debug" in err


@pytest.mark.parametrize("n", ["-1", "0", "two"])
def test_worker_and_thread_counts_must_be_positive(capsys, n):
    for flag in ("--workers", "--threads"):
        with pytest.raises(SystemExit) as exit_:
            main(["sweep", "bptt-nmnist", flag, n])
        assert exit_.value.code == 2
        err = _err(capsys)
        assert err.count("\n") == 1 and f"argument {flag}: " in err


def test_run_tasks_refuses_bad_counts_too():
    from snnlib.pipeline.cluster import check_workers, run_tasks

    for n in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="expected a positive integer"):
            check_workers(n)
    with pytest.raises(ValueError, match="threads = 0"):
        run_tasks([], threads=0)


def test_debug_shows_the_traceback(capsys):
    with pytest.raises(KeyError, match="no sweep 'NOPE'"):
        main(["sweep", "NOPE", "--debug"])


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


def test_a_dead_scheduler_fails_within_seconds_in_one_line(isolated_runs, capsys):
    pytest.importorskip("distributed")
    address = f"tcp://127.0.0.1:{_closed_port()}"
    t0 = time.perf_counter()
    assert main(["sweep", "bptt-nmnist", "--scheduler", address]) == 1
    elapsed = time.perf_counter() - t0
    err = _err(capsys)
    assert err.count("\n") == 1 and f"cannot reach the Dask scheduler at {address}" in err
    assert elapsed < 5.0, f"{elapsed:.1f} s to give up on a scheduler where nothing listens"


def test_a_malformed_scheduler_address_is_named(isolated_runs, capsys):
    pytest.importorskip("distributed")
    assert main(["sweep", "bptt-nmnist", "--scheduler", "head-node"]) == 1
    assert "--scheduler head-node: " in _err(capsys)


def test_verify_names_a_damaged_run_and_fails(isolated_runs, capsys):
    from snnlib.config import Config
    import xarray as xr
    from snnlib.store import runs

    good, bad = isolated_runs / "toy" / "a", isolated_runs / "toy" / "b"
    for path in (good, bad):
        runs.save(path, Config(), xr.Dataset({"acc": ("epoch", [0.5, 0.6])}), {"acc": 0.6}, 1.0)
    assert main(["verify"]) == 0
    assert "2 of 2 runs verify" in capsys.readouterr().out
    (bad / "summary.json").write_text(json.dumps({"acc": 0.9}))
    assert main(["verify"]) == 1
    out = capsys.readouterr()
    assert "1 of 2 runs verify" in out.out and f"{bad / 'summary.json'} is damaged" in out.err


def test_the_module_entry_point_exits_with_the_code(tmp_path):
    import subprocess

    r = subprocess.run([sys.executable, "-m", "snnlib", "sweep", "NOPE"], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and r.stderr.startswith("snnlib: error: no sweep")


def test_allow_dirty_is_a_flag_of_the_commands_that_make_runs(monkeypatch):
    import os

    from snnlib.pipeline import execution

    monkeypatch.setenv(execution.ALLOW_DIRTY, "0")  # restored after the test (the command sets it to 1)
    called = []
    monkeypatch.setattr(execution, "execute",
                        lambda key, remake=False: called.append((key, os.environ.get(execution.ALLOW_DIRTY))))
    assert main(["execute", "data-overview/quick", "--allow-dirty"]) == 0
    assert called == [("data-overview/quick", "1")]
