"""The one contract of every ``sudoless`` command (docs/cli.md), checked over the whole command tree.

The tree is walked from click's own objects, so a command added tomorrow is checked without touching this file:
``--help`` exits 0, a bad option exits 2 with one line on stderr and no traceback, and ``--json`` is there
unless the command is on the short list of those that print no result. The parser checks run in-process
through :func:`sudoless.cli.run` (the entry point's body: everything but the final ``sys.exit``), which keeps
49 commands x 2 checks to a few seconds; the targeted runs further down use the installed console script.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from sudoless.cli import cli, register_commands, run

REPO = Path(__file__).resolve().parents[2]
SUDOLESS = Path(sys.executable).with_name("sudoless")

#: Commands without ``--json``, each because it prints no result a script could read.
NO_JSON = {
    "executor": "serves until interrupted; it prints only a log on stderr",
    "server": "serves until interrupted; it prints only a log on stderr",
    "mysql shell": "replaces itself with the mysql client, whose output is the client's",
    "spark submit": "streams the driver's output and passes its exit code through (--dry-run prints a shell line)",
}


def leaves(command: click.Command = cli, path: tuple[str, ...] = ()) -> Iterator[tuple[str, click.Command]]:
    """Every command that runs something, as ``"group verb"`` and the click command, hidden ones included."""
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from leaves(sub, (*path, name))
    else:
        yield " ".join(path), command


register_commands()
COMMANDS = dict(leaves())


def test_the_walk_finds_every_command_group() -> None:
    """Guards the walk itself: if it found nothing, every parametrised check below would pass vacuously."""
    groups = {name.split()[0] for name in COMMANDS}
    assert {"flow", "mysql", "spark", "routes", "nn", "mcmc", "user", "token", "pack", "decipher"} <= groups
    assert len(COMMANDS) >= 45, sorted(COMMANDS)


def test_each_command_is_registered_by_the_module_the_table_names() -> None:
    """``sudoless NAME ...`` imports only ``COMMAND_MODULES[NAME]``: the table must name every command's
    module (a command missing from it still works, by registering everything, but loses the shortcut)."""
    from sudoless.cli import COMMAND_MODULES

    assert {name: command.callback.__module__.rsplit(".", 1)[1] for name, command in cli.commands.items()} == (
        COMMAND_MODULES
    )
    probe = (
        "import json, sys; from sudoless.cli import cli, register_for; register_for(['-v', 'flow', 'run', 'x']); "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('sudoless.cli.'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(done.stdout) == ["sudoless.cli.commands", "sudoless.cli.flow", "sudoless.cli.root"]


@pytest.mark.parametrize("columns", ["80", "200"])
def test_the_top_level_help_table_is_what_click_prints(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, columns: str
) -> None:
    """``sudoless --help`` is printed from :data:`sudoless.cli.COMMAND_SUMMARIES` without click: it must be what
    click prints from every command's registration in a terminal that wide (a new command, a changed first
    sentence of a docstring or a new root option shows here)."""
    from sudoless.cli import COMMAND_SUMMARIES, overview

    monkeypatch.setenv("COLUMNS", columns)
    code, out, err = invoke(capsys, "--help")
    assert code == 0 and err == ""
    assert out == overview()
    assert set(COMMAND_SUMMARIES) == {name for name, command in cli.commands.items() if not command.hidden}


@pytest.mark.parametrize("columns", ["60", "100"])
def test_the_entry_points_help_is_clicks_at_any_width(columns: str) -> None:
    """The console script prints the table at 80 columns or more and click's own help in a narrower terminal
    (whose first sentences click cuts shorter): either way what click prints there."""
    env = {**os.environ, "COLUMNS": columns}
    done = subprocess.run([str(SUDOLESS), "--help"], capture_output=True, text=True, timeout=60, env=env)
    probe = "import sys; from sudoless.cli import run; sys.exit(run(['--help']))"
    clicks = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == clicks.returncode == 0, done.stderr + clicks.stderr
    assert done.stdout == clicks.stdout and done.stderr == ""
    assert max(len(line) for line in done.stdout.splitlines()) <= min(int(columns), 80) - 2
    from sudoless.cli import overview

    assert (done.stdout == overview()) == (int(columns) >= 80)


def invoke(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_exits_0(capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, out, err = invoke(capsys, *name.split(), "--help")
    assert code == 0 and err == ""
    assert out.startswith(f"Usage: sudoless {name}")


def _bad_option(command: click.Command) -> list[str]:
    """An option the command must refuse. A command that passes unknown options on (to the mysql client, to
    spark-submit) gets one of its own options without the value it needs instead."""
    if not command.context_settings.get("ignore_unknown_options"):
        return ["--no-such-option"]
    option = next(p for p in command.params if isinstance(p, click.Option) and not p.is_flag)
    return [option.opts[-1]]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_bad_option_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, out, err = invoke(capsys, *name.split(), *_bad_option(COMMANDS[name]))
    assert code == 2, err
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"sudoless {name}: ") and err.rstrip().endswith(f"(see 'sudoless {name} --help')"), err


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_json_is_accepted_where_a_result_is_printed(name: str) -> None:
    options = {opt: param for param in COMMANDS[name].params if isinstance(param, click.Option) for opt in param.opts}
    if name in NO_JSON:
        assert "--json" not in options, f"{name} has --json now: take it off NO_JSON"
        return
    assert "--json" in options, f"{name} prints a result: give it --json (sudoless.cli.json_option)"
    assert options["--json"].is_flag and options["--json"].name == "as_json"


def test_the_no_json_list_names_real_commands() -> None:
    assert set(NO_JSON) <= set(COMMANDS)


def test_commands_exit_only_through_the_cli_entry_point() -> None:
    """One exit mechanism: commands return or raise a SudolessError (CheckFailed for "not fine"), and
    ``sudoless.cli.main`` alone calls ``sys.exit``. ``server``'s SIGTERM handler is the one other SystemExit:
    it unwinds a serving process (a forked HTTP worker's status), not a command's outcome."""
    found = []
    for path in sorted((REPO / "src" / "sudoless" / "cli").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                for inner in ast.walk(node):
                    text = ast.unparse(inner) if isinstance(inner, ast.Call | ast.Raise) else ""
                    if text.startswith(("sys.exit(", "raise SystemExit")):
                        found.append(f"{path.name}:{node.name}")
    assert sorted(set(found)) == ["__init__.py:main", "server.py:_exit_quietly"]


def test_commands_decide_by_error_type_not_by_message_text() -> None:
    """``"dispatchers" in str(exc)`` is how routes check once told a fleet-size error from a file error: a
    reworded message would have changed what it did. Errors are told apart by their class (sudoless.errors)."""
    found = []
    for path in sorted((REPO / "src" / "sudoless" / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            membership = isinstance(node, ast.Compare) and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops)
            if membership and any(isinstance(c, ast.Call) and ast.unparse(c.func) == "str" for c in node.comparators):  # type: ignore[attr-defined]
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    assert found == []


# --- real runs of the installed script: what each exit code means -------------------------------------------


def sudoless(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SUDOLESS_HOME": str(home)}
    env.pop("SUDOLESS_DB", None)
    return subprocess.run(
        [str(SUDOLESS), *args], env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, cwd=REPO
    )


def test_a_failed_flow_exits_1_with_its_document(tmp_path: Path) -> None:
    project = tmp_path / "failing"
    project.mkdir()
    (project / "a.job").write_text("type=command\ncommand=false\n")
    result = sudoless(tmp_path / "home", "flow", "run", str(project), "--json")
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["status"] == "FAILED"
    assert "Traceback" not in result.stderr


def test_a_stopped_spark_cluster_exits_1_in_both_forms(tmp_path: Path) -> None:
    text = sudoless(tmp_path, "spark", "cluster", "status")
    assert text.returncode == 1 and text.stdout == "no Spark cluster is running\n" and text.stderr == ""
    document = sudoless(tmp_path, "spark", "cluster", "status", "--json")
    assert document.returncode == 1 and json.loads(document.stdout)["running"] is False


@pytest.mark.parametrize(
    "args",
    [
        ("flow", "validate", "{missing}"),
        ("flow", "run", "{missing}"),
        ("routes", "solve", "{missing}.vrp"),
        ("decipher", "{missing}"),
        ("nn", "train", "{missing}.yaml"),
        ("user", "import", "{missing}.xml"),
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_a_missing_input_file_exits_2_with_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    missing = str(tmp_path / "nowhere")
    result = sudoless(tmp_path / "home", *(a.replace("{missing}", missing) for a in args))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sudoless: ") and missing in lines[0], result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("mysql", "list"),
        ("clean", "--dry-run"),
        ("user", "list"),
        ("flow", "validate", "examples/etl-demo"),
        ("encipher", "-", "--seed", "1"),
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_json_is_one_document_on_stdout(tmp_path: Path, args: tuple[str, ...]) -> None:
    env = {**os.environ, "SUDOLESS_HOME": str(tmp_path)}
    env.pop("SUDOLESS_DB", None)
    result = subprocess.run(
        [str(SUDOLESS), *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        input="attack at dawn\n",
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)  # one document: trailing text or a second document would not parse
