"""LDAP sign-in against a real OpenLDAP (tests/support/slapd.py): logins, groups in groups mapped to roles, allowed
groups, a disabled account, removal from a group taking access away at the next refresh, a directory that
is down while local accounts still work, LDAPS and StartTLS with the right and a wrong CA."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from accounts.support import CHEAP
from sudoless.accounts import Accounts, Permission
from sudoless.accounts.backends import DirectoryUnavailable, NotAllowed
from sudoless.accounts.directory import NO_PASSWORD
from sudoless.config import Settings, load_settings
from sudoless.errors import AuthError, ConfigError, InputError
from sudoless.store import Store
from support.slapd import GROUPS, SERVICE, Slapd

IP = "192.0.2.10"


def ldap_settings(home: Path, server: Slapd, **changes: object) -> Settings:
    base = Settings(
        home=home,
        auth_backends="ldap,local",
        ldap_host=server.host,
        ldap_port=server.port,
        ldap_start_tls=True,
        ldap_ca_file=str(server.ca_file),
        ldap_user_base="ou=people,dc=example,dc=org",
        ldap_bind_account=SERVICE,
        ldap_bind_password_file=str(server.service_password_file),
        ldap_group_search_base=GROUPS,
        ldap_allowed_groups="sudoless-users, sudoless-admins",
        group_roles="engineering=readall; sudoless-admins=admin",
        ldap_timeout=3.0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def make_accounts(tmp_path: Path, slapd: Slapd) -> Iterator[object]:
    stores: list[Store] = []

    def make(**changes: object) -> Accounts:
        settings = ldap_settings(tmp_path / "home", slapd, **changes)
        store = Store(f"sqlite:///{tmp_path / 'accounts.db'}")
        stores.append(store)
        return Accounts(store, settings, hasher=CHEAP)

    yield make
    for store in stores:
        store.close()


def test_first_login_creates_a_directory_account_with_nested_groups_and_mapped_roles(make_accounts) -> None:
    accounts = make_accounts()
    alice = accounts.authenticate("alice", "alice-pw", IP)
    assert (alice.name, alice.source, alice.email) == ("alice", "ldap", "alice@example.org")
    assert set(alice.groups) == {"devs", "engineering", "sudoless-users"}  # two levels of nesting
    assert alice.roles == ("user", "readall") and not alice.is_admin
    assert alice.last_login is not None
    record = accounts.records.user("alice")
    assert record.password_hash == NO_PASSWORD and record.source == "ldap"
    with pytest.raises(InputError, match="signs in through ldap"):
        accounts.set_password("alice", "local-pw")
    # A second login keeps one account; a local-only order refuses it (it has no local password).
    assert accounts.authenticate("alice", "alice-pw", IP).name == "alice"
    assert len([u for u in accounts.list_users() if u.name == "alice"]) == 1
    local_only = make_accounts(auth_backends="local")
    with pytest.raises(AuthError, match="Incorrect Login"):
        local_only.authenticate("alice", "alice-pw", IP)
    bob = accounts.authenticate("bob", "bob-pw", IP)
    assert bob.is_admin and Permission.ADMIN in accounts.global_permissions(bob)


@pytest.mark.parametrize(
    ("name", "password"),
    [("alice", "wrong"), ("nobody", "nobody-pw"), ("carol", "carol-pw")],
    ids=["wrong password", "unknown user", "disabled account"],
)
def test_refused_logins(make_accounts, name: str, password: str) -> None:
    accounts = make_accounts()
    with pytest.raises(AuthError, match="Incorrect Login. Username/Password not found."):
        accounts.authenticate(name, password, IP)
    assert accounts.records.user(name) is None


def test_not_in_an_allowed_group(make_accounts) -> None:
    accounts = make_accounts()
    with pytest.raises(NotAllowed, match="User 'dave' is in none of the groups allowed"):
        accounts.authenticate("dave", "dave-pw", IP)
    assert accounts.records.user("dave") is None
    # Without nesting, alice is only in devs, which is not allowed.
    with pytest.raises(NotAllowed):
        make_accounts(ldap_nested_groups="off").authenticate("alice", "alice-pw", IP)


def test_removed_from_the_group_then_access_is_gone_at_the_refresh(make_accounts, slapd: Slapd) -> None:
    from ldap3 import MODIFY_ADD, MODIFY_DELETE, Connection, Server

    accounts = make_accounts()
    erin = accounts.authenticate("erin", "erin-pw", IP)
    session = accounts.create_session(erin, IP)
    assert accounts.session_user(session) is not None
    assert accounts.refresh_directory_accounts().disabled == 0
    group = slapd.group_dn("sudoless-users")
    admin = Connection(Server("127.0.0.1", port=slapd.port), slapd.root_dn, slapd.root_password, auto_bind=True)
    try:
        assert admin.modify(group, {"member": [(MODIFY_DELETE, [slapd.dn("erin")])]}), admin.result
        done = accounts.refresh_directory_accounts()
        assert (done.disabled, done.problem) == (1, "")
        assert accounts.session_user(session) is None
        assert accounts.records.user("erin").disabled and accounts.get_user("erin").disabled
        with pytest.raises(NotAllowed):
            accounts.authenticate("erin", "erin-pw", IP)
        assert admin.modify(group, {"member": [(MODIFY_ADD, [slapd.dn("erin")])]}), admin.result
        accounts.refresh_directory_accounts()
        assert not accounts.records.user("erin").disabled
        assert accounts.authenticate("erin", "erin-pw", IP).name == "erin"
    finally:
        admin.unbind()


def test_directory_down_local_accounts_still_work(make_accounts, slapd: Slapd) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    accounts = make_accounts(ldap_port=closed, ldap_start_tls=False)
    accounts.add_user("breakglass", "local-pw", roles=("admin",))
    started = time.monotonic()
    assert accounts.authenticate("breakglass", "local-pw", IP).is_admin
    with pytest.raises(DirectoryUnavailable) as caught:
        accounts.authenticate("alice", "alice-pw", IP)
    message = str(caught.value)
    assert f"ldap://localhost:{closed} cannot be reached" in message and "\n" not in message
    assert time.monotonic() - started < 10
    assert accounts.refresh_directory_accounts().disabled == 0  # down is not "gone": nobody is disabled


@pytest.mark.parametrize("mode", ["ldaps", "starttls"])
def test_tls_with_the_right_and_a_wrong_ca(make_accounts, slapd: Slapd, mode: str) -> None:
    transport = (
        {"ldap_use_ssl": True, "ldap_start_tls": False, "ldap_port": slapd.tls_port}
        if mode == "ldaps"
        else {"ldap_start_tls": True}
    )
    assert make_accounts(**transport).authenticate("alice", "alice-pw", IP).name == "alice"
    wrong = make_accounts(**transport, ldap_ca_file=str(slapd.other_ca_file))
    with pytest.raises(DirectoryUnavailable, match="TLS certificate is not trusted"):
        wrong.authenticate("alice", "alice-pw", IP)


def test_direct_bind_by_dn_template(make_accounts) -> None:
    accounts = make_accounts(
        ldap_bind_account="",
        ldap_bind_password_file="",
        ldap_user_dn_template="uid={user},ou=people,dc=example,dc=org",
        ldap_user_base="",
    )
    assert set(accounts.authenticate("alice", "alice-pw", IP).groups) == {"devs", "engineering", "sudoless-users"}
    with pytest.raises(AuthError, match="Incorrect Login"):
        accounts.authenticate("alice", "nope", IP)
    with pytest.raises(AuthError, match="Incorrect Login"):
        accounts.authenticate("carol", "carol-pw", IP)


def test_service_password_file_must_be_private(make_accounts, slapd: Slapd, tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.write_text(slapd.service_password_file.read_text())
    loose.chmod(0o644)
    with pytest.raises(ConfigError, match="can be read by other accounts"):
        make_accounts(ldap_bind_password_file=str(loose)).authenticate("alice", "alice-pw", IP)


def test_azkaban_property_names_configure_it(slapd: Slapd, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(f"""[sudoless]
auth_backends = "ldap,local"
ldap_start_tls = true
ldap_ca_file = "{slapd.ca_file}"
group_roles = {{ engineering = "readall", sudoless-admins = ["admin"] }}
"user.manager.ldap.host" = "{slapd.host}"
"user.manager.ldap.port" = {slapd.port}
"user.manager.ldap.useSsl" = false
"user.manager.ldap.userBase" = "ou=people,dc=example,dc=org"
"user.manager.ldap.userIdProperty" = "uid"
"user.manager.ldap.emailProperty" = "mail"
"user.manager.ldap.bindAccount" = "{SERVICE}"
"user.manager.ldap.bindPassword" = "{slapd.service_password_file}"
"user.manager.ldap.allowedGroups" = "sudoless-users,sudoless-admins"
"user.manager.ldap.groupSearchBase" = "{GROUPS}"
"user.manager.ldap.embeddedGroups" = false
""")
    settings = load_settings({"SUDOLESS_HOME": str(home)})
    assert (settings.ldap_port, settings.ldap_bind_password_file) == (slapd.port, str(slapd.service_password_file))
    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        accounts = Accounts(store, settings, hasher=CHEAP)
        assert accounts.authenticate("bob", "bob-pw", IP).is_admin
        assert accounts.authenticate("alice", "alice-pw", IP).roles == ("user", "readall")
    finally:
        store.close()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"auth_backends": "ldap,kerberos"}, "unknown back-end 'kerberos'; use local, ldap, pam"),
        ({"ldap_host": ""}, "ldap_host (user.manager.ldap.host) is not set"),
        ({"ldap_user_base": ""}, "set ldap_user_base (user.manager.ldap.userBase)"),
        ({"ldap_use_ssl": True}, "ldap_use_ssl and ldap_start_tls exclude each other"),
        ({"ldap_ca_file": "/nonexistent/ca.pem"}, "ldap_ca_file /nonexistent/ca.pem: no such file"),
        ({"group_roles": "admins"}, "'admins' is not GROUP=ROLE[+ROLE]"),
    ],
    ids=["backend", "host", "base", "tls", "ca", "roles"],
)
def test_settings_mistakes_are_one_line_config_errors(make_accounts, changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_accounts(**changes).authenticate("alice", "alice-pw", IP)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_the_server_refuses_to_start_with_a_sign_in_mistake(tmp_path: Path) -> None:
    import os
    import subprocess

    from cli.test_user_cli import SUDOLESS

    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[sudoless]\nauth_backends = "ldap,local"\n')
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SUDOLESS_")}, "SUDOLESS_HOME": str(home)}
    result = subprocess.run(
        [str(SUDOLESS), "server", "--port", "0"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "sudoless: auth_backends has ldap but ldap_host (user.manager.ldap.host) is not set"


def test_embedded_groups_from_member_of(make_accounts, slapd: Slapd) -> None:
    """Azkaban's embeddedGroups: the groups come from the user entry's memberOf (OpenLDAP's memberof overlay
    keeps it; it is filled when a group changes, so the test rewrites alice's and dave's groups first)."""
    from ldap3 import MODIFY_REPLACE, Connection, Server

    admin = Connection(Server("127.0.0.1", port=slapd.port), slapd.root_dn, slapd.root_password, auto_bind=True)
    try:
        for group, members in (
            ("devs", [slapd.dn("alice")]),
            ("engineering", [slapd.group_dn("devs")]),
            ("interns", [slapd.dn("dave")]),
        ):
            assert admin.modify(slapd.group_dn(group), {"member": [(MODIFY_REPLACE, members)]}), admin.result
    finally:
        admin.unbind()
    accounts = make_accounts(ldap_embedded_groups=True, ldap_group_search_base="", ldap_allowed_groups="engineering")
    alice = accounts.authenticate("alice", "alice-pw", IP)
    assert {"devs", "engineering"} <= set(alice.groups) and alice.roles == ("user", "readall")
    with pytest.raises(NotAllowed):
        accounts.authenticate("dave", "dave-pw", IP)


def test_user_refresh_command(slapd: Slapd, tmp_path: Path) -> None:
    """``sudoless user refresh`` re-reads directory accounts at once, and says when the directory is down."""
    import json
    import os
    import subprocess

    from cli.test_user_cli import SUDOLESS

    home = tmp_path / "home"
    home.mkdir()
    settings_text = f"""[sudoless]
