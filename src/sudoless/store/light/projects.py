"""The queries on projects a flow run makes: find or create the project, store the uploaded version, read it
back; and the project record (:mod:`sudoless.store.light`; :mod:`sudoless.store.projects` has the rest)."""

from __future__ import annotations

import hashlib
import json
from collections import namedtuple
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sudoless.errors import NotFoundError
from sudoless.store import statements as q

if TYPE_CHECKING:
    from sudoless.store.local import Queryable

__all__ = ["MAX_EVENT_CHARS", "LightProjectQueries", "ProjectRecord", "project_record"]

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


def project_record(row: Any) -> ProjectRecord:
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


#: A row of :func:`sudoless.store.statements.project_query`, by column name.
_ProjectRow = namedtuple("_ProjectRow", q.PROJECT_COLUMNS)  # type: ignore[misc]


class LightProjectQueries:
    """What a flow run asks of the project tables; each method is one short transaction."""

    def __init__(self, store: Queryable) -> None:
        self.store = store
        #: (project id, version) -> its archive's MD5, as :meth:`digest` read or :meth:`add_version` stored it
        self._digests: dict[tuple[int, int], str] = {}

    def get(
        self, name: str | None = None, project_id: int | None = None, active_only: bool = True
    ) -> ProjectRecord | None:
        """The project called ``name`` (or with ``project_id``); None when there is none."""
        query = q.project_query(name is not None, project_id is not None, active_only)
        with self.store.read() as conn:
            row = q.first_row(conn, query, {"name": name, "project_id": project_id})
        return project_record(_ProjectRow._make(row)) if row else None

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

    def _insert(self, conn: Any, name: str, description: str, user: str) -> int:
        """The one way a project is created (the API, the AJAX API and an upload of a new name alike)."""
        now = self.store.clock()
        row = {
            "name": name,
            "active": True,
            "description": description,
            "version": 0,
            "created_time": now,
            "created_by": user,
            "modified_time": now,
            "modified_by": user,
        }
        project_id = q.insert(conn, q.insert_statement("projects", tuple(row)), row)
        # Azkaban's creator.default.proxy: the creator is the project's first proxy user.
        proxy = {"project_id": project_id, "name": user, "added_time": now, "added_by": user}
        q.run(conn, q.insert_statement("project_proxy_users", tuple(proxy)), proxy)
        self._event(conn, project_id, "CREATED", user, "Project created.")
        return project_id

    def _event(self, conn: Any, project_id: int, kind: str, user: str, message: str) -> None:
        if len(message) > MAX_EVENT_CHARS:
            message = message[: MAX_EVENT_CHARS - 15] + " [... truncated]"
        row = {
            "project_id": project_id,
            "event_type": kind,
            "event_time": self.store.clock(),
            "username": user,
            "message": message,
        }
        q.run(conn, q.insert_statement("project_events", tuple(row)), row)

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
        digest = hashlib.md5(data).hexdigest()
        with self.store.write() as conn:
            current = q.run(conn, q.PROJECT_VERSION, {"project_id": project_id}).scalar_one()
            version = int(current) + 1
            now = self.store.clock()
            chunks = [data[i : i + _CHUNK] for i in range(0, len(data), _CHUNK)] or [b""]
            row = {
                "project_id": project_id,
                "version": version,
                "upload_time": now,
                "uploader": uploader,
                "file_name": archive.name,
                "md5": digest,
                "size": len(data),
                "num_chunks": len(chunks),
                "flow_version": flow_version,
            }
            q.run(conn, q.insert_statement("project_versions", tuple(row)), row)
            for index, chunk in enumerate(chunks):
                part = {"project_id": project_id, "version": version, "chunk": index, "data": chunk}
                q.run(conn, q.insert_statement("project_files", tuple(part)), part)
            if flows:
                graphs = [
                    {
                        "project_id": project_id,
                        "version": version,
                        "flow_id": flow_id,
                        "embedded": embedded,
                        "data": json.dumps(graph),
                    }
                    for flow_id, (embedded, graph) in flows.items()
                ]
                q.run(conn, q.insert_statement("project_flows", tuple(graphs[0])), graphs)
            q.run(
                conn,
                q.SET_PROJECT_VERSION,
                {"version": version, "now": now, "user": uploader, "project_id": project_id},
            )
            if log_event:
                self._event(conn, project_id, "UPLOADED", uploader, f"Uploaded project files zip {archive.name}")
        self._digests[(project_id, version)] = digest  # committed: what this process's next run of it reads
        return version

    def current_version(self, project_id: int) -> int:
        with self.store.read() as conn:
            version = q.run(conn, q.PROJECT_VERSION, {"project_id": project_id}).scalar()
        if version is None:
            raise NotFoundError(f"project {project_id} does not exist")
        return int(version)

    def digest(self, project_id: int, version: int) -> str:
        """The MD5 (hex) of a stored version's archive: with the project id and version, it names the version's
        unpacked folder (:func:`sudoless.flows.executions.project_dir`), so that a folder left by another
        database at the same place (one deleted and created again) is never taken for this one's.

        A stored version never changes, so each is read once per store object (one short statement) and
        remembered as long as the store lives. A database dropped and created again under a living store (a
        server left running meanwhile) is not noticed for the versions that store already read, except those
        uploaded through it; restart such a process. A stale MD5 still never names a folder with other files:
        :func:`~sudoless.flows.executions.project_dir` checks the archive it unpacks against it.
        """
        key = (project_id, version)
        found = self._digests.get(key)
        if found is None:
            with self.store.read() as conn:
                found = q.run(conn, q.VERSION_DIGEST, {"project_id": project_id, "version": version}).scalar()
            if found is None:
                raise NotFoundError(f"project {project_id} has no stored version {version}")
            found = self._digests[key] = str(found)
        return found

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
