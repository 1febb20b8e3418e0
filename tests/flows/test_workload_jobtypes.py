"""The workload job types (decipher, routes, spark, nn) live in flows/jobtypes/ and the workloads know nothing
of flows: a workload package never imports ``sudoless.flows``, and registering a workload job type loads
neither the workload nor its heavy dependencies (that happens in ``run``)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import sudoless
from sudoless.flows.jobtypes import PLUGINS

SRC = Path(sudoless.__file__).parent
WORKLOADS = ("mcmc", "routing", "spark", "nn")


def imported_modules(path: Path) -> set[str]:
    """Every absolute module an import statement in ``path`` names, those inside functions included."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("workload", WORKLOADS)
def test_workload_package_imports_nothing_of_flows(workload: str) -> None:
    files = sorted((SRC / workload).rglob("*.py"))
    assert files
    offenders = [
        f"{path.relative_to(SRC)}: {name}"
        for path in files
        for name in sorted(imported_modules(path))
        if name == "sudoless.flows" or name.startswith("sudoless.flows.")
    ]
    assert offenders == []


def test_plugin_modules_sit_in_flows_jobtypes() -> None:
    assert set(PLUGINS) == {"decipher", "routes", "spark", "nn"}
    for module in PLUGINS.values():
        assert module.startswith("sudoless.flows.jobtypes.")
        assert (SRC / "flows" / "jobtypes" / f"{module.rsplit('.', 1)[1]}.py").is_file()


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_registering_a_workload_job_type_loads_no_workload(name: str) -> None:
    code = (
        "import importlib, json, sys\n"
        "from sudoless.flows.jobtypes import PLUGINS, _REGISTRY\n"
        f"importlib.import_module(PLUGINS[{name!r}])\n"
        "heavy = ('numpy', 'pyspark', 'pyvrp', 'matplotlib', 'symspellpy')\n"
        "workloads = ('sudoless.mcmc', 'sudoless.routing', 'sudoless.spark', 'sudoless.nn')\n"
        "print(json.dumps({'registered': sorted(_REGISTRY),"
        " 'loaded': sorted(m for m in sys.modules if m.split('.')[0] in heavy"
        " or any(m == w or m.startswith(w + '.') for w in workloads))}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert name in seen["registered"]
    assert seen["loaded"] == []
