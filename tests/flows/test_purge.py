"""Purging a project leaves no per-project setting behind (SQLite, MariaDB, PostgreSQL)."""

from __future__ import annotations

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
