"""Purging a project leaves no per-project setting behind (SQLite, MariaDB, PostgreSQL)."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import sqlalchemy as sa

from flows.harness import write_project
from sudoless.config import Settings
from sudoless.flows import projects
from sudoless.flows.scheduler import Scheduler
from sudoless.flows.upload import upload_project
from sudoless.store import Store
from sudoless.store import project_settings as ps
from sudoless.store import tables as t
from support.eventually import eventually

#: what purging removes, and what stays as the project's history
GONE = (
    t.project_files,
    t.project_flows,
    t.project_versions,
    t.job_overrides,
    t.flow_locks,
    t.project_sandbox,
    t.project_proxy_users,
    t.schedules,
)
KEPT = (t.projects, t.permissions, t.project_events)


def _rows(store: Store, table: sa.Table, project_id: int) -> int:
    column = table.c.id if table is t.projects else table.c.project_id
    with store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(column == project_id)).scalar_one())


def test_purge_removes_every_per_project_row_but_the_history(store: Store, settings: Settings, tmp_path: Path) -> None:
    project_path = write_project(tmp_path / "p", {"a.job": "type=command\ncommand=true\n"})
    name = f"purged-{id(store) % 100_000}-{tmp_path.name[-12:]}"
    upload_project(store, settings, project_path, "tester", name=name)
    record = store.projects.get(name=name)
    assert record is not None
    store.project_settings.set_flow_lock(record.id, "a", True, "frozen", "tester")
    store.project_settings.set_job_override(record.id, record.version, "", "a", {"command": "echo x"}, "tester")
    store.project_settings.set_sandbox_grants(record.id, ps.SandboxGrants(read=(str(tmp_path),)), "admin")
    store.project_settings.add_proxy_user(record.id, "etl", "tester")
    with store.write() as conn:
        conn.execute(
            t.permissions.insert().values(
                project_id=record.id, name="tester", is_group=False, permissions=1, modified_time=1
            )
        )
    projects.delete_project(store, Scheduler(store, settings), record, "tester")
    with store.write() as conn:  # a schedule left behind (delete_project removes them; purge must too)
        conn.execute(
            t.schedules.insert().values(
                project_id=record.id,
                flow_id="a",
                cron="0 0 * * * ?",
                timezone="UTC",
                submit_user="tester",
                submit_time=1,
                options="{}",
                enabled=True,
            )
        )
    for table in GONE + KEPT:
        assert _rows(store, table, record.id) > 0, table.name
    deleted = store.projects.get(project_id=record.id, active_only=False)
    assert deleted is not None and not deleted.active
    projects.purge_project(store, deleted, "tester")
    for table in GONE:
        assert _rows(store, table, record.id) == 0, table.name
    for table in KEPT:
        assert _rows(store, table, record.id) > 0, table.name


def test_a_purge_gives_sqlite_space_back_while_another_connection_writes(
    sqlite_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """A purged project's archive leaves free pages in the SQLite file; the server gives them back to the disk
    in small steps (auto_vacuum=INCREMENTAL since the file was made), not by a VACUUM holding the write lock
    for the whole file, so another connection's writes go on through it and the file still shrinks."""
    store = sqlite_store
    project_path = write_project(tmp_path / "p", {"a.job": "type=command\ncommand=true\n"})
    (project_path / "blob.bin").write_bytes(os.urandom(8 << 20))  # 8 MB that does not compress
    upload_project(store, settings, project_path, "tester", name="bulky")
    record = store.projects.get(name="bulky")
    assert record is not None
    projects.delete_project(store, Scheduler(store, settings), record, "tester")
    database = Path(store.engine.url.database or "")
    store.engine.dispose()  # checkpoints the WAL into the file
    before = database.stat().st_size
    assert before > 8 << 20

    other, stop, written, errors = Store(store.url), threading.Event(), [0], []

    def write() -> None:
        while not stop.is_set():
            try:
                other.projects.add_event(record.id, "TEST", "writer", f"write {written[0]}")
                written[0] += 1
                time.sleep(0.005)
            except Exception as exc:  # e.g. "database is locked" past the busy timeout
                errors.append(exc)
                return

    writer = threading.Thread(target=write)
    writer.start()
    try:
        eventually(lambda: written[0], lambda n: n > 10)
        deleted = store.projects.get(project_id=record.id, active_only=False)
        assert deleted is not None
        projects.purge_project(store, deleted, "tester")
        at_purge = written[0]
        for thread in threading.enumerate():
            if thread.name == "sudoless-release-pages":
                thread.join(timeout=120)
        during = written[0] - at_purge
    finally:
        stop.set()
        writer.join()
        other.close()
    assert errors == [] and during > 0  # the writer wrote while the pages went back
    after = database.stat().st_size
    assert before - after > 7 << 20, (before, after)
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 2
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


def test_an_older_sqlite_file_is_made_incremental_by_the_compaction_of_clean(sqlite_store: Store) -> None:
    """A file made before auto_vacuum=INCREMENTAL: the server's steps give nothing back (they cannot), and
    the VACUUM of ``sudoless clean`` (Store.reclaim_space) converts it, so that later removals can."""
    store = sqlite_store
    database = store.engine.url.database or ""
    store.engine.dispose()
    old = sqlite3.connect(database, isolation_level=None)
    old.execute("PRAGMA auto_vacuum=NONE")
    old.execute("VACUUM")  # as sudoless made files before
    assert old.execute("PRAGMA auto_vacuum").fetchall() == [(0,)]
    old.close()
    assert store.reclaim_space(online=True) == 0
    store.reclaim_space()
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 2
