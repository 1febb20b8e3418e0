"""The root command group (``cli``) and what every command group shares: the options, the command classes, the
registration of the command modules, and :func:`run`, which turns outcomes into exit codes.

Imported by every command line but ``sudoless --help`` (:mod:`sudoless.cli` answers that one without click).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pkgutil
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

from sudoless.cli.commands import COMMAND_MODULES
from sudoless.errors import DaemonError, SudolessError

if TYPE_CHECKING:  # the settings are read by the commands; `sudoless --help` never needs them (32 M instructions)
    from sudoless.config import Settings

__all__ = [
    "Command",
    "Group",
    "cli",
    "db_option",
    "emit_json",
    "json_option",
    "register_commands",
    "register_for",
    "report",
    "run",
    "settings_from",
    "usage_line",
]


def settings_from(db: str | None) -> Settings:
    """Settings with ``--db``; the URL ``managed`` means the user's own MariaDB/MySQL instance of
    ``sudoless mysql``, initialised and started when needed, its password read from its 0600 file.

    An existing SUDOLESS_HOME is made private (0700, its secrets 0600) before anything reads it. A ``--db``
    URL with a password works but warns: every local user sees a command line in ``ps``.
    """
    from sudoless.config import ensure_home, load_settings

    settings = load_settings(db_url=db)
    if settings.home.exists():
        ensure_home(settings)
    if db and db != "managed" and "://" in db and _has_password(db):
        click.echo(
            "sudoless: warning: the --db URL holds a password, which every local user can see in `ps`; "
            "write it to a file (chmod 600) and name that file in SUDOLESS_DB_PASSWORD_FILE",
            err=True,
        )
    if settings.db_url == "managed":
        from dataclasses import replace

        from sudoless.mysql import managed_password_file, managed_url

        ensure_home(settings)
        settings = replace(
            settings,
            db_url=managed_url(settings, password=False),
            db_password_file=str(managed_password_file(settings)),
        )
    return settings


def _has_password(url: str) -> bool:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).password is not None
    except (ArgumentError, ValueError):
        return False  # the store says what is wrong with it


def db_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--db",
        "db",
        metavar="URL",
        default=None,
        help="Database URL, or 'managed' for your own MariaDB/MySQL instance (sudoless mysql); "
        "default SQLite in SUDOLESS_HOME; env SUDOLESS_DB.",
    )(func)


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")(func)


def emit_json(data: Any) -> None:
    import json  # here: `sudoless --help` does not print JSON

    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


@contextlib.contextmanager
def _naming(ctx: click.Context) -> Iterator[None]:
    """Click's parser raises some usage errors (an option given without its value) without their context, so
    that :func:`usage_line` could not name the command; this attaches it."""
    try:
        yield
    except click.UsageError as exc:
        if exc.ctx is None:
            exc.ctx = ctx
        raise


class Command(click.Command):
    """Every ``sudoless`` command (``@group.command()`` makes one)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        with _naming(ctx):
            return super().parse_args(ctx, args)


class Group(click.Group):
    """Every ``sudoless`` command group (``@group.group()`` makes one); a group with its own parsing
    (``sudoless pack``) subclasses it."""

    command_class = Command
    group_class: type[click.Group] | type[type] | None = type  # the subgroups of a Group are Groups too

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        with _naming(ctx):
            return super().parse_args(ctx, args)


class _Group(Group):
    """The root group: a workload whose extra is missing fails with the pip line."""

    group_class = Group  # not _Group: the extra's error names the top-level command group

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ImportError as exc:  # a workload whose extra is not installed: name the pip line, not a traceback
            from sudoless.extras import explain

            name = ctx.invoked_subcommand or ""
            error = explain(exc, f"'sudoless {name}'", name)
            if error is None:
                raise
            raise error from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.version_option(package_name="sudoless")
def cli(verbose: int) -> None:
    """Workflows, databases and compute for people without root."""
    import logging  # here, not at the top: `sudoless --help` never calls this and never needs it

    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def register_commands() -> None:
    """Import every module of the ``sudoless.cli`` package: each registers its command group on ``cli`` when
    imported.

    A new command group is a new module there (and a line of :data:`~sudoless.cli.commands.COMMAND_MODULES` and of
    :data:`~sudoless.cli.commands.COMMAND_SUMMARIES`); modules load only when ``sudoless`` runs.
    """
    for module in pkgutil.iter_modules([os.path.dirname(__file__)]):
        importlib.import_module(f"sudoless.cli.{module.name}")


def register_for(args: list[str]) -> None:
    """Register the command ``args`` names (the first argument that is not an option: the root group's
    options, ``-v``, ``--version`` and ``--help``, take no value), or every command when it names none
    of :data:`~sudoless.cli.commands.COMMAND_MODULES`."""
    name = next((arg for arg in args if not arg.startswith("-")), None)
    module = COMMAND_MODULES.get(name) if name is not None else None
    if module is None:
        register_commands()
    else:
        importlib.import_module(f"sudoless.cli.{module}")


# Click 8.2+ raises this for a group called without a command (8.1 printed the help and exited 0).
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


def usage_line(exc: click.ClickException) -> str:
    """Click's error as the one line the CLI promises: ``<command>: <what> (see '<command> --help')``.

    Click prints the usage, a hint and a blank line before ``Error: ...``; one line keeps a failed call
    readable in a log and greppable in a script.
    """
    message = " ".join(exc.format_message().split()).rstrip(".")
    message = message[:1].lower() + message[1:]
    ctx = exc.ctx if isinstance(exc, click.UsageError) else None
    if ctx is None:
        return f"sudoless: {message}"
    return f"{ctx.command_path}: {message} (see '{ctx.command_path} --help')"


def report(error: SudolessError) -> int:
    """Print ``error`` as the CLI's one line on stderr and return its exit code.

    A :class:`~sudoless.errors.CheckFailed` without a message prints nothing: the command's result (a table, a
    JSON document) has said it. A daemon that did not start shows the end of its log first, where the cause
    almost always is, so that the one line stays the last.
    """
    if isinstance(error, DaemonError) and error.log_tail:
        click.echo("\n".join(f"  | {line}" for line in error.log_tail.splitlines()), err=True)
    message = str(error)
    if message:
        click.echo(f"sudoless: {message}", err=True)
    return error.exit_code


def run(args: list[str] | None = None) -> int:
    """Run one ``sudoless`` command line (default: the process's arguments) and return its exit code.

    The one place where outcomes become exit codes: click in non-standalone mode, so that its usage errors
    print one line (exit 2), and every :class:`~sudoless.errors.SudolessError` a command raises goes through
    :func:`report`. Commands return nothing; an int from click is the code of a ``ctx.exit`` (``--help``,
    ``--version``).
    """
    register_for(sys.argv[1:] if args is None else args)
    try:
        code = cli.main(args=args, prog_name="sudoless", standalone_mode=False)
    except _NO_ARGS_IS_HELP as exc:
        exc.show()  # a group called without a command: its help is the answer, not an error line
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(usage_line(exc), err=True)
        return exc.exit_code
    except click.Abort:
        click.echo("sudoless: aborted", err=True)
        return 1
    except SudolessError as exc:
        return report(exc)
    return code if isinstance(code, int) else 0
