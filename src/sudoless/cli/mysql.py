"""``sudoless mysql ...``: user-space MySQL/MariaDB servers (install) and instances (init, start, stop,
status, shell, url, passwd, list, destroy). The work is in :mod:`sudoless.mysql`; this module parses, calls and prints.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sudoless.cli import cli, emit_json, json_option
from sudoless.errors import CheckFailed, InputError, NotFoundError, StateError

if TYPE_CHECKING:
    from sudoless.config import Settings
    from sudoless.mysql.control import ServerStatus
    from sudoless.mysql.install import Installed

name_option = click.option(
    "-n",
    "--name",
    default="default",
    show_default=True,
    metavar="NAME",
    help="Instance name (a folder in SUDOLESS_HOME/mysql).",
)


def _settings() -> Settings:
    from sudoless.config import load_settings

    return load_settings()


# sudoless.mysql is imported by the commands that use it, not when this module is: every sudoless command
# imports every command module.
def _hint(name: str) -> str:
    from sudoless.mysql.layout import name_flag

    return name_flag(name)


def _label(flavour: str) -> str:
    from sudoless.mysql.binaries import Flavour

    return Flavour(flavour).label


def _note(text: str) -> None:
    click.echo(f"sudoless: {text}", err=True)


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def _duration(seconds: float) -> str:
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] * bool(days) + [f"{hours}h"] * bool(hours) + [f"{minutes}m"] * bool(minutes)
    return " ".join(parts + [f"{secs}s"])


@cli.group()
def mysql() -> None:
    """MySQL or MariaDB servers run as you, in SUDOLESS_HOME, without root."""


@mysql.command()
@click.option(
    "--version",
    "version",
    default=None,
    metavar="V",
    help="MariaDB version, e.g. 10.11 or 10.11.19 (default: the newest apt offers).",
)
@json_option
def install(version: str | None, as_json: bool) -> None:
    """Fetch a MariaDB server into SUDOLESS_HOME/mysql/dist without root (apt-get download on Debian and
    Ubuntu, with the libraries this machine lacks); elsewhere, say which tarball to fetch.
    """
    installed = _install(_settings(), version)
    if as_json:
        emit_json(installed.to_json())
        return
    what = "already installed" if installed.already else f"installed in {installed.seconds:.0f} s"
    click.echo(f"MariaDB {installed.version} {what} in {installed.root}; create an instance with 'sudoless mysql init'")


def _install(settings: Settings, version: str | None) -> Installed:
    """The install with a spinner and one line per step on stderr."""
    from rich.console import Console

    from sudoless.mysql.install import install_mariadb

    console = Console(stderr=True)
    with console.status("fetching MariaDB", spinner="dots") as status:

        def progress(text: str) -> None:
            status.update(text)
            console.print(f"[dim]{text}[/]", highlight=False, soft_wrap=True)

        return install_mariadb(settings, version, progress)


@mysql.command()
@name_option
@click.option(
    "--basedir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="An unpacked server tarball (default: the newest 'sudoless mysql install' fetched, then "
    "mariadbd/mysqld on SUDOLESS_MYSQL_PATH, or on PATH, /usr/sbin, /usr/libexec, "
    "/usr/local/mysql/bin).",
)
@click.option(
    "--datadir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="A new or empty data directory (default: data/ in the instance folder).",
)
@click.option(
    "--port", type=click.IntRange(1, 65535), default=None, help="TCP port (default: the first free one from 3307)."
)
@click.option(
    "--bind-address",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; 0.0.0.0 opens the server to the network.",
)
@json_option
def init(
    name: str, basedir: Path | None, datadir: Path | None, port: int | None, bind_address: str, as_json: bool
) -> None:
    """Create an instance: initialise a data directory with random passwords, a 'sudoless' database and
    user. The server is left stopped.
    """
    from sudoless.mysql import init_instance
    from sudoless.mysql.binaries import NoServerError

    settings = _settings()
    began = time.monotonic()
    try:
        instance = init_instance(settings, name, basedir=basedir, datadir=datadir, port=port, bind_address=bind_address)
    except NoServerError:
        if as_json or not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise
        if not click.confirm(
            "No MySQL or MariaDB server found. Fetch MariaDB into SUDOLESS_HOME now (no root needed)?",
            default=True,
            err=True,
        ):
            raise
        _install(settings, None)
        began = time.monotonic()
        instance = init_instance(settings, name, basedir=basedir, datadir=datadir, port=port, bind_address=bind_address)
    seconds = time.monotonic() - began
    if as_json:
        emit_json({**instance.to_json(), "seconds": round(seconds, 3)})
        return
    click.echo(
        f"initialised {instance.label} instance '{name}' in {instance.root} (port {instance.port}) in "
        f"{seconds:.1f} s; start it with 'sudoless mysql start{_hint(name)}'"
    )


@mysql.command()
@name_option
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Move the instance to this port first (when its own is taken).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(1, 3600),
    default=60.0,
    show_default=True,
    help="Seconds to wait for the server to accept connections.",
)
@json_option
def start(name: str, port: int | None, timeout: float, as_json: bool) -> None:
    """Start the server; returns when it accepts connections."""
    from sudoless.mysql import instance_status, start_instance

    settings = _settings()
    started = start_instance(settings, name, port=port, timeout=timeout)
    for note in started.notes:
        _note(note)
    current = instance_status(settings, name)
    if as_json:
        emit_json({**current.to_json(), "seconds": round(started.seconds, 3), "notes": list(started.notes)})
        return
    click.echo(
        f"started {_label(current.flavour)} {current.version} instance '{name}' (pid {started.pid}) on "
        f"{current.bind_address}:{current.port} and {current.socket} in {started.seconds:.1f} s"
    )


@mysql.command()
@name_option
@click.option(
    "--timeout",
    type=click.FloatRange(1, 3600),
    default=30.0,
    show_default=True,
    help="Seconds to wait for a clean shutdown before SIGKILL.",
)
@json_option
def stop(name: str, timeout: float, as_json: bool) -> None:
    """Stop the server cleanly (SHUTDOWN, else SIGTERM), or with SIGKILL after the timeout."""
    from sudoless.mysql import stop_instance

    stopped = stop_instance(_settings(), name, timeout=timeout)
    for note in stopped.notes:
        _note(note)
    if as_json:
        emit_json(
            {
                "name": name,
                "pid": stopped.pid,
                "method": stopped.method,
                "seconds": round(stopped.seconds, 3),
                "notes": list(stopped.notes),
            }
        )
        return
    if stopped.method is None:
        click.echo(f"instance '{name}' is not running")
    else:
        click.echo(f"stopped instance '{name}' (pid {stopped.pid}) with {stopped.method} in {stopped.seconds:.1f} s")


@mysql.command()
@name_option
@json_option
def status(name: str, as_json: bool) -> None:
    """Whether the server runs, and its pid, port, socket, version, uptime and data size. Exits 1 when it is
    not running (stopped or crashed), as ``systemctl is-active`` and ``pg_ctl status`` do, with the status
    printed all the same."""
    from sudoless.mysql import instance_status

    current = instance_status(_settings(), name)
    _show_status(current, as_json)
    if current.state != "running":
        raise CheckFailed()


def _show_status(current: ServerStatus, as_json: bool) -> None:
    if as_json:
        emit_json(current.to_json())
        return
    state = current.state
    if current.pid is not None:
        state += f" (pid {current.pid}, up {_duration(current.uptime_seconds or 0)})"
    elif current.state == "crashed":
        state += " (a pid file is left but the server is gone; 'start' recovers)"
    rows = [
        ("instance", f"{current.name} ({_label(current.flavour)} {current.version})"),
        ("state", state),
        ("port", f"{current.bind_address}:{current.port}"),
        ("socket", current.socket),
        ("data", f"{current.datadir} ({_size(current.data_bytes)})"),
        ("error log", current.error_log),
    ]
    for label, value in rows:
        click.echo(f"{label:<10} {value}")


@mysql.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@name_option
@click.argument("client_args", nargs=-1, type=click.UNPROCESSED)
def shell(name: str, client_args: tuple[str, ...]) -> None:
    """Open the mysql/mariadb client as root on the instance; further arguments go to the client
    (sudoless mysql shell -- -e 'SHOW DATABASES').
    """
    from sudoless.mysql import load_instance
    from sudoless.mysql.binaries import find_client
    from sudoless.mysql.control import running_pid, server_environment

    instance = load_instance(_settings(), name)
    client = instance.client
    if client is None or not client.exists():
        client = find_client(instance.basedir)
    if client is None:
        raise NotFoundError(
            f"no mariadb or mysql client in {instance.basedir}/bin or on PATH; any client can "
            f"connect with the URL of 'sudoless mysql url{_hint(name)}'"
        )
    if running_pid(instance) is None:
        raise StateError(f"instance '{name}' is not running; start it with 'sudoless mysql start{_hint(name)}'")
    env = server_environment(instance.basedir)
    # MySQL's client reads ~/.mylogin.cnf even with --defaults-file; point it at a file that is not there.
    env["MYSQL_TEST_LOGIN_FILE"] = str(instance.paths.run / "no-login-path")
    sys.stdout.flush()
    os.execve(client, [client.name, f"--defaults-file={instance.paths.client_cnf}", *client_args], env)


@mysql.command()
@name_option
@click.option("--root", "admin", is_flag=True, help="Root's URL, with no database, instead of the 'sudoless' user's.")
@click.option(
    "--with-password",
    "with_password",
    is_flag=True,
    help="Put the password into the URL (keep such a URL off command lines: `ps` shows them).",
)
@json_option
def url(name: str, admin: bool, with_password: bool, as_json: bool) -> None:
    """Print the SQLAlchemy URL of the instance (user and database 'sudoless'), without its password: give
    the password file (--json: password_file) as SUDOLESS_DB_PASSWORD_FILE."""
    from sudoless.mysql import load_instance

    instance = load_instance(_settings(), name)
    address = instance.url(admin=admin, password=with_password)
    if as_json:
        emit_json({"name": name, "url": address, "password_file": str(instance.password_file(admin))})
        return
    click.echo(address)


@mysql.command()
@name_option
@click.option(
    "--user",
    "user",
    type=click.Choice(["root", "sudoless"]),
    default="root",
    show_default=True,
    help="Whose password to change.",
)
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin (default: a random one).")
@json_option
def passwd(name: str, user: str, password_stdin: bool, as_json: bool) -> None:
    """Set a new password for root or the 'sudoless' user and store it (0600) in the instance folder."""
    from sudoless.mysql import load_instance, set_password

    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InputError("--password-stdin: stdin is empty; pipe the password in, one line")
    settings = _settings()
    set_password(settings, name, user=user, password=password)
    paths = load_instance(settings, name).paths
    stored = paths.root_password if user == "root" else paths.app_password
    if as_json:
        emit_json({"name": name, "user": user, "file": str(stored)})
        return
    click.echo(f"new password for {user} of instance '{name}' set and stored in {stored}")


@mysql.command("list")
@json_option
def list_command(as_json: bool) -> None:
    """All instances in SUDOLESS_HOME, with their state."""
    from rich.console import Console
    from rich.table import Table

    from sudoless.mysql import instance_status, list_instances

    settings = _settings()
    statuses = [instance_status(settings, instance.name) for instance in list_instances(settings)]
    if as_json:
        emit_json([status.to_json() for status in statuses])
        return
    if not statuses:
        click.echo("no MySQL instances; create one with 'sudoless mysql init'")
        return
    table = Table(title_justify="left")
    for column in ("name", "state", "pid", "port", "server", "data", "datadir"):
        table.add_column(column)
    colours = {"running": "green", "crashed": "red", "stopped": "dim"}
    for status in statuses:
        table.add_row(
            status.name,
            f"[{colours[status.state]}]{status.state}[/]",
            str(status.pid or ""),
            f"{status.bind_address}:{status.port}",
            f"{_label(status.flavour)} {status.version}",
            _size(status.data_bytes),
            status.datadir,
        )
    Console().print(table)


@mysql.command()
@name_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def destroy(name: str, yes: bool, as_json: bool) -> None:
    """Stop the server and delete the instance with all its data."""
    from sudoless.mysql import destroy_instance, load_instance

    settings = _settings()
    instance = load_instance(settings, name)
    if not yes:
        if not sys.stdin.isatty():
            raise InputError(
                f"destroy deletes instance '{name}' and all its data in {instance.datadir}; pass --yes to confirm"
            )
        click.confirm(f"Delete instance '{name}' and all its data in {instance.datadir}?", abort=True)
    destroyed = destroy_instance(settings, name)
    removed = [str(destroyed.root)]
    if destroyed.owns_datadir and not destroyed.datadir.is_relative_to(destroyed.root):
        removed.append(str(destroyed.datadir))
    if as_json:
        emit_json({"name": name, "removed": removed})
        return
    click.echo(f"destroyed instance '{name}' (removed {' and '.join(removed)})")
