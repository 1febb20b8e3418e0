"""Reading an Azkaban 3.x database (MySQL/MariaDB), read-only, and undoing Azkaban's encodings.

Azkaban keeps an uploaded project zip in ``project_files`` as numbered chunks, checked by the MD5 (16 raw
bytes) in ``project_versions``; text columns such as a trigger's data or an execution's flow data carry an
encoding type, 1 for plain UTF-8 and 2 for gzip of it. Nothing here writes: the session is set read-only
before the first query, so a mistake in this module cannot change the installation being left.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url

from sudoless.errors import InputError, StoreError

__all__ = ["AzkabanSource", "decode_bytes", "decode_text", "holds_password", "origin_of"]

PLAIN = 1
GZIP = 2


def decode_bytes(enc_type: int | None, data: bytes | None, where: str) -> bytes:
    """The bytes of an encoded column: gzip (2) is unpacked, plain (1 or NULL) taken as it is."""
    if data is None:
        return b""
    if enc_type == GZIP:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise InputError(f"{where}: marked gzip (enc_type 2) but not gzip data ({exc})") from None
    elif enc_type not in (None, PLAIN):
        raise InputError(f"{where}: unknown encoding type {enc_type}; Azkaban writes 1 (plain) or 2 (gzip)")
    return bytes(data)


def decode_text(enc_type: int | None, data: bytes | None, where: str) -> str:
    """The text of an encoded column (:func:`decode_bytes`), as UTF-8."""
    return decode_bytes(enc_type, data, where).decode("utf-8", errors="replace")


def decode_json(enc_type: int | None, data: bytes | None, where: str) -> Any:
    text = decode_text(enc_type, data, where)
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not JSON ({exc.msg} at character {exc.pos})") from None


def origin_of(url: str) -> str:
    """The name an import ledger keeps for a source database: host, port and database, no user or password."""
    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 3306}/{parsed.database or ''}"


def holds_password(url: str) -> bool:
    """Whether ``url`` carries a password (refused: it would be seen in `ps`, logs and forms)."""
    try:
        return make_url(url).password is not None
    except (sa.exc.ArgumentError, ValueError):
        return False


def _read_only(dbapi_connection: Any, _record: Any) -> None:
    """Every connection to Azkaban's database is read-only from its first statement."""
    cursor = dbapi_connection.cursor()
    cursor.execute("SET SESSION TRANSACTION READ ONLY")
    cursor.close()


@dataclass(frozen=True)
class ProjectRow:
    id: int
    name: str
    active: bool
    modified_time: int
    create_time: int
    version: int
    last_modified_by: str
    description: str


@dataclass(frozen=True)
class VersionRow:
    project_id: int
    version: int
    upload_time: int
    uploader: str
    file_type: str
    file_name: str
    md5: bytes | None
    num_chunks: int


