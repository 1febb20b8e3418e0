"""The project tables: projects, their stored versions (archive chunks and flow graphs) and audit events.

Reached as ``store.projects``. Lookups every API request makes are statements built once (building a
Core select costs more than running it).
"""

from __future__ import annotations

import functools
import json
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from sudoless.errors import StateError
from sudoless.store import statements as q
from sudoless.store import tables as t
from sudoless.store.light.projects import MAX_EVENT_CHARS, LightProjectQueries, ProjectRecord, project_record

if TYPE_CHECKING:
    from sudoless.store import Store

__all__ = ["MAX_EVENT_CHARS", "EventRecord", "FlowRecord", "ProjectQueries", "ProjectRecord", "VersionRecord"]


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


def _version(row: Any) -> VersionRecord:
    return VersionRecord(
        project_id=int(row.project_id),
        version=int(row.version),
        upload_time=int(row.upload_time),
        uploader=row.uploader,
        file_name=row.file_name,
        md5=row.md5,
        size=int(row.size),
        num_chunks=int(row.num_chunks),
        flow_version=row.flow_version,
    )


# Statements of the pages' reads, built once (building one cost more than running it).
_ACTIVE_IDS = sa.select(t.projects.c.id).where(t.projects.c.active.is_(True))
_NAMED = (
    sa.select(t.projects.c.id, t.projects.c.name, t.projects.c.version)
    .where(t.projects.c.active.is_(True))
    .order_by(t.projects.c.name)
)
_NAMED_OF = _NAMED.where(t.projects.c.id.in_(sa.bindparam("ids", expanding=True)))
_FLOWS = sa.select(t.project_flows).where(
    t.project_flows.c.project_id == sa.bindparam("project_id"), t.project_flows.c.version == sa.bindparam("version")
)


#: How many versions' flows a store keeps decoded (:meth:`ProjectQueries.version_flows`).
CACHED_VERSIONS = 64


