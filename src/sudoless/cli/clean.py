"""``sudoless clean``: report and remove what sudoless leaves in SUDOLESS_HOME that nothing running needs.
The work is in :mod:`sudoless.clean`; this module calls it and prints.
"""

from __future__ import annotations

import click

from sudoless.cli import cli, db_option, emit_json, json_option, settings_from


@cli.command("clean")
@click.option("--dry-run", is_flag=True, help="Only list what would be removed, with sizes.")
@db_option
@json_option
def clean(dry_run: bool, db: str | None, as_json: bool) -> None:
    """Remove finished executions' directories past execution_dir_retention_days and their logs past
    execution_log_retention_days, cached project versions nothing uses, a former database's execution folders
    that runs set aside, folders no execution of the database owns (an orphan, a killed preparation's
    leftovers), Spark's cached archives, unpacked environments and a stopped cluster's work folders and logs
    (nothing a running execution, cluster or app uses), and say how much space that freed. A SQLite database
    whose old logs went is compacted, so the space returns to the disk; the bytes its file shrank by are
    shown. A file made before sudoless set auto_vacuum=INCREMENTAL is rebuilt once (VACUUM, best with nothing
    else writing) and gives space back in small steps from then on, as the server does after its own
    removals. Folders of other databases in the home are listed, not judged: clean them with that database's
    --db."""
    from sudoless.clean import clean as run_clean
    from sudoless.cleanable import human_size

    report = run_clean(settings_from(db), dry_run=dry_run)
    if as_json:
        emit_json(report.to_json())
        return
    for note in report.notes:
        click.echo(f"note: {note}")
    if not report.items:
        click.echo("nothing to clean")
        return
    for item in report.items:
        state = "would remove" if dry_run else ("removed" if item.removed else "kept (in use)")
        click.echo(f"{human_size(item.bytes):>10}  {item.kind:<16} {state:<13} {item.path}")
        if item.reclaimed:
            smaller = human_size(item.reclaimed)
            click.echo(f"{'':>10}  {'':<16} {'compacted':<13} the database file is {smaller} smaller")
    verb = "would free" if dry_run else "freed"
    click.echo(f"{verb} {human_size(report.freed_bytes)}")
