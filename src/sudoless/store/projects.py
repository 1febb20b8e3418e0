"""Queries on projects beyond upload and run: lookup, listing, deletion, the audit log, execution paging,
stored archives and the executor table, as the HTTP API needs them.

Functions take the :class:`~sudoless.store.Store` they work on; like the rest of the package they
use SQLAlchemy Core with bound parameters only.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from sudoless.errors import StateError
from sudoless.store import ExecutionRecord, Store, _execution
from sudoless.store import tables as t
from sudoless.store.engine import inserted_id
from sudoless.store.status import TERMINAL_FLOW, Status

__all__ = [
    "EventRecord", "ExecutorRecord", "FlowRecord", "ProjectRecord", "VersionRecord", "add_event",
    "count_executions", "create_project", "database_up", "deactivate_project", "executors", "find_executions",
    "flow_records", "get_project", "iter_archive", "list_projects", "list_versions", "project_events",
    "purge_project", "running_exec_ids", "set_description", "version_record",
]


@dataclass(frozen=True)
class ProjectRecord:
    id: int
    name: str
    active: bool
    description: str
    version: int
    created_time: int
    created_by: str
    modified_time: int
    modified_by: str


@dataclass(frozen=True)
class VersionRecord:
    project_id: int
    version: int
    upload_time: int
    uploader: str
    file_name: str
    md5: str
    size: int
    num_chunks: int
    flow_version: str


@dataclass(frozen=True)
class FlowRecord:
    """One stored flow of a project version: its graph (see ``upload.flow_graph``)."""

    flow_id: str
    embedded: bool
    graph: dict[str, Any]


@dataclass(frozen=True)
class EventRecord:
    user: str
    time: int
    type: str
    message: str


@dataclass(frozen=True)
class ExecutorRecord:
    id: int
    host: str
    pid: int
    started: int
    heartbeat: int
    active: bool


def _project(row: Any) -> ProjectRecord:
    return ProjectRecord(id=int(row.id), name=row.name, active=bool(row.active),
                         description=row.description or "", version=int(row.version),
                         created_time=int(row.created_time), created_by=row.created_by,
                         modified_time=int(row.modified_time), modified_by=row.modified_by)


def get_project(store: Store, name: str | None = None, project_id: int | None = None,
                active_only: bool = True) -> ProjectRecord | None:
    """The project called ``name`` (or with ``project_id``); None when there is none."""
    query = _project_query(name is not None, project_id is not None, active_only)
    with store.read() as conn:
        row = conn.execute(query, {"name": name, "project_id": project_id}).first()
    return _project(row) if row else None


# The lookups every API request makes, built once (building a Core select costs more than running it).
@functools.lru_cache(maxsize=8)
def _project_query(by_name: bool, by_id: bool, active_only: bool) -> sa.Select[Any]:
    p = t.projects
    query = sa.select(p)
    if by_name:
        query = query.where(p.c.name == sa.bindparam("name"))
    if by_id:
        query = query.where(p.c.id == sa.bindparam("project_id"))
    if active_only:
        query = query.where(p.c.active.is_(True))
    return query.order_by(p.c.id.desc()).limit(1)


_COUNT_EXECUTIONS = sa.select(sa.func.count()).select_from(t.executions).where(
    t.executions.c.project_id == sa.bindparam("project_id"))
_COUNT_FLOW_EXECUTIONS = _COUNT_EXECUTIONS.where(t.executions.c.flow_id == sa.bindparam("flow_id"))
_FLOWS = sa.select(t.project_flows).where(t.project_flows.c.project_id == sa.bindparam("project_id"),
                                          t.project_flows.c.version == sa.bindparam("version"))


def list_projects(store: Store) -> list[ProjectRecord]:
    """Active projects, by name."""
    p = t.projects
    with store.read() as conn:
        rows = conn.execute(sa.select(p).where(p.c.active.is_(True)).order_by(p.c.name)).all()
    return [_project(row) for row in rows]


def create_project(store: Store, name: str, description: str, user: str) -> int:
    """Insert an active project; an active project of that name already existing is a StateError."""
    p = t.projects
    with store.write() as conn:
        exists = conn.execute(sa.select(p.c.id).where(p.c.name == name, p.c.active.is_(True))).first()
        if exists:
            raise StateError("Project already exists.")
        now = store.clock()
        result = conn.execute(p.insert().values(
            name=name, active=True, description=description, version=0, created_time=now, created_by=user,
            modified_time=now, modified_by=user))
        project_id = inserted_id(result)
        # Azkaban's creator.default.proxy: the creator is the project's first proxy user.
        conn.execute(t.project_proxy_users.insert().values(project_id=project_id, name=user, added_time=now,
                                                           added_by=user))
        _insert_event(conn, store, project_id, "CREATED", user, "Project created.")
    return project_id


def deactivate_project(store: Store, project_id: int, user: str) -> None:
    """Mark a project deleted (Azkaban keeps the row, inactive; the name can be reused)."""
    p = t.projects
    with store.write() as conn:
        conn.execute(p.update().where(p.c.id == project_id).values(
            active=False, modified_time=store.clock(), modified_by=user))
        _insert_event(conn, store, project_id, "DELETED", user, "Project deleted.")


def purge_project(store: Store, project_id: int, user: str) -> None:
    """Delete every stored version (archives and flow graphs) of a deleted project, and every setting that
    only meant something for its versions' jobs: job overrides, flow locks, sandbox grants, proxy users,
    schedules and flow triggers. Its row, permissions, audit events and executions stay: they are the history
    that whoever could read the project may still read."""
    with store.write() as conn:
        for table in (t.project_files, t.project_flows, t.job_overrides, t.flow_locks, t.project_sandbox,
                      t.project_proxy_users, t.schedules, t.flow_triggers, t.project_versions):
            conn.execute(table.delete().where(table.c.project_id == project_id))
        _insert_event(conn, store, project_id, "PURGE", user, "Project purged.")


def set_description(store: Store, project_id: int, description: str, user: str) -> None:
    p = t.projects
    with store.write() as conn:
        conn.execute(p.update().where(p.c.id == project_id).values(
            description=description, modified_time=store.clock(), modified_by=user))
        _insert_event(conn, store, project_id, "DESCRIPTION", user, f"Description changed to {description}")


def add_event(store: Store, project_id: int, kind: str, user: str, message: str) -> None:
    """Append to a project's audit log (``fetchProjectLogs``); ``kind`` is Azkaban's event type name."""
    with store.write() as conn:
        _insert_event(conn, store, project_id, kind, user, message)


#: Event messages are cut to this many characters: MySQL's TEXT holds 64 KB, and a character may take 4 bytes.
MAX_EVENT_CHARS = 16_000


def _insert_event(conn: sa.Connection, store: Store, project_id: int, kind: str, user: str,
                  message: str) -> None:
    if len(message) > MAX_EVENT_CHARS:
        message = message[:MAX_EVENT_CHARS - 15] + " [... truncated]"
    conn.execute(t.project_events.insert().values(
        project_id=project_id, event_type=kind, event_time=store.clock(), username=user, message=message))


def project_events(store: Store, project_id: int, skip: int = 0, size: int = 1000) -> list[EventRecord]:
    """A project's audit log, newest first."""
    e = t.project_events
    query = sa.select(e).where(e.c.project_id == project_id).order_by(
        e.c.event_time.desc(), e.c.id.desc()).limit(max(size, 0)).offset(max(skip, 0))
    with store.read() as conn:
        rows = conn.execute(query).all()
    return [EventRecord(user=row.username, time=int(row.event_time), type=row.event_type, message=row.message)
            for row in rows]