auth_backends = "ldap,local"
ldap_host = "{slapd.host}"
ldap_port = {slapd.port}
ldap_start_tls = true
ldap_ca_file = "{slapd.ca_file}"
ldap_user_base = "ou=people,dc=example,dc=org"
ldap_bind_account = "{SERVICE}"
ldap_bind_password_file = "{slapd.service_password_file}"
ldap_group_search_base = "{GROUPS}"
ldap_allowed_groups = "sudoless-admins"
"""
    (home / "config.toml").write_text(settings_text)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SUDOLESS_")}, "SUDOLESS_HOME": str(home)}
    settings = load_settings({"SUDOLESS_HOME": str(home)})
    store = Store(settings.database_url)
    try:
        accounts = Accounts(store, settings, hasher=CHEAP)
        accounts.authenticate("bob", "bob-pw", IP)
    finally:
        store.close()
    (home / "config.toml").write_text(settings_text.replace('"sudoless-admins"', '"interns"'))
    result = subprocess.run(
        [str(SUDOLESS), "user", "refresh", "--json"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"updated": 0, "disabled": 1, "skipped": 0, "problem": None}
    (home / "config.toml").write_text(settings_text.replace(f"ldap_port = {slapd.port}", "ldap_port = 1"))
    result = subprocess.run([str(SUDOLESS), "user", "refresh"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1 and "0 updated, 0 disabled, 1 not checked" in result.stdout
    assert "cannot be reached" in result.stderr and len(result.stderr.strip().splitlines()) == 1
