"""The SQL behind ``sudoless.accounts``: users, roles, groups, project grants, sessions, login failures.

Only storage lives here; the rules (who may do what, when a login is throttled) live in the accounts
package. Lists (roles, groups, proxy users) are stored as comma-separated text, the format of
azkaban-users.xml, which is why names may not contain commas.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sudoless.store import tables as t
from sudoless.store.driver import driver_rows
from sudoless.store.rows import upsert as _upsert

if TYPE_CHECKING:
    from sudoless.store import Store

__all__ = ["AccountQueries", "Definitions", "UserRecord", "definitions_of", "extending", "user_record"]

#: Stored role definitions (name to permission bits) and group definitions (name to role names).
Definitions = tuple[dict[str, int], dict[str, tuple[str, ...]]]

#: A session's expiry is rewritten when it would move by more than this share of the time to live ...
TOUCH_SLACK = 0.01
#: ... or by more than this many milliseconds.
TOUCH_MAX_MS = 60_000

#: The sessions a request of this process is extending now (:func:`extending`), and the lock over the set.
_EXTENDING: set[str] = set()
_EXTENDING_LOCK = threading.Lock()


@contextmanager
def extending(key: str) -> Iterator[bool]:
    """Whether the caller is the one request of this process to extend session ``key`` now (True: it writes
    the new expiry; the claim ends with the block).

    When a session's expiry falls due, every request of that session in flight read it as due, and each wrote
    it: one write transaction after the other on the session's row, each waiting for the one before it to
    commit (a flush of the database's log each). For a client keeping many requests in flight on one
    session, as an Azkaban client or the latency benchmark does, that stopped every request of the session
    for as long as the writes queued, once a minute. The other requests need not wait: their own read found
    the session live, which is all that a request whose session needs no extension relies on."""
    with _EXTENDING_LOCK:
        mine = key not in _EXTENDING
        if mine:
            _EXTENDING.add(key)
    try:
        yield mine
    finally:
        if mine:
            with _EXTENDING_LOCK:
                _EXTENDING.discard(key)


# The statements of the per-request path (session, user, roles, groups, grants), built once: building a
# Core statement costs several times more than running it on SQLite.
_SESSION = sa.select(t.sessions.c.username, t.sessions.c.expires).where(t.sessions.c.id == sa.bindparam("key"))
_USER = sa.select(t.users).where(t.users.c.username == sa.bindparam("name"))
# Role definitions (name, permissions) and group definitions (name, roles) in one statement.
_DEFINITIONS = sa.union_all(
    sa.select(t.roles.c.name, t.roles.c.permissions.label("permissions"), sa.cast(sa.null(), sa.Text).label("roles")),
    sa.select(t.groups.c.name, sa.cast(sa.null(), sa.Integer).label("permissions"), t.groups.c.roles),
)
#: At most this many grant rows are read with a session (:meth:`AccountQueries.session_account`); a user
#: with more is checked project by project instead, so that no request reads an unbounded list.
SESSION_GRANTS_MAX = 256


def _session_read() -> sa.CompoundSelect[Any]:
    """:meth:`AccountQueries.session_account`'s statement: rows of four kinds, told apart by ``kind``.

    - 0: the session (``number``: its expiry) and its user's columns but the password hash (null when the
      user is gone; ``text``: the user's roles);
    - 1: a role definition (``name``, ``bits``); 2: a group definition (``name``, ``text``: its roles);
    - 3: a project grant to the user (``number``: the project, ``bits``), at most
      :data:`SESSION_GRANTS_MAX` + 1 rows.

    Every request reads all of them, and on MySQL and PostgreSQL each statement is a round trip: this was
    three (session and user, definitions, grants). The grants to the user's groups need the group names
    from the user's row: a second statement (:data:`_GROUP_GRANTS`), for members of groups only.
    """
    s, u, p, r, g = t.sessions, t.users, t.permissions, t.roles, t.groups
    key: sa.BindParameter[str] = sa.bindparam("key")

    user_columns = ("groups", "proxy_users", "email", "source", "last_login", "disabled")
    # the first select names and types the columns; the others' nulls take those types (a CAST would be
    # skipped with a warning on MySQL for some of them)
    nulls = [sa.null()] * len(user_columns)
    session = (
        sa.select(
            sa.literal_column("0", sa.Integer).label("kind"),
            u.c.username.label("name"),
            s.c.expires.label("number"),
            sa.cast(sa.null(), sa.Integer).label("bits"),
            u.c.roles.label("text"),
            *(u.c[name] for name in user_columns),
        )
        .select_from(s.outerjoin(u, u.c.username == s.c.username))
        .where(s.c.id == key)
    )
    roles = sa.select(sa.literal_column("1"), r.c.name, sa.null(), r.c.permissions, sa.null(), *nulls)
    groups = sa.select(sa.literal_column("2"), g.c.name, sa.null(), sa.null(), g.c.roles, *nulls)
    own = (
        sa.select(p.c.project_id, p.c.permissions)
        .select_from(p.join(s, s.c.username == p.c.name))
        .where(s.c.id == key, p.c.is_group.is_(False))
        .limit(SESSION_GRANTS_MAX + 1)
        .subquery("own")
    )
    grants = sa.select(sa.literal_column("3"), sa.null(), own.c.project_id, own.c.permissions, sa.null(), *nulls)
    return sa.union_all(session, roles, groups, grants)


_SESSION_READ = _session_read()


class _SessionRow(NamedTuple):
    """The session's row of :data:`_SESSION_READ` (kind 0), its columns in the statement's order."""

    kind: int
    name: str | None
    number: int
    bits: int | None
    text: str | None
    groups: str | None
    proxy_users: str | None
    email: str
    source: str
    last_login: int | None
    disabled: Any


#: The grants to a session user's groups (the names from the user's row), read after :data:`_SESSION_READ`.
_GROUP_GRANTS = (
    sa.select(t.permissions.c.project_id, t.permissions.c.permissions)
    .where(t.permissions.c.name.in_(sa.bindparam("groups", expanding=True)), t.permissions.c.is_group.is_(True))
    .limit(SESSION_GRANTS_MAX + 1)
)
_GRANTS = sa.select(t.permissions.c.permissions).where(
    t.permissions.c.project_id == sa.bindparam("project_id"),
    sa.or_(
        sa.and_(t.permissions.c.name == sa.bindparam("user"), t.permissions.c.is_group.is_(False)),
        sa.and_(t.permissions.c.name.in_(sa.bindparam("groups", expanding=True)), t.permissions.c.is_group.is_(True)),
    ),
)


@dataclass(frozen=True)
class UserRecord:
    """One row of ``users`` with its lists split."""

    name: str
    password_hash: str
    roles: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    proxy_users: tuple[str, ...] = ()
    email: str = ""
    created_time: int = 0
    #: "local", or the back-end that created the account at its first login ("ldap", "pam")
    source: str = "local"
    last_login: int | None = None
    disabled: bool = False


def join_list(items: Iterable[str]) -> str:
    return ",".join(items)


def split_list(text: str | None) -> tuple[str, ...]:
    return tuple(item for item in (text or "").split(",") if item)


def user_record(row: Any) -> UserRecord:
    """A ``users`` row as a :class:`UserRecord`."""
    return UserRecord(
        name=row.username,
        password_hash=row.password_hash,
        roles=split_list(row.roles),
        groups=split_list(row.groups),
        proxy_users=split_list(row.proxy_users),
        email=row.email,
        created_time=row.created_time,
        source=row.source,
        last_login=row.last_login,
        disabled=bool(row.disabled),
    )


def _user_values(user: UserRecord) -> dict[str, Any]:
    return {
        "username": user.name,
        "password_hash": user.password_hash,
        "roles": join_list(user.roles),
        "groups": join_list(user.groups),
        "proxy_users": join_list(user.proxy_users),
        "email": user.email,
        "created_time": user.created_time,
        "source": user.source,
        "last_login": user.last_login,
        "disabled": user.disabled,
    }


class AccountQueries:
    """Queries on the account tables of one :class:`Store`; every method is one short transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- users ------------------------------------------------------------------------------------------

    def user_names(self) -> list[str]:
        """Every user's name, for the history filter's suggestions (the users table is small, unlike a
        DISTINCT over the executions' unindexed ``submit_user``)."""
        u = t.users.c
        with self.store.read() as conn:
            return [str(n) for n in conn.execute(sa.select(u.username).order_by(u.username)).scalars()]

    def user(self, name: str) -> UserRecord | None:
        with self.store.read() as conn:
            row = conn.execute(_USER, {"name": name}).first()
        return user_record(row) if row else None

    def users(self) -> list[UserRecord]:
        with self.store.read() as conn:
            rows = conn.execute(sa.select(t.users).order_by(t.users.c.username)).all()
        return [user_record(row) for row in rows]

    def has_users(self) -> bool:
        with self.store.read() as conn:
            return conn.execute(sa.select(t.users.c.id).limit(1)).first() is not None

    def insert_user(self, user: UserRecord) -> bool:
        """Add a user; False (and nothing written) when the name is taken, even by a concurrent insert."""
        try:
            with self.store.write() as conn:
                if _user_exists(conn, user.name):
                    return False
                conn.execute(t.users.insert().values(**_user_values(user)))
        except sa.exc.IntegrityError:
            return False
        return True

    def insert_first_user(self, user: UserRecord) -> bool:
        """Add ``user`` only if there is no user at all (first start); True if it was added.

        Two servers starting at once may both try; the unique name makes the second insert fail, which
        is reported as "not added".
        """
        try:
            with self.store.write() as conn:
                if conn.execute(sa.select(sa.func.count()).select_from(t.users)).scalar_one():
                    return False
                conn.execute(t.users.insert().values(**_user_values(user)))
        except sa.exc.IntegrityError:
            return False
        return True

    def update_user(self, name: str, **values: Any) -> bool:
        """Change columns of one user (lists given as sequences); False if there is no such user."""
        for key in ("roles", "groups", "proxy_users"):
            if key in values:
                values[key] = join_list(values[key])
        with self.store.write() as conn:
            return conn.execute(t.users.update().where(t.users.c.username == name).values(**values)).rowcount == 1

    def delete_user(self, name: str) -> bool:
        """Remove a user with their sessions and their own project grants; False if there was none."""
        with self.store.write() as conn:
            done = conn.execute(t.users.delete().where(t.users.c.username == name)).rowcount
            conn.execute(t.sessions.delete().where(t.sessions.c.username == name))
            conn.execute(t.api_tokens.delete().where(t.api_tokens.c.username == name))
            conn.execute(
                t.permissions.delete().where(t.permissions.c.name == name, t.permissions.c.is_group.is_(False))
            )
        return done == 1

    # -- roles and groups -------------------------------------------------------------------------------

    def put_role(self, name: str, permissions: int, now: int) -> None:
        with self.store.write() as conn:
            _upsert(conn, t.roles, {"name": name}, {"permissions": permissions, "modified_time": now})

    def put_group(self, name: str, roles: Sequence[str], now: int) -> None:
        with self.store.write() as conn:
            _upsert(conn, t.groups, {"name": name}, {"roles": join_list(roles), "modified_time": now})

    def import_accounts(
        self, roles: dict[str, int], groups: dict[str, tuple[str, ...]], users: Sequence[UserRecord], now: int
    ) -> None:
        """Insert or replace roles, groups and users in one transaction: a file imports whole or not at all.

        A replaced user keeps their creation time, sessions and project grants.
        """
        with self.store.write() as conn:
            for name, permissions in roles.items():
                _upsert(conn, t.roles, {"name": name}, {"permissions": permissions, "modified_time": now})
            for name, members in groups.items():
                _upsert(conn, t.groups, {"name": name}, {"roles": join_list(members), "modified_time": now})
            for user in users:
                values = _user_values(user)
                key = {"username": values.pop("username")}
                created = values.pop("created_time")
                if not conn.execute(t.users.update().where(t.users.c.username == user.name).values(**values)).rowcount:
                    conn.execute(t.users.insert().values(**key, **values, created_time=created))

    # -- project grants ---------------------------------------------------------------------------------

    def project_exists(self, project_id: int) -> bool:
        with self.store.read() as conn:
            return (
                conn.execute(
                    sa.select(t.projects.c.id).where(t.projects.c.id == project_id, t.projects.c.active.is_(True))
                ).first()
                is not None
            )

    def project_permissions(self, project_id: int) -> list[tuple[str, bool, int]]:
        p = t.permissions
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(p.c.name, p.c.is_group, p.c.permissions)
                .where(p.c.project_id == project_id)
                .order_by(p.c.is_group, p.c.name)
            ).all()
        return [(row.name, bool(row.is_group), int(row.permissions)) for row in rows]

    def grants_of(self, project_ids: Sequence[int]) -> dict[int, list[tuple[str, bool, int]]]:
        """:meth:`project_permissions` of several projects in one statement, by project id (projects without
        grants left out)."""
        if not project_ids:
            return {}
        p = t.permissions
        query = (
            sa.select(p.c.project_id, p.c.name, p.c.is_group, p.c.permissions)
            .where(p.c.project_id.in_(list(project_ids)))
            .order_by(p.c.project_id, p.c.is_group, p.c.name)
        )
        found: dict[int, list[tuple[str, bool, int]]] = {}
        with self.store.read() as conn:
            for project_id, name, is_group, bits in conn.execute(query):
                found.setdefault(int(project_id), []).append((name, bool(is_group), int(bits)))
        return found

    def granted_project_ids(self, user: str, groups: Sequence[str]) -> list[int]:
        """Projects with a grant row naming ``user`` or one of ``groups``: the only projects a user without
        a global READ could read. A candidate list, not a decision: each is then checked by Accounts."""
        c = t.permissions.c
        named: sa.ColumnElement[bool] = sa.and_(c.name == user, c.is_group.is_(False))
        if groups:
            named = sa.or_(named, sa.and_(c.name.in_(list(groups)), c.is_group.is_(True)))
        with self.store.read() as conn:
            return sorted({int(i) for i in conn.execute(sa.select(c.project_id).where(named)).scalars()})

    def granted(self, project_id: int, user: str, groups: Sequence[str]) -> int:
        """The union of the user's own grant and the grants of their groups on one project."""
        with self.store.read() as conn:
            values = conn.execute(_GRANTS, {"project_id": project_id, "user": user, "groups": list(groups)}).scalars()
            result = 0
            for value in values:
                result |= int(value)
        return result

    def set_permission(self, project_id: int, name: str, is_group: bool, permissions: int, now: int) -> None:
        """Set one grant; 0 removes the row (Azkaban keeps no empty grants)."""
        key = {"project_id": project_id, "name": name, "is_group": is_group}
        with self.store.write() as conn:
            if permissions == 0:
                conn.execute(t.permissions.delete().where(*(t.permissions.c[k] == v for k, v in key.items())))
            else:
                _upsert(conn, t.permissions, key, {"permissions": permissions, "modified_time": now})

    # -- sessions ---------------------------------------------------------------------------------------

    def insert_session(self, key: str, username: str, ip: str, now: int, expires: int) -> None:
        with self.store.write() as conn:
            conn.execute(
                t.sessions.insert().values(
                    id=key, username=username, ip=ip[:64], created_time=now, last_seen=now, expires=expires
                )
            )

    def session_account(
        self, key: str, now: int, expires: int
    ) -> tuple[UserRecord, Definitions, dict[int, int] | None] | None:
        """The user of a live session, the role and group definitions and the user's project grants (project
        id to the union of its own and its groups' bits; None when there are more than
        :data:`SESSION_GRANTS_MAX`), in one statement (two for a member of groups): every request asks for
        them, and the grants spare the permission check a statement of its own. The record's password hash
        is left empty (it is not read). The session is extended as :meth:`touch_session` does. None if the
        session is unknown or expired; a session whose user was removed is deleted."""
        session: _SessionRow | None = None
        roles: dict[str, int] = {}
        groups: dict[str, tuple[str, ...]] = {}
        granted: list[tuple[int, int]] = []
        with self.store.read() as conn:
            for row in driver_rows(conn, _SESSION_READ, {"key": key}):
                kind = row[0]
                if kind == 0:
                    session = _SessionRow._make(row)
                elif kind == 1:
                    roles[row[1]] = int(row[3])
                elif kind == 2:
                    groups[row[1]] = split_list(row[4])
                else:
                    granted.append((int(row[2]), int(row[3])))
            member_of = split_list(session.groups) if session is not None and session.name is not None else ()
            if member_of and session is not None and session.number > now and not session.disabled:
                granted += [(int(i), int(b)) for i, b in conn.execute(_GROUP_GRANTS, {"groups": list(member_of)})]
        if session is None or session.number <= now:
            return None
        if session.name is None:
            self.delete_session(key)
            return None
        if session.disabled:
            return None
        grants: dict[int, int] | None = None
        if len(granted) <= SESSION_GRANTS_MAX:
            grants = {}
            for project_id, bits in granted:
                grants[project_id] = grants.get(project_id, 0) | bits
        if not _fresh(session.number, now, expires):
            with extending(key) as mine:
                if mine and self.touch_session(key, now, expires) is None:
                    return None
        record = UserRecord(
            name=session.name,
            password_hash="",
            roles=split_list(session.text),
            groups=split_list(session.groups),
            proxy_users=split_list(session.proxy_users),
            email=session.email,
            source=session.source,
            last_login=session.last_login,
            disabled=bool(session.disabled),
        )
        return record, (roles, groups), grants

    def definitions(self) -> Definitions:
        """Every stored role with its permissions, and every group with its roles."""
        with self.store.read() as conn:
            return definitions_of(conn)

    def touch_session(self, key: str, now: int, expires: int) -> str | None:
        """Extend a live session to ``expires`` and return its user name; None if unknown or expired.

        The row is rewritten only when that moves its expiry by more than :data:`TOUCH_SLACK` of the time
        to live (and at most a minute): a client polling several times a second then costs one read per
        request instead of a write transaction, and a session still expires after its time to live of
        inactivity, give or take that margin.
        """
        s = t.sessions
        with self.store.read() as conn:
            row = conn.execute(_SESSION, {"key": key}).first()
        if row is None or row.expires <= now:
            return None
        if _fresh(row.expires, now, expires):
            return str(row.username)
        with self.store.write() as conn:
            done = conn.execute(
                s.update().where(s.c.id == key, s.c.expires > now).values(last_seen=now, expires=expires)
            ).rowcount
            if done != 1:
                return None
            return conn.execute(sa.select(s.c.username).where(s.c.id == key)).scalar()

    def delete_session(self, key: str) -> None:
        with self.store.write() as conn:
            conn.execute(t.sessions.delete().where(t.sessions.c.id == key))

    def delete_user_sessions(self, username: str) -> int:
        with self.store.write() as conn:
            return conn.execute(t.sessions.delete().where(t.sessions.c.username == username)).rowcount

    def delete_expired_sessions(self, now: int) -> int:
        with self.store.write() as conn:
            return conn.execute(t.sessions.delete().where(t.sessions.c.expires <= now)).rowcount

    # -- login failures ---------------------------------------------------------------------------------

    def failure_times(self, kind: str, subject: str, since: int) -> list[int]:
        """When ``subject`` failed to log in after ``since``, oldest first."""
        f = t.login_failures
        with self.store.read() as conn:
            return [
                int(v)
                for v in conn.execute(
                    sa.select(f.c.failed_at)
                    .where(f.c.kind == kind, f.c.subject == subject, f.c.failed_at > since)
                    .order_by(f.c.failed_at)
                ).scalars()
            ]

    def record_failure(self, subjects: Sequence[tuple[str, str]], now: int, forget_before: int) -> None:
        """Note one failed login for each (kind, subject), and forget every failure older than needed."""
        f = t.login_failures
        with self.store.write() as conn:
            conn.execute(f.delete().where(f.c.failed_at <= forget_before))
            conn.execute(
                f.insert(), [{"kind": kind, "subject": subject[:255], "failed_at": now} for kind, subject in subjects]
            )

    def clear_failures(self, kind: str, subject: str, suffix: bool = False) -> None:
        """Forget the failures of ``subject``, or with ``suffix`` of every subject ending with it."""
        f = t.login_failures
        match: sa.ColumnElement[bool]
        if suffix:
            # "/" escapes: a backslash would need a dialect's own string-literal quoting in ESCAPE.
            escaped = subject.replace("/", "//").replace("%", "/%").replace("_", "/_")
            match = f.c.subject.like("%" + escaped, escape="/")
        else:
            match = f.c.subject == subject
        with self.store.write() as conn:
            conn.execute(f.delete().where(f.c.kind == kind, match))


def _fresh(current: int, now: int, expires: int) -> bool:
    """Whether a session expiring at ``current`` is close enough to ``expires`` to be left as it is."""
    return 0 <= expires - current <= min(TOUCH_MAX_MS, int((expires - now) * TOUCH_SLACK))


def definitions_of(conn: Connection) -> Definitions:
    """Every stored role with its permissions and every group with its roles, read on ``conn``."""
    roles: dict[str, int] = {}
    groups: dict[str, tuple[str, ...]] = {}
    for name, permissions, role_list in conn.execute(_DEFINITIONS):
        if permissions is not None:
            roles[name] = int(permissions)
        else:
            groups[name] = split_list(role_list)
    return roles, groups


def _user_exists(conn: Connection, name: str) -> bool:
    return conn.execute(sa.select(t.users.c.id).where(t.users.c.username == name)).first() is not None
