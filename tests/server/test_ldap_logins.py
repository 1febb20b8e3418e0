"""Directory accounts over real HTTP, with a real OpenLDAP (tests/support/slapd.py) behind a live server: the three
logins (Azkaban's action=login, /ui/login, /api/v1/login) and the ``azkaban`` PyPI client sign in with LDAP
accounts as with local ones; the server's own refresh timer ends the sessions and tokens of someone removed
from the allowed groups; the users API shows where accounts come from and when they last logged in."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from ldap3 import MODIFY_ADD, MODIFY_DELETE, Connection, Server

from accounts.test_ldap import ldap_settings
from server.live import LiveServer, server_settings, start_live, unique
from sudoless.server.sessions import COOKIE, csrf_token, load_secret
from sudoless.store import Store
from support.eventually import eventually
from support.slapd import Slapd


@pytest.fixture(scope="module")
def directory_live(slapd: Slapd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("ldap-server")
    db_url = f"sqlite:///{home / 'sudoless.db'}"
    directory = ldap_settings(home / "home", slapd, directory_refresh_seconds=1.0)
    settings = dataclasses.replace(
        server_settings(home / "home", db_url),
        **{
            f.name: getattr(directory, f.name)
            for f in dataclasses.fields(directory)
            if f.name.startswith(("ldap_", "auth_", "group_", "directory_"))
        },
    )
    store = Store(db_url)
    server = start_live(settings, store)
    yield server
    server.stop()
    store.close()


def ajax_login(live: LiveServer, user: str, password: str) -> dict[str, str]:
    answer = live.http().post("/", data={"action": "login", "username": user, "password": password})
    return json.loads(answer.text)  # type: ignore[no-any-return]


def test_every_login_accepts_directory_accounts(directory_live: LiveServer) -> None:
    live = directory_live
    assert "session.id" in ajax_login(live, "alice", "alice-pw")
    assert ajax_login(live, "alice", "nope") == {"error": "Incorrect Login. Username/Password not found."}
    refused = ajax_login(live, "dave", "dave-pw")
    assert "none of the groups allowed" in refused["error"]
    assert "session.id" in ajax_login(live, live.admin, live.password)  # the local admin, after the directory

    api = live.http()
    token = api.post("/api/v1/login", json={"username": "bob", "password": "bob-pw"}).json()["token"]
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert (me["name"], me["admin"], me["source"]) == ("bob", True, "ldap") and me["last_login"] > 0
    users = {u["name"]: u for u in api.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"}).json()}
    assert users["alice"]["source"] == "ldap" and users[live.admin]["source"] == "local"

    form = live.http(follow_redirects=False).post("/ui/login", data={"username": "alice", "password": "alice-pw"})
    assert form.status_code == 303 and form.headers["location"] == "/ui/projects"

    # The admin pages say where each account comes from, and show the group-to-role mapping.
    page = live.http(cookies={COOKIE: live.as_admin().sid}).get("/ui/users")
    assert page.status_code == 200
    row = page.text[page.text.index('<th scope="row">alice') :]
    assert '<td class="user-source">ldap</td>' in row[: row.index("</tr>")]
    assert 'id="group-role-table"' in page.text and "sudoless-admins" in page.text

    # A directory group can also get roles on the admin page; its members hold them at once.
    admin_ui = live.http(cookies={COOKIE: live.as_admin().sid}, follow_redirects=False)
    before = api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    alice_token = api.post("/api/v1/login", json={"username": "alice", "password": "alice-pw"}).json()["token"]
    alice = {"Authorization": f"Bearer {alice_token}"}
    assert "METRICS" not in api.get("/api/v1/me", headers=alice).json()["permissions"]
    csrf = csrf_token(load_secret(live.settings.home), admin_ui.cookies[COOKIE])
    done = admin_ui.post("/ui/groups", data={"group": "devs", "role": ["metrics"], "csrf.token": csrf})
    assert done.status_code == 303, done.text
    assert "METRICS" in api.get("/api/v1/me", headers=alice).json()["permissions"]
    assert (
        before["permissions"]
        == api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()["permissions"]
    )


def test_the_azkaban_client_logs_in_with_a_directory_account(
    directory_live: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = pytest.importorskip("azkaban.remote", reason="the 'azkaban' client (pip install azkaban==0.9.14)")
    monkeypatch.setenv("HOME", str(tmp_path))
    session = remote.Session(directory_live.url.replace("http://", "http://alice:alice-pw@"))
    name = unique("ldapaz")
    session.create_project(name, "made by a directory account")
    assert directory_live.store.projects.get(name=name) is not None
    local = remote.Session(
        directory_live.url.replace("http://", f"http://{directory_live.admin}:{directory_live.password}@")
    )
    local.create_project(unique("localaz"), "made by the local admin")


def test_the_refresh_timer_ends_access_of_someone_removed_from_the_group(
    directory_live: LiveServer, slapd: Slapd
) -> None:
    live = directory_live
    sid = ajax_login(live, "erin", "erin-pw")["session.id"]
    http = live.http()
    me = http.post("/api/v1/login", json={"username": "erin", "password": "erin-pw"}).json()["token"]
    made = http.post(
        "/api/v1/tokens", headers={"Authorization": f"Bearer {me}"}, json={"name": "script", "scopes": {"*": ["READ"]}}
    )
    token = made.json()["token"]
    assert http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    admin = Connection(Server("127.0.0.1", port=slapd.port), slapd.root_dn, slapd.root_password, auto_bind=True)
    group = slapd.group_dn("sudoless-users")
    try:
        assert admin.modify(group, {"member": [(MODIFY_DELETE, [slapd.dn("erin")])]}), admin.result
        params = {"ajax": "fetchuserprojects", "session.id": sid}
        eventually(
            lambda: http.get("/index", params=params).json(),
            {"error": "session"},
            timeout=15,
            interval=0.2,
            what="erin's session ended by the refresh",
        )
        assert http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    finally:
        admin.modify(group, {"member": [(MODIFY_ADD, [slapd.dn("erin")])]})
        admin.unbind()