def count_executions(store: Store, project_id: int, flow_id: str | None = None) -> int:
    query = _COUNT_EXECUTIONS if flow_id is None else _COUNT_FLOW_EXECUTIONS
    with store.read() as conn:
        return int(conn.execute(query, {"project_id": project_id, "flow_id": flow_id}).scalar_one())


def running_exec_ids(store: Store, project_id: int, flow_id: str) -> list[int]:
    """Executions of a flow that have not finished (Azkaban's "running": any non-terminal status)."""
    e = t.executions
    query = sa.select(e.c.id).where(
        e.c.project_id == project_id, e.c.flow_id == flow_id,
        e.c.status.not_in([s.value for s in TERMINAL_FLOW])).order_by(e.c.id)
    with store.read() as conn:
        return [int(x) for x in conn.execute(query).scalars()]


def version_record(store: Store, project_id: int, version: int) -> VersionRecord | None:
    v = t.project_versions
    with store.read() as conn:
        row = conn.execute(sa.select(v).where(v.c.project_id == project_id, v.c.version == version)).first()
    return _version(row) if row is not None else None


def _version(row: Any) -> VersionRecord:
    return VersionRecord(project_id=int(row.project_id), version=int(row.version),
                         upload_time=int(row.upload_time),
                         uploader=row.uploader, file_name=row.file_name, md5=row.md5, size=int(row.size),
                         num_chunks=int(row.num_chunks), flow_version=row.flow_version)


