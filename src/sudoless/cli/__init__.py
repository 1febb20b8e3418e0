"""``sudoless``: the command line. Each group lives in its own module; none holds logic of its own.

The contract every command keeps (docs/cli.md; ``tests/cli/test_contract.py`` walks the command tree and
checks it for each one):

- a command that prints a result takes ``--json`` and then prints exactly one JSON document on stdout;
- exit 0 when it did what was asked, 1 when it ran and what it checked is not fine (a flow that did not
  succeed, a server that is not running, a decryption with low confidence: :class:`~sudoless.errors.CheckFailed`),
  2 for a usage or input error;
- a command returns or raises a :class:`~sudoless.errors.SudolessError`; :func:`run` alone turns either into
  an exit code and at most one line on stderr (only a bug shows a traceback), and :func:`main` alone exits.

This module imports no click: the root group, the shared options and :func:`run` live in
:mod:`sudoless.cli.root` (with click) and are loaded from there on first use, so that ``sudoless --help`` is
printed from the table of :mod:`sudoless.cli.commands` without click or any command module (issue 22's target is
0.1 s; importing click and registering every command with it was two thirds of its instructions).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from sudoless.cli.commands import COMMAND_MODULES, COMMAND_SUMMARIES, HELP_COLUMNS, overview
from sudoless.cli.commands import terminal_columns as _terminal_columns

if TYPE_CHECKING:
    from sudoless.cli.root import (
        Command,
        Group,
        cli,
        db_option,
        emit_json,
        json_option,
        register_commands,
        register_for,
        report,
        run,
        settings_from,
        usage_line,
    )

__all__ = [
    "COMMAND_MODULES",
    "COMMAND_SUMMARIES",
    "HELP_COLUMNS",
    "Command",
    "Group",
    "cli",
    "db_option",
    "emit_json",
    "json_option",
    "main",
    "overview",
    "register_commands",
    "register_for",
    "report",
    "run",
    "settings_from",
    "usage_line",
]


def main() -> None:
    """The ``sudoless`` entry point; the only place the command line exits. ``sudoless --help`` alone is
    answered by :func:`overview`; every other command line goes through :func:`run`."""
    if sys.argv[1:] in (["--help"], ["-h"]) and _terminal_columns() >= HELP_COLUMNS:
        sys.stdout.write(overview())
        sys.stdout.flush()
        sys.exit(0)
    from sudoless.cli.root import run

    sys.exit(run())


def __getattr__(name: str) -> Any:
    """The names of :mod:`sudoless.cli.root`, imported with click on first use (PEP 562)."""
    if name.startswith("__") or name not in __all__:
        raise AttributeError(f"module 'sudoless.cli' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module("sudoless.cli.root"), name)
    globals()[name] = value
    return value
