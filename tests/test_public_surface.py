"""The public surface of every package: its ``__init__`` says what it exports in ``__all__``, and that is true.

Pinned so that a change to a surface is a decision, not an accident: every name in ``__all__`` exists
(lazily loaded names included), every public name an ``__init__`` defines is in it (or is made private),
and the two surfaces a program starts from, ``sudoless`` and ``sudoless.flows``, are listed here in full.
Names a package imports and neither uses nor exports are ruff's business (F401).
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
from pathlib import Path

import pytest

import sudoless

SRC = Path(__file__).resolve().parent.parent / "src"

#: the top-level surface: settings, the error root and the version; the rest lives in the packages
TOP_LEVEL = ["Settings", "SudolessError", "__version__", "load_settings"]

#: the flow engine as a library: upload, submit, run, control, restart, and the model they share
FLOWS = [
    "ExecutionOptions",
    "Executor",
    "Flow",
    "Node",
    "Project",
    "Status",
    "control",
    "load_project",
    "restart_execution",
    "run_execution",
    "submit_flow",
    "upload_project",
]


def packages() -> list[str]:
    """Every package under src/sudoless, by dotted name."""
    return sorted(".".join(path.parent.relative_to(SRC).parts) for path in (SRC / "sudoless").rglob("__init__.py"))


def defined_names(package: str, src: Path = SRC) -> set[str]:
    """The public names an ``__init__`` binds itself, at its top level: functions, classes, assignments."""
    path = src.joinpath(*package.split("."), "__init__.py")
    names: set[str] = set()
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if not name.startswith("_")}


def test_every_package_is_found() -> None:
    found = packages()
    assert {"sudoless", "sudoless.flows", "sudoless.cli", "sudoless.nn"} <= set(found), found


@pytest.mark.parametrize("package", packages())
def test_exported_members(package: str) -> None:
    module = importlib.import_module(package)
    exported = getattr(module, "__all__", None)
    assert isinstance(exported, list), f"{package}/__init__.py has no __all__ list; say what it exports"
    assert len(exported) == len(set(exported)), f"{package}.__all__ names something twice"
    for name in exported:
        assert getattr(module, name, None) is not None, f"{package}.__all__ names {name!r}, which it lacks"
        namespace: dict[str, object] = {}
        exec(f"from {package} import {name}", namespace)  # the way a user imports it, lazy names included
        assert namespace[name] == getattr(module, name)
    unexported = sorted(defined_names(package) - set(exported))
    assert not unexported, f"{package}/__init__.py defines {unexported}: export them in __all__ or make them private"


def test_the_reader_of_definitions_sees_each_kind(tmp_path: Path) -> None:
    package = tmp_path / "sudoless" / "probe"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "import os\nfrom .x import y\nA = 1\nb: int = 2\n_c = 3\ndef f(): pass\nclass K: pass\n"
    )
    assert defined_names("sudoless.probe", tmp_path) == {"A", "b", "f", "K"}


def test_top_level_surface() -> None:
    assert sorted(sudoless.__all__) == TOP_LEVEL
    assert sudoless.__version__ == importlib.metadata.version("sudoless")


def test_flows_surface() -> None:
    import sudoless.flows

    assert sorted(sudoless.flows.__all__) == FLOWS
    assert sudoless.flows.upload_project.__module__ == "sudoless.flows.upload"


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    """The lazy loaders answer only for their own names; a typo must fail as it would without them."""
    import sudoless.flows

    for module in (sudoless, sudoless.flows):
        with pytest.raises(AttributeError, match="no attribute 'upload_projects'"):
            module.upload_projects  # noqa: B018
