"""``sudoless token create|list|revoke`` in a subprocess, on the database of a temporary home."""

from __future__ import annotations

import json
from pathlib import Path

from cli.test_user_cli import home, ok, open_accounts, sudoless  # noqa: F401 (home is a fixture)
from sudoless.accounts import Permission


def test_create_list_revoke(home: Path) -> None:  # noqa: F811
    ok(home, "user", "add", "robot", "--password-stdin", stdin="pw\n")
    store, accounts = open_accounts(home)
    try:
        project_id = store.projects.id_of("etl", create_as="robot")
        refused = sudoless(home, "token", "create", "t", "--user", "robot", "--scope", "etl:read")
        assert refused.returncode == 2 and "doesn't have READ on etl" in refused.stderr
        ok(home, "user", "grant", "robot", "etl", "read", "execute", "write")
        made = json.loads(
            ok(
                home,
                "token",
                "create",
                "nightly",
                "--user",
                "robot",
                "--scope",
                "etl:read,execute",
                "--days",
                "7",
                "--json",
            )
        )
        token = made.pop("token")
        assert token.startswith("sdl_")
        assert made["scopes"] == {"etl": ["READ", "EXECUTE"]} and made["lastUsed"] is None
        assert made["expires"] - made["created"] == 7 * 24 * 3600 * 1000
        user = accounts.session_user(token)
        assert user is not None and user.name == "robot"
        assert accounts.has_permission(user, project_id, Permission.EXECUTE)
        assert not accounts.has_permission(user, project_id, Permission.WRITE)
        listed = json.loads(ok(home, "token", "list", "--user", "robot", "--json"))["tokens"]
        assert [(t["name"], t["scopes"], "token" in t) for t in listed] == [
            ("nightly", {"etl": ["READ", "EXECUTE"]}, False)
        ]
        human = ok(home, "token", "list", "--user", "robot")
        assert "nightly" in human and token not in human
        ok(home, "token", "revoke", "nightly", "--user", "robot")
        assert accounts.session_user(token) is None
        assert json.loads(ok(home, "token", "list", "--user", "robot", "--json")) == {"tokens": []}
    finally:
        store.close()


def test_errors_exit_2_with_one_line(home: Path) -> None:  # noqa: F811
    ok(home, "user", "add", "robot", "--password-stdin", stdin="pw\n")
    cases = [
        (["token", "create", "t", "--user", "robot", "--scope", "etl"], "write PROJECT:PERMISSION"),
        (["token", "create", "t", "--user", "robot", "--scope", "*:admin"], "READ, EXECUTE and SCHEDULE only"),
        (["token", "create", "t", "--user", "robot", "--scope", "nope:read"], "project 'nope' doesn't exist"),
        (["token", "create", "t", "--user", "ghost", "--scope", "*:read"], "user 'ghost' doesn't exist"),
        (["token", "create", "t", "--user", "robot", "--scope", "*:read", "--days", "900"], "1 to 366 days"),
        (["token", "revoke", "t", "--user", "robot"], "has no token named 't'"),
    ]
    for args, message in cases:
        result = sudoless(home, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)
