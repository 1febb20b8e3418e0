"""config.py is the one reader and writer of the process environment: the settings it owns (SUDOLESS_*)
and the variables the package hands down to its children or its libraries read."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import sudoless
from sudoless.config import (
    _ENV,
    BLAS_THREAD_VARIABLES,
    active_virtualenv,
    blas_threads_in_environment,
    environment_value,
    export,
    load_settings,
    process_environment,
)

SRC = Path(sudoless.__file__).parent
ENVIRONMENT_CALLS = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def environment_uses(path: Path) -> list[str]:
    """Where ``path`` touches the environment through ``os`` (``os.environ``, ``from os import getenv`` ...)."""
    uses = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ENVIRONMENT_CALLS
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ):
            uses.append(f"{path.relative_to(SRC)}:{node.lineno}: os.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            uses += [
                f"{path.relative_to(SRC)}:{node.lineno}: from os import {alias.name}"
                for alias in node.names
                if alias.name in ENVIRONMENT_CALLS
            ]
    return uses


def test_only_config_touches_the_environment() -> None:
    files = [path for path in sorted(SRC.rglob("*.py")) if path != SRC / "config.py"]
    assert len(files) > 100
    assert [use for path in files for use in environment_uses(path)] == []
    assert environment_uses(SRC / "config.py")  # the walk sees a use where there is one


def test_config_owns_every_sudoless_variable_the_package_names() -> None:
    """Every ``SUDOLESS_X`` the source names (in code, messages, docstrings) is a variable config.py reads."""
    owned = {*_ENV.values(), "SUDOLESS_HOME"}
    named = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                named.update(re.findall(r"\bSUDOLESS_[A-Z0-9_]*[A-Z0-9]", node.value))
    assert "SUDOLESS_SPARK_MASTER" in named
    assert named - owned == set()


def test_spark_master_is_a_setting(tmp_path: Path) -> None:
    assert load_settings({"SUDOLESS_HOME": str(tmp_path)}).spark_master == "local[*]"
    env = {"SUDOLESS_HOME": str(tmp_path), "SUDOLESS_SPARK_MASTER": "spark://head:7077"}
    assert load_settings(env).spark_master == "spark://head:7077"
    (tmp_path / "config.toml").write_text('[sudoless]\nspark_master = "local[2]"\n')
    assert load_settings({"SUDOLESS_HOME": str(tmp_path)}).spark_master == "local[2]"


def test_export_reaches_children_and_keeps_a_value_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUDOLESS_TEST_EXPORT", raising=False)
    monkeypatch.setattr(os, "environ", os.environ.copy())  # the real mapping is restored after the test
    export("SUDOLESS_TEST_EXPORT", "first", replace=False)
    export("SUDOLESS_TEST_EXPORT", "second", replace=False)
    assert environment_value("SUDOLESS_TEST_EXPORT") == "first"
    export("SUDOLESS_TEST_EXPORT", "third")
    assert process_environment()["SUDOLESS_TEST_EXPORT"] == "third"
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ['SUDOLESS_TEST_EXPORT'])"],
        capture_output=True,
        text=True,
        check=True,
        env=process_environment(),
    )
    assert child.stdout.strip() == "third"
    copy = process_environment()
    copy["SUDOLESS_TEST_EXPORT"] = "changed"
    assert environment_value("SUDOLESS_TEST_EXPORT") == "third"  # a copy, not the process's own


@pytest.mark.parametrize(
    ("value", "threads"), [("4", 4), ("1", 1), ("0", None), ("-2", None), ("many", None), ("", None)]
)
def test_blas_threads_in_environment(monkeypatch: pytest.MonkeyPatch, value: str, threads: int | None) -> None:
    assert BLAS_THREAD_VARIABLES[0] == "OPENBLAS_NUM_THREADS"
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", value)
    assert blas_threads_in_environment() == threads


def test_active_virtualenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    assert active_virtualenv() is None
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path))
    assert active_virtualenv() == tmp_path
