"""The read queries of the history views (web UI) beyond :class:`~sudoless.store.Store`: filtered and paged
execution history, per-flow outcome counts, recent runs of a flow, project versions.

Each one is a single indexed statement (``ix_executions_flow`` on project, flow and submit time; the
primary key for newest-first paging), so a page stays fast with tens of thousands of executions. They
use SQLAlchemy Core with bound parameters only, like the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from sudoless.store import ExecutionRecord, Store
from sudoless.store import tables as t
from sudoless.store.projects import ProjectRecord, VersionRecord
from sudoless.store.status import TERMINAL_FLOW, Status

__all__ = ["History", "HistoryFilter", "Run", "active_project_ids", "count_events", "execution_history",
           "flow_outcomes", "granted_project_ids", "last_execution", "last_executions", "log_size", "project_page",
           "project_versions", "read_log_range", "recent_runs", "running_executions", "user_names"]

#: Columns of a history row; ``options`` (a JSON document) is left out, lists never need it.
_LIGHT = (t.executions.c.id, t.executions.c.project_id, t.executions.c.project_name, t.executions.c.flow_id,
          t.executions.c.status, t.executions.c.submit_user, t.executions.c.submit_time,
          t.executions.c.start_time, t.executions.c.end_time, t.executions.c.update_time,
          t.executions.c.source, t.executions.c.version)


@dataclass(frozen=True)
class Run:
    """One execution as lists show it."""

    id: int
    project_id: int
    project_name: str
    flow_id: str
    status: Status
    submit_user: str
    submit_time: int
    start_time: int
    end_time: int
    update_time: int
    source: str
    version: int

    def duration(self, now: int) -> int:
        """Milliseconds run so far (to now while running); -1 before it started."""
        if self.start_time < 0:
            return -1
        return (self.end_time if self.end_time >= 0 else now) - self.start_time


def _run(row: Any) -> Run:
    return Run(id=int(row.id), project_id=int(row.project_id), project_name=row.project_name,
               flow_id=row.flow_id, status=Status(row.status), submit_user=row.submit_user,
               submit_time=int(row.submit_time), start_time=int(row.start_time), end_time=int(row.end_time),
               update_time=int(row.update_time), source=row.source, version=int(row.version))


@dataclass(frozen=True)
class HistoryFilter:
    """What the executions page filters on; empty values filter nothing. Times are epoch ms on submit."""

    project_ids: Sequence[int] | None = None  # None: every project (an admin); []: none visible
    flow: str = ""
    statuses: Sequence[Status] = ()
    user: str = ""
    since: int | None = None
    until: int | None = None
    #: Azkaban's history search: parts of the project name, flow id or submitter (any case), and a term that
    #: any of the three may contain (its quick search)
    project_contains: str = ""
    flow_contains: str = ""
    user_contains: str = ""
    term: str = ""


@dataclass(frozen=True)
class History:
    runs: list[Run]
    total: int


def _where(query: sa.Select[Any], wanted: HistoryFilter) -> sa.Select[Any]:
    e = t.executions.c
    if wanted.project_ids is not None:
        query = query.where(e.project_id.in_(list(wanted.project_ids)) if wanted.project_ids else sa.false())
    if wanted.flow:
        query = query.where(e.flow_id == wanted.flow)
    if wanted.statuses:
        query = query.where(e.status.in_([s.value for s in wanted.statuses]))
    if wanted.user:
        query = query.where(e.submit_user == wanted.user)
    if wanted.since is not None:
        query = query.where(e.submit_time >= wanted.since)
    if wanted.until is not None:
        query = query.where(e.submit_time < wanted.until)
    for column, part in ((e.project_name, wanted.project_contains), (e.flow_id, wanted.flow_contains),
                         (e.submit_user, wanted.user_contains)):
        if part:
            query = query.where(_contains(column, part))
    if wanted.term:
        query = query.where(sa.or_(*(_contains(c, wanted.term) for c in (e.project_name, e.flow_id, e.submit_user))))
    return query


def _contains(column: Any, part: str) -> sa.ColumnElement[bool]:
    """``column`` holds ``part``, case aside; ``%`` and ``_`` in it are literal."""
    return sa.func.lower(column).contains(part.lower(), autoescape=True)


def execution_history(store: Store, wanted: HistoryFilter, limit: int, offset: int) -> History:
    """One page of executions, newest first, and how many match in all."""
    query = _where(sa.select(*_LIGHT), wanted).order_by(t.executions.c.id.desc()).limit(limit).offset(offset)
    count = _where(sa.select(sa.func.count()).select_from(t.executions), wanted)
    with store.read() as conn:
        runs = [_run(row) for row in conn.execute(query)]
        total = int(conn.execute(count).scalar_one())
    return History(runs, total)


def recent_runs(store: Store, project_id: int, flow_id: str, limit: int = 50) -> list[Run]:
    """The latest ``limit`` executions of a flow, newest first (the ``ix_executions_flow`` index)."""
    e = t.executions.c
    query = sa.select(*_LIGHT).where(e.project_id == project_id, e.flow_id == flow_id).order_by(
        e.submit_time.desc(), e.id.desc()).limit(limit)
    with store.read() as conn:
        return [_run(row) for row in conn.execute(query)]


def flow_outcomes(store: Store, project_id: int) -> dict[str, dict[Status, int]]:
    """Per flow of a project: how many executions ended (or stand) in each status."""
    e = t.executions.c
    query = sa.select(e.flow_id, e.status, sa.func.count()).where(e.project_id == project_id).group_by(
        e.flow_id, e.status)
    out: dict[str, dict[Status, int]] = {}
    with store.read() as conn:
        for flow_id, status, count in conn.execute(query):
            out.setdefault(flow_id, {})[Status(status)] = int(count)
    return out


def last_executions(store: Store, project_id: int) -> dict[str, Run]:
    """The newest execution of each flow of a project."""
    e = t.executions.c
    newest = sa.select(sa.func.max(e.id)).where(e.project_id == project_id).group_by(e.flow_id)
    query = sa.select(*_LIGHT).where(e.id.in_(newest.scalar_subquery()))
    with store.read() as conn:
        return {row.flow_id: _run(row) for row in conn.execute(query)}


def last_execution(store: Store, project_id: int, flow_id: str) -> ExecutionRecord | None:
    e = t.executions.c
    query = sa.select(e.id).where(e.project_id == project_id, e.flow_id == flow_id).order_by(
        e.submit_time.desc(), e.id.desc()).limit(1)
    with store.read() as conn:
        exec_id = conn.execute(query).scalar()
    return store.execution(int(exec_id)) if exec_id is not None else None


def running_executions(store: Store, limit: int = 100) -> list[Run]:
    """Executions not yet over, newest first (the ``ix_executions_status`` index)."""
    e = t.executions.c
    query = sa.select(*_LIGHT).where(e.status.not_in([s.value for s in TERMINAL_FLOW])).order_by(
        e.id.desc()).limit(limit)
    with store.read() as conn:
        return [_run(row) for row in conn.execute(query)]


def project_page(store: Store, search: str, limit: int, offset: int,
                 allowed: Sequence[int] | None = None) -> tuple[list[ProjectRecord], int]:
    """Active projects whose name or description contains ``search`` (any case), by name, one page of them;
    ``allowed`` restricts to those ids (None: all)."""
    p = t.projects.c
    query = sa.select(t.projects).where(p.active.is_(True))
    count = sa.select(sa.func.count()).select_from(t.projects).where(p.active.is_(True))
    if search:
        pattern = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        match = sa.or_(sa.func.lower(p.name).like(pattern, escape="\\"),
                       sa.func.lower(p.description).like(pattern, escape="\\"))
        query, count = query.where(match), count.where(match)
    if allowed is not None:
        only = p.id.in_(list(allowed)) if allowed else sa.false()
        query, count = query.where(only), count.where(only)
    with store.read() as conn:
        rows = conn.execute(query.order_by(p.name).limit(limit).offset(offset)).all()
        total = int(conn.execute(count).scalar_one())
    return [ProjectRecord(id=int(r.id), name=r.name, active=bool(r.active), description=r.description or "",
                          version=int(r.version), created_time=int(r.created_time), created_by=r.created_by,
                          modified_time=int(r.modified_time), modified_by=r.modified_by) for r in rows], total


def project_versions(store: Store, project_id: int) -> list[VersionRecord]:
    """Every stored version of a project, newest first (purged ones are gone)."""
    v = t.project_versions.c
    query = sa.select(t.project_versions).where(v.project_id == project_id).order_by(v.version.desc())
    with store.read() as conn:
        rows = conn.execute(query).all()
    return [VersionRecord(project_id=int(r.project_id), version=int(r.version), upload_time=int(r.upload_time),
                          uploader=r.uploader, file_name=r.file_name, md5=r.md5, size=int(r.size),
                          num_chunks=int(r.num_chunks), flow_version=r.flow_version) for r in rows]


def count_events(store: Store, project_id: int) -> int:
    e = t.project_events.c
    with store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(t.project_events).where(
            e.project_id == project_id)).scalar_one())


def active_project_ids(store: Store) -> list[int]:
    p = t.projects.c
    with store.read() as conn:
        return [int(i) for i in conn.execute(sa.select(p.id).where(p.active.is_(True))).scalars()]


def user_names(store: Store) -> list[str]:
    """Every user's name, for the history filter's suggestions (the users table is small, unlike a
    DISTINCT over the executions' unindexed ``submit_user``)."""
    u = t.users.c
    with store.read() as conn:
        return [str(n) for n in conn.execute(sa.select(u.username).order_by(u.username)).scalars()]


def log_size(store: Store, exec_id: int, name: str, attempt: int) -> int:
    """Bytes written so far to a log (one index seek: the last chunk's end)."""
    c = t.logs.c
    key = (c.exec_id == exec_id, c.name == name, c.attempt == attempt)
    query = sa.select(c.end_byte).where(*key).order_by(c.start_byte.desc()).limit(1)
    with store.read() as conn:
        size = conn.execute(query).scalar()
    return int(size or 0)


def read_log_range(store: Store, exec_id: int, name: str, attempt: int, offset: int, length: int) -> bytes:
    """Bytes ``[offset, offset+length)`` of a log in two index seeks, however many chunks it has.

    The chunk holding ``offset`` is the last one starting at or before it (found from the primary key
    ``exec_id, name, attempt, start_byte`` by a descending seek); the range then runs from that chunk's
    start, so the chunks before it are never scanned, which is what makes the end of a multi-GB log as
    quick to show as its start.
    """
    if length <= 0:
        return b""
    c = t.logs.c
    key = (c.exec_id == exec_id, c.name == name, c.attempt == attempt)
    end = offset + length
    first = sa.select(c.start_byte).where(*key, c.start_byte <= offset).order_by(c.start_byte.desc()).limit(1)
    with store.read() as conn:
        start = conn.execute(first).scalar()
        rows = conn.execute(sa.select(c.start_byte, c.data).where(
            *key, c.start_byte >= (start if start is not None else 0), c.start_byte < end).order_by(c.start_byte)
        ).all()
    parts = []
    for row in rows:
        lo = max(offset - row.start_byte, 0)
        hi = min(end - row.start_byte, len(row.data))
        if hi > lo:
            parts.append(bytes(row.data[lo:hi]))
    return b"".join(parts)


def granted_project_ids(store: Store, user: str, groups: Sequence[str]) -> list[int]:
    """Projects with a grant row naming ``user`` or one of ``groups``: the only projects a user without
    a global READ could read. A candidate list, not a decision: each is then checked by Accounts."""
    c = t.permissions.c
    named = sa.and_(c.name == user, c.is_group.is_(False))
    if groups:
        named = sa.or_(named, sa.and_(c.name.in_(list(groups)), c.is_group.is_(True)))
    with store.read() as conn:
        return sorted({int(i) for i in conn.execute(sa.select(c.project_id).where(named)).scalars()})
