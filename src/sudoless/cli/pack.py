"""``sudoless pack``: a relocatable archive of a virtual environment for Spark executors, and
``sudoless pack verify`` to try one. The work is in :mod:`sudoless.spark.pack` and :mod:`sudoless.spark.verify`.
"""

from __future__ import annotations

from pathlib import Path

import click

from sudoless.cli import Group, cli, emit_json, json_option
from sudoless.errors import CheckFailed


class _PackGroup(Group):
    """``sudoless pack [VENV] -o FILE`` packs; ``sudoless pack verify FILE`` verifies. A first argument that is
    not a subcommand is the venv to pack."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] in self.commands:
            return super().parse_args(ctx, args)
        return super().parse_args(ctx, ["create", *args])


@cli.group(cls=_PackGroup, invoke_without_command=False)
def pack() -> None:
    """Pack a virtual environment for spark-submit --archives (pack [VENV] -o env.tar.gz), or verify one
    (pack verify env.tar.gz)."""


@pack.command("create", hidden=True)
@click.argument("venv", type=click.Path(path_type=Path), required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The archive to write (.tar.gz or .tgz).",
)
@click.option(
    "--with-python",
    is_flag=True,
    help="Bundle the base interpreter, libpython and the standard "
    "library, so the archive runs where no Python is installed.",
)
@click.option(
    "--exclude",
    "exclude",
    multiple=True,
    metavar="GLOB",
    help="Leave out paths (relative to the venv) or file names matching GLOB; repeatable.",
)
@click.option(
    "--level", type=click.IntRange(1, 9), default=4, show_default=True, help="gzip level (1 fastest, 9 smallest)."
)
@json_option
def create(
    venv: Path | None, output: Path, with_python: bool, exclude: tuple[str, ...], level: int, as_json: bool
) -> None:
    """Pack VENV (default: the active one, $VIRTUAL_ENV) into a relocatable, reproducible tar.gz.
    'sudoless pack verify FILE' tries an archive."""

    from sudoless.cleanable import human_size
    from sudoless.config import active_virtualenv, load_settings
    from sudoless.errors import InputError
    from sudoless.spark.cache import cap_bytes
    from sudoless.spark.pack import pack_env

    if venv is None:
        venv = active_virtualenv()
    if venv is None:
        raise InputError("no VENV given and no virtual environment is active; sudoless pack VENV -o env.tar.gz")
    settings = load_settings()
    result = pack_env(
        venv,
        output,
        with_python=with_python,
        exclude=exclude,
        cache_home=settings.home,
        cache_cap_bytes=cap_bytes(settings),
        level=level,
    )
    for note in result.notes:
        click.echo(f"sudoless: {note}", err=True)
    if as_json:
        emit_json(result.to_json())
        return
    origin = "from the cache" if result.cached else f"in {result.seconds:.1f} s"
    click.echo(
        f"{result.path}: {human_size(result.bytes)}, {result.entries} entries, {origin}"
        f"{' (with python)' if with_python else ''}"
    )


@pack.command("verify")
@click.argument("archive", type=click.Path(path_type=Path, dir_okay=False))
@json_option
def verify(archive: Path, as_json: bool) -> None:
    """Unpack ARCHIVE in a temporary folder and import every top-level package with its python.
    Exit 1 when something fails."""
    from sudoless.spark.verify import verify_archive

    report = verify_archive(archive)
    if as_json:
        emit_json(report.to_json())
    else:
        if report.error:
            click.echo(f"FAILED: {report.error}")
        else:
            click.echo(
                f"python {report.python_version} at {report.executable}: imported {len(report.imported)} "
                f"package(s), {len(report.failed)} failed"
            )
        for name, error in report.failed.items():
            click.echo(f"  {name}: {error}")
        for name, target in report.external.items():
            click.echo(f"  link {name} -> {target} leaves the archive: the target must exist on every executor")
    if not report.ok:
        raise CheckFailed()
