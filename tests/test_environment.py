"""environment.yml (conda) and requirements.txt (pip, used by the Makefile) describe one environment."""

from __future__ import annotations

import re

import yaml
from conftest import ROOT


def _pins(lines):
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)\s*==\s*([^\s;]+)", line)
        assert m, f"not an exact pin: {line!r}"
        out[m.group(1).lower()] = m.group(2)
    return out


def test_environment_yml_parses_and_matches_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["name"]
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1
    conda_pins = _pins(pip_sections[0])
    pip_pins = _pins((ROOT / "requirements.txt").read_text().splitlines())
    assert conda_pins == pip_pins


def test_torch_is_pinned_to_the_cpu_build_version_and_tonic_has_no_torch_extra():
    pins = _pins((ROOT / "requirements.txt").read_text().splitlines())
    assert pins["torch"] == "2.13.0"
    assert "tonic" in pins and not any(k.startswith("tonic[") for k in pins)
    assert pins["jupyter-book"].startswith("1.")


def test_make_lab_starts_the_pinned_jupyterlab_on_notebooks_with_the_project_kernel():
    import subprocess

    pins = _pins((ROOT / "requirements.txt").read_text().splitlines())
    assert pins["jupyterlab"].startswith("4.")  # pinned (the match with environment.yml is tested above)
    # -o: take the environment as current, so `make -n` prints only the lab command itself
    out = subprocess.run(["make", "-n", "-o", ".venv/.installed", "lab"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    cmd = " ".join(out.stdout.split())
    assert ".venv/bin/jupyter lab" in cmd and "root_dir=notebooks" in cmd
    assert "default_kernel_name=snnlib" in cmd
    makefile = (ROOT / "Makefile").read_text()
    assert "ipykernel install --sys-prefix --name snnlib" in makefile  # the kernel lab starts
