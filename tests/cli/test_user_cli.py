"""``sudoless user ...`` through the installed console script, as a user runs it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from sudoless.accounts import Accounts, Permission
from sudoless.config import Settings
from sudoless.store import Store

SUDOLESS = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "sudoless"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def sudoless(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUDOLESS_")}
    env["SUDOLESS_HOME"] = str(home)
    return subprocess.run([str(SUDOLESS), *args], input=stdin, capture_output=True, text=True, env=env, timeout=120)


def ok(home: Path, *args: str, stdin: str = "") -> str:
    result = sudoless(home, *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout


def open_accounts(home: Path) -> tuple[Store, Accounts]:
    settings = Settings(home=home)
    store = Store(settings.database_url)
    return store, Accounts(store, settings)


def test_add_list_grant_remove(home: Path):
    ok(
        home,
        "user",
        "add",
        "alice",
        "--role",
        "readall",
        "--group",
        "team1",
        "--email",
        "a@example.com",
        "--password-stdin",
        stdin="s3cret pass\n",
    )
    ok(home, "user", "add", "bob", "--password-stdin", stdin="pw\n")
    listed = json.loads(ok(home, "user", "list", "--json"))
    assert listed == {
        "users": [
            {
                "name": "alice",
                "roles": ["readall"],
                "groups": ["team1"],
                "proxyUsers": [],
                "email": "a@example.com",
                "permissions": ["READ"],
                "source": "local",
                "lastLogin": None,
            },
            {
                "name": "bob",
                "roles": ["user"],
                "groups": [],
                "proxyUsers": [],
                "email": "",
                "permissions": ["UPLOADPROJECTS", "CREATEPROJECTS"],
                "source": "local",
                "lastLogin": None,
            },
        ]
    }
    store, accounts = open_accounts(home)
    try:
        assert accounts.authenticate("alice", "s3cret pass", "127.0.0.1").name == "alice"
        project_id = store.projects.id_of("etl", create_as="alice")
        granted = json.loads(ok(home, "user", "grant", "bob", "etl", "read", "EXECUTE", "--json"))
        assert granted == {"project": "etl", "name": "bob", "group": False, "permissions": ["READ", "EXECUTE"]}
        ok(home, "user", "grant", "bob", "etl", "write")  # adds to what bob has
        ok(home, "user", "grant", "team1", "etl", "SCHEDULE", "--group")
        grants = {(n, g): p.names() for n, g, p in accounts.project_permissions(project_id)}
        assert grants == {("bob", False): ["READ", "WRITE", "EXECUTE"], ("team1", True): ["SCHEDULE"]}
        bob = accounts.get_user("bob")
        assert accounts.has_permission(bob, project_id, Permission.EXECUTE)
        ok(home, "user", "revoke", "bob", "etl", "execute")
        assert not accounts.has_permission(bob, project_id, Permission.EXECUTE)
        assert accounts.has_permission(bob, project_id, Permission.READ | Permission.WRITE)
        ok(home, "user", "remove", "bob")
        assert [u["name"] for u in json.loads(ok(home, "user", "list", "--json"))["users"]] == ["alice"]
        assert [n for n, _, _ in accounts.project_permissions(project_id)] == ["team1"]
    finally:
        store.close()


def test_without_terminal_or_stdin_a_password_is_generated_and_shown_once(home: Path):
    out = ok(home, "user", "add", "carol")
    password = out.strip().splitlines()[-1].split(": ", 1)[1]
    assert len(password) == 20
    store, accounts = open_accounts(home)
    try:
        assert accounts.authenticate("carol", password, "127.0.0.1").name == "carol"
        out = ok(home, "user", "passwd", "carol", "--password-stdin", stdin="changed\n")
        assert "changed" in out and "password for carol:" not in out
        assert accounts.authenticate("carol", "changed", "127.0.0.1").name == "carol"
    finally:
        store.close()


def test_import(home: Path, tmp_path: Path):
    xml = tmp_path / "azkaban-users.xml"
    xml.write_text(
        '<azkaban-users>\n  <user username="azkaban" password="azkaban" roles="admin"/>\n'
        '  <user username="metrics" password="metrics" roles="metrics"/>\n</azkaban-users>\n'
    )
    assert json.loads(ok(home, "user", "import", str(xml), "--json")) == {"imported": ["azkaban", "metrics"]}
    store, accounts = open_accounts(home)
    try:
        assert accounts.authenticate("azkaban", "azkaban", "127.0.0.1").is_admin
    finally:
        store.close()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["user", "add", "dup", "--password-stdin"], "pw\n", "user 'dup' already exists"),
        (["user", "add", "bad name", "--password-stdin"], "pw\n", "user name 'bad name' is not valid"),
        (["user", "add", "eve", "--role", "wizard", "--password-stdin"], "pw\n", "role 'wizard' is not defined"),
        (["user", "add", "eve", "--password-stdin"], "", "stdin is empty"),
        (["user", "grant", "dup", "nosuchproject", "READ"], "", "Project 'nosuchproject' doesn't exist."),
        (["user", "grant", "dup", "known", "FLY"], "", "unknown permission 'FLY'"),
        (["user", "grant", "ghost", "known", "READ"], "", "User 'ghost' doesn't exist"),
        (["user", "remove", "ghost"], "", "user 'ghost' doesn't exist"),
        (["user", "passwd", "ghost", "--password-stdin"], "pw\n", "user 'ghost' doesn't exist"),
        (["user", "import", "DOCTYPE"], "", "DOCTYPE declaration is not allowed"),
    ],
)
def test_errors_exit_2_with_one_line(home: Path, tmp_path: Path, args: list[str], stdin: str, message: str):
    ok(home, "user", "add", "dup", "--password-stdin", stdin="pw\n")
    store = Store(Settings(home=home).database_url)
    store.projects.id_of("known", create_as="dup")
    store.close()
    hostile = tmp_path / "hostile.xml"
    hostile.write_text('<!DOCTYPE x [<!ENTITY a "b">]>\n<azkaban-users/>\n')
    args = [str(hostile) if a == "DOCTYPE" else a for a in args]
    result = sudoless(home, *args, stdin=stdin)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("sudoless: ") and message in result.stderr