def list_versions(store: Store, project_id: int) -> list[VersionRecord]:
    """Every stored version of a project, newest first."""
    v = t.project_versions
    with store.read() as conn:
        rows = conn.execute(sa.select(v).where(v.c.project_id == project_id).order_by(v.c.version.desc())).all()
    return [_version(row) for row in rows]


def find_executions(store: Store, project_ids: Sequence[int] | None = None, flow_id: str | None = None,
                    statuses: Sequence[Status] | None = None, submit_user: str | None = None,
                    submitted_after: int | None = None, submitted_before: int | None = None,
                    limit: int = 100, offset: int = 0) -> tuple[list[ExecutionRecord], int]:
    """One page of executions matching every filter given, newest first, and the number that match.

    ``project_ids`` None means any project; an empty list matches nothing (a caller who may read no
    project). Submission times are epoch ms, ``submitted_after`` inclusive, ``submitted_before`` exclusive.
    """
    e = t.executions
    where: list[sa.ColumnElement[bool]] = []
    if project_ids is not None:
        if not project_ids:
            return [], 0
        where.append(e.c.project_id.in_(list(project_ids)))
    if flow_id is not None:
        where.append(e.c.flow_id == flow_id)
    if statuses:
        where.append(e.c.status.in_([s.value for s in statuses]))
    if submit_user is not None:
        where.append(e.c.submit_user == submit_user)
    if submitted_after is not None:
        where.append(e.c.submit_time >= submitted_after)
    if submitted_before is not None:
        where.append(e.c.submit_time < submitted_before)
    page = sa.select(e).where(*where).order_by(e.c.id.desc()).limit(max(limit, 0)).offset(max(offset, 0))
    with store.read() as conn:
        rows = conn.execute(page).all()
        total = int(conn.execute(sa.select(sa.func.count()).select_from(e).where(*where)).scalar_one())
    return [_execution(row) for row in rows], total


def iter_archive(store: Store, project_id: int, version: int) -> Iterator[bytes]:
    """The stored zip of a version, chunk by chunk, each chunk read in its own short transaction."""
    f = t.project_files
    with store.read() as conn:
        chunks = list(conn.execute(sa.select(f.c.chunk).where(
            f.c.project_id == project_id, f.c.version == version).order_by(f.c.chunk)).scalars())
    for chunk in chunks:
        with store.read() as conn:
            data = conn.execute(sa.select(f.c.data).where(
                f.c.project_id == project_id, f.c.version == version, f.c.chunk == chunk)).scalar_one()
        yield bytes(data)


def flow_records(store: Store, project_id: int, version: int) -> dict[str, FlowRecord]:
    """Every flow stored for a version, embedded ones included, by flow id."""
    with store.read() as conn:
        rows = conn.execute(_FLOWS, {"project_id": project_id, "version": version}).all()
    return {row.flow_id: FlowRecord(flow_id=row.flow_id, embedded=bool(row.embedded),
                                    graph=json.loads(row.data)) for row in rows}


def executors(store: Store) -> list[ExecutorRecord]:
    """Executors marked active (their heartbeat may still be stale; compare it with the clock)."""
    x = t.executors
    with store.read() as conn:
        rows = conn.execute(sa.select(x).where(x.c.active.is_(True)).order_by(x.c.id)).all()
    return [ExecutorRecord(id=int(r.id), host=r.host, pid=int(r.pid), started=int(r.started),
                           heartbeat=int(r.heartbeat), active=bool(r.active)) for r in rows]


def database_up(store: Store) -> bool:
    """True when the database answers a trivial query."""
    try:
        with store.read() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        return False
    return True