class ProjectQueries(LightProjectQueries):
    """Queries on the project tables of one :class:`~sudoless.store.Store`; each is one short transaction. What
    a flow run asks is :class:`~sudoless.store.light.projects.LightProjectQueries`'s."""

    store: Store

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        #: (project id, version) -> its flows, least recently used first (:meth:`version_flows`)
        self._flows: OrderedDict[tuple[int, int], dict[str, FlowRecord]] = OrderedDict()
        self._flows_lock = threading.Lock()

    # -- projects ---------------------------------------------------------------------------------------

    def create(self, name: str, description: str, user: str) -> int:
        """Insert an active project; an active project of that name already existing is a StateError."""
        with self.store.write() as conn:
            if q.run(conn, q.ACTIVE_PROJECT_ID, {"name": name}).first():
                raise StateError("Project already exists.")
            return self._insert(conn, name, description, user)

    def active(self) -> list[ProjectRecord]:
        """Active projects, by name."""
        p = t.projects
        with self.store.read() as conn:
            rows = conn.execute(sa.select(p).where(p.c.active.is_(True)).order_by(p.c.name)).all()
        return [project_record(row) for row in rows]

    def named(self, allowed: Sequence[int] | None = None) -> list[tuple[int, str, int]]:
        """(id, name, current version) of the active projects (of the ids ``allowed``, None: all), by name:
        what a choice of project needs, without the rest of each row."""
        if allowed is not None and not allowed:
            return []
        query, params = (_NAMED, {}) if allowed is None else (_NAMED_OF, {"ids": list(allowed)})
        with self.store.read() as conn:
            return [(int(pid), name, int(version or 0)) for pid, name, version in conn.execute(query, params)]

    def active_ids(self) -> list[int]:
        with self.store.read() as conn:
            return [int(i) for i in conn.execute(_ACTIVE_IDS).scalars()]

    def page(
        self, search: str, limit: int, offset: int, allowed: Sequence[int] | None = None
    ) -> tuple[list[ProjectRecord], int]:
        """Active projects whose name or description contains ``search`` (any case), by name, one page of
        them; ``allowed`` restricts to those ids (None: all). The statements are built once per combination
        (:func:`_page_statements`) and the total comes with the page's rows: a page past the end alone counts
        apart."""
        if allowed is not None and not allowed:
            return [], 0
        page, count = _page_statements(bool(search), allowed is not None)
        params: dict[str, Any] = {"limit": max(limit, 0), "offset": max(offset, 0)}
        if search:
            params["pattern"] = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        if allowed is not None:
            params["ids"] = list(allowed)
        with self.store.read() as conn:
            rows = conn.execute(page, params).all()
            total = int(rows[0][-1]) if rows else int(conn.execute(count, params).scalar_one())
        return [project_record(row) for row in rows], total

    def deactivate(self, project_id: int, user: str) -> None:
        """Mark a project deleted (Azkaban keeps the row, inactive; the name can be reused)."""
        p = t.projects
        with self.store.write() as conn:
            conn.execute(
                p.update()
                .where(p.c.id == project_id)
                .values(active=False, modified_time=self.store.clock(), modified_by=user)
            )
            self._event(conn, project_id, "DELETED", user, "Project deleted.")

    def purge(self, project_id: int, user: str) -> None:
        """Delete every stored version (archives and flow graphs) of a deleted project, and every setting that
        only meant something for its versions' jobs: job overrides, flow locks, sandbox grants, proxy users,
        schedules and flow triggers. Its row, permissions, audit events and executions stay: they are the
        history that whoever could read the project may still read."""
        with self.store.write() as conn:
            for table in (
                t.project_files,
                t.project_flows,
                t.job_overrides,
                t.flow_locks,
                t.project_sandbox,
                t.project_proxy_users,
                t.schedules,
                t.flow_triggers,
                t.project_versions,
            ):
                conn.execute(table.delete().where(table.c.project_id == project_id))
            self._event(conn, project_id, "PURGE", user, "Project purged.")

    def set_description(self, project_id: int, description: str, user: str) -> None:
        p = t.projects
        with self.store.write() as conn:
            conn.execute(
                p.update()
                .where(p.c.id == project_id)
                .values(description=description, modified_time=self.store.clock(), modified_by=user)
            )
            self._event(conn, project_id, "DESCRIPTION", user, f"Description changed to {description}")

    # -- the audit log ----------------------------------------------------------------------------------

    def add_event(self, project_id: int, kind: str, user: str, message: str) -> None:
        """Append to a project's audit log (``fetchProjectLogs``); ``kind`` is Azkaban's event type name."""
        with self.store.write() as conn:
            self._event(conn, project_id, kind, user, message)

    def events(self, project_id: int, skip: int = 0, size: int = 1000) -> list[EventRecord]:
        """A project's audit log, newest first."""
        e = t.project_events
        query = (
            sa.select(e)
            .where(e.c.project_id == project_id)
            .order_by(e.c.event_time.desc(), e.c.id.desc())
            .limit(max(size, 0))
            .offset(max(skip, 0))
        )
        with self.store.read() as conn:
            rows = conn.execute(query).all()
        return [
            EventRecord(user=row.username, time=int(row.event_time), type=row.event_type, message=row.message)
            for row in rows
        ]

    def count_events(self, project_id: int) -> int:
        e = t.project_events.c
        with self.store.read() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(t.project_events).where(e.project_id == project_id)
                ).scalar_one()
            )

    # -- versions ---------------------------------------------------------------------------------------

    def current_versions(self, project_ids: Sequence[int]) -> dict[int, int]:
        """The current version of each of these projects that exists, in one query."""
        p = t.projects
        if not project_ids:
            return {}
        with self.store.read() as conn:
            rows = conn.execute(sa.select(p.c.id, p.c.version).where(p.c.id.in_(project_ids))).all()
        return {int(row.id): int(row.version or 0) for row in rows}

    def version(self, project_id: int, version: int) -> VersionRecord | None:
        v = t.project_versions
        with self.store.read() as conn:
            row = conn.execute(sa.select(v).where(v.c.project_id == project_id, v.c.version == version)).first()
        return _version(row) if row is not None else None

    def versions(self, project_id: int) -> list[VersionRecord]:
        """Every stored version of a project, newest first (purged ones are gone)."""
        v = t.project_versions
        with self.store.read() as conn:
            rows = conn.execute(sa.select(v).where(v.c.project_id == project_id).order_by(v.c.version.desc())).all()
        return [_version(row) for row in rows]

    def iter_archive(self, project_id: int, version: int) -> Iterator[bytes]:
        """The stored zip of a version, chunk by chunk, each chunk read in its own short transaction."""
        f = t.project_files
        with self.store.read() as conn:
            chunks = list(
                conn.execute(
                    sa.select(f.c.chunk).where(f.c.project_id == project_id, f.c.version == version).order_by(f.c.chunk)
                ).scalars()
            )
        for chunk in chunks:
            with self.store.read() as conn:
                data = conn.execute(
                    sa.select(f.c.data).where(f.c.project_id == project_id, f.c.version == version, f.c.chunk == chunk)
                ).scalar_one()
            yield bytes(data)

    def flows(self, project_id: int, version: int) -> dict[str, dict[str, Any]]:
        """The flow graphs stored for a version, by flow id."""
        return {flow_id: record.graph for flow_id, record in self.flow_records(project_id, version).items()}

    def version_flows(self, project: ProjectRecord, version: int) -> Mapping[str, FlowRecord]:
        """:meth:`flow_records` of a version of ``project`` as this request read the project's row, kept
        decoded while the project is active: an execution's page and its polls asked for the same graphs
        on every request, read and decoded from JSON each time.

        A stored version's flows are written in the transaction that stores the version and never change
        after, from any process; the only statement that removes them is a purge, and it purges a deleted
        (inactive) project only, whose flows are therefore read from the database every time. An empty
        answer (no such version stored) is not kept. The mapping is shared by every caller: read only."""
        if not version:
            return {}
        if not project.active:
            return self.flow_records(project.id, version)
        key = (project.id, version)
        with self._flows_lock:
            found = self._flows.get(key)
            if found is not None:
                self._flows.move_to_end(key)
                return found
        found = self.flow_records(project.id, version)
        if found:
            with self._flows_lock:
                self._flows[key] = found
                while len(self._flows) > CACHED_VERSIONS:
                    self._flows.popitem(last=False)
        return found

    def flow_records(self, project_id: int, version: int) -> dict[str, FlowRecord]:
        """Every flow stored for a version, embedded ones included, by flow id."""
        with self.store.read() as conn:
            rows = conn.execute(_FLOWS, {"project_id": project_id, "version": version}).all()
        return {
            row.flow_id: FlowRecord(flow_id=row.flow_id, embedded=bool(row.embedded), graph=json.loads(row.data))
            for row in rows
        }


@functools.cache
def _page_statements(search: bool, allowed: bool) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """:meth:`ProjectQueries.page`'s page, each row with the total (an uncorrelated subquery: counted once),
    and the total alone; the pattern (``pattern``, wildcards escaped with a backslash) and the ids (``ids``)
    are parameters."""
    p = t.projects.c
    where: list[sa.ColumnElement[bool]] = [p.active.is_(True)]
    if search:
        pattern: sa.BindParameter[str] = sa.bindparam("pattern")
        where.append(
            sa.or_(
                sa.func.lower(p.name).like(pattern, escape="\\"),
                sa.func.lower(p.description).like(pattern, escape="\\"),
            )
        )
    if allowed:
        where.append(p.id.in_(sa.bindparam("ids", expanding=True)))
    count = sa.select(sa.func.count()).select_from(t.projects).where(*where)
    page = (
        sa.select(t.projects, count.scalar_subquery().label("total"))
        .where(*where)
        .order_by(p.name)
        .limit(sa.bindparam("limit"))
        .offset(sa.bindparam("offset"))
    )
    return page, count
