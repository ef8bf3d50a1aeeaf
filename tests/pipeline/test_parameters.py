"""A papermill parameter that a notebook does not declare is an error: in the project's execution
path (before any kernel starts) and inside every notebook (for papermill used directly, which only
warns and lets the run use the notebook's own value)."""

from __future__ import annotations

import nbformat
import pytest

from snnlib.config import ConfigError
from snnlib.paths import notebooks_root
from snnlib.pipeline.execution import Task, check_task_parameters, execute_task, task
from snnlib.report import PAPERMILL_HEADER, parameter_names

CHECK = "from snnlib.report import check_parameters\ncheck_parameters()"


def _notebook(tmp_path, body="print(config)"):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("# Parameters (papermill overrides these)\nrun_dir = None\nconfig = {}",
                                          metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(CHECK), nbformat.v4.new_code_cell(body)]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    return nb, path


def test_parameter_names_are_the_top_level_assignments():
    assert parameter_names("# c\na = 1\nb: int = 2\nc, d = 3, 4\nif a:\n    e = 5\na = 6") == ["a", "b"]


def test_the_execution_path_refuses_an_unknown_parameter_before_any_kernel(tmp_path):
    nb, _ = _notebook(tmp_path)
    t = Task("toy/x", nb, "toy/x", {"config": {}, "epochs": 5}, root=str(tmp_path / "runs"))
    with pytest.raises(ConfigError, match=r"the notebook of toy/x has no parameter epochs; its parameters are "
                                          r"run_dir, config \(a setting of the run's config goes inside config"):
        execute_task(t)
    assert not (tmp_path / "runs").exists()  # refused before the run folder was made
    check_task_parameters(Task("toy/x", nb, "toy/x", {"config": {}}, root=str(tmp_path)))


def test_every_planned_run_passes_only_declared_parameters():
    from snnlib.study import plan

    for profile in plan.PROFILES:
        for key in plan.targets(profile):
            check_task_parameters(task(key))


def test_inside_the_notebook_papermill_used_directly_fails_on_an_unknown_parameter(tmp_path):
    pm = pytest.importorskip("papermill")
    _, path = _notebook(tmp_path)
    pm.execute_notebook(str(path), str(tmp_path / "ok.ipynb"), parameters={"config": {"a": 1}},
                        kernel_name="python3", progress_bar=False)
    with pytest.raises(pm.PapermillExecutionError, match="this notebook has no parameter epochs"):
        pm.execute_notebook(str(path), str(tmp_path / "bad.ipynb"), parameters={"epochs": 5},
                            kernel_name="python3", progress_bar=False)


def test_every_notebook_checks_its_parameters_right_after_declaring_them():
    for path in sorted(notebooks_root().glob("*.ipynb")):
        cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        k = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
        # papermill's injected cell is told apart from the notebook's own by its first line
        assert cells[k].source.split("\n", 1)[0].rstrip() != PAPERMILL_HEADER, path.name
        assert "check_parameters()" in cells[k + 1].source, f"{path.name}: no check after the parameters cell"
        assert parameter_names(cells[k].source), path.name
