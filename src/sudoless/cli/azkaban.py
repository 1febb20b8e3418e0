"""``sudoless azkaban import``: move an Azkaban installation's projects, permissions and schedules over."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import click

from sudoless.cli import cli, db_option, emit_json, json_option, settings_from
from sudoless.errors import CheckFailed


def _progress(console: Any) -> tuple[Any, Any]:
    """A rich progress display on stderr (a bar for the projects, one for the executions) and the callback
    the import calls; neither without a terminal."""
    if not console.is_terminal:
        return contextlib.nullcontext(), None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    display = Progress(TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(), console=console)
    tasks: dict[str, Any] = {}

    def report(step: str, done: int, total: int) -> None:
        if step not in tasks:
            tasks[step] = display.add_task(step, total=total)
        display.update(tasks[step], completed=done, total=total)

    return display, report


@cli.group("azkaban")
def azkaban_group() -> None:
    """Move an existing Azkaban installation to sudoless."""


@azkaban_group.command("import")
@click.option(
    "--from",
    "source_url",
    required=True,
    metavar="URL",
    help="Azkaban's database: mysql://USER@HOST[:PORT]/DATABASE (no password in it).",
)
@click.option(
    "--password-file",
    type=click.Path(path_type=Path),
    default=None,
    help="A file (mode 0600) whose first line is the Azkaban database password.",
)
@click.option(
    "--users",
    "users_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Azkaban's azkaban-users.xml: its roles, groups and users (passwords hashed) come too.",
)
@click.option(
    "--properties",
    "properties_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Azkaban's azkaban.properties: the settings that map are reported as config.toml lines.",
)
@click.option("--projects", default="", metavar="A,B", help="Only these projects (comma list; default all).")
@click.option(
    "--history",
    default="all",
    metavar="DAYS|all|none",
    help="Executions to bring over: those of the last DAYS days, all (default) or none.",
)
@click.option(
    "--on-conflict",
    type=click.Choice(["fail", "skip", "rename"]),
    default="fail",
    show_default=True,
    help="A project that exists in sudoless already: stop before writing, leave it out, or import it as NAME_azkaban.",
)
@click.option("--enable-schedules", is_flag=True, help="Keep running schedules running (default: paused).")
@click.option("--dry-run", is_flag=True, help="Report what would be imported; write nothing.")
@db_option
@json_option
def import_cmd(
    source_url: str,
    password_file: Path | None,
    users_file: Path | None,
    properties_file: Path | None,
    projects: str,
    history: str,
    on_conflict: str,
    enable_schedules: bool,
    dry_run: bool,
    db: str | None,
    as_json: bool,
) -> None:
    """Import every project (all versions), its permissions, schedules and executions from an Azkaban database.

    Azkaban's database is only read. Running it again imports only what is new.
    """
    from rich.console import Console

    from sudoless.azkaban_import import ImportOptions, import_azkaban
    from sudoless.config import read_secret_file
    from sudoless.errors import InputError
    from sudoless.store import store_for

    if history not in ("all", "none") and not history.isdigit():  # checked before any password file is read
        raise InputError(f"--history {history!r}: give a number of days, 'all' or 'none'")
    password = (
        read_secret_file(str(password_file), "--password-file", "Azkaban database password") if password_file else None
    )
    settings = settings_from(db)
    store = store_for(settings)
    display, progress = _progress(Console(stderr=True))
    options = ImportOptions(
        source_url=source_url,
        password=password,
        projects=tuple(p.strip() for p in projects.split(",") if p.strip()),
        dry_run=dry_run,
        on_conflict=on_conflict,
        enable_schedules=enable_schedules,
        history=history,
        users=users_file,
        properties=properties_file,
    )
    try:
        with display:
            report = import_azkaban(store, settings, options, progress)
    finally:
        store.close()
    if as_json:
        emit_json(report.to_json())
    else:
        for line in report.lines():
            click.echo(line)
    if report.conflicts and on_conflict == "fail":
        raise CheckFailed()  # the report names each conflict and the --on-conflict that resolves it
