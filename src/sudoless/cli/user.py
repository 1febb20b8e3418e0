"""``sudoless user ...``: manage the accounts of a sudoless server (users, passwords, project grants).

Every ``sudoless`` command imports this module, so the accounts (SQLAlchemy, Argon2) and rich are imported
inside the commands that use them.
"""

from __future__ import annotations

import sys
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sudoless.cli import cli, db_option, emit_json, json_option, settings_from
from sudoless.errors import CheckFailed, InputError, NotFoundError

if TYPE_CHECKING:
    from sudoless.accounts import Accounts, Permission, User

password_stdin_option = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin (for scripts)."
)


def _accounts(db: str | None) -> Accounts:
    from sudoless.accounts import Accounts
    from sudoless.config import ensure_home
    from sudoless.store import store_for

    settings = settings_from(db)
    ensure_home(settings)  # before the store creates it with the default mode: it will hold secrets
    return Accounts(store_for(settings), settings)


def _user_json(user: User) -> dict[str, Any]:
    return {
        "name": user.name,
        "roles": list(user.roles),
        "groups": list(user.groups),
        "proxyUsers": list(user.proxy_users),
        "email": user.email,
        "permissions": user.permissions.names(),
        "source": user.source,
        "lastLogin": user.last_login,
        **({"disabled": True} if user.disabled else {}),
    }


def _read_password(from_stdin: bool) -> tuple[str, bool]:
    """The new password and whether it was generated (then the caller shows it once)."""
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise InputError("--password-stdin: stdin is empty; pipe the password in, one line")
        return line, False
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True), False
    from sudoless.accounts import random_password

    return random_password(), True


@cli.group()
def user() -> None:
    """Users, passwords and project permissions of the sudoless server."""


@user.command("add")
@click.argument("name")
@click.option(
    "--role",
    "roles",
    multiple=True,
    metavar="ROLE",
    help="Global role: admin, user, readall, metrics or one imported (default: user). Repeatable.",
)
@click.option("--group", "groups", multiple=True, metavar="GROUP", help="Group membership. Repeatable.")
@click.option(
    "--proxy",
    "proxy_users",
    multiple=True,
    metavar="USER",
    help="Unix user this user may set as a project proxy user. Repeatable.",
)
@click.option("--email", default="", help="Email address.")
@password_stdin_option
@db_option
@json_option
def add(
    name: str,
    roles: tuple[str, ...],
    groups: tuple[str, ...],
    proxy_users: tuple[str, ...],
    email: str,
    password_stdin: bool,
    db: str | None,
    as_json: bool,
) -> None:
    """Add a user. Asks for the password twice; without a terminal, generates one and prints it once."""
    accounts = _accounts(db)
    try:  # say so before asking for a password
        accounts.get_user(name)
    except NotFoundError:
        pass
    else:
        raise InputError(f"user '{name}' already exists; use 'sudoless user passwd {name}' to reset it")
    password, generated = _read_password(password_stdin)
    created = accounts.add_user(
        name, password, roles=roles or ("user",), groups=groups, proxy_users=proxy_users, email=email
    )
    if as_json:
        emit_json({**_user_json(created), **({"password": password} if generated else {})})
        return
    click.echo(f"user {created.name} added with role(s) {', '.join(created.roles)}")
    if generated:
        click.echo(f"password for {created.name}: {password}")


@user.command("passwd")
@click.argument("name")
@password_stdin_option
@db_option
@json_option
def passwd(name: str, password_stdin: bool, db: str | None, as_json: bool) -> None:
    """Set a user's password (their sessions end). Without a terminal, generates one and prints it once."""
    accounts = _accounts(db)
    accounts.get_user(name)
    password, generated = _read_password(password_stdin)
    accounts.set_password(name, password)
    if as_json:
        emit_json({"name": name, "changed": True, **({"password": password} if generated else {})})
        return
    click.echo(f"password for {name} changed")
    if generated:
        click.echo(f"password for {name}: {password}")


@user.command("remove")
@click.argument("name")
@db_option
@json_option
def remove(name: str, db: str | None, as_json: bool) -> None:
    """Remove a user, their sessions and their project grants."""
    _accounts(db).remove_user(name)
    if as_json:
        emit_json({"name": name, "removed": True})
        return
    click.echo(f"user {name} removed")


