"""Accounts that come from a sign-in back-end (LDAP, PAM): the login order, first-login creation, refresh.

The rules, whatever the back-end:

- Back-ends are asked in the order of ``auth_backends``. A name that has an account is only ever checked by
  the back-end that made it (a local ``admin`` is never checked against the directory, nor a directory
  account against a local password), so a directory entry cannot take over a local account of the same
  name, and local accounts keep working, without a network round trip, while the directory is down.
- A directory account is created at its first good login, with the back-end as its ``source`` and a
  password hash that no password matches; its e-mail, groups (those whose names sudoless can hold) and
  roles (``directory_default_roles`` plus ``group_roles``) are rewritten at each login.
- :meth:`DirectoryAccounts.refresh` re-reads every directory account; one that left the allowed groups or
  the directory is disabled and its sessions end (its tokens are refused while it is disabled). The server
  runs it every ``directory_refresh_seconds``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sudoless.accounts.backends import (
    LOCAL,
    Backend,
    DirectoryUnavailable,
    Identity,
    NotAllowed,
    backend_names,
    group_roles,
    mapped_roles,
)
from sudoless.accounts.names import check_name, valid_name
from sudoless.accounts.passwords import needs_rehash, verify_password
from sudoless.config import Settings
from sudoless.errors import AuthError
from sudoless.store.accounts import UserRecord

if TYPE_CHECKING:
    from sudoless.accounts.users import Accounts

__all__ = ["NO_PASSWORD", "DirectoryAccounts", "Refreshed"]

log = logging.getLogger(__name__)

#: The password hash of a directory account: not a PHC string, so no password ever verifies against it.
NO_PASSWORD = "!directory"


def build_backends(settings: Settings) -> list[Backend | None]:
    """One entry per name of ``auth_backends``, None standing for the local accounts; ConfigError for a
    mistake in any sign-in setting, so that a server stops at its start rather than at someone's login."""
    group_roles(settings)
    result: list[Backend | None] = []
    for name in backend_names(settings):
        if name == "ldap":
            from sudoless.accounts.ldap import LdapBackend

            result.append(LdapBackend(settings))
        elif name == "pam":
            from sudoless.accounts.pam import PamBackend

            result.append(PamBackend(settings))
        else:
            result.append(None)
    return result


@dataclass(frozen=True)
class Refreshed:
    """What one refresh did: accounts updated, disabled, and left alone because their back-end could not
    be asked (with the first reason)."""

    updated: int = 0
    disabled: int = 0
    skipped: int = 0
    problem: str = ""


class DirectoryAccounts:
    """The back-ends of one :class:`Accounts`, built from its settings when first needed."""

    def __init__(self, accounts: Accounts, backends: list[Backend | None] | None = None) -> None:
        self.accounts = accounts
        self._backends = backends

    @property
    def backends(self) -> list[Backend | None]:
        if self._backends is None:
            self._backends = build_backends(self.accounts.settings)
        return self._backends

    def sign_in(self, name: str, password: str) -> UserRecord | None:
        """The account of a good login, None for a wrong one; NotAllowed, or DirectoryUnavailable when no
        back-end accepted and one could not be asked."""
        accounts = self.accounts
        record = accounts.records.user(name)
        problems: list[str] = []
        checked_local = False
        for backend in self.backends:
            if backend is None:
                checked_local = True
                if (
                    record is not None
                    and record.source == LOCAL
                    and verify_password(record.password_hash, password, accounts.hasher)
                ):
                    if needs_rehash(record.password_hash, accounts.hasher):
                        accounts.records.update_user(name, password_hash=accounts.hash_password(password))
                    return record
                continue
            if record is not None and record.source != backend.source:
                continue
            try:
                identity = backend.authenticate(name, password)
            except NotAllowed:
                if record is not None:
                    self._disable(record.name)
                raise
            except DirectoryUnavailable as exc:
                log.error("%s", exc)
                problems.append(str(exc))
                continue
            if identity is not None:
                return self._sync(backend.source, identity)
        if not checked_local or record is None:
            accounts.spend_dummy_check(password)  # as long as a wrong password, whoever asks
        if problems:
            raise DirectoryUnavailable(f"Login failed: {problems[0]}")
        return None

    def refresh(self) -> Refreshed:
        """Re-read every directory account from its back-end (see the module docstring); a back-end that
        could not be asked is reported in ``problem`` (for the caller to log or print), its accounts kept."""
        accounts = self.accounts
        by_source = {b.source: b for b in self.backends if b is not None}
        updated = disabled = skipped = 0
        problem = ""
        for record in accounts.records.users():
            if record.source == LOCAL:
                continue
            backend = by_source.get(record.source)
            if backend is None:  # its back-end was removed from auth_backends: nobody can vouch for it
                if not record.disabled:
                    self._disable(record.name)
                    disabled += 1
                continue
            try:
                identity = backend.lookup(record.name)
            except NotAllowed:
                identity = None
            except DirectoryUnavailable as exc:
                skipped += 1
                problem = problem or str(exc)
                continue
            if identity is None:
                if not record.disabled:
                    self._disable(record.name)
                    disabled += 1
                continue
            self._sync(record.source, identity, login=False)
            updated += 1
        return Refreshed(updated, disabled, skipped, problem)

    def _sync(self, source: str, identity: Identity, login: bool = True) -> UserRecord:
        """Create or update the account of ``identity``; AuthError if the name is a local account's."""
        accounts = self.accounts
        name = check_name(identity.name)
        known = accounts.roles()
        roles = []
        for role in mapped_roles(accounts.settings, identity.groups):
            if role in known:
                roles.append(role)
            else:
                log.warning("group_roles names role %r, which is not defined; ignored", role)
        groups = tuple(g for g in identity.groups if valid_name(g))
        now = accounts.clock()
        existing = accounts.records.user(name)
        if existing is not None and existing.source != source:
            log.warning("%s account %r matches a %s account of the same name; refused", source, name, existing.source)
            raise AuthError(f"Incorrect Login. '{name}' is a {existing.source} account here.")
        values = {"roles": tuple(roles), "groups": groups, "email": identity.email[:255], "disabled": False}
        if login:
            values["last_login"] = now
        if existing is None:
            record = UserRecord(
                name=name,
                password_hash=NO_PASSWORD,
                created_time=now,
                source=source,
                roles=tuple(roles),
                groups=groups,
                email=identity.email[:255],
                last_login=now if login else None,
            )
            if accounts.records.insert_user(record):
                return record
        accounts.records.update_user(name, **values)
        fresh = accounts.records.user(name)
        assert fresh is not None, f"account {name} vanished while being updated"
        return fresh

    def _disable(self, name: str) -> None:
        self.accounts.records.update_user(name, disabled=True)
        self.accounts.records.delete_user_sessions(name)
        log.warning("directory account %r disabled: no longer allowed by its back-end; its sessions ended", name)
