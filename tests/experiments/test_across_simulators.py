"""The across-simulators experiment end to end on the committed MNIST networks (a few digits), and
its two claims decided from a known result."""

from __future__ import annotations

import types

import numpy as np
import pytest
import xarray as xr

pytest.importorskip("nir", reason="the NIR package is not installed (pip install nir)")
pytest.importorskip("norse", reason="Norse is not installed (requirements-nodeps.txt)")

from snnlib.analyses import findings  # noqa: E402
from snnlib.experiments import across_simulators as exp  # noqa: E402


@pytest.mark.data
def test_runs_end_to_end_on_a_committed_network(data_dir):
    cfg = exp.Config(seeds=(0,), steps=(0.5, 100.0), n_test=120, n_vectors=4, vector_steps=(1.0,),
                     nest_resolutions=(), batch_size=60, simulators=exp.IMPORTED + ("ps3-linear-exact",))
    ds = exp.run(cfg, progress=False)
    assert ds.sizes == {"seed": 1, "simulator": 5, "h": 2, "test_sample": 120, "importer": 4, "vector_h": 1}
    np.testing.assert_allclose(ds["test_correct"].mean("test_sample"), ds["accuracy"])
    assert float(ds["exact_accuracy"].sel(seed=0)) > 0.9  # the committed network (about 98 %)
    fine = ds.sel(seed=0, h=0.5)
    assert float(fine["agreement"].sel(simulator="ps3-linear-exact")) >= 0.99
    assert float(fine["agreement"].sel(simulator="norse+corrected")) >= 0.95
    assert float(fine["output_spikes"].sel(simulator="snntorch")) == 0  # silent as imported
    np.testing.assert_allclose(ds["h_over_tau_s"].values, [0.5 / 130, 100 / 130])
    assert set(exp.summarize(ds)) >= {"exact_test_accuracy", "test_accuracy_norse_corrected_h_max"}


def test_bad_simulators_and_steps_are_refused():
    with pytest.raises(ValueError, match="simulators"):
        exp.Config(simulators=("brian2",))
    with pytest.raises(ValueError, match="steps"):
        exp.Config(steps=(1.0, -2.0))


def _known(n=2000, seeds=2):
    rng = np.random.default_rng(0)
    sims = ["snntorch", "snntorch+corrected", "norse", "norse+corrected"]
    hs = [0.5, 1.0, 20.0]
    exact = (rng.random((seeds, n)) < 0.98).astype(np.int8)
    tc = np.repeat(np.repeat(exact[:, None, None, :], len(sims), 1), len(hs), 2).copy()
    tc[:, 0] = (rng.random((seeds, len(hs), n)) < 0.1)  # snnTorch as imported: about chance
    tc[:, 3, 2] = (rng.random((seeds, n)) < 0.6)  # Norse corrected at 20 ms: broken (beyond the claim's steps)
    flips = rng.random((seeds, n)) < 0.002  # a few digits differ at 1 ms, both ways
    tc[:, 1, 1] ^= flips.astype(np.int8)
    ds = xr.Dataset({"test_correct": (("seed", "simulator", "h", "test_sample"), tc),
                     "exact_test_correct": (("seed", "test_sample"), exact),
                     "exact_accuracy": ("seed", exact.mean(1))},
                    coords={"seed": list(range(seeds)), "simulator": sims, "h": hs})
    ds.attrs["tau_s_ms"] = 130.0
    return ds


def test_claims_are_decided_per_digit_from_a_known_result():
    ds = _known()
    load = lambda name: types.SimpleNamespace(results=ds)  # noqa: E731
    verdict, tree = findings.decide_one("nir_as_imported", load)
    leaves = dict(tree[1])
    assert set(leaves) == {"snntorch, 1 ms", "norse, 1 ms"}
    assert findings.inf.verdict_of(leaves["norse, 1 ms"]) == "confirmed"  # identical digits
    assert findings.inf.verdict_of(leaves["snntorch, 1 ms"]) == "refuted"  # about 88 points lower
    assert verdict == "refuted"
    verdict, tree = findings.decide_one("nir_corrected", load)
    assert set(dict(tree[1])) == {f"{s}+corrected, {h:g} ms" for s in ("snntorch", "norse") for h in (0.5, 1.0)}
    assert verdict == "confirmed"  # 20 ms, where Norse breaks here, lies beyond the claim's steps
