"""The rows behind ``sudoless azkaban import``: its ledger of what was imported, and the few writes that keep
an imported project's own times, owners and event log instead of the import's."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from sudoless.store import tables as t
from sudoless.store.engine import inserted_id
from sudoless.store.executions import ELSEWHERE

if TYPE_CHECKING:
    from sudoless.store import Store

__all__ = ["ImportQueries"]


class ImportQueries:
    """The import's ledger and writes on one :class:`~sudoless.store.Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def imported(self, origin: str, kind: str) -> dict[str, int]:
        """What was imported of ``kind`` from ``origin``: source key to local id."""
        a = t.azkaban_imports
        with self.store.read() as conn:
            rows = conn.execute(sa.select(a.c.source_key, a.c.local_id).where(a.c.origin == origin, a.c.kind == kind))
            return {row.source_key: int(row.local_id) for row in rows}

    def in_flight(self, origin: str) -> dict[str, tuple[int, str, int]]:
        """Executions imported from ``origin`` while they still ran there and not finished here since: source
        key to (local id, status, update time)."""
        a, e = t.azkaban_imports, t.executions
        query = (
            sa.select(a.c.source_key, e.c.id, e.c.status, e.c.update_time)
            .join(e, e.c.id == a.c.local_id)
            .where(a.c.origin == origin, a.c.kind == "execution", e.c.executor_id == ELSEWHERE)
        )
        with self.store.read() as conn:
            return {row.source_key: (int(row.id), row.status, int(row.update_time)) for row in conn.execute(query)}

    def record_import(self, origin: str, kind: str, source_key: str, local_id: int) -> None:
        with self.store.write() as conn:
            _record(conn, self.store, origin, kind, source_key, local_id)

    def set_version_time(self, project_id: int, version: int, upload_time: int) -> None:
        """Give an imported version the time it was uploaded to Azkaban (the uploader is set when it is stored)."""
        v = t.project_versions
        with self.store.write() as conn:
            conn.execute(
                v.update().where(v.c.project_id == project_id, v.c.version == version).values(upload_time=upload_time)
            )

    def set_project_times(
        self, project_id: int, created_time: int, modified_time: int, modified_by: str, description: str
    ) -> None:
        p = t.projects
        with self.store.write() as conn:
            conn.execute(
                p.update()
                .where(p.c.id == project_id)
                .values(
                    created_time=created_time,
                    modified_time=modified_time,
                    modified_by=modified_by,
                    description=description,
                )
            )

    def add_events(
        self, origin: str, source_key: str, project_id: int, events: list[dict[str, Any]], total: int
    ) -> None:
        """Append Azkaban events to a project's log and record that the first ``total`` of its events are in, in
        one transaction, so that an interrupted import neither loses nor repeats one."""
        with self.store.write() as conn:
            if events:
                conn.execute(t.project_events.insert(), [{"project_id": project_id, **row} for row in events])
            _record(conn, self.store, origin, "events", source_key, total)

    def create_imported_project(
        self, origin: str, source_key: str, name: str, description: str, user: str, created_time: int, active: bool
    ) -> int:
        """Insert an imported project as Azkaban had it, deleted ones included (those may share the name of an
        active project, as in Azkaban, which is why this is not :func:`projects.create_project`), with its ledger
        row in the same transaction."""
        with self.store.write() as conn:
            result = conn.execute(
                t.projects.insert().values(
                    name=name,
                    active=active,
                    description=description,
                    version=0,
                    created_time=created_time,
                    created_by=user,
                    modified_time=created_time,
                    modified_by=user,
                )
            )
            project_id = inserted_id(result)
            conn.execute(
                t.project_proxy_users.insert().values(
                    project_id=project_id, name=user, added_time=created_time, added_by=user
                )
            )
            _record(conn, self.store, origin, "project", source_key, project_id)
        return project_id

    def insert_executions(
        self,
        origin: str,
        executions: list[tuple[str, dict[str, Any], list[dict[str, Any]]]],
        logs: Callable[[], Iterable[tuple[int, str, int, int, bytes]]],
        replace: dict[str, int] | None = None,
    ) -> dict[str, int]:
        """Insert executions (source key, execution row, job attempt rows) with their ledger rows, then
        their log chunks (source execution id, name, attempt, start byte, data) as ``logs()`` streams them, in
        one transaction: an import killed half-way leaves each execution whole or absent. ``replace`` maps the
        source keys imported before while they ran (see :data:`ELSEWHERE`) to their ids here: those rows are
        rewritten in place, their attempts and logs replaced. Returns source key to the execution's id here.
        Statements are built once and run over many rows (tens of thousands of executions otherwise spend
        their time compiling SQL)."""
        ids: dict[str, int] = {}
        replace = replace or {}
        insert_execution = t.executions.insert()
        now = self.store.clock()
        with self.store.write() as conn:
            for key, execution, _ in executions:
                if key in replace:
                    ids[key] = replace[key]
                    conn.execute(t.executions.update().where(t.executions.c.id == replace[key]).values(**execution))
                    conn.execute(t.job_runs.delete().where(t.job_runs.c.exec_id == replace[key]))
                    conn.execute(t.logs.delete().where(t.logs.c.exec_id == replace[key]))
                else:
                    ids[key] = inserted_id(conn.execute(insert_execution, execution))
            jobs = [{"exec_id": ids[key], **row} for key, _, job_runs in executions for row in job_runs]
            if jobs:
                conn.execute(t.job_runs.insert(), jobs)
            ledger = [
                {"origin": origin, "kind": "execution", "source_key": key, "local_id": exec_id, "imported_time": now}
                for key, exec_id in ids.items()
                if key not in replace
            ]
            if ledger:
                conn.execute(t.azkaban_imports.insert(), ledger)
            pending: list[dict[str, Any]] = []
            size = 0
            for source_id, name, attempt, start, data in logs():
                pending.append(
                    {
                        "exec_id": ids[str(source_id)],
                        "name": name,
                        "attempt": attempt,
                        "start_byte": start,
                        "end_byte": start + len(data),
                        "data": data,
                    }
                )
                size += len(data)
                if len(pending) >= LOG_ROWS or size >= LOG_BYTES:
                    conn.execute(t.logs.insert(), pending)
                    pending, size = [], 0
            if pending:
                conn.execute(t.logs.insert(), pending)
        return ids


def _record(conn: sa.Connection, store: Store, origin: str, kind: str, source_key: str, local_id: int) -> None:
    """Insert or replace one ledger row."""
    a = t.azkaban_imports
    conn.execute(a.delete().where(a.c.origin == origin, a.c.kind == kind, a.c.source_key == source_key))
    conn.execute(
        a.insert().values(
            origin=origin, kind=kind, source_key=source_key, local_id=local_id, imported_time=store.clock()
        )
    )


#: Log chunks written per statement, and the most bytes held for one (bounds an import's memory).
LOG_ROWS = 200
LOG_BYTES = 8 << 20
