"""Sign-in back-ends: who may say that a name and a password belong together, and in which order.

``auth_backends`` lists them (``ldap,local``); :func:`sudoless.accounts.directory.build_backends` makes the
non-local ones from the settings (this module is below the LDAP and PAM back-ends, which use its
:class:`Identity` and :func:`check_allowed`). A back-end answers a login with an :class:`Identity` (the
person's canonical name, e-mail and groups), with None (unknown name or wrong password: the next back-end is
asked), or raises :class:`DirectoryUnavailable` (it could not be asked: the next one still is, so a local
break-glass account works while the directory is down) or :class:`NotAllowed` (right password, but not in an
allowed group).

:class:`sudoless.accounts.Accounts` turns an identity into an account: created at the first login with the
back-end as its source and no usable local password, its roles and groups rewritten at each login and by
:meth:`~sudoless.accounts.Accounts.refresh_directory_accounts`, which the server runs on a timer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sudoless.config import Settings
from sudoless.errors import AuthError, ConfigError

__all__ = [
    "LOCAL",
    "Backend",
    "DirectoryUnavailable",
    "Identity",
    "NotAllowed",
    "backend_names",
    "check_allowed",
    "group_roles",
    "mapped_roles",
]

log = logging.getLogger(__name__)

LOCAL = "local"
KNOWN = ("local", "ldap", "pam")


class DirectoryUnavailable(AuthError):
    """The back-end could not be asked (unreachable, TLS refused, misconfigured); the message says which."""


class NotAllowed(AuthError):
    """The password was right but the person is in none of the allowed groups."""


@dataclass(frozen=True)
class Identity:
    """What a back-end knows of a person: ``groups`` are the names of every group, nested ones included."""

    name: str
    email: str = ""
    groups: tuple[str, ...] = ()


class Backend(Protocol):
    #: the account source it creates ("ldap", "pam")
    source: str

    def authenticate(self, name: str, password: str) -> Identity | None:
        """The identity behind a good password; None for an unknown name or a wrong password."""

    def lookup(self, name: str) -> Identity | None:
        """The identity of ``name`` now, without a password (for the refresh); None when it is gone.
        NotAllowed when it left the allowed groups; DirectoryUnavailable when it cannot be told."""


def backend_names(settings: Settings) -> list[str]:
    """``auth_backends`` as a checked list."""
    names = [name.strip().lower() for name in settings.auth_backends.split(",") if name.strip()]
    for name in names:
        if name not in KNOWN:
            raise ConfigError(f"setting 'auth_backends': unknown back-end {name!r}; use {', '.join(KNOWN)}")
    if not names:
        raise ConfigError("setting 'auth_backends' is empty; give at least one of local, ldap, pam")
    return list(dict.fromkeys(names))


def group_roles(settings: Settings) -> dict[str, tuple[str, ...]]:
    """``group_roles`` (``admins=admin; devs=user+readall``) as group name (lower case) to roles."""
    mapping: dict[str, tuple[str, ...]] = {}
    for item in settings.group_roles.replace("\n", ";").split(";"):
        if not item.strip():
            continue
        group, sep, roles = item.partition("=")
        names = tuple(r.strip() for r in roles.replace(",", "+").split("+") if r.strip())
        if not sep or not group.strip() or not names:
            raise ConfigError(
                f"setting 'group_roles': {item.strip()!r} is not GROUP=ROLE[+ROLE]; "
                'e.g. group_roles = "ldap-admins=admin; data=user+readall"'
            )
        mapping[group.strip().lower()] = names
    return mapping


def mapped_roles(settings: Settings, groups: Iterable[str]) -> tuple[str, ...]:
    """The default roles of directory accounts and those the mapping gives ``groups``, in order, once each."""
    mapping = group_roles(settings)
    roles = [r.strip() for r in settings.directory_default_roles.split(",") if r.strip()]
    for group in groups:
        roles.extend(mapping.get(group.lower(), ()))
    return tuple(dict.fromkeys(roles))


def check_allowed(name: str, groups: Sequence[str], allowed_setting: str, setting: str) -> None:
    """Raise NotAllowed unless ``allowed_setting`` is empty or shares a group (any case) with ``groups``."""
    allowed = {g.strip().lower() for g in allowed_setting.split(",") if g.strip()}
    if allowed and not allowed & {g.lower() for g in groups}:
        raise NotAllowed(f"User '{name}' is in none of the groups allowed to use this server ({setting}).")
