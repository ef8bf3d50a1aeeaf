"""The floor plan of ARCHITECTURE.md, read from the package's own imports: the import-linter
contracts of pyproject.toml hold, no two modules import each other through any chain, and an import
inside a function is an optional dependency with its reason on the line."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import grimp
import pytest
from conftest import ROOT

PACKAGE = ROOT / "snnlib"
#: imported only inside the functions that need them (ARCHITECTURE.md, "Optional dependencies")
OPTIONAL = {"nir", "norse", "nest", "papermill", "nbformat", "jupyter_client", "zmq", "distributed", "seaborn", "tonic", "snntorch", "myst_nb",
            "IPython", "fcntl"}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("snnlib", cache_dir=None)


def test_the_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    res = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "0 broken" in res.stdout


def test_the_contracts_cover_every_module(graph):
    """Every module of the package sits on a floor of the first contract (none left out of the plan)."""
    text = (ROOT / "pyproject.toml").read_text()
    floors = re.search(r'name = "floors:.*?layers = \[(.*?)\]', text, re.S).group(1)
    roots = {m.strip() for line in re.findall(r'"([^"]+)"', floors) for m in line.split("|")}
    outside = sorted(m for m in graph.modules if m != "snnlib"
                     and not any(m == r or m.startswith(r + ".") for r in roots))
    assert not outside, f"modules on no floor: {outside}"


def test_make_rules_do_not_load_torch():
    """``snnlib makefile`` (make runs it at every invocation) imports neither torch nor numba."""
    code = ("import sys; from snnlib import cli; cli.main(['makefile', '--profile', 'quick']); "
            "print('LOADED', sorted(m for m in ('torch', 'numba') if m in sys.modules), file=sys.stderr)")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "LOADED []" in res.stderr and "RUN_TARGETS :=" in res.stdout


def test_no_import_cycle(graph):
    cycles = sorted({tuple(sorted((a, b))) for a in graph.modules for b in graph.find_modules_directly_imported_by(a)
                     if graph.chain_exists(importer=b, imported=a)})
    assert not cycles, f"modules importing each other: {cycles}"


def test_function_level_imports_are_optional_dependencies_with_a_reason():
    """Also allowed: the CLI's verbs that execute runs import the pipeline when called (``# deferred:``),
    so that ``snnlib makefile``, which make calls at every invocation, does not load torch."""
    found = []
    for path in _modules():
        lines = path.read_text().splitlines()
        for fn in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                    optional = all(n.split(".")[0] in OPTIONAL for n in names)
                    reason = "# optional: " in lines[node.lineno - 1]
                    deferred = (path.name == "cli.py" and all(n.startswith("snnlib.pipeline.") for n in names)
                                and "# deferred: " in lines[node.lineno - 1])
                    if not ((optional and reason) or deferred):
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert not found, "imports inside functions (move them up, or mark an optional dependency):\n" + "\n".join(
        sorted(set(found)))


def _code(path: Path) -> str:
    """The module's code without its docstrings and comments (what the rules below look for)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            body[0] = ast.Pass()
    return ast.unparse(tree)


@pytest.mark.parametrize("pattern, home, what", [
    (r"import_module|__import__", None, "a module path built from a string"),
    (r"\bregister\w*\(", None, "registration (tables instead: training.schemes.SCHEMES, model.integrators.INTEGRATORS)"),
    (r"ceil\([^)]*-\s*(1e-09|GRID_TOL)", "model/discretization.py", "the grid rule (model.discretization.grid_index)"),
    (r"startswith\('ps'\)|\[2:\]\)", "model/discretization.py", "parsing 'ps3' (model.discretization.parse_integration)"),
    (r"\('auto', 'numba', 'cuda'", "events/layer.py", "a table of the event backends (events.layer.BACKENDS)"),
])
def test_each_rule_has_one_home(pattern, home, what):
    hits = [str(p.relative_to(PACKAGE)) for p in _modules() if re.search(pattern, _code(p))]
    assert hits == ([home] if home else []), f"{what} written in {hits}"