class AzkabanSource:
    """One Azkaban database, opened read-only. ``url`` is ``mysql://USER@HOST[:PORT]/DB``; the password comes
    separately (from a file), never in the URL a user types."""

    def __init__(self, url: str, password: str | None = None) -> None:
        try:
            parsed = make_url(url)
        except (sa.exc.ArgumentError, ValueError):
            raise InputError(f"--from {url!r}: not a database URL; give mysql://USER@HOST/DATABASE") from None
        if parsed.get_backend_name() not in ("mysql", "mariadb"):
            raise InputError(
                f"--from {url!r}: Azkaban's database must be MySQL or MariaDB "
                "(mysql://USER@HOST/DATABASE); H2 is not supported"
            )
        if parsed.password is not None:
            raise InputError(
                "--from: the URL holds a password, which every local user sees in `ps`; "
                "write it to a file (chmod 600) and give --password-file"
            )
        if not parsed.database:
            raise InputError(f"--from {url!r}: name the Azkaban database (mysql://USER@HOST/DATABASE)")
        parsed = parsed.set(drivername="mysql+pymysql").update_query_dict({"charset": "utf8mb4"})
        if password is not None:
            parsed = parsed.set(password=password)
        self.origin = origin_of(url)
        self.engine = sa.create_engine(parsed)
        sa.event.listen(self.engine, "connect", _read_only)

    def close(self) -> None:
        self.engine.dispose()

    def _connect(self) -> Connection:
        try:
            conn = self.engine.connect()
        except sa.exc.OperationalError as exc:
            raise StoreError(f"cannot connect to the Azkaban database {self.origin}: {exc.orig}") from None
        return conn

    def rows(self, sql: str, **params: Any) -> list[Any]:
        """The rows of one read-only query (bound parameters only)."""
        with self._connect() as conn:
            try:
                return list(conn.execute(sa.text(sql), params))
            except sa.exc.ProgrammingError as exc:
                raise StoreError(f"{self.origin} does not look like an Azkaban 3.x database: {exc.orig}") from None

    def stream(self, sql: str, **params: Any) -> Iterator[Any]:
        """Rows one at a time (a server-side cursor), for tables too big to hold: chunks, logs, executions."""
        with self._connect() as conn:
            result = conn.execution_options(stream_results=True).execute(sa.text(sql), params)
            yield from result

    # -- projects -----------------------------------------------------------------------------------------

    def projects(self) -> list[ProjectRow]:
        return [
            ProjectRow(
                int(r.id),
                r.name,
                bool(r.active),
                int(r.modified_time),
                int(r.create_time),
                int(r.version or 0),
                r.last_modified_by or "",
                r.description or "",
            )
            for r in self.rows(
                "SELECT id, name, active, modified_time, create_time, version, "
                "last_modified_by, description FROM projects ORDER BY id"
            )
        ]

    def versions(self, project_id: int) -> list[VersionRow]:
        return [
            VersionRow(
                int(r.project_id),
                int(r.version),
                int(r.upload_time),
                r.uploader or "",
                (r.file_type or "").lower(),
                r.file_name or "",
                r.md5,
                int(r.num_chunks or 0),
            )
            for r in self.rows(
                "SELECT project_id, version, upload_time, uploader, file_type, file_name, "
                "md5, num_chunks FROM project_versions WHERE project_id = :p ORDER BY version",
                p=project_id,
            )
        ]

    def write_zip(self, version: VersionRow, out: Any) -> str | None:
        """Write a version's zip, chunk by chunk, to the binary file ``out``; None when it is whole and
        matches its MD5, else why it cannot be used."""
        digest = hashlib.md5()
        count = 0
        for row in self.stream(
            "SELECT chunk, file FROM project_files WHERE project_id = :p AND version = :v ORDER BY chunk",
            p=version.project_id,
            v=version.version,
        ):
            if int(row.chunk) != count:
                return f"chunk {count} is missing"
            out.write(row.file)
            digest.update(row.file)
            count += 1
        if count == 0:
            return "its files are gone (Azkaban's version retention removes old versions' files)"
        if version.num_chunks and count != version.num_chunks:
            return f"{count} chunks stored, {version.num_chunks} expected"
        if version.md5 is not None and digest.digest() != bytes(version.md5):
            return f"MD5 {digest.hexdigest()} of the reassembled zip differs from the stored {bytes(version.md5).hex()}"
        return None

    def proxy_users(self, project_id: int) -> list[str]:
        """The project's proxy users: Azkaban keeps them in the project's settings (``projects.settings_blob``,
        the project object as JSON, gzip by ``enc_type``), under ``proxyUsers``."""
        rows = self.rows("SELECT enc_type, settings_blob FROM projects WHERE id = :p", p=project_id)
        if not rows or rows[0].settings_blob is None:
            return []
        data = decode_json(rows[0].enc_type, rows[0].settings_blob, f"projects row {project_id} settings_blob")
        users = data.get("proxyUsers") if isinstance(data, dict) else None
        return [str(u) for u in users or [] if str(u).strip()]

    def permissions(self, project_id: int) -> list[tuple[str, bool, int]]:
        return [
            (r.name, bool(r.isGroup), int(r.permissions))
            for r in self.rows(
                "SELECT name, isGroup, permissions FROM project_permissions WHERE project_id = :p ORDER BY name",
                p=str(project_id),
            )
        ]

    def events(self, project_id: int) -> list[Any]:
        return self.rows(
            "SELECT event_type, event_time, username, message FROM project_events "
            "WHERE project_id = :p ORDER BY event_time, event_type, username, message",
            p=project_id,
        )

    def optional_rows(self, sql: str, **params: Any) -> list[Any]:
        """The rows of a query on a table that not every Azkaban 3.x release has (ramps, deny lists): none
        when the table is missing."""
        with self._connect() as conn:
            try:
                return list(conn.execute(sa.text(sql), params))
            except sa.exc.ProgrammingError:
                return []

    def paused_flow_triggers(self) -> set[tuple[int, str]]:
        """(project id, flow) of the flow triggers paused in Azkaban: Quartz keeps each in ``QRTZ_TRIGGERS``
        under the job group ``PROJECTID.FLOW``, its state PAUSED while paused."""
        paused = set()
        for row in self.optional_rows("SELECT JOB_GROUP FROM QRTZ_TRIGGERS WHERE TRIGGER_STATE = 'PAUSED'"):
            project, _, flow = str(row.JOB_GROUP).partition(".")
            if project.isdigit() and flow:
                paused.add((int(project), flow))
        return paused

    def job_overrides(self, project_id: int) -> list[str]:
        """The jobs whose properties were changed in Azkaban's UI (``project_properties`` rows named
        ``JOB.jor``) in the project's latest version."""
        return [
            str(r.name)[: -len(".jor")]
            for r in self.optional_rows(
                "SELECT name FROM project_properties WHERE project_id = :p AND name LIKE '%.jor' "
                "AND version = (SELECT MAX(version) FROM project_properties WHERE project_id = :p) ORDER BY name",
                p=project_id,
            )
        ]

    # -- schedules and history ----------------------------------------------------------------------------

    def triggers(self) -> list[tuple[int, str, Any]]:
        """(trigger id, source, decoded JSON) of every trigger."""
        return [
            (int(r.trigger_id), r.trigger_source or "", decode_json(r.enc_type, r.data, f"triggers row {r.trigger_id}"))
            for r in self.rows("SELECT trigger_id, trigger_source, enc_type, data FROM triggers ORDER BY trigger_id")
        ]

    def executions(self, project_ids: list[int], since: int | None, after: int, limit: int) -> list[Any]:
        """Up to ``limit`` executions of ``project_ids`` with an id above ``after``, submitted at or after
        ``since`` (None: any time), by id. Read a page at a time rather than streamed: a stream left waiting
        while the rows are written here would be cut by the server's write timeout."""
        if not project_ids:
            return []
        marks, params = _in_list(project_ids)
        params.update(since=-1 if since is None else since, after=after, limit=limit)
        return self.rows(
            "SELECT exec_id, project_id, version, flow_id, status, submit_user, submit_time, update_time, start_time, "
            "end_time, enc_type, flow_data, execution_source FROM execution_flows "
            f"WHERE project_id IN ({marks}) AND exec_id > :after AND COALESCE(submit_time, 0) >= :since "
            "ORDER BY exec_id LIMIT :limit",
            **params,
        )

    def count_executions(self, project_ids: list[int], since: int | None) -> int:
        """How many executions :meth:`executions` pages through (for a progress bar)."""
        if not project_ids:
            return 0
        marks, params = _in_list(project_ids)
        rows = self.rows(
            f"SELECT COUNT(*) AS n FROM execution_flows WHERE project_id IN ({marks}) "
            "AND COALESCE(submit_time, 0) >= :since",
            since=-1 if since is None else since,
            **params,
        )
        return int(rows[0].n)

    def output_params(self, exec_ids: list[int]) -> dict[int, dict[str, Any]]:
        """Each job's output properties (``execution_jobs.output_params``, gzip JSON) of several executions:
        execution id to job id to properties, latest attempt."""
        outputs: dict[int, dict[str, Any]] = {}
        marks, params = _in_list(exec_ids)
        for row in self.rows(
            f"SELECT exec_id, job_id, attempt, output_params FROM execution_jobs "
            f"WHERE exec_id IN ({marks}) AND output_params IS NOT NULL ORDER BY attempt",
            **params,
        ):
            where = f"execution_jobs {row.exec_id}/{row.job_id}"
            outputs.setdefault(int(row.exec_id), {})[row.job_id] = decode_json(GZIP, row.output_params, where)
        return outputs

    def log_chunks(self, exec_ids: list[int]) -> Iterator[tuple[int, str, int, int, bytes]]:
        """(execution, name, attempt, start byte, bytes) of each log chunk of several executions, streamed,
        each chunk decoded on its own."""
        marks, params = _in_list(exec_ids)
        for row in self.stream(
            f"SELECT exec_id, name, attempt, enc_type, start_byte, log FROM execution_logs "
            f"WHERE exec_id IN ({marks}) ORDER BY exec_id, name, attempt, start_byte",
            **params,
        ):
            where = f"execution_logs {row.exec_id}/{row.name}/{row.attempt}"
            yield (
                int(row.exec_id),
                row.name or "",
                int(row.attempt or 0),
                int(row.start_byte or 0),
                decode_bytes(row.enc_type, row.log, where),
            )


def _in_list(values: list[int]) -> tuple[str, dict[str, Any]]:
    """Bound parameters for ``IN (...)``: the placeholders and their values."""
    return ", ".join(f":v{i}" for i in range(len(values))), {f"v{i}": v for i, v in enumerate(values)}
