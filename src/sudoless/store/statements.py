"""The SQL text of the statements a local ``sudoless flow run`` executes, written once for every back end.

A one-job run spent more on SQLAlchemy than on its work: importing it, and compiling each Core statement the
first time a process ran it (about 0.9 ms each against 0.3 ms for a textual one, measured on a loaded machine).
The statements of the run's path are therefore plain SQL with named parameters (``:name``), which SQLAlchemy's
``text()`` binds for SQLite, MySQL/MariaDB and PostgreSQL alike and which Python's ``sqlite3`` module accepts as
they are. They live here, in a module that imports SQLAlchemy only to run a statement through it, so that a
local run reaches a SQLite home without it (:mod:`sudoless.store.local`): the same text, executed by either,
so the rows a run stores cannot differ between the two.

The SQL is portable by construction: identifiers that may be reserved words are quoted the standard way
(``"condition"``; :func:`run` gives MySQL its backticks), booleans are ``TRUE``/``FALSE`` or bound values, and
column lists equal to the tables' (tests/test_store_statements.py compares them with
:mod:`sudoless.store.tables`, so a row read here has the fields a Core select of the table would give).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["EXECUTION_COLUMNS", "JOB_RUN_COLUMNS", "TextConnection", "insert", "run", "update_statement"]

#: Every column of ``executions``, in the table's order (records are built from them by position).
EXECUTION_COLUMNS = (
    "id",
    "project_id",
    "project_name",
    "version",
    "flow_id",
    "status",
    "submit_user",
    "submit_time",
    "start_time",
    "end_time",
    "update_time",
    "source",
    "options",
    "executor_id",
    "control",
    "priority",
    "restarted_from",
    "duration",
)
#: Every column of ``projects``, in the table's order.
PROJECT_COLUMNS = (
    "id",
    "name",
    "active",
    "description",
    "version",
    "created_time",
    "created_by",
    "modified_time",
    "modified_by",
)
#: Every column of ``job_runs``, in the table's order.
JOB_RUN_COLUMNS = (
    "exec_id",
    "nested_id",
    "attempt",
    "type",
    "status",
    "start_time",
    "end_time",
    "update_time",
    "parents",
    "condition",
    "pid",
    "host",
    "input_props",
    "output_props",
)


#: The statuses of an execution not yet over, as the SQL the partial index ``ix_executions_unfinished``
#: is defined with. A query reaches that index only if its WHERE holds this very text with literal values
#: (SQLite matches terms before parameters are bound): see ``sudoless.store.executions.UNFINISHED``
#: and :func:`unfinished_counts`.
UNFINISHED_SQL = (
    "status IN ('READY', 'DISPATCHING', 'PREPARING', 'RUNNING', 'PAUSED', 'KILLING', 'FAILED_FINISHING', "
    "'SKIPPED', 'DISABLED', 'QUEUED', 'FAILED_SUCCEEDED', 'CANCELLED')"
)


def _columns(table: str, columns: tuple[str, ...]) -> str:
    """A select list of ``table``'s columns, each quoted (``condition`` is reserved in MySQL) after its table's
    name (the list may be joined with another table's columns)."""
    return ", ".join(f'{table}."{column}"' for column in columns)


# -- projects --------------------------------------------------------------------------------------------------


@functools.cache
def project_query(by_name: bool, by_id: bool, active_only: bool) -> str:
    """The newest project called ``:name`` and/or with id ``:project_id``, active or any."""
    where = [("name = :name", by_name), ("id = :project_id", by_id), ("active = TRUE", active_only)]
    condition = " AND ".join(term for term, wanted in where if wanted) or "TRUE"
    return f"SELECT {_columns('projects', PROJECT_COLUMNS)} FROM projects WHERE {condition} ORDER BY id DESC LIMIT 1"


#: The id of the active project called ``:name``.
ACTIVE_PROJECT_ID = "SELECT id FROM projects WHERE name = :name AND active = TRUE"
#: A project's current version number.
PROJECT_VERSION = "SELECT version FROM projects WHERE id = :project_id"
#: A new current version, as an upload stores it.
SET_PROJECT_VERSION = (
    "UPDATE projects SET version = :version, modified_time = :now, modified_by = :user WHERE id = :project_id"
)
#: The MD5 of a stored version's archive (hex), which names its unpacked folder.
VERSION_DIGEST = "SELECT md5 FROM project_versions WHERE project_id = :project_id AND version = :version"
#: The archive chunks of a stored version, in order.
ARCHIVE_CHUNKS = "SELECT data FROM project_files WHERE project_id = :project_id AND version = :version ORDER BY chunk"
#: The lock of one flow, if it has one.
FLOW_LOCK = (
    "SELECT flow_id, message, locked_time, locked_by FROM flow_locks "
    "WHERE project_id = :project_id AND flow_id = :flow_id"
)
#: The job override properties of a project version.
JOB_OVERRIDES = "SELECT flow_id, job_id, props FROM job_overrides WHERE project_id = :project_id AND version = :version"
#: What an admin lets a project's jobs touch beyond the sandbox's defaults.
SANDBOX_GRANTS = "SELECT read_paths, write_paths, connect_ports FROM project_sandbox WHERE project_id = :project_id"

#: A project's flow triggers, flow id and cron, and removing one.
PROJECT_TRIGGERS = "SELECT flow_id, cron FROM flow_triggers WHERE project_id = :project_id"
DELETE_TRIGGER = "DELETE FROM flow_triggers WHERE project_id = :project_id AND flow_id = :flow_id"

# -- executions and their executors ----------------------------------------------------------------------------

#: One execution, every column.
EXECUTION = f"SELECT {_columns('executions', EXECUTION_COLUMNS)} FROM executions WHERE id = :exec_id"
#: A queued execution not claimed yet (a row lock is added on the back ends that have row locks).
CLAIMABLE = "SELECT id FROM executions WHERE id = :exec_id AND status = :preparing AND executor_id IS NULL"
#: Claim it, guarded again by the same condition.
CLAIM = (
    "UPDATE executions SET executor_id = :executor_id, update_time = :now "
    "WHERE id = :exec_id AND status = :preparing AND executor_id IS NULL"
)
#: The pending control request of an execution, and clearing it.
CONTROL = "SELECT control FROM executions WHERE id = :exec_id"
CLEAR_CONTROL = "UPDATE executions SET control = '' WHERE id = :exec_id"
#: An executor's heartbeat (and its end: ``active`` false).
HEARTBEAT = "UPDATE executors SET heartbeat = :now, active = :active WHERE id = :executor_id"

# -- job runs, logs, notifications -----------------------------------------------------------------------------

#: Every attempt of every node of an execution, oldest attempt first.
JOB_RUNS = (
    f"SELECT {_columns('job_runs', JOB_RUN_COLUMNS)} FROM job_runs WHERE exec_id = :exec_id ORDER BY nested_id, attempt"
)
#: The same, only the rows updated after ``:since``.
JOB_RUNS_SINCE = (
    f"SELECT {_columns('job_runs', JOB_RUN_COLUMNS)} FROM job_runs WHERE exec_id = :exec_id "
    "AND update_time > :since ORDER BY nested_id, attempt"
)
#: Where a log with several writers ends now (the next chunk's offset).
LOG_END = "SELECT COALESCE(MAX(end_byte), 0) FROM logs WHERE exec_id = :exec_id AND name = :name AND attempt = :attempt"
#: An execution's notifications and the attempts to send them, oldest first.
NOTIFICATIONS_OF = (
    "SELECT id, exec_id, event, channel, target, payload, status, attempts, max_attempts, created_time, "
    "next_attempt, claim_token, claim_until, sent_time, last_error FROM notifications WHERE exec_id = :exec_id "
    "ORDER BY id"
)
ATTEMPTS_OF = (
    "SELECT id, notification_id, exec_id, attempt_time, channel, target, outcome, error FROM notification_attempts "
    "WHERE exec_id = :exec_id ORDER BY id"
)
#: Notifications still to send (in one of the statuses ``:pending``, ``:sending``).
UNSENT = "SELECT COUNT(*) FROM notifications WHERE status IN (:pending, :sending)"
#: Notifications of one execution still to send (in one of the statuses ``:pending``, ``:sending``).
UNSENT_OF = "SELECT COUNT(*) FROM notifications WHERE status IN (:pending, :sending) AND exec_id = :exec_id"


#: Queued executions, the next to claim first.
QUEUED = (
    "SELECT id FROM executions WHERE status = :preparing AND executor_id IS NULL ORDER BY priority DESC, id LIMIT 20"
)
#: A new executor.
REGISTER = "INSERT INTO executors (host, pid, started, heartbeat, active) VALUES (:host, :pid, :now, :now, TRUE)"
#: Unfinished executions with their executor's host, pid, heartbeat and state (crash recovery decides).
WITH_EXECUTOR = (
    f"SELECT {_columns('executions', EXECUTION_COLUMNS)}, executors.host AS x_host, executors.pid AS x_pid, "
    "executors.heartbeat, executors.active AS x_active "
    "FROM executions JOIN executors ON executors.id = executions.executor_id "
    f"WHERE executions.{UNFINISHED_SQL}"
)
#: A new execution (its id comes back: :func:`insert`).
INSERT_EXECUTION = (
    "INSERT INTO executions (project_id, project_name, version, flow_id, status, submit_user, submit_time, "
    "start_time, end_time, update_time, source, options, control, priority, restarted_from) VALUES (:project_id, "
    ":project_name, :version, :flow_id, :status, :submit_user, :submit_time, :start_time, :end_time, "
    ":update_time, :source, :options, :control, :priority, :restarted_from)"
)
#: The latest attempt of one node (a new attempt copies its type, parents and condition).
LATEST_ATTEMPT = (
    f"SELECT {_columns('job_runs', JOB_RUN_COLUMNS)} FROM job_runs WHERE exec_id = :exec_id "
    "AND nested_id = :nested_id ORDER BY attempt DESC LIMIT 1"
)


def lock_projects(count: int) -> str:
    """Select (to lock, on the back ends with row locks: ``FOR UPDATE`` is added there) ``count`` projects
    ``:p0``... in id order."""
    return f"SELECT id FROM projects WHERE id IN ({_names('p', count)}) ORDER BY id"


def unfinished_counts(projects: int, flows: int, sqlite: bool) -> str:
    """The unfinished executions of flows (of projects ``:p0``..., flows ``:f0``...), counted per flow with the
    newest id, not counting those that run elsewhere (executor id ``:elsewhere``). On SQLite through the
    partial index of unfinished executions by name: without statistics its planner takes the flows' index as
    readily, and walks a flow's whole history; ``INDEXED BY`` fails loudly should the WHERE stop holding the
    index's condition (:data:`UNFINISHED_SQL`, the same text)."""
    hint = " INDEXED BY ix_executions_unfinished" if sqlite else ""
    return (
        f"SELECT project_id, flow_id, COUNT(*), MAX(id) FROM executions{hint} WHERE {UNFINISHED_SQL} "
        f"AND (executor_id IS NULL OR executor_id != :elsewhere) AND project_id IN ({_names('p', projects)}) "
        f"AND flow_id IN ({_names('f', flows)}) GROUP BY project_id, flow_id"
    )


def _names(prefix: str, count: int) -> str:
    return ", ".join(f":{prefix}{index}" for index in range(count))


@functools.cache
def insert_statement(table: str, columns: tuple[str, ...]) -> str:
    """``INSERT INTO table ("c", ...) VALUES (:c, ...)``, every name quoted (``condition`` is reserved in MySQL);
    the names come from the code, never from input."""
    names = ", ".join(f'"{column}"' for column in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({', '.join(f':{column}' for column in columns)})"


@functools.cache
def update_statement(table: str, columns: tuple[str, ...], keys: tuple[str, ...]) -> str:
    """``UPDATE table SET c = :c, ... WHERE k = :k_k AND ...`` for the runner's changing column sets; the names
    come from the code (a caller checks them against the table's), never from input."""
    assignments = ", ".join(f"{column} = :{column}" for column in columns)
    where = " AND ".join(f"{key} = :k_{key}" for key in keys)
    return f"UPDATE {table} SET {assignments} WHERE {where}"


def run(conn: Any, statement: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None) -> Any:
    """Execute a statement of this module on a connection of either store: SQLAlchemy's (the text bound by
    ``text()``, identifiers quoted the standard way turned into MySQL's backticks there) or a local run's
    :class:`sudoless.store.local.LocalConnection`. A list of parameter sets runs it once per set."""
    if isinstance(conn, TextConnection):
        return conn.execute(statement, params)
    return conn.execute(_text(statement, conn.dialect.name), params if params is not None else {})


def first_row(conn: Any, statement: str, params: Mapping[str, Any]) -> Sequence[Any] | None:
    """The first row of a read of this module, as :func:`run` would give it but a plain tuple on a server's
    store: for the reads on every request's path (a project looked up for its permission check), where
    SQLAlchemy's execution costs about what the round trip does (:mod:`sudoless.store.driver`).
    The values are the driver's, as ``text()`` leaves them too."""
    if isinstance(conn, TextConnection):
        found: Sequence[Any] | None = conn.execute(statement, params).first()
        return found
    from sudoless.store.driver import driver_rows

    rows = driver_rows(conn, _text(statement, conn.dialect.name), dict(params))
    return rows[0] if rows else None


def insert(conn: Any, statement: str, params: Mapping[str, Any]) -> int:
    """Run an INSERT of one row into a table keyed by ``id``; the id the database gave it (PostgreSQL returns
    it, the others report their last row id)."""
    if getattr(conn, "dialect", None) is not None and conn.dialect.name == "postgresql":
        return int(run(conn, f"{statement} RETURNING id", params).scalar_one())
    return int(run(conn, statement, params).lastrowid)


class TextConnection:
    """A connection that runs this module's SQL as it is (:class:`sudoless.store.local.LocalConnection`)."""

    def execute(self, statement: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None) -> Any:
        raise NotImplementedError

    def execute_positional(self, statement: str, rows: Sequence[Sequence[Any]]) -> Any:
        """Run ``statement`` (``?`` parameters) once per row of ``rows``: for a hot write of many rows, which
        a driver binds by position without a name looked up for every parameter."""
        raise NotImplementedError


@functools.cache
def _text(statement: str, dialect: str) -> sa.TextClause:
    """The statement as a ``text()`` clause for ``dialect``, made once per process (SQLAlchemy then caches its
    compiled form). SQLAlchemy is imported here, not with the module, so that a local run never loads it."""
    import sqlalchemy as sa

    if dialect in ("mysql", "mariadb"):  # only identifiers are double-quoted here; strings take single quotes
        statement = statement.replace('"', "`")
    return sa.text(statement)


#: A node's row (an attempt) of a new execution: the columns up to ``condition`` (its pid, host and properties
#: stay NULL until it runs).
INSERT_JOB_RUN = insert_statement("job_runs", JOB_RUN_COLUMNS[: JOB_RUN_COLUMNS.index("condition") + 1])
#: A log chunk.
INSERT_LOG = insert_statement("logs", ("exec_id", "name", "attempt", "start_byte", "end_byte", "data"))
