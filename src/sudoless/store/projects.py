"""The project tables: projects, their stored versions (archive chunks and flow graphs) and audit events.

Reached as ``store.projects``. Lookups every API request makes are statements built once (building a
Core select costs more than running it).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from sudoless.errors import NotFoundError, StateError
from sudoless.store import statements as q
from sudoless.store import tables as t
from sudoless.store.engine import inserted_id

if TYPE_CHECKING:
    from sudoless.store import Store

__all__ = ["MAX_EVENT_CHARS", "EventRecord", "FlowRecord", "ProjectQueries", "ProjectRecord", "VersionRecord"]

#: Archive chunk size: each chunk is one row of ``project_files``.
_CHUNK = 8 << 20
#: Event messages are cut to this many characters: MySQL's TEXT holds 64 KB, and a character may take 4 bytes.
MAX_EVENT_CHARS = 16_000


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


def _project(row: Any) -> ProjectRecord:
    return ProjectRecord(
        id=int(row.id),
        name=row.name,
        active=bool(row.active),
        description=row.description or "",
        version=int(row.version),
        created_time=int(row.created_time),
        created_by=row.created_by,
        modified_time=int(row.modified_time),
        modified_by=row.modified_by,
    )


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


_FLOWS = sa.select(t.project_flows).where(
    t.project_flows.c.project_id == sa.bindparam("project_id"), t.project_flows.c.version == sa.bindparam("version")
)


class ProjectQueries:
    """Queries on the project tables of one :class:`~sudoless.store.Store`; each is one short transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- projects ---------------------------------------------------------------------------------------

    def get(
        self, name: str | None = None, project_id: int | None = None, active_only: bool = True
    ) -> ProjectRecord | None:
        """The project called ``name`` (or with ``project_id``); None when there is none."""
        query = _project_query(name is not None, project_id is not None, active_only)
        with self.store.read() as conn:
            row = conn.execute(query, {"name": name, "project_id": project_id}).first()
        return _project(row) if row else None

    def id_of(self, name: str, create_as: str | None = None, description: str = "") -> int:
        """The id of the active project ``name``; created for ``create_as`` when missing and asked to.

        A plain read first: every submit asks this, and a write transaction (SQLite's lock, a server's
        row locks) would queue it behind the writers for an answer that is almost always already stored.
        Only a missing project asked to be created takes the write path, which looks again under its lock."""
        with self.store.read() as conn:
            found = q.run(conn, q.ACTIVE_PROJECT_ID, {"name": name}).first()
        if found:
            return int(found.id)
        if create_as is None:
            raise NotFoundError(f"Project '{name}' doesn't exist.")
        with self.store.write() as conn:
            found = q.run(conn, q.ACTIVE_PROJECT_ID, {"name": name}).first()
            if found:
                return int(found.id)
            return self._insert(conn, name, description, create_as)

    def create(self, name: str, description: str, user: str) -> int:
        """Insert an active project; an active project of that name already existing is a StateError."""
        with self.store.write() as conn:
            if q.run(conn, q.ACTIVE_PROJECT_ID, {"name": name}).first():
                raise StateError("Project already exists.")
            return self._insert(conn, name, description, user)

    def _insert(self, conn: sa.Connection, name: str, description: str, user: str) -> int:
        """The one way a project is created (the API, the AJAX API and an upload of a new name alike)."""
        now = self.store.clock()
        result = conn.execute(
            t.projects.insert().values(
                name=name,
                active=True,
                description=description,
                version=0,
                created_time=now,
                created_by=user,
                modified_time=now,
                modified_by=user,
            )
        )
        project_id = inserted_id(result)
        # Azkaban's creator.default.proxy: the creator is the project's first proxy user.
        conn.execute(
            t.project_proxy_users.insert().values(project_id=project_id, name=user, added_time=now, added_by=user)
        )
        self._event(conn, project_id, "CREATED", user, "Project created.")
        return project_id

    def active(self) -> list[ProjectRecord]:
        """Active projects, by name."""
        p = t.projects
        with self.store.read() as conn:
            rows = conn.execute(sa.select(p).where(p.c.active.is_(True)).order_by(p.c.name)).all()
        return [_project(row) for row in rows]

    def active_ids(self) -> list[int]:
        p = t.projects.c
        with self.store.read() as conn:
            return [int(i) for i in conn.execute(sa.select(p.id).where(p.active.is_(True))).scalars()]

    def page(
        self, search: str, limit: int, offset: int, allowed: Sequence[int] | None = None
    ) -> tuple[list[ProjectRecord], int]:
        """Active projects whose name or description contains ``search`` (any case), by name, one page of
        them; ``allowed`` restricts to those ids (None: all)."""
        p = t.projects.c
        query = sa.select(t.projects).where(p.active.is_(True))
        count = sa.select(sa.func.count()).select_from(t.projects).where(p.active.is_(True))
        if search:
            pattern = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            match = sa.or_(
                sa.func.lower(p.name).like(pattern, escape="\\"),
                sa.func.lower(p.description).like(pattern, escape="\\"),
            )
            query, count = query.where(match), count.where(match)
        if allowed is not None:
            only = p.id.in_(list(allowed)) if allowed else sa.false()
            query, count = query.where(only), count.where(only)
        with self.store.read() as conn:
            rows = conn.execute(query.order_by(p.name).limit(limit).offset(offset)).all()
            total = int(conn.execute(count).scalar_one())
        return [_project(r) for r in rows], total

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

    def _event(self, conn: sa.Connection, project_id: int, kind: str, user: str, message: str) -> None:
        if len(message) > MAX_EVENT_CHARS:
            message = message[: MAX_EVENT_CHARS - 15] + " [... truncated]"
        conn.execute(
            t.project_events.insert().values(
                project_id=project_id, event_type=kind, event_time=self.store.clock(), username=user, message=message
            )
        )

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

    def add_version(
        self,
        project_id: int,
        archive: Path,
        flows: dict[str, tuple[bool, dict[str, Any]]],
        flow_version: str,
        uploader: str,
        log_event: bool = True,
    ) -> int:
        """Store a new project version (archive in chunks, flow graphs as JSON) in one transaction.

        ``log_event`` False leaves the project's event log alone (an import brings the original upload's)."""
        data = archive.read_bytes()
        with self.store.write() as conn:
            current = q.run(conn, q.PROJECT_VERSION, {"project_id": project_id}).scalar_one()
            version = int(current) + 1
            now = self.store.clock()
            chunks = [data[i : i + _CHUNK] for i in range(0, len(data), _CHUNK)] or [b""]
            conn.execute(
                t.project_versions.insert().values(
                    project_id=project_id,
                    version=version,
                    upload_time=now,
                    uploader=uploader,
                    file_name=archive.name,
                    md5=hashlib.md5(data).hexdigest(),
                    size=len(data),
                    num_chunks=len(chunks),
                    flow_version=flow_version,
                )
            )
            for index, chunk in enumerate(chunks):
                conn.execute(
                    t.project_files.insert().values(project_id=project_id, version=version, chunk=index, data=chunk)
                )
            if flows:
                conn.execute(
                    t.project_flows.insert(),
                    [
                        {
                            "project_id": project_id,
                            "version": version,
                            "flow_id": flow_id,
                            "embedded": embedded,
                            "data": json.dumps(graph),
                        }
                        for flow_id, (embedded, graph) in flows.items()
                    ],
                )
            q.run(
                conn,
                q.SET_PROJECT_VERSION,
                {"version": version, "now": now, "user": uploader, "project_id": project_id},
            )
            if log_event:
                self._event(conn, project_id, "UPLOADED", uploader, f"Uploaded project files zip {archive.name}")
        return version

    def current_version(self, project_id: int) -> int:
        with self.store.read() as conn:
            version = q.run(conn, q.PROJECT_VERSION, {"project_id": project_id}).scalar()
        if version is None:
            raise NotFoundError(f"project {project_id} does not exist")
        return int(version)

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

    def write_archive(self, project_id: int, version: int, dest: Path) -> Path:
        """Write a stored project version's zip to ``dest``, chunk by chunk."""
        tmp = dest.with_name(f".{dest.name}.part")
        with self.store.read() as conn, open(tmp, "wb") as out:
            rows = q.run(conn, q.ARCHIVE_CHUNKS, {"project_id": project_id, "version": version})
            found = False
            for row in rows:
                found = True
                out.write(row.data)
        if not found:
            tmp.unlink(missing_ok=True)
            raise NotFoundError(f"project {project_id} has no stored version {version}")
        tmp.replace(dest)
        return dest

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

    def flow_records(self, project_id: int, version: int) -> dict[str, FlowRecord]:
        """Every flow stored for a version, embedded ones included, by flow id."""
        with self.store.read() as conn:
            rows = conn.execute(_FLOWS, {"project_id": project_id, "version": version}).all()
        return {
            row.flow_id: FlowRecord(flow_id=row.flow_id, embedded=bool(row.embedded), graph=json.loads(row.data))
            for row in rows
        }
