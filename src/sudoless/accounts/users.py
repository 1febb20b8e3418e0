"""Users, logins, sessions and project authorization, kept in the database.

Azkaban keeps users in an XML file and sessions in memory; sudoless keeps both in the store, so users are
managed with ``sudoless user ...`` while the server runs, sessions survive a restart, and several server
processes on one database agree on who is logged in. The attribute set is Azkaban's (roles, groups, proxy
users, email) and :meth:`Accounts.import_azkaban_users` reads an existing ``azkaban-users.xml``.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher

from sudoless.accounts.backends import Backend
from sudoless.accounts.directory import DirectoryAccounts, Refreshed
from sudoless.accounts.names import check_name
from sudoless.accounts.passwords import (
    DEFAULT_HASHER,
    hash_password,
    random_password,
    secret_digest,
    verify_password,
)
from sudoless.accounts.permissions import BUILTIN_ROLES, Permission, allows, role_permissions
from sudoless.accounts.throttle import ADDRESS_FAILURES, PAIR_FAILURES, LoginThrottle
from sudoless.accounts.tokens import TOKEN_PREFIX, Scope, Tokens
from sudoless.accounts.userfile import read_user_file
from sudoless.config import Settings, ensure_home
from sudoless.errors import AuthError, InputError, NotFoundError, PermissionDenied
from sudoless.private import private_dir
from sudoless.store import Store
from sudoless.store.accounts import UserRecord

#: Azkaban's ``session.time.to.live`` as its code sets it (``36000000`` ms, 10 hours, expire-after-access);
#: Azkaban's documentation says 24 hours, but the code is what Azkaban servers actually do.
SESSION_TTL_MS = 10 * 60 * 60 * 1000

#: Text of Azkaban's XmlUserManager for a wrong name or password; clients look for "Incorrect Login."
LOGIN_FAILED = "Incorrect Login. Username/Password not found."


@dataclass(frozen=True)
class User:
    """A user as the rest of sudoless sees it; never carries the password hash.

    ``permissions`` is the union of the global roles (own and through groups) resolved when the user was
    loaded; :meth:`Accounts.global_permissions` recomputes it from the current role definitions, unless
    ``permissions_current`` says they were read with this request's session.
    """

    name: str
    roles: tuple[str, ...]
    groups: tuple[str, ...]
    proxy_users: tuple[str, ...]
    email: str
    permissions: Permission = Permission(0)
    #: "local", or the back-end that made the account at its first login ("ldap", "pam")
    source: str = "local"
    #: when the user last logged in (epoch ms); not part of equality: it says nothing of who the user is
    last_login: int | None = dataclasses.field(default=None, compare=False)
    #: a directory account its back-end no longer allows (refused until a refresh allows it again)
    disabled: bool = False
    #: set when the request came with an API token: the most the token allows (:mod:`.tokens`)
    scope: Scope | None = None
    #: the user's project grants (project id to bits, its groups' included) as read with the session, for
    #: the permission checks of that one request; None: read each grant when it is checked
    grants: Mapping[int, int] | None = dataclasses.field(default=None, compare=False, repr=False)
    #: ``permissions`` was resolved from the role and group definitions read with the session of the request
    #: this user serves (:meth:`Accounts.session_user`): for that request they are the current ones
    permissions_current: bool = dataclasses.field(default=False, compare=False, repr=False)

    @property
    def is_admin(self) -> bool:
        """Whether the user holds global ADMIN (directly, through a group, or the built-in ``admin`` role);
        never through an API token, which carries READ, EXECUTE and SCHEDULE at most."""
        if self.scope is not None:
            return False
        return Permission.ADMIN in self.permissions or "admin" in self.roles


def _check_email(email: str) -> str:
    email = email.strip()
    if email and (email.count("@") != 1 or any(c.isspace() or c == "," for c in email) or len(email) > 255):
        raise InputError(f"email {email!r} is not valid: use one address like alice@example.com")
    return email


def _session_key(session_id: str) -> str:
    # Only a digest is stored, so someone who can read the database cannot take over live sessions.
    return secret_digest(session_id)


class Accounts:
    """Every account operation of one installation; the server and the CLI build one each.

    ``clock`` returns epoch milliseconds (default: the store's clock), so tests drive throttling and
    session expiry without sleeping. ``hasher`` sets the Argon2 cost (tests use a cheap one).
    ``max_pair_failures`` and ``max_address_failures`` are the failed logins allowed before attempts are
    slowed down (:mod:`sudoless.accounts.throttle`).
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        clock: Callable[[], int] | None = None,
        *,
        session_ttl_ms: int = SESSION_TTL_MS,
        max_pair_failures: int = PAIR_FAILURES,
        max_address_failures: int = ADDRESS_FAILURES,
        hasher: PasswordHasher = DEFAULT_HASHER,
        backends: list[Backend | None] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock: Callable[[], int] = clock or store.clock
        self.session_ttl_ms = session_ttl_ms
        self.hasher = hasher
        self.records = store.accounts
        self.throttle = LoginThrottle(self.records, self.clock, max_pair_failures, max_address_failures)
        self.tokens = Tokens(self)
        self.directory = DirectoryAccounts(self, backends)
        self._dummy_hash: str | None = None

    # -- users ------------------------------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        password: str,
        roles: Sequence[str] = ("user",),
        groups: Sequence[str] = (),
        proxy_users: Sequence[str] = (),
        email: str = "",
    ) -> User:
        """Create a user; InputError if the name is taken or any name or role is invalid."""
        check_name(name)
        record = UserRecord(
            name=name,
            password_hash=self._hash(password),
            roles=self._check_roles(roles),
            groups=_names(groups, "group name"),
            proxy_users=_names(proxy_users, "proxy user"),
            email=_check_email(email),
            created_time=self.clock(),
        )
        if not self.records.insert_user(record):
            raise InputError(f"user '{name}' already exists; use 'sudoless user passwd {name}' to reset the password")
        return self._user(record)

    def remove_user(self, name: str) -> None:
        """Delete a user with their sessions and own project grants; the last admin cannot be removed."""
        user = self.get_user(name)
        if user.is_admin and not any(other.is_admin for other in self.list_users() if other.name != name):
            raise InputError(f"user '{name}' is the only admin; add another admin before removing it")
        if not self.records.delete_user(name):
            raise NotFoundError(f"user '{name}' doesn't exist")

    def set_password(self, name: str, password: str) -> None:
        """Replace a user's password; their sessions end, so a stolen session dies with the old password.

        A directory account has no password here: its password is the directory's."""
        record = self.records.user(name)
        if record is not None and record.source != "local":
            raise InputError(f"user '{name}' signs in through {record.source}; change the password there")
        if not self.records.update_user(name, password_hash=self._hash(password)):
            raise NotFoundError(f"user '{name}' doesn't exist; add it with 'sudoless user add {name}'")
        self.records.delete_user_sessions(name)
        self.throttle.release(name)

    def set_membership(self, name: str, roles: Sequence[str], groups: Sequence[str]) -> User:
        """Replace a user's roles and groups (an admin's edit after creation). Roles must be defined, names
        valid; the last admin keeps the admin role; a directory account's groups and roles are the
        directory's, so it is refused. Sessions need not end: roles are resolved at each request."""
        record = self.records.user(name)
        if record is None:
            raise NotFoundError(f"user '{name}' doesn't exist; 'sudoless user list' shows the users")
        if record.source != "local":
            raise InputError(f"user '{name}' signs in through {record.source}; its roles and groups come from there")
        checked = self._check_roles(roles)
        group_names = _names(groups, "group name")
        changed = dataclasses.replace(record, roles=checked, groups=group_names)
        demoted = self._user(record).is_admin and not self._user(changed).is_admin
        if demoted and not any(other.is_admin for other in self.list_users() if other.name != name):
            raise InputError(f"user '{name}' is the only admin; make another user admin first")
        self.records.update_user(name, roles=checked, groups=group_names)
        return self._user(changed)

    def get_user(self, name: str) -> User:
        record = self.records.user(name)
        if record is None:
            raise NotFoundError(f"user '{name}' doesn't exist; 'sudoless user list' shows the users")
        return self._user(record)

    def list_users(self) -> list[User]:
        """All users, by name."""
        roles, groups = self._definitions()
        return [self._user(record, roles, groups) for record in self.records.users()]

    def ensure_admin(self) -> str | None:
        """On first start (no users at all) create ``admin`` with a random password and return it.

        The password is also written to ``admin-password`` in the database's folder of SUDOLESS_HOME
        (:attr:`Settings.admin_password_file`), created 0600 so that no other account on a shared machine can
        read it, and apart from another database's admin password. Returns None when users exist already.
        """
        if self.records.has_users():
            return None
        password = random_password()
        ensure_home(self.settings)
        target = private_dir(self.settings.data_dir) / "admin-password"
        scratch = target.with_name(f".admin-password.{os.getpid()}.{secrets.token_hex(4)}")
        _write_private(scratch, password + "\n")
        record = UserRecord(
            name="admin", password_hash=self._hash(password), roles=("admin",), created_time=self.clock()
        )
        try:
            created = self.records.insert_first_user(record)
            if created:
                scratch.replace(target)
        finally:
            scratch.unlink(missing_ok=True)
        return password if created else None

    # -- login ------------------------------------------------------------------------------------------

    def authenticate(self, name: str, password: str, ip: str) -> User:
        """Check a login with the back-ends of ``auth_backends`` (:mod:`sudoless.accounts.directory`); the
        user on success, AuthError otherwise: ThrottledError over the limits, NotAllowed for a person outside
        the allowed groups, DirectoryUnavailable when no back-end accepted and one could not be asked.

        Unknown names cost as much time as wrong passwords, so timing does not tell which names exist.
        """
        if not name:
            raise AuthError("Incorrect Login. Username is empty.")
        if not password:
            raise AuthError("Incorrect Login. Password is empty.")
        self.throttle.check(name, ip)
        record = self.directory.sign_in(name, password)
        if record is None:
            self.throttle.failed(name, ip)
            raise AuthError(LOGIN_FAILED)
        self.throttle.succeeded(name, ip)
        now = self.clock()
        self.records.update_user(record.name, last_login=now)
        return self._user(dataclasses.replace(record, last_login=now))

    def refresh_directory_accounts(self) -> Refreshed:
        """Re-read the groups of every directory account; disable those no longer allowed (sessions end)."""
        return self.directory.refresh()

    def hash_password(self, password: str) -> str:
        """The Argon2id hash to store for ``password`` (InputError when it is empty)."""
        return self._hash(password)

    def spend_dummy_check(self, password: str) -> None:
        """Cost as much as checking a password, for a name without one (timing must not tell names apart)."""
        verify_password(self._dummy(), password, self.hasher)

    # -- sessions ---------------------------------------------------------------------------------------

    def create_session(self, user: User, ip: str) -> str:
        """Start a session for ``user`` and return its id (43 URL-safe characters, 256 random bits)."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        self.records.insert_session(_session_key(session_id), user.name, ip, now, now + self.session_ttl_ms)
        return session_id

    def session_user(self, session_id: str) -> User | None:
        """The user of a live session, extending it by the TTL (expiry after inactivity, as Azkaban's).

        None when the id is unknown, expired, or its user was removed.
        """
        if not session_id:
            return None
        if session_id.startswith(TOKEN_PREFIX):
            return self.tokens.user(session_id)
        now = self.clock()
        found = self.records.session_account(_session_key(session_id), now, now + self.session_ttl_ms)
        if found is None:
            return None
        record, (stored_roles, groups), grants = found
        return self._user(record, self._roles(stored_roles), groups, grants=grants, current=True)

    def end_session(self, session_id: str) -> None:
        """Log out; unknown ids are ignored (a double logout is not an error)."""
        self.records.delete_session(_session_key(session_id))

    def purge_expired_sessions(self) -> int:
        """Delete expired sessions; returns how many (a server calls this now and then)."""
        return self.records.delete_expired_sessions(self.clock())

    # -- roles and groups -------------------------------------------------------------------------------

    def roles(self) -> dict[str, Permission]:
        """Every role name and its permissions: the built-in ones, replaced or extended by stored ones."""
        return self._definitions()[0]

    def groups(self) -> dict[str, tuple[str, ...]]:
        """The groups that carry roles (``<group name roles>``); other group names are just labels."""
        return self._definitions()[1]

    def define_role(self, name: str, permissions: Permission) -> None:
        self.records.put_role(check_name(name, "role name"), int(permissions), self.clock())

    def define_group(self, name: str, roles: Sequence[str]) -> None:
        self.records.put_group(check_name(name, "group name"), self._check_roles(roles), self.clock())

    # -- authorization (azkaban.md §6.3) ----------------------------------------------------------------

    def global_permissions(self, user: User) -> Permission:
        """Union of the permissions of the user's roles and of the roles of the user's groups (for a token,
        only what its ``*`` scope also allows). A user loaded for this request (:meth:`session_user`) carries
        them, resolved from the definitions read with its session; others are resolved from the definitions
        read now."""
        if user.permissions_current:
            return user.permissions
        roles, groups = self._definitions()
        granted = _global(user.roles, user.groups, roles, groups)
        return granted if user.scope is None else _within(granted, user.scope.everywhere)

    def project_permissions(self, project_id: int) -> list[tuple[str, bool, Permission]]:
        """The grants on a project as (name, is_group, permissions): users first, then groups, by name."""
        return [
            (name, is_group, Permission(perms))
            for name, is_group, perms in self.records.project_permissions(project_id)
        ]

    def grants_of(self, project_ids: Sequence[int]) -> dict[int, list[tuple[str, bool, Permission]]]:
        """:meth:`project_permissions` of several projects, read in one statement; every id given is a key."""
        found = self.records.grants_of(project_ids)
        return {
            project_id: [(name, is_group, Permission(perms)) for name, is_group, perms in found.get(project_id, ())]
            for project_id in project_ids
        }

    def set_project_permission(self, project_id: int, name: str, is_group: bool, perms: Permission) -> None:
        """Set (replace) a user's or group's grant on a project; ``Permission(0)`` removes it.

        A user must exist; any group name is accepted, as in Azkaban.
        """
        if not self.records.project_exists(project_id):
            raise NotFoundError(f"project {project_id} doesn't exist")
        if is_group:
            check_name(name, "group name")
        elif self.records.user(name) is None:
            raise NotFoundError(f"User '{name}' doesn't exist; add it with 'sudoless user add {name}'")
        self.records.set_permission(project_id, name, is_group, int(Permission(perms)), self.clock())

    def grant_creator(self, project_id: int, user: User) -> None:
        """Give the creator of a project ADMIN on it, as Azkaban does."""
        self.set_project_permission(project_id, user.name, False, Permission.ADMIN)

    def has_permission(self, user: User, project_id: int, perm: Permission) -> bool:
        """Azkaban's ``hasPermission``: the user's own grant, a grant to one of their groups, or a global
        role holds ``perm`` (all of its bits) or ADMIN."""
        if user.scope is not None and not user.scope.allows(project_id, perm):
            return False
        # A user loaded for this request (session_user, authenticate) carries its global permissions:
        # reading the role and group tables again would cost two queries on every check.
        global_bits = user.permissions or self.global_permissions(user)
        if allows(global_bits, perm):
            return True
        # The grants read with the session answer for the projects they name; a project they do not name
        # may have been granted since (this very request may have created it), so it is read.
        if user.grants is not None and project_id in user.grants:
            granted = Permission(user.grants[project_id])
        else:
            granted = Permission(self.records.granted(project_id, user.name, user.groups))
        return allows(granted | global_bits, perm)

    def require(self, user: User, project_id: int, perm: Permission, project_name: str) -> None:
        """Raise PermissionDenied with Azkaban's message unless :meth:`has_permission`."""
        if not self.has_permission(user, project_id, perm):
            raise PermissionDenied(f"User '{user.name}' doesn't have {perm.name} permissions on {project_name}")

    # -- project proxy users (metadata: every job runs as the executor's own Unix user) --------------------

    def proxy_users(self, project_id: int) -> list[str]:
        """The proxy users of a project (``getProxyUsers``), by name."""
        return self.store.project_settings.proxy_users(project_id)

    def add_proxy_user(self, project_id: int, name: str, by: User) -> bool:
        """Add a proxy user to a project; False when it was one already.

        Azkaban's ``validateProxyUser``: ``by`` may add only names among its own proxy users (the ``proxy``
        attribute of azkaban-users.xml). Beyond Azkaban, a global admin may add any valid name.
        """
        check_name(name, "proxy user")
        if not (by.is_admin or name in by.proxy_users):
            raise PermissionDenied(f"User {by.name} has no permission to add {name} as proxy user.")
        added = self.store.project_settings.add_proxy_user(project_id, name, by.name)
        if added:
            self.store.projects.add_event(project_id, "PROXY_USER", by.name, f"Proxy user {name} is added to project.")
        return added

    def remove_proxy_user(self, project_id: int, name: str, by: User) -> bool:
        """Remove a proxy user from a project; False when it was not one."""
        removed = self.store.project_settings.remove_proxy_user(project_id, name)
        if removed:
            self.store.projects.add_event(
                project_id, "PROXY_USER", by.name, f"Proxy user {name} has been removed from the project."
            )
        return removed

    # -- import -----------------------------------------------------------------------------------------

    def import_azkaban_users(self, xml_path: Path | str, skip: Iterable[str] = ()) -> list[str]:
        """Import an Azkaban ``azkaban-users.xml``: its roles, groups and users (inserted or replaced).

        Every plain-text password is hashed; the file should be deleted afterwards. The whole file is
        checked first and imported in one transaction. Returns the user names, in file order. Users named
        in ``skip`` are left as they are (an Azkaban import's conflicts, or users it brought before).
        """
        skipped = set(skip)
        path = Path(xml_path)
        content = read_user_file(path)
        known = {**self.roles(), **content.roles}

        def check(names: Iterable[str], where: str, line: int) -> None:
            for role in names:
                if role not in known:
                    raise InputError(
                        f"{path} line {line}: {where} has role '{role}', which is not defined; "
                        f'add <role name="{role}" permissions="..."/>'
                    )

        for (kind, name), line in content.lines.items():
            try:
                check_name(name, f"{kind} name")
            except InputError as exc:
                raise InputError(f"{path} line {line}: {exc}") from None
        for group, members in content.groups.items():
            check(members, f"group '{group}'", content.lines["group", group])
        now = self.clock()
        users = []
        for entry in content.users:
            check(entry.roles, f"user '{entry.name}'", entry.line)
            if entry.name in skipped:
                continue
            try:
                groups = _names(entry.groups, "group name")
                proxies = _names(entry.proxy_users, "proxy user")
                email = _check_email(entry.email)
            except InputError as exc:
                raise InputError(f"{path} line {entry.line}: {exc}") from None
            users.append(
                UserRecord(
                    name=entry.name,
                    password_hash=self._hash(entry.password),
                    roles=entry.roles,
                    groups=groups,
                    proxy_users=proxies,
                    email=email,
                    created_time=now,
                )
            )
        self.records.import_accounts({name: int(p) for name, p in content.roles.items()}, content.groups, users, now)
        return [user.name for user in users]

    # -- internals --------------------------------------------------------------------------------------

    def _hash(self, password: str) -> str:
        if not isinstance(password, str) or not password:
            raise InputError("the password is empty; give a non-empty password")
        return hash_password(password, self.hasher)

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = hash_password(random_password(), self.hasher)
        return self._dummy_hash

    def _definitions(self) -> tuple[dict[str, Permission], dict[str, tuple[str, ...]]]:
        stored_roles, groups = self.records.definitions()
        return self._roles(stored_roles), groups

    @staticmethod
    def _roles(stored: dict[str, int]) -> dict[str, Permission]:
        """The built-in roles, replaced or extended by the stored ones."""
        roles = dict(BUILTIN_ROLES)
        roles.update({name: Permission(p) for name, p in stored.items()})
        return roles

    def _check_roles(self, roles: Sequence[str]) -> tuple[str, ...]:
        if isinstance(roles, str):
            roles = (roles,)
        known = self.roles()
        for role in roles:
            if role not in known:
                raise InputError(f"role '{role}' is not defined; use one of {', '.join(sorted(known))}")
        return tuple(dict.fromkeys(roles))

    def user_from(
        self,
        record: UserRecord,
        stored_roles: dict[str, int],
        groups: dict[str, tuple[str, ...]],
        scope: Scope | None = None,
    ) -> User:
        """The :class:`User` of a stored record and definitions read with it (``scope`` for a token)."""
        user = self._user(record, self._roles(stored_roles), groups, current=True)
        if scope is None:
            return user
        return dataclasses.replace(user, scope=scope, permissions=_within(user.permissions, scope.everywhere))

    def _user(
        self,
        record: UserRecord,
        roles: dict[str, Permission] | None = None,
        groups: dict[str, tuple[str, ...]] | None = None,
        grants: Mapping[int, int] | None = None,
        current: bool = False,
    ) -> User:
        """The :class:`User` of ``record``, built once (every request builds one: a ``dataclasses.replace``
        afterwards built it twice); ``grants`` and ``current`` as :class:`User` keeps them."""
        if roles is None or groups is None:
            roles, groups = self._definitions()
        return User(
            name=record.name,
            roles=record.roles,
            groups=record.groups,
            proxy_users=record.proxy_users,
            email=record.email,
            permissions=_global(record.roles, record.groups, roles, groups),
            source=record.source,
            last_login=record.last_login,
            disabled=record.disabled,
            grants=grants,
            permissions_current=current,
        )


def _global(
    user_roles: Sequence[str],
    user_groups: Sequence[str],
    roles: dict[str, Permission],
    groups: dict[str, tuple[str, ...]],
) -> Permission:
    inherited = [role for group in user_groups for role in groups.get(group, ())]
    return role_permissions([*user_roles, *inherited], roles)


def _within(granted: Permission, scope: Permission) -> Permission:
    """What a token with ``scope`` keeps of ``granted``: ADMIN implies every bit, but never passes on."""
    if Permission.ADMIN in granted:
        return scope
    return granted & scope


def _names(names: Sequence[str], what: str) -> tuple[str, ...]:
    if isinstance(names, str):
        names = (names,)
    return tuple(dict.fromkeys(check_name(name, what) for name in names))


def _write_private(path: Path, text: str) -> None:
    """Create ``path`` readable by its owner only (0600 from the start, never briefly wider)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)  # the umask could only narrow it, but say it outright
        out.write(text)
