"""API tokens: what a script holds instead of a person's password.

A token belongs to one user and carries a name, an expiry and scopes: READ, EXECUTE and SCHEDULE on named
projects (or ``*``, every project). It authenticates exactly where a session id does (``Authorization:
Bearer`` on ``/api/v1``, ``session.id`` on the AJAX API), and what it may do is the intersection of its
scopes with its user's own rights, computed at every request: a token never holds WRITE or ADMIN, never
creates other tokens, and loses what its user loses (a grant revoked, a directory group left, the account
disabled or removed).

The token itself (``sdl_`` and 43 URL-safe characters, 256 random bits) is shown once, at creation; the
database keeps its SHA-256 digest, like session ids. A slow password hash such as Argon2id protects guessable
secrets; a 256-bit random token cannot be guessed, and its digest is checked on every request.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sudoless.accounts.passwords import secret_digest
from sudoless.accounts.permissions import Permission
from sudoless.errors import InputError, NotFoundError, PermissionDenied
from sudoless.store.tokens import TokenRecord

if TYPE_CHECKING:
    from sudoless.accounts.users import Accounts, User

__all__ = ["ALL_PROJECTS", "SCOPE_PERMISSIONS", "TOKEN_PREFIX", "ApiToken", "Scope", "Tokens", "parse_scopes"]

#: Every token starts with this, so a session id and a token are told apart without a database read, and a
#: token pasted where it should not be (a log, a repository) is easy to find.
TOKEN_PREFIX = "sdl_"
#: The permissions a token may carry on a project.
SCOPE_PERMISSIONS = Permission.READ | Permission.EXECUTE | Permission.SCHEDULE
#: The project name of a scope that covers every project.
ALL_PROJECTS = "*"
#: Default and largest lifetime of a token, in days.
DEFAULT_DAYS = 90
MAX_DAYS = 366
DAY_MS = 24 * 60 * 60 * 1000

_TOKEN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}")


@dataclass(frozen=True)
class Scope:
    """What a token may do: (project id, permissions) pairs, a ``None`` id standing for every project."""

    grants: tuple[tuple[int | None, Permission], ...] = ()

    def on(self, project_id: int) -> Permission:
        result = Permission(0)
        for pid, perm in self.grants:
            if pid is None or pid == project_id:
                result |= perm
        return result

    @property
    def everywhere(self) -> Permission:
        return dict(self.grants).get(None, Permission(0))

    def allows(self, project_id: int, perm: Permission) -> bool:
        """Whether every bit of ``perm`` is in the scope on ``project_id`` (never ADMIN or WRITE)."""
        return bool(perm) and not perm & ~self.on(project_id)


@dataclass(frozen=True)
class ApiToken:
    """A token as listed: never the token itself. ``scopes`` maps project names (``*``) to permissions;
    a project deleted since the token was made is listed as ``#<id>``."""

    name: str
    user: str
    scopes: Mapping[str, Permission]
    created: int
    expires: int
    last_used: int | None


def parse_scopes(specs: Iterable[str]) -> dict[str, Permission]:
    """``["etl:READ,EXECUTE", "*:READ"]`` to ``{"etl": READ|EXECUTE, "*": READ}``; InputError naming the bad one."""
    scopes: dict[str, Permission] = {}
    for spec in specs:
        project, sep, names = spec.partition(":")
        if not sep or not project.strip() or not names.strip():
            raise InputError(
                f"scope {spec!r} is not valid: write PROJECT:PERMISSION[,PERMISSION] "
                "(PROJECT may be '*' for every project), e.g. etl:READ,EXECUTE"
            )
        scopes[project.strip()] = scopes.get(project.strip(), Permission(0)) | Permission.parse(names)
    return scopes


def _encode(grants: Mapping[int | None, Permission]) -> str:
    return ",".join(f"{'*' if pid is None else pid}:{int(perm)}" for pid, perm in grants.items())


