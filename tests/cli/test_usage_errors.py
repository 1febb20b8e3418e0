"""Usage errors of the installed ``sudoless`` script: one line on stderr, exit 2, for every command.

Click's default is four or five lines (usage, hint, blank line, ``Error: ...``); the README promises one.
These run the real console script, because the replacement lives in its entry point.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SUDOLESS = Path(sys.executable).with_name("sudoless")


def sudoless(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SUDOLESS_HOME": str(home)}
    return subprocess.run(
        [str(SUDOLESS), *args], env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, cwd=home
    )


@pytest.mark.parametrize(
    ("args", "command", "fragments"),
    [
        (["flow", "run", "--bogus"], "sudoless flow run", ["no such option", "'--bogus'"]),
        (["flow", "run"], "sudoless flow run", ["missing argument", "'PATH'"]),
        (["decipher", "--kind", "zz"], "sudoless decipher", ["invalid value for '--kind'", "'zz' is not one of"]),
        (
            ["decipher", "--time-limit", "soon"],
            "sudoless decipher",
            ["invalid value for '--time-limit'", "'soon' is not a valid float"],
        ),
        (
            ["flow", "run", "p", "--parallel", "0"],
            "sudoless flow run",
            ["invalid value for '--parallel'", "not in the range 1<=x<=1000"],
        ),
        (["bogus"], "sudoless", ["no such command", "'bogus'"]),
        (["flow", "rn"], "sudoless flow", ["no such command", "'rn'", "Did you mean 'run'?"]),
    ],
    ids=[
        "bad-option",
        "missing-argument",
        "bad-choice",
        "bad-value",
        "out-of-range",
        "unknown-command",
        "unknown-subcommand",
    ],
)
def test_usage_error_is_one_line_with_exit_2(
    tmp_path: Path, args: list[str], command: str, fragments: list[str]
) -> None:
    result = sudoless(tmp_path, *args)
    assert result.returncode == 2, result.stderr
    assert result.stdout == "" and result.stderr.endswith("\n") and result.stderr.count("\n") == 1, result.stderr
    line = result.stderr.rstrip("\n")
    assert line.startswith(f"{command}: ") and line.endswith(f" (see '{command} --help')"), line
    assert all(fragment in line for fragment in fragments), line
    assert "Usage:" not in line and "Error:" not in line


def test_help_version_and_bare_group_are_unchanged(tmp_path: Path) -> None:
    helped = sudoless(tmp_path, "flow", "run", "--help")
    assert helped.returncode == 0 and helped.stdout.startswith("Usage: sudoless flow run") and helped.stderr == ""
    version = sudoless(tmp_path, "--version")
    assert version.returncode == 0 and version.stdout.startswith("sudoless, version ")
    # A group without a command is a request for its commands, so it shows its help (click's exit 2).
    bare = sudoless(tmp_path, "flow")
    assert bare.returncode == 2 and bare.stderr.startswith("Usage: sudoless flow") and "run" in bare.stderr


def test_exit_codes_of_commands_pass_through(tmp_path: Path) -> None:
    """A command's own exit code (0 done, 1 the work failed) and its SudolessError (2) stay as they were."""
    missing = sudoless(tmp_path, "flow", "validate", str(tmp_path / "nowhere"))
    assert missing.returncode == 2, missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1 and missing.stderr.startswith("sudoless: ")
    stopped = sudoless(tmp_path, "spark", "cluster", "status")  # no cluster in a fresh SUDOLESS_HOME
    assert stopped.returncode == 1 and stopped.stdout == "no Spark cluster is running\n", stopped.stderr
    example = Path(__file__).resolve().parents[2] / "examples" / "etl-demo"
    valid = sudoless(tmp_path, "flow", "validate", str(example))
    assert valid.returncode == 0 and valid.stderr == "", valid.stderr
