"""Azkaban's permission bits and its authorization rules (azkaban.md §6.2, §6.3)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from accounts.support import Clock
from sudoless.accounts import BUILTIN_ROLES, Accounts, Permission, User
from sudoless.errors import InputError, NotFoundError, PermissionDenied
from sudoless.store import Store
from sudoless.store import tables as t
from support.round_trips import counting

Unique = Callable[[str], str]
P = Permission
R, W, X, S, ADMIN = P.READ, P.WRITE, P.EXECUTE, P.SCHEDULE, P.ADMIN


# -- the bitmask -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "bit"),
    [
        ("READ", 0x1),
        ("WRITE", 0x2),
        ("EXECUTE", 0x4),
        ("SCHEDULE", 0x8),
        ("METRICS", 0x10),
        ("UPLOADPROJECTS", 0x8000),
        ("ADMIN", 0x8000000),
        ("CREATEPROJECTS", 0x40000000),
    ],
)
def test_bits_are_azkabans(name: str, bit: int):
    assert int(Permission[name]) == bit
    assert Permission.parse([name.lower()]) == bit
    assert Permission(bit).names() == [name]


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["read", "Write"], R | W),
        (["EXECUTE", "execute"], X),
        ("read,schedule", R | S),
        (" admin , read ", ADMIN | R),
        ([], P(0)),
        ("", P(0)),
    ],
)
def test_parse(names: list[str] | str, expected: Permission):
    assert Permission.parse(names) == expected


@pytest.mark.parametrize("bad", [["READ", "REDA"], "read,fly", ["image_type_add_member"]])
def test_parse_names_the_unknown_permission(bad: list[str] | str):
    with pytest.raises(InputError, match=r"unknown permission '(REDA|fly|image_type_add_member)'; use one of"):
        Permission.parse(bad)


def test_names_in_bit_order():
    assert (ADMIN | X | R).names() == ["READ", "EXECUTE", "ADMIN"]
    assert P(0).names() == []


def test_builtin_roles():
    assert BUILTIN_ROLES == {
        "admin": ADMIN,
        "user": P.CREATEPROJECTS | P.UPLOADPROJECTS,
        "readall": R,
        "metrics": P.METRICS,
    }


# -- hasPermission -----------------------------------------------------------------------------------------

#: (roles of the user, the user's groups, roles of groups, grants on the project, wanted, expected).
#: "me", "other", "g1" and "g2" are replaced by names unique to the test.
RULES = [
    pytest.param(("user",), (), {}, [("me", False, R)], R, True, id="own grant"),
    pytest.param(("user",), (), {}, [("me", False, R)], W, False, id="own grant lacks the permission"),
    pytest.param(("user",), (), {}, [("me", False, ADMIN)], S, True, id="own ADMIN implies all"),
    pytest.param(("user",), ("g1",), {}, [("g1", True, X)], X, True, id="group grant"),
    pytest.param(("user",), ("g1",), {}, [("g1", True, X)], R, False, id="group grant lacks the permission"),
    pytest.param(("user",), ("g1",), {}, [("g1", True, ADMIN)], W, True, id="group ADMIN implies all"),
    pytest.param(("user",), ("g1",), {}, [("g2", True, R)], R, False, id="grant to a group the user is not in"),
    pytest.param(("user",), (), {}, [("me", True, R)], R, False, id="group grant named like the user"),
    pytest.param(
        ("user",), ("g1",), {}, [("g1", False, R)], R, False, id="user grant named like one of the user's groups"
    ),
    pytest.param(("user",), (), {}, [("other", False, ADMIN)], R, False, id="another user's grant"),
    pytest.param(("readall",), (), {}, [], R, True, id="global role"),
    pytest.param(("readall",), (), {}, [], W, False, id="global role lacks the permission"),
    pytest.param(("admin",), (), {}, [], S, True, id="global ADMIN implies all"),
    pytest.param(("user",), ("g1",), {"g1": ("readall",)}, [], R, True, id="global role through a group"),
    pytest.param(("user",), ("g1",), {"g1": ("admin",)}, [], W, True, id="global ADMIN through a group"),
    pytest.param(("user",), ("g2",), {"g1": ("admin",)}, [], R, False, id="role of a group the user is not in"),
    pytest.param(("metrics",), (), {}, [], R, False, id="METRICS is not READ"),
    pytest.param(("user",), (), {}, [], R, False, id="role user alone reads nothing"),
    pytest.param((), (), {}, [], R, False, id="no role no grant"),
    pytest.param(
        ("user",), ("g1",), {}, [("me", False, R), ("g1", True, W)], R | W, True, id="own and group grants add up"
    ),
    pytest.param(("readall",), (), {}, [("me", False, X)], R | X, True, id="grant and global role add up"),
    pytest.param(("user",), (), {}, [("me", False, R)], R | W, False, id="all bits are needed"),
]


@pytest.mark.parametrize(("roles", "groups", "group_roles", "grants", "wanted", "expected"), RULES)
def test_has_permission(
    accounts: Accounts,
    store: Store,
    unique: Unique,
    roles: tuple[str, ...],
    groups: tuple[str, ...],
    group_roles: dict[str, tuple[str, ...]],
    grants: list[tuple[str, bool, Permission]],
    wanted: Permission,
    expected: bool,
):
    names = {key: unique(key) for key in ("me", "other", "g1", "g2")}
    me = accounts.add_user(names["me"], "pw", roles=roles, groups=[names[g] for g in groups])
    accounts.add_user(names["other"], "pw")
    for group, its_roles in group_roles.items():
        accounts.define_group(names[group], its_roles)
    project_id = store.projects.id_of(unique("proj"), create_as="someone")
    for who, is_group, perms in grants:
        if who.startswith("g") and not is_group:
            accounts.add_user(names[who], "pw")
        accounts.set_project_permission(project_id, names[who], is_group, perms)
    me = accounts.get_user(me.name)
    assert accounts.has_permission(me, project_id, wanted) is expected
    # the same answer from the grants a session's read brings along (what a request checks)
    by_session = accounts.session_user(accounts.create_session(me, "127.0.0.1"))
    assert by_session is not None and by_session.grants is not None
    assert accounts.has_permission(by_session, project_id, wanted) is expected
    if expected:
        accounts.require(me, project_id, wanted, "proj")
    else:
        with pytest.raises(PermissionDenied):
            accounts.require(me, project_id, wanted, "proj")


def test_grants_stay_on_their_project(accounts: Accounts, store: Store, unique: Unique):
    me = accounts.add_user(unique("me"), "pw")
    mine = store.projects.id_of(unique("mine"), create_as=me.name)
    theirs = store.projects.id_of(unique("theirs"), create_as="someone")
    accounts.grant_creator(mine, me)
    assert accounts.has_permission(me, mine, X)
    assert not accounts.has_permission(me, theirs, R)


def test_a_sessions_grants_spare_the_check_a_read_and_later_grants_still_count(
    accounts: Accounts, store: Store, unique: Unique
):
    """The grants read with the session answer a request's permission checks without another statement; a
    project granted after that read (an upload that created it, in the same request) is read, not refused."""
    me = accounts.add_user(unique("me"), "pw", groups=[unique("team")])
    own, through_group = (store.projects.id_of(unique(name), create_as="someone") for name in ("own", "group"))
    accounts.set_project_permission(own, me.name, False, R)
    accounts.set_project_permission(through_group, me.groups[0], True, X)
    user = accounts.session_user(accounts.create_session(me, "127.0.0.1"))
    assert user is not None and user.grants == {own: int(R), through_group: int(X)}
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", count)
    try:
        assert accounts.has_permission(user, own, R)
        assert accounts.has_permission(user, through_group, X)
        assert not accounts.has_permission(user, own, W)
        assert statements == []
        later = store.projects.id_of(unique("later"), create_as="someone")
        accounts.set_project_permission(later, me.name, False, R | W)
        statements.clear()
        assert accounts.has_permission(user, later, W)
        assert len(statements) == 1
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", count)


def test_the_session_is_one_statement_and_a_group_grant_needs_the_whole_group_name(
    accounts: Accounts, store: Store, unique: Unique
):
    """The session, its user, the definitions and the user's grants come in one statement, and the grants
    of the user's groups in a second one for a member of groups; a group's grant reaches only members of
    exactly that group, not of a group whose name contains it or is contained in it, nor one that ``_``
    would match as a LIKE pattern."""
    base = unique("g_")
    names = {"exact": base, "longer": base + "x", "shorter": base[:-1], "wildcard": base.replace("_", "z")}
    member = accounts.add_user(unique("member"), "pw", groups=["other", names["exact"], "more"])
    loner = accounts.add_user(unique("loner"), "pw")
    projects = {key: store.projects.id_of(unique(key), create_as="someone") for key in names}
    for key, name in names.items():
        accounts.set_project_permission(projects[key], name, True, R)
    accounts.set_project_permission(projects["longer"], loner.name, False, R | W)
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    sessions = {user.name: accounts.create_session(user, "127.0.0.1") for user in (member, loner)}
    sa.event.listen(store.engine, "before_cursor_execute", count)
    try:
        user = accounts.session_user(sessions[member.name])
        assert len(statements) == 2
        statements.clear()
        alone = accounts.session_user(sessions[loner.name])
        assert len(statements) == 1
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", count)
    assert user is not None and user.grants == {projects["exact"]: int(R)}
    assert accounts.has_permission(user, projects["exact"], R)
    for key in ("longer", "shorter", "wildcard"):
        assert not accounts.has_permission(user, projects[key], R), key
    assert alone is not None and alone.grants == {projects["longer"]: int(R | W)}


def test_a_session_read_keeps_its_refusals(accounts: Accounts, store: Store, unique: Unique, clock: Clock):
    """Unknown, expired, disabled and orphaned sessions are refused by the one-statement read as before."""
    me = accounts.add_user(unique("me"), "pw")
    assert accounts.session_user("no-such-session") is None
    session = accounts.create_session(me, "127.0.0.1")
    assert accounts.session_user(session) is not None
    store.accounts.update_user(me.name, disabled=True)
    assert accounts.session_user(session) is None
    store.accounts.update_user(me.name, disabled=False)
    assert accounts.session_user(session) is not None
    clock.advance(accounts.session_ttl_ms)
    assert accounts.session_user(session) is None
    session = accounts.create_session(me, "127.0.0.1")
    with store.write() as conn:  # the user's row alone, as a partial cleanup elsewhere might leave it
        conn.execute(t.users.delete().where(t.users.c.username == me.name))
    count = sa.select(sa.func.count()).select_from(t.sessions).where(t.sessions.c.username == me.name)
    with store.read() as conn:
        assert conn.execute(count).scalar_one() == 2  # the expired one and this one
    assert accounts.session_user(session) is None
    with store.read() as conn:  # the orphaned session is deleted
        assert conn.execute(count).scalar_one() == 1


def test_a_user_with_very_many_grants_is_checked_project_by_project(accounts: Accounts, store: Store, unique: Unique):
    from sudoless.store.accounts import SESSION_GRANTS_MAX

    me = accounts.add_user(unique("me"), "pw")
    projects = [store.projects.id_of(unique(f"p{i}"), create_as="someone") for i in range(SESSION_GRANTS_MAX + 1)]
    for project_id in projects:
        accounts.set_project_permission(project_id, me.name, False, R)
    user = accounts.session_user(accounts.create_session(me, "127.0.0.1"))
    assert user is not None and user.grants is None
    assert accounts.has_permission(user, projects[-1], R)
    assert not accounts.has_permission(user, projects[-1], W)


def test_require_message_is_azkabans(accounts: Accounts, store: Store, unique: Unique):
    me = accounts.add_user(unique("me"), "pw")
    project_id = store.projects.id_of(unique("proj"), create_as="someone")
    with pytest.raises(PermissionDenied) as caught:
        accounts.require(me, project_id, Permission.SCHEDULE, "myproject")
    assert str(caught.value) == f"User '{me.name}' doesn't have SCHEDULE permissions on myproject"


def test_global_permissions_are_roles_and_group_roles(accounts: Accounts, unique: Unique):
    group = unique("ops")
    accounts.define_group(group, ["metrics", "readall"])
    me = accounts.add_user(unique("me"), "pw", roles=["user"], groups=[group, unique("plain")])
    expected = P.CREATEPROJECTS | P.UPLOADPROJECTS | P.METRICS | R
    assert accounts.global_permissions(me) == expected
    assert me.permissions == expected
    assert not me.is_admin
    accounts.define_group(group, ["admin"])  # definitions are read when asked, not cached
    assert ADMIN in accounts.global_permissions(me)
    assert accounts.get_user(me.name).is_admin


def test_stored_role_replaces_a_builtin_one(accounts: Accounts, unique: Unique):
    role = unique("auditor")
    accounts.define_role(role, R | P.METRICS)
    me = accounts.add_user(unique("me"), "pw", roles=[role])
    assert accounts.global_permissions(me) == R | P.METRICS
    assert accounts.roles()[role] == R | P.METRICS
    assert accounts.roles()["admin"] == ADMIN


def test_grant_table_set_replace_and_remove(accounts: Accounts, store: Store, unique: Unique):
    alice, bob = accounts.add_user(unique("alice"), "pw"), accounts.add_user(unique("bob"), "pw")
    group = unique("team")
    project_id = store.projects.id_of(unique("proj"), create_as=alice.name)
    accounts.grant_creator(project_id, alice)
    accounts.set_project_permission(project_id, bob.name, False, R | X)
    accounts.set_project_permission(project_id, group, True, R)
    accounts.set_project_permission(project_id, bob.name, False, R | W)  # replaces, does not add
    assert accounts.project_permissions(project_id) == sorted(
        [(alice.name, False, ADMIN), (bob.name, False, R | W)]
    ) + [(group, True, R)]
    accounts.set_project_permission(project_id, bob.name, False, P(0))
    accounts.set_project_permission(project_id, group, True, P(0))
    assert accounts.project_permissions(project_id) == [(alice.name, False, ADMIN)]
    assert not accounts.has_permission(bob, project_id, R)


def test_grant_checks_user_and_project(accounts: Accounts, store: Store, unique: Unique):
    project_id = store.projects.id_of(unique("proj"), create_as="someone")
    ghost = unique("ghost")
    with pytest.raises(NotFoundError, match=f"User '{ghost}' doesn't exist"):
        accounts.set_project_permission(project_id, ghost, False, R)
    accounts.set_project_permission(project_id, ghost, True, R)  # any group name is fine, as in Azkaban
    with pytest.raises(NotFoundError, match="project 987654321 doesn't exist"):
        accounts.set_project_permission(987654321, ghost, True, R)
    with pytest.raises(InputError, match="is not valid"):
        accounts.set_project_permission(project_id, "a,b", True, R)


def test_user_constructed_by_hand_with_admin_role_is_admin():
    assert User("x", ("admin",), (), (), "").is_admin
    assert not User("x", ("readall",), (), (), "").is_admin


def test_a_session_user_answers_from_the_definitions_read_with_its_session(
    accounts: Accounts, store: Store, unique: Unique
):
    """A request's user comes with the role and group definitions and its grants, read with the session in
    one statement: checking its global roles or a granted project asks nothing more of the database, also
    for a user whose roles grant nothing globally. The next request's session read sees a changed group."""
    group = unique("ops")
    accounts.define_group(group, ["readall"])
    member = accounts.add_user(unique("member"), "pw", roles=[], groups=[group])
    plain = accounts.add_user(unique("plain"), "pw", roles=[])
    project_id = store.projects.id_of(unique("proj"), create_as="someone")
    accounts.set_project_permission(project_id, plain.name, False, R)
    member_session = accounts.create_session(member, "10.0.0.1")
    member_now = accounts.session_user(member_session)
    plain_now = accounts.session_user(accounts.create_session(plain, "10.0.0.1"))
    assert member_now is not None and plain_now is not None
    with counting(store.engine) as trips:
        assert accounts.global_permissions(member_now) == R
        assert accounts.global_permissions(plain_now) == P(0)
        assert accounts.has_permission(plain_now, project_id, R)
        assert not accounts.has_permission(plain_now, project_id, W)
    assert trips.statements == 0
    accounts.define_group(group, ["metrics"])
    assert accounts.global_permissions(member_now) == R  # what the earlier request read
    member_next = accounts.session_user(member_session)
    assert member_next is not None and accounts.global_permissions(member_next) == P.METRICS
