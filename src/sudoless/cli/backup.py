"""``sudoless backup DIR`` and ``sudoless restore DIR``: the installation's database and files, with a manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sudoless.cli import cli, db_option, emit_json, json_option, settings_from


def _progress(console: Any) -> tuple[Any, Any]:
    """A rich progress display on stderr and the callback the library calls; neither without a terminal."""
    import contextlib

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    if not console.is_terminal:
        return contextlib.nullcontext(), None

    from sudoless.store.dump import tables

    display = Progress(TextColumn("{task.description:<32}"), BarColumn(), MofNCompleteColumn(), console=console)
    database = display.add_task("database", total=len(tables()))
    seen: set[str] = set()
    files: list[Any] = []

    def report(step: str, done: int, total: int | None) -> None:
        if step == "files":
            if not files:
                files.append(display.add_task("files", total=total))
            display.update(files[0], completed=done, total=total)
            return
        seen.add(step)
        display.update(database, completed=len(seen), description=f"database: {step} ({done} rows)")

    return display, report


@cli.command("backup")
@click.argument("target", type=click.Path(path_type=Path))
@db_option
@json_option
def backup_cmd(target: Path, db: str | None, as_json: bool) -> None:
    """Back up the database (every table, one consistent snapshot) and the execution folders into TARGET.

    Safe while the server runs and flows run. TARGET must not exist (or be empty); it is private (0700).
    """
    from rich.console import Console

    from sudoless.backup import backup

    settings = settings_from(db)
    console = Console(stderr=True)
    display, report = _progress(console)
    with display:
        manifest = backup(settings, target, report)
    if as_json:
        emit_json({"backup": str(target), **manifest.to_json()})
        return
    rows = sum(manifest.tables.values())
    size = sum(f["bytes"] for f in manifest.files.values())
    click.echo(f"{target}: {len(manifest.tables)} tables, {rows} rows, {size / 1e6:.1f} MB")


@cli.command("restore")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--replace", is_flag=True, help="Overwrite a database that holds rows and existing execution folders.")
@db_option
@json_option
def restore_cmd(source: Path, replace: bool, db: str | None, as_json: bool) -> None:
    """Restore a backup folder into this home's database (or --db), checking every checksum first.

    The database must be empty (a fresh home or database) unless --replace. The database may be of another
    kind than the backed-up one (SQLite, MySQL/MariaDB, PostgreSQL).
    """
    from rich.console import Console

    from sudoless.backup import restore

    settings = settings_from(db)
    console = Console(stderr=True)
    display, report = _progress(console)
    with display:
        manifest = restore(settings, source, replace=replace, progress=report)
    if as_json:
        emit_json({"restored": str(source), **manifest.to_json()})
        return
    click.echo(f"restored {source}: {len(manifest.tables)} tables, {sum(manifest.tables.values())} rows")