@user.command("list")
@db_option
@json_option
def list_users(db: str | None, as_json: bool) -> None:
    """List the users with their roles and groups."""
    from rich.console import Console
    from rich.table import Table

    users = _accounts(db).list_users()
    if as_json:
        emit_json({"users": [_user_json(u) for u in users]})
        return
    table = Table(title_justify="left")
    for column in ("user", "source", "roles", "groups", "proxy users", "email", "last login"):
        table.add_column(column)
    for u in users:
        source = u.source + (" (disabled)" if u.disabled else "")
        table.add_row(
            u.name,
            source,
            ", ".join(u.roles),
            ", ".join(u.groups),
            ", ".join(u.proxy_users),
            u.email,
            _when(u.last_login),
        )
    Console().print(table)


@user.command("refresh")
@db_option
@json_option
def refresh(db: str | None, as_json: bool) -> None:
    """Re-read directory (LDAP, PAM) accounts now, as the server does on its timer: whoever left the allowed
    groups is disabled and their sessions end. Exit 1 if a back-end could not be asked."""
    done = _accounts(db).refresh_directory_accounts()
    if as_json:
        emit_json(
            {
                "updated": done.updated,
                "disabled": done.disabled,
                "skipped": done.skipped,
                "problem": done.problem or None,
            }
        )
    else:
        click.echo(f"{done.updated} updated, {done.disabled} disabled, {done.skipped} not checked")
    if done.problem:
        raise CheckFailed("" if as_json else done.problem)  # the document has it as "problem"


def _when(ms: int | None) -> str:
    """Epoch milliseconds as UTC minutes for a table; "never" for None."""
    if ms is None:
        return "never"
    from datetime import datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _grant_target(accounts: Accounts, project: str, name: str, group: bool) -> tuple[int, Permission]:
    from sudoless.accounts import Permission

    project_id = accounts.store.projects.id_of(project)
    current = {(n, g): p for n, g, p in accounts.project_permissions(project_id)}
    return project_id, current.get((name, group), Permission(0))


@user.command("grant")
@click.argument("name")
@click.argument("project")
@click.argument("perms", nargs=-1, required=True, metavar="PERM...")
@click.option("--group", is_flag=True, help="NAME is a group, not a user.")
@db_option
@json_option
def grant(name: str, project: str, perms: tuple[str, ...], group: bool, db: str | None, as_json: bool) -> None:
    """Add permissions (READ, WRITE, EXECUTE, SCHEDULE, ADMIN) on PROJECT to a user or group."""
    from sudoless.accounts import Permission

    accounts = _accounts(db)
    project_id, current = _grant_target(accounts, project, name, group)
    result = current | Permission.parse(perms)
    accounts.set_project_permission(project_id, name, group, result)
    _report_grant(name, project, group, result, as_json)


@user.command("revoke")
@click.argument("name")
@click.argument("project")
@click.argument("perms", nargs=-1, metavar="[PERM]...")
@click.option("--group", is_flag=True, help="NAME is a group, not a user.")
@db_option
@json_option
def revoke(name: str, project: str, perms: tuple[str, ...], group: bool, db: str | None, as_json: bool) -> None:
    """Take permissions on PROJECT from a user or group; without PERM, all of them."""
    from sudoless.accounts import Permission

    accounts = _accounts(db)
    project_id, current = _grant_target(accounts, project, name, group)
    result = current & ~Permission.parse(perms) if perms else Permission(0)
    accounts.set_project_permission(project_id, name, group, result)
    _report_grant(name, project, group, result, as_json)


def _report_grant(name: str, project: str, group: bool, result: Permission, as_json: bool) -> None:
    if as_json:
        emit_json({"project": project, "name": name, "group": group, "permissions": result.names()})
        return
    who = f"group {name}" if group else name
    click.echo(f"{who} on {project}: {', '.join(result.names()) or 'no permissions'}")


@user.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@db_option
@json_option
def import_users(file: Path, db: str | None, as_json: bool) -> None:
    """Import users, groups and roles from Azkaban's azkaban-users.xml (passwords get hashed)."""
    names = _accounts(db).import_azkaban_users(file)
    if as_json:
        emit_json({"imported": names})
        return
    click.echo(f"imported {len(names)} user(s) from {file}: {', '.join(names)}")
    click.echo(f"{file} holds plain-text passwords; delete it once you no longer need it", err=True)
