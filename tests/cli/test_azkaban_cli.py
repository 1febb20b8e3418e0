"""``sudoless azkaban import`` as users run it: the console script against an Azkaban database on MariaDB."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from azkaban_import.azkaban_db import T0, azkaban_database
from cli.test_flow_cli import SUDOLESS, assert_one_line_error, sudoless
from server.live import HELLO, make_zip
from sudoless.azkaban_import.source import origin_of
from sudoless.store import Store

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
            assert store.projects.active() == []
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
            store.projects.create("second", "already here", "dave")
        finally:
            store.close()
        conflict = sudoless(home, "azkaban", "import", "--from", azkaban.url, "--history", "none")
        assert_one_line_error(conflict, "project second", "exists in sudoless already", "--on-conflict")


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    open_file = tmp_path / "password"
    open_file.write_text("secret\n")
    open_file.chmod(0o644)
    result = sudoless(
        home, "azkaban", "import", "--from", "mysql://root@127.0.0.1/azkaban", "--password-file", str(open_file)
    )
    assert_one_line_error(result, "can be read by other accounts")
    result = sudoless(home, "azkaban", "import", "--from", "mysql://root:pw@127.0.0.1/azkaban")
    assert_one_line_error(result, "holds a password", "--password-file")
    result = sudoless(home, "azkaban", "import", "--from", "mysql://root@127.0.0.1/azkaban", "--history", "soon")
    assert_one_line_error(result, "--history 'soon'")
    result = sudoless(
        home, "azkaban", "import", "--from", "mysql://root@127.0.0.1/azkaban", "--properties", str(tmp_path / "nope")
    )
    assert_one_line_error(result, f"--properties {tmp_path / 'nope'}: cannot read it")


def test_resume_after_kill(tmp_path: Path) -> None:
    """An import killed (SIGKILL) half-way is finished by the next run: every version once, byte-identical."""
    home = tmp_path / "home"
    db = f"sqlite:///{home / 'sudoless.db'}"
    zips = [make_zip({**HELLO, "padding.bin": os.urandom(6000), "n.txt": str(n)}) for n in range(60)]
    with azkaban_database() as azkaban:
        project = azkaban.add_project("big", "alice", "many versions")
        for n, data in enumerate(zips):
            azkaban.upload(project, data, "alice", T0 + n)
        recorded = _import_killed_after(home, db, azkaban.url, "version", 5, timeout=60)
        assert 5 <= recorded < len(zips)

        again = sudoless(home, "azkaban", "import", "--from", azkaban.url, "--db", db, "--json")
        assert again.returncode == 0, again.stderr
        report = json.loads(again.stdout)
        assert report["already_imported"]["projects"] == 1
        assert report["already_imported"]["versions"] + report["imported"]["versions"] == len(zips)

    store = Store(db)
    try:
        found = store.projects.get(name="big")
        assert found is not None and found.version == len(zips)
        versions = store.projects.versions(found.id)
        assert sorted(v.version for v in versions) == list(range(1, len(zips) + 1))
        for version in range(1, len(zips) + 1):
            data = store.projects.write_archive(found.id, version, tmp_path / f"{version}.zip").read_bytes()
            assert data == zips[version - 1]
        assert len(store.projects.events(found.id)) == 1 + len(zips)  # Azkaban's, each once
    finally:
        store.close()


def test_resume_after_kill_during_history(tmp_path: Path) -> None:
    """An import killed (SIGKILL) while it brings executions (a page of them committed, the next under way) is
    finished by the next run: every execution once, with its job attempts and its whole log."""
    from azkaban_import.test_import import hello_nodes

    home = tmp_path / "home"
    db = f"sqlite:///{home / 'sudoless.db'}"
    count = 700  # pages of 200: the kill lands after the first is committed
    with azkaban_database() as azkaban:
        project = azkaban.add_project("busy", "alice", "many runs")
        azkaban.upload(project, make_zip({**HELLO, "done.job": "type=noop\ndependencies=start\n"}), "alice", T0)
        sources = [
            azkaban.execution(
                project,
                1,
                "end",
                50,
                "alice",
                T0 + n,
                hello_nodes(T0 + n)[:1],
                {("hello", 1): f"run {n}\n".encode() * 30},
            )
            for n in range(count)
        ]
        recorded = _import_killed_after(home, db, azkaban.url, "execution", 200, timeout=120)
        assert 200 <= recorded < count

        again = sudoless(home, "azkaban", "import", "--from", azkaban.url, "--db", db, "--json")
        assert again.returncode == 0, again.stderr
        report = json.loads(again.stdout)
        assert report["already_imported"]["executions"] + report["imported"]["executions"] == count
        assert report["imported"]["executions"] <= count - 200
        origin = origin_of(azkaban.url)

    store = Store(db)
    try:
        ledger = store.imports.imported(origin, "execution")
        assert sorted(ledger) == sorted(str(s) for s in sources)
        with store.read() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM executions")).scalar_one() == count
            # hello failed once, then succeeded: two attempts each
            assert conn.execute(sa.text("SELECT COUNT(*) FROM job_runs")).scalar_one() == 2 * count
        for n, source in enumerate(sources):
            assert store.logs.read(ledger[str(source)], "hello", 1, 0, 1 << 20) == f"run {n}\n".encode() * 30
    finally:
        store.close()


def _recorded(path: Path, kind: str) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM azkaban_imports WHERE kind = ?", (kind,)).fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet


def _import_killed_after(home: Path, db: str, url: str, kind: str, at: int, timeout: float) -> int:
    """Start `sudoless azkaban import`, SIGKILL it once ``at`` rows of ``kind`` are recorded, and return how
    many were (asserting it was killed, not finished)."""
    env = {**os.environ, "SUDOLESS_HOME": str(home)}
    env.pop("SUDOLESS_DB", None)
    process = subprocess.Popen(
        [str(SUDOLESS), "azkaban", "import", "--from", url, "--db", db],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    recorded = 0
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        recorded = _recorded(home / "sudoless.db", kind)
        if recorded >= at:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the import ended before it could be interrupted"
    return recorded
