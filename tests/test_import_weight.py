"""What importing the command line costs: no workload, no web server, no database until a command needs one.

Every ``sudoless`` call pays for what ``sudoless.cli`` imports before it parses its arguments, and so does
every ``--help``. The workloads (nn, mcmc, routing, spark) bring NumPy, PySpark glue and solvers; the server
brings Starlette, FastAPI and Jinja; the engine brings SQLAlchemy. A command imports them when it runs, in
its own function. Each probe runs in a fresh interpreter, where ``sys.modules`` holds exactly what it loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: what no import of the CLI and no ``--help`` may load, by top-level name or package prefix
HEAVY = (
    # the workloads and what they bring
    "sudoless.nn",
    "sudoless.mcmc",
    "sudoless.routing",
    "sudoless.spark",
    "numpy",
    "scipy",
    "matplotlib",
    "pyspark",
    "pyvrp",
    "symspellpy",
    # the web server stack
    "sudoless.server",
    "starlette",
    "fastapi",
    "uvicorn",
    "jinja2",
    "pydantic",
    "anyio",
    # the engine and its database
    "sudoless.flows",
    "sudoless.accounts",
    "sqlalchemy",
    "alembic",
)

#: prints, as JSON, every module loaded by the time the code before it has run
_REPORT = "import json, sys; print(json.dumps(sorted(sys.modules)), file=sys.stderr)"


def heavy(modules: list[str]) -> list[str]:
    return sorted(m for m in modules if any(m == name or m.startswith(name + ".") for name in HEAVY))


def loaded(code: str, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run ``code`` and then the report in a fresh interpreter; the modules it loaded."""
    program = f"import atexit\natexit.register(lambda: exec({_REPORT!r}))\n{code}"
    result = subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True, timeout=60)
    return result, json.loads(result.stderr.strip().splitlines()[-1])


def test_the_probe_sees_a_heavy_import() -> None:
    """Without this, an empty list from a broken probe would pass every test below."""
    _, modules = loaded("import sudoless.store.tables")
    assert "sqlalchemy" in heavy(modules)


def test_import_sudoless_loads_nothing_else() -> None:
    _, modules = loaded("import sudoless")
    assert [m for m in modules if m.startswith("sudoless")] == ["sudoless"]


def test_import_cli_is_light() -> None:
    _, modules = loaded("import sudoless.cli")
    assert heavy(modules) == []


@pytest.mark.parametrize("columns", ["60", "100"])
def test_help_is_light(monkeypatch: pytest.MonkeyPatch, columns: str) -> None:
    """``sudoless --help`` through the real entry point: in a terminal narrower than 80 columns through click,
    which imports every command module first (wider, it is printed from a table: tests/test_packaging.py)."""
    monkeypatch.setenv("COLUMNS", columns)
    result, modules = loaded("from sudoless.cli import main\nmain()", "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: sudoless" in result.stdout
    assert heavy(modules) == []
    assert ("sudoless.cli.flow" in modules) == (columns == "60")


def test_each_command_help_is_light() -> None:
    """``sudoless GROUP --help`` for every group, one after another in one interpreter (one start-up, not
    twenty): the modules each one adds."""
    code = """
import contextlib, io, json, sys
from sudoless.cli import cli, register_commands
register_commands()
added = {}
for name in sorted(cli.commands):
    before = set(sys.modules)
    with contextlib.redirect_stdout(io.StringIO()):
        cli.main(args=[name, "--help"], prog_name="sudoless", standalone_mode=False)
    added[name] = sorted(set(sys.modules) - before)
print(json.dumps(added))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    added: dict[str, list[str]] = json.loads(result.stdout)
    assert len(added) > 10, added
    assert {name: heavy(modules) for name, modules in added.items() if heavy(modules)} == {}


def test_a_flow_run_on_sqlite_does_not_load_the_mysql_dialect(tmp_path: Path) -> None:
    """The tables' MySQL-only column types (LONGBLOB, LONGTEXT) are resolved when a MySQL engine asks for
    them: a SQLite run through SQLAlchemy does not pay for importing MySQL's dialect (about 10 ms). (A URL with
    an option takes that path; a plain SQLite file, the default, is reached without SQLAlchemy at all.)"""
    project = tmp_path / "project"
    project.mkdir()
    (project / "hello.job").write_text("type=command\ncommand=echo hello\n")
    home = tmp_path / "home"
    code = f"import os\nos.environ['SUDOLESS_HOME'] = {str(home)!r}\nfrom sudoless.cli import main\nmain()"
    url = f"sqlite:///{home / 'run.db'}?timeout=30"
    result, modules = loaded(code, "flow", "run", str(project), "--db", url)
    assert "SUCCEEDED" in result.stdout + result.stderr, result.stdout + result.stderr
    assert (home / "run.db").is_file() and "sqlalchemy" in modules  # the probe saw the database's run
    assert [m for m in modules if m.startswith("sqlalchemy.dialects.mysql")] == []
