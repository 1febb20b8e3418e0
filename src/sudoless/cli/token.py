"""``sudoless token ...``: API tokens for scripts (create, list, revoke), straight on the database.

Like ``sudoless user``, this is for whoever runs the server (it opens the database itself); users make their
own tokens with the JSON API (``POST /api/v1/tokens``). The token is printed once and never stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from sudoless.cli import cli, db_option, emit_json, json_option
from sudoless.cli.user import _accounts, _when

if TYPE_CHECKING:
    from sudoless.accounts.tokens import ApiToken


def token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "name": token.name,
        "user": token.user,
        "scopes": {project: perm.names() for project, perm in token.scopes.items()},
        "created": token.created,
        "expires": token.expires,
        "lastUsed": token.last_used,
    }


@cli.group()
def token() -> None:
    """API tokens: what scripts use instead of a password, limited to some projects and permissions."""


@token.command("create")
@click.argument("name")
@click.option("--user", "username", required=True, help="The user the token acts for.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    metavar="PROJECT:PERMS",
    help="PROJECT:READ[,EXECUTE][,SCHEDULE]; PROJECT '*' means every project. Repeatable.",
)
@click.option("--days", type=float, default=90.0, show_default=True, help="Days until the token expires.")
@db_option
@json_option
def create(name: str, username: str, scopes: tuple[str, ...], days: float, db: str | None, as_json: bool) -> None:
    """Create a token NAME for a user and print it (once: only its digest is kept)."""
    from sudoless.accounts.tokens import parse_scopes

    secret, listed = _accounts(db).tokens.create(username, name, parse_scopes(scopes), days)
    if as_json:
        emit_json({**token_json(listed), "token": secret})
        return
    click.echo(f"token {name} for {username}, expires {_when(listed.expires)}:")
    click.echo(secret)


@token.command("list")
@click.option("--user", "username", required=True, help="Whose tokens.")
@db_option
@json_option
def list_tokens(username: str, db: str | None, as_json: bool) -> None:
    """List a user's tokens (names, scopes, expiry, last use; never the tokens themselves)."""
    tokens = _accounts(db).tokens.list(username)
    if as_json:
        emit_json({"tokens": [token_json(t) for t in tokens]})
        return
    for t in tokens:
        scopes = "; ".join(f"{p}:{','.join(perm.names())}" for p, perm in t.scopes.items())
        click.echo(f"{t.name}\t{scopes}\texpires {_when(t.expires)}\tlast used {_when(t.last_used)}")


@token.command("revoke")
@click.argument("name")
@click.option("--user", "username", required=True, help="Whose token.")
@db_option
@json_option
def revoke(name: str, username: str, db: str | None, as_json: bool) -> None:
    """Revoke a token at once: the next request with it is refused."""
    _accounts(db).tokens.revoke(username, name)
    if as_json:
        emit_json({"name": name, "user": username, "revoked": True})
        return
    click.echo(f"token {name} of {username} revoked")