def _decode(text: str) -> dict[int | None, Permission]:
    grants: dict[int | None, Permission] = {}
    for item in text.split(","):
        key, _, bits = item.partition(":")
        if key:
            grants[None if key == "*" else int(key)] = Permission(int(bits)) & SCOPE_PERMISSIONS
    return grants


class Tokens:
    """Creating, listing, revoking and resolving the API tokens of one :class:`Accounts`."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self.records = accounts.store.tokens

    def create(
        self, username: str, name: str, scopes: Mapping[str, Permission], days: float = DEFAULT_DAYS
    ) -> tuple[str, ApiToken]:
        """Make a token for ``username``; returns the token (to show once) and its listing.

        Each scope must name an existing project (or ``*``) and only READ, EXECUTE and SCHEDULE; the user
        must hold them now (a token never exceeds its user's rights, which are checked again at each use).
        """
        accounts = self.accounts
        user = accounts.get_user(username)
        if not isinstance(name, str) or not _TOKEN_NAME.fullmatch(name):
            raise InputError(f"token name {name!r} is not valid: use 1-64 letters, digits, '_', '.', '+' or '-'")
        if not scopes:
            raise InputError("a token needs at least one scope, e.g. etl:READ,EXECUTE (or *:READ)")
        if not 0 < days <= MAX_DAYS:
            raise InputError(f"token expiry {days:g} days is not valid: give 1 to {MAX_DAYS} days")
        grants: dict[int | None, Permission] = {}
        for project, perm in scopes.items():
            perm = Permission(perm)
            extra = perm & ~SCOPE_PERMISSIONS
            if extra or not perm:
                raise InputError(
                    f"scope {project}: a token may carry READ, EXECUTE and SCHEDULE only, not "
                    f"{', '.join(extra.names()) or 'nothing'}"
                )
            if project == ALL_PROJECTS:
                grants[None] = perm
                continue
            record = accounts.store.projects.get(name=project)
            if record is None:
                raise NotFoundError(f"scope {project}: project '{project}' doesn't exist")
            if not accounts.has_permission(user, record.id, perm):
                raise PermissionDenied(
                    f"scope {project}: user '{username}' doesn't have "
                    f"{', '.join(perm.names())} on {record.name}, so no token of theirs can"
                )
            grants[record.id] = perm
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = accounts.clock()
        expires = now + int(days * DAY_MS)
        if not self.records.insert(secret_digest(token), username, name, _encode(grants), now, expires):
            raise InputError(
                f"user '{username}' has a token named '{name}' already; revoke it first or choose another name"
            )
        listed = next(t for t in self.list(username) if t.name == name)
        return token, listed

    def list(self, username: str) -> list[ApiToken]:
        """The user's tokens, expired ones included (until revoked), by name."""
        self.accounts.get_user(username)
        return [self._listing(record) for record in self.records.of_user(username)]

    def revoke(self, username: str, name: str) -> None:
        if not self.records.delete(username, name):
            raise NotFoundError(
                f"user '{username}' has no token named '{name}'; 'sudoless token list --user {username}' shows them"
            )

    def user(self, token: str) -> User | None:
        """The user a live token acts for, carrying the token's scope; None for an unknown, expired or
        revoked token or a removed or disabled user."""
        found = self.records.account(secret_digest(token), self.accounts.clock())
        if found is None:
            return None
        record, user_record, (stored_roles, groups) = found
        return self.accounts.user_from(user_record, stored_roles, groups, Scope(tuple(_decode(record.scopes).items())))

    def _listing(self, record: TokenRecord) -> ApiToken:
        names: dict[str, Permission] = {}
        for pid, perm in _decode(record.scopes).items():
            if pid is None:
                names[ALL_PROJECTS] = perm
                continue
            project = self.accounts.store.projects.get(project_id=pid)
            names[project.name if project is not None else f"#{pid}"] = perm
        return ApiToken(
            name=record.name,
            user=record.username,
            scopes=names,
            created=record.created_time,
            expires=record.expires,
            last_used=record.last_used,
        )
