"""Users: adding, removing, the first admin and logins, on every database (throttling: test_throttle.py)."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from accounts.support import CHEAP, Clock
from sudoless.accounts import LOGIN_FAILED, Accounts, Permission, User
from sudoless.config import Settings
from sudoless.errors import AuthError, InputError, NotFoundError, ThrottledError
from sudoless.store import Store

Unique = Callable[[str], str]


def test_add_get_and_list(accounts: Accounts, unique: Unique):
    name = unique("alice")
    added = accounts.add_user(name, "s3cret!", groups=["team1"], proxy_users=["etl"], email="a@example.com")
    assert added == User(
        name=name,
        roles=("user",),
        groups=("team1",),
        proxy_users=("etl",),
        email="a@example.com",
        permissions=Permission.CREATEPROJECTS | Permission.UPLOADPROJECTS,
    )
    assert accounts.get_user(name) == added
    assert added in accounts.list_users()
    assert not added.is_admin


def test_admin_role_makes_admin(accounts: Accounts, unique: Unique):
    user = accounts.add_user(unique("root"), "pw", roles=["admin"])
    assert user.is_admin
    assert user.permissions == Permission.ADMIN


def test_duplicate_name_is_an_input_error(accounts: Accounts, unique: Unique):
    name = unique("bob")
    accounts.add_user(name, "pw1")
    with pytest.raises(InputError, match=f"user '{name}' already exists"):
        accounts.add_user(name, "pw2")
    accounts.authenticate(name, "pw1", "10.0.0.1")  # the first password still stands


@pytest.mark.parametrize(
    "name", ["", "a b", "a,b", "-lead", ".lead", "x" * 65, "ünïcode", "semi;colon", "quote'", "a/b", "tab\t"]
)
def test_bad_names_are_refused(accounts: Accounts, name: str):
    with pytest.raises(InputError, match="is not valid"):
        accounts.add_user(name, "pw")


@pytest.mark.parametrize("base", ["a", "a.b-c_d", "bob@example.com", "x" * 55, "svc+ci"])
def test_good_names_are_accepted(accounts: Accounts, unique: Unique, base: str):
    name = unique(base)
    assert accounts.add_user(name, "pw").name == name


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("roles", ["superuser"], "role 'superuser' is not defined"),
        ("groups", ["bad group"], "group name 'bad group' is not valid"),
        ("proxy_users", ["a,b"], "proxy user 'a,b' is not valid"),
        ("email", "not-an-email", "email 'not-an-email' is not valid"),
        ("password", "", "the password is empty"),
    ],
)
def test_bad_attributes_are_refused(accounts: Accounts, unique: Unique, field: str, value: object, message: str):
    name = unique("carol")
    kwargs: dict[str, object] = {"password": "pw", field: value}
    with pytest.raises(InputError, match=message):
        accounts.add_user(name, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        accounts.get_user(name)


def test_remove_user_ends_sessions_and_grants(accounts: Accounts, store: Store, unique: Unique):
    name = unique("dave")
    user = accounts.add_user(name, "pw")
    project_id = store.projects.id_of(unique("proj"), create_as=name)
    accounts.grant_creator(project_id, user)
    session = accounts.create_session(user, "10.0.0.2")
    accounts.remove_user(name)
    with pytest.raises(NotFoundError, match=f"user '{name}' doesn't exist"):
        accounts.get_user(name)
    assert accounts.session_user(session) is None
    assert accounts.project_permissions(project_id) == []
    with pytest.raises(NotFoundError):
        accounts.remove_user(name)


def test_set_password_replaces_it_and_ends_sessions(accounts: Accounts, unique: Unique):
    name = unique("erin")
    user = accounts.add_user(name, "old-pw")
    session = accounts.create_session(user, "10.0.0.3")
    accounts.set_password(name, "new-pw")
    assert accounts.authenticate(name, "new-pw", "10.0.0.3") == user
    with pytest.raises(AuthError):
        accounts.authenticate(name, "old-pw", "10.0.0.3")
    assert accounts.session_user(session) is None
    with pytest.raises(NotFoundError):
        accounts.set_password(unique("nobody"), "pw")


# -- first admin ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fresh_db", ["sqlite", "mariadb", "postgresql"], indirect=True)
def test_ensure_admin_creates_a_private_password_file_once(fresh_db: tuple[str, str], tmp_path: Path):
    _, url = fresh_db
    settings = Settings(home=tmp_path / "home")
    store = Store(url)
    try:
        accounts = Accounts(store, settings, hasher=CHEAP)
        password = accounts.ensure_admin()
        assert password and len(password) >= 20
        secret = settings.admin_password_file
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert secret.read_text().strip() == password
        assert accounts.authenticate("admin", password, "127.0.0.1").is_admin
        assert not [p for p in secret.parent.iterdir() if p.name.startswith(".admin-password")]
        # A second start (even a second process) changes nothing.
        assert Accounts(store, settings, hasher=CHEAP).ensure_admin() is None
        assert secret.read_text().strip() == password
        assert [u.name for u in accounts.list_users()] == ["admin"]
    finally:
        store.close()


def test_ensure_admin_does_nothing_when_users_exist(fresh_db: tuple[str, str], tmp_path: Path):
    store = Store(fresh_db[1])
    try:
        settings = Settings(home=tmp_path / "home")
        accounts = Accounts(store, settings, hasher=CHEAP)
        accounts.add_user("someone", "pw")
        assert accounts.ensure_admin() is None
        assert not settings.admin_password_file.exists()
    finally:
        store.close()


def test_ensure_admin_replaces_a_loose_old_file(fresh_db: tuple[str, str], tmp_path: Path):
    settings = Settings(home=tmp_path / "home")
    settings.home.mkdir()
    old = settings.home / "admin-password"
    old.write_text("stale")
    old.chmod(0o644)
    store = Store(fresh_db[1])
    try:
        password = Accounts(store, settings, hasher=CHEAP).ensure_admin()
    finally:
        store.close()
    saved = settings.admin_password_file  # the old top-level file moved there first, then was replaced
    assert saved.read_text().strip() == password and not old.exists()
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600


def test_the_last_admin_cannot_be_removed(fresh_db: tuple[str, str], tmp_path: Path):
    store = Store(fresh_db[1])
    try:
        accounts = Accounts(store, Settings(home=tmp_path / "home"), hasher=CHEAP)
        accounts.ensure_admin()
        with pytest.raises(InputError, match="only admin"):
            accounts.remove_user("admin")
        accounts.add_user("second", "pw", roles=["admin"])
        accounts.remove_user("admin")
        assert [u.name for u in accounts.list_users()] == ["second"]
    finally:
        store.close()


def test_roles_and_groups_are_edited_after_creation(accounts: Accounts, unique: Unique):
    name = unique("carol")
    accounts.add_user(name, "pw", groups=["team1"])
    changed = accounts.set_membership(name, ["admin"], ["team2", "ops"])
    assert changed.roles == ("admin",) and changed.groups == ("team2", "ops") and changed.is_admin
    assert accounts.get_user(name) == changed
    with pytest.raises(InputError, match="role 'nope' is not defined"):
        accounts.set_membership(name, ["nope"], [])
    with pytest.raises(NotFoundError):
        accounts.set_membership(unique("ghost"), ["user"], [])
    assert accounts.get_user(name).roles == ("admin",)


def test_the_last_admin_keeps_the_admin_role(fresh_db: tuple[str, str], tmp_path: Path):
    store = Store(fresh_db[1])
    try:
        accounts = Accounts(store, Settings(home=tmp_path / "home"), hasher=CHEAP)
        accounts.ensure_admin()
        with pytest.raises(InputError, match="only admin"):
            accounts.set_membership("admin", ["user"], [])
        accounts.add_user("second", "pw", roles=["admin"])
        assert not accounts.set_membership("admin", ["user"], ["g"]).is_admin
    finally:
        store.close()


# -- login -----------------------------------------------------------------------------------------------


def test_authenticate_ok_and_wrong(accounts: Accounts, unique: Unique):
    name = unique("frank")
    user = accounts.add_user(name, "right")
    assert accounts.authenticate(name, "right", "10.1.0.1") == user
    for who, password in [(name, "wrong"), (unique("ghost"), "right")]:
        with pytest.raises(AuthError) as caught:
            accounts.authenticate(who, password, "10.1.0.1")
        assert str(caught.value) == LOGIN_FAILED
        assert not isinstance(caught.value, ThrottledError)


@pytest.mark.parametrize(
    ("name", "password", "message"),
    [
        ("", "pw", "Incorrect Login. Username is empty."),
        ("someone", "", "Incorrect Login. Password is empty."),
    ],
)
def test_authenticate_empty_fields(accounts: Accounts, name: str, password: str, message: str):
    with pytest.raises(AuthError, match=message):
        accounts.authenticate(name, password, "10.1.0.2")


def test_login_rehashes_a_password_made_with_an_older_cost(
    store: Store, settings: Settings, clock: Clock, unique: Unique
):
    name = unique("max")
    Accounts(store, settings, clock, hasher=CHEAP).add_user(name, "right")
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    accounts = Accounts(store, settings, clock, hasher=stronger)
    accounts.authenticate(name, "right", "10.9.0.1")
    stored = store.accounts.user(name)
    assert stored is not None and "m=16,t=2,p=1" in stored.password_hash
    accounts.authenticate(name, "right", "10.9.0.1")
