"""The SQL text of the statements a local ``sudoless flow run`` executes, written once for every back end.

A one-job run spends more on SQLAlchemy than on its work: importing it, and compiling each Core statement the
first time a process runs it (about 0.9 ms each against 0.3 ms for a textual one). The statements of the run's
path are therefore plain SQL with named parameters (``:name``), which SQLAlchemy's ``text()`` binds for
SQLite, MySQL/MariaDB and PostgreSQL alike and which Python's ``sqlite3`` module accepts as they are. Keeping
them here, in a module that imports nothing, is the first step of a run that reaches a SQLite home without
SQLAlchemy: the same text, executed by either, so the rows a run stores cannot differ between the two.

The SQL is portable by construction: no identifier quoting (a reserved word such as ``condition`` is written
after its table's name, where MySQL takes it as a name), booleans as ``TRUE``/``FALSE`` or bound values, and
column lists equal to the tables' (tests/test_store_statements.py compares them with
:mod:`sudoless.store.tables`, so a row read here has the fields a Core select of the table would give).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Connection

__all__ = ["EXECUTION_COLUMNS", "JOB_RUN_COLUMNS", "run", "update_statement"]

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


def _columns(table: str, columns: tuple[str, ...]) -> str:
    """A select list of ``table``'s columns, each after its table's name (where a reserved word is a name)."""
    return ", ".join(f"{table}.{column}" for column in columns)


# -- projects --------------------------------------------------------------------------------------------------

#: The id of the active project called ``:name``.
ACTIVE_PROJECT_ID = "SELECT id FROM projects WHERE name = :name AND active = TRUE"
#: A project's current version number.
PROJECT_VERSION = "SELECT version FROM projects WHERE id = :project_id"
#: A new current version, as an upload stores it.
SET_PROJECT_VERSION = (
    "UPDATE projects SET version = :version, modified_time = :now, modified_by = :user WHERE id = :project_id"
)
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
#: Notifications of one execution still to send (in one of the statuses ``:pending``, ``:sending``).
UNSENT_OF = "SELECT COUNT(*) FROM notifications WHERE status IN (:pending, :sending) AND exec_id = :exec_id"


@functools.cache
def update_statement(table: str, columns: tuple[str, ...], keys: tuple[str, ...]) -> str:
    """``UPDATE table SET c = :c, ... WHERE k = :k_k AND ...`` for the runner's changing column sets; the names
    come from the code (a caller checks them against the table's), never from input."""
    assignments = ", ".join(f"{column} = :{column}" for column in columns)
    where = " AND ".join(f"{key} = :k_{key}" for key in keys)
    return f"UPDATE {table} SET {assignments} WHERE {where}"


def run(conn: Connection, statement: str, params: Mapping[str, Any] | list[dict[str, Any]] | None = None) -> Any:
    """Execute one statement of this module (or of :func:`update_statement`) on a SQLAlchemy connection: a
    list of parameter sets runs it once per set (``executemany``). The result is SQLAlchemy's."""
    return conn.execute(_text(statement), params if params is not None else {})


@functools.cache
def _text(statement: str) -> sa.TextClause:
    """The statement as a ``text()`` clause, made once per process (SQLAlchemy then caches its compiled form);
    SQLAlchemy is imported here, not with the module, so that the SQL itself can be read without it."""
    import sqlalchemy as sa

    return sa.text(statement)
