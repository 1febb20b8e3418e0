"""``sudoless server`` (the Azkaban-compatible HTTP server) and ``sudoless cert`` (a self-signed TLS
certificate)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from sudoless.cli import cli, db_option, emit_json, json_option, settings_from
from sudoless.errors import InputError


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for all).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (default 8081, or 8443 with --https).")
@click.option(
    "--https",
    "use_https",
    is_flag=True,
    help="Serve HTTPS; without --cert/--key, uses (or makes) the certificate of 'sudoless cert'.",
)
@click.option(
    "--cert",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="PEM certificate (chain) file; implies --https.",
)
@click.option("--key", type=click.Path(path_type=Path, dir_okay=False), default=None, help="PEM private key of --cert.")
@click.option(
    "--no-executor",
    is_flag=True,
    help="Run no flows in this process; 'sudoless executor' processes on the database run them.",
)
@click.option(
    "--max-flows",
    type=click.IntRange(1, 1000),
    default=30,
    show_default=True,
    help="Executions the embedded executor runs at once.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="HTTP processes sharing the port (one runs flows); more serve more requests a second.",
)
@db_option
def server(
    host: str,
    port: int | None,
    use_https: bool,
    cert: Path | None,
    key: Path | None,
    no_executor: bool,
    max_flows: int,
    workers: int,
    db: str | None,
) -> None:
    """Serve Azkaban's web API (login, projects, executions, schedules) and run flows, until interrupted."""
    import logging
    import signal

    from sudoless.config import ensure_home
    from sudoless.flows.sandbox import announce_sandbox
    from sudoless.server.serve import Server

    settings = settings_from(db)
    ensure_home(settings)
    tls = None
    if cert is not None or key is not None:
        if cert is None or key is None:
            raise InputError("--cert and --key go together: give both PEM files")
        tls = (cert, key)
    elif use_https:
        from sudoless.server.tls import default_paths, make_self_signed

        tls = default_paths(settings.home)
        if not tls[0].exists() or not tls[1].exists():
            tls = make_self_signed(settings.home, [host] if host not in ("0.0.0.0", "::") else [])
            click.echo(
                f"sudoless: made a self-signed certificate {tls[0]} ('sudoless cert --host NAME' "
                "makes one for other host names)",
                err=True,
            )
    announce_sandbox(settings)
    level = logging.getLogger().getEffectiveLevel()
    instance = Server(
        settings,
        host=host,
        port=port,
        tls=tls,
        embedded_executor=not no_executor,
        max_flows=max_flows,
        log_level="info" if level <= logging.INFO else "warning",
        http_workers=workers,
    )
    started = instance.start()
    if started.admin_password is not None:
        click.echo(
            f"sudoless: created user 'admin' with password {started.admin_password}\n"
            f"sudoless: it is shown only this once and saved in {settings.admin_password_file} "
            "(readable by you only)",
            err=True,
        )
    mode = "no embedded executor" if no_executor else f"embedded executor, {max_flows} flows at once"
    if workers > 1:
        mode += f", {workers} HTTP processes"
    click.echo(f"sudoless: serving {started.url} ({mode}); Ctrl-C stops", err=True)
    # uvicorn re-raises the signal that stopped it once it has shut down; turn it into a normal exit so that
    # the executor's flows are cancelled and the process ends with status 0.
    signal.signal(signal.SIGTERM, _exit_quietly)
    with contextlib.suppress(KeyboardInterrupt):
        instance.serve()
    click.echo("sudoless: stopped", err=True)


def _exit_quietly(signum: int, frame: object) -> None:
    """SIGTERM's handler: unwinds ``serve`` as a clean stop (a forked HTTP worker turns SystemExit into its
    exit status; KeyboardInterrupt would read as a crash there). Not a command's outcome, so it does not go
    through :func:`sudoless.cli.run`."""
    raise SystemExit(0)


@cli.command()
@click.option(
    "--host",
    "hosts",
    multiple=True,
    metavar="NAME",
    help="Host name or address the certificate is for (repeatable); localhost and 127.0.0.1 are always included.",
)
@click.option("--force", is_flag=True, help="Replace an existing certificate.")
@json_option
def cert(hosts: tuple[str, ...], force: bool, as_json: bool) -> None:
    """Make a self-signed TLS certificate and key (PEM) in SUDOLESS_HOME/tls for 'sudoless server --https'."""
    from sudoless.config import ensure_home
    from sudoless.server.tls import make_self_signed

    settings = settings_from(None)
    ensure_home(settings)
    cert_path, key_path = make_self_signed(settings.home, hosts, overwrite=force)
    if as_json:
        emit_json({"certificate": str(cert_path), "key": str(key_path)})
        return
    click.echo(f"certificate {cert_path}\nkey         {key_path} (mode 0600)")
