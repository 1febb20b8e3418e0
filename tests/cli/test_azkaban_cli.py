"""``sudoless azkaban import`` as users run it: the console script against an Azkaban database on MariaDB."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from azkaban_import.azkaban_db import T0, azkaban_database
from cli.test_flow_cli import assert_one_line_error, sudoless
from server.live import HELLO, make_zip
from sudoless.flows.store import Store
from sudoless.flows.store import projects as queries

pytestmark = pytest.mark.services


def test_dry_run_then_import_then_conflict(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with azkaban_database() as azkaban:
        project = azkaban.add_project("hello", "alice", "greetings")
        azkaban.upload(project, make_zip(HELLO), "alice", T0)
        azkaban.schedule(project, "hello", "end", "0 0 3 ? * *", "Europe/Paris", "alice")

        dry = sudoless(home, "azkaban", "import", "--from", azkaban.url, "--dry-run", "--json")
        assert dry.returncode == 0, dry.stderr
        report = json.loads(dry.stdout)
        assert report["dry_run"]
        assert report["imported"] == {"events": 2, "permissions": 1, "projects": 1, "schedules": 1, "versions": 1}
        store = Store(f"sqlite:///{home / 'sudoless.db'}")
        try:
            assert queries.list_projects(store) == []
        finally:
            store.close()

        done = sudoless(home, "azkaban", "import", "--from", azkaban.url, "--history", "none")
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[0] == "imported: 2 events, 1 permissions, 1 projects, 1 schedules, 1 versions"
        assert any(line.startswith("note: schedules are imported paused") for line in done.stdout.splitlines())

        again = sudoless(home, "azkaban", "import", "--from", azkaban.url, "--history", "none", "--json")
        assert json.loads(again.stdout)["imported"] == {}

        other = azkaban.add_project("second", "bob")
        azkaban.upload(other, make_zip(HELLO), "bob", T0)
        store = Store(f"sqlite:///{home / 'sudoless.db'}")
        try:
            queries.create_project(store, "second", "already here", "dave")
        finally:
            store.close()
        conflict = sudoless(home, "azkaban", "import", "--from", azkaban.url, "--history", "none")
        assert_one_line_error(conflict, "project second", "exists in sudoless already", "--on-conflict")


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    open_file = tmp_path / "password"
    open_file.write_text("secret\n")
    open_file.chmod(0o644)
    result = sudoless(home, "azkaban", "import", "--from", "mysql://root@127.0.0.1/azkaban",
                      "--password-file", str(open_file))
    assert_one_line_error(result, "can be read by other accounts")
    result = sudoless(home, "azkaban", "import", "--from", "mysql://root:pw@127.0.0.1/azkaban")
    assert_one_line_error(result, "holds a password", "--password-file")
    result = sudoless(home, "azkaban", "import", "--from", "mysql://root@127.0.0.1/azkaban", "--history", "soon")
    assert_one_line_error(result, "--history 'soon'")
