"""The database schema, as SQLAlchemy Core tables; Alembic migrations in ``migrations/`` create it.

Times are epoch milliseconds (``-1`` = unset) and statuses Azkaban's wire strings, so rows map straight
onto the AJAX API. Large payloads (project archives, logs) are split into chunks so no single row, and no
single read, has to hold a whole file.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Computed,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import text
from sqlalchemy.types import TypeDecorator, TypeEngine

from sudoless.store.statements import UNFINISHED_SQL

metadata = MetaData()

#: An execution's run time in ms, -1 while it has not both started and ended: the ``duration`` column's
#: expression, computed by the database on every write of the row (migration 0014), so that nothing writing
#: start or end times can leave it wrong.
DURATION = "CASE WHEN end_time < 0 OR start_time < 0 THEN -1 ELSE end_time - start_time END"

#: MySQL and MariaDB, the dialects whose BLOB and TEXT stop at 64 KB
_MYSQL = ("mysql", "mariadb")


class LongBinary(TypeDecorator[bytes]):
    """LargeBinary, and LONGBLOB on MySQL/MariaDB (their BLOB stops at 64 KB; chunks are larger).

    What ``LargeBinary().with_variant(mysql.LONGBLOB(), ...)`` declares, with the MySQL type resolved when a
    MySQL dialect asks for it: naming it here imported ``sqlalchemy.dialects.mysql`` on every start, SQLite
    ones included (about 10 ms of a cold ``sudoless flow run``).
    """

    impl = LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[bytes]:
        if dialect.name in _MYSQL:
            from sqlalchemy.dialects.mysql import LONGBLOB

            return dialect.type_descriptor(LONGBLOB())
        return dialect.type_descriptor(LargeBinary())


class LongText(TypeDecorator[str]):
    """Text, and LONGTEXT on MySQL/MariaDB (their TEXT stops at 64 KB), resolved as :class:`LongBinary` is."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[str]:
        if dialect.name in _MYSQL:
            from sqlalchemy.dialects.mysql import LONGTEXT

            return dialect.type_descriptor(LONGTEXT())
        return dialect.type_descriptor(Text())


#: chunks of project archives and logs
Blob = LongBinary()
#: JSON documents as text
Doc = LongText()

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("description", Text, nullable=False, default=""),
    Column("version", Integer, nullable=False, default=0),
    Column("created_time", BigInteger, nullable=False),
    Column("created_by", String(255), nullable=False),
    Column("modified_time", BigInteger, nullable=False),
    Column("modified_by", String(255), nullable=False),
    Index("ix_projects_name", "name"),
)

project_versions = Table(
    "project_versions",
    metadata,
    Column("project_id", Integer, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("upload_time", BigInteger, nullable=False),
    Column("uploader", String(255), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("md5", String(32), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("num_chunks", Integer, nullable=False),
    Column("flow_version", String(8), nullable=False),
)

project_files = Table(
    "project_files",
    metadata,
    Column("project_id", Integer, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("chunk", Integer, primary_key=True),
    Column("data", Blob, nullable=False),
)

project_flows = Table(
    "project_flows",
    metadata,
    Column("project_id", Integer, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("flow_id", String(512), primary_key=True),
    Column("embedded", Boolean, nullable=False, default=False),
    Column("data", Doc, nullable=False),
)

project_events = Table(
    "project_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("event_time", BigInteger, nullable=False),
    Column("username", String(255), nullable=False),
    Column("message", Text, nullable=False, default=""),
    Index("ix_project_events_project", "project_id", "event_time"),
)

executions = Table(
    "executions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, nullable=False),
    Column("project_name", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    Column("flow_id", String(512), nullable=False),
    Column("status", String(24), nullable=False),
    Column("submit_user", String(255), nullable=False),
    Column("submit_time", BigInteger, nullable=False),
    Column("start_time", BigInteger, nullable=False, default=-1),
    Column("end_time", BigInteger, nullable=False, default=-1),
    Column("update_time", BigInteger, nullable=False),
    Column("source", String(32), nullable=False, default="adhoc"),
    Column("options", Doc, nullable=False),
    Column("executor_id", Integer, nullable=True),
    Column("control", String(32), nullable=False, default=""),
    Column("priority", Integer, nullable=False, default=5),
    Column("restarted_from", Integer, nullable=True),
    Column("duration", BigInteger, Computed(DURATION)),
    Index("ix_executions_status", "status", "executor_id"),
    Index("ix_executions_flow", "project_id", "flow_id", "submit_time"),
    # A flow's executions newest first (fetchFlowExecutions, the API's lists): read off the index in order
    # and stopped after one page, instead of fetching and sorting every execution of the flow.
    Index("ix_executions_flow_id", "project_id", "flow_id", "id"),
    # A project's newest execution (the projects list): one index search instead of all its executions.
    Index("ix_executions_project_id", "project_id", "id"),
    # The executions list sorted by a column, newest first among equals, one page read off the index and
    # the walk stopped there; the distinct names its name filters match, by index searches (migration 0013).
    # (end_time, id) also finds recently finished executions (the scheduler's SLA checks, every second).
    Index("ix_executions_by_project", "project_name", "id"),
    Index("ix_executions_by_flow", "flow_id", "id"),
    Index("ix_executions_by_status", "status", "id"),
    Index("ix_executions_by_user", "submit_user", "id"),
    Index("ix_executions_by_submitted", "submit_time", "id"),
    Index("ix_executions_by_started", "start_time", "id"),
    Index("ix_executions_by_ended", "end_time", "id"),
    Index("ix_executions_by_source", "source", "id"),
    # Migration 0014: the sort by duration off an index; the list's narrow filter pairs (a status and a user,
    # a project and a flow by name) read in id order off one index each; a flow's unfinished executions
    # (getRunning, the concurrency check at submit, the status page) from a partial index that holds only
    # those, where SQLite and PostgreSQL have partial indexes (MariaDB has none and reads ix_executions_status).
    Index("ix_executions_by_duration", "duration", "id"),
    Index("ix_executions_status_user", "status", "submit_user", "id"),
    Index("ix_executions_project_flow", "project_name", "flow_id", "id"),
    Index(
        "ix_executions_unfinished",
        "project_id",
        "flow_id",
        "id",
        sqlite_where=text(UNFINISHED_SQL),
        postgresql_where=text(UNFINISHED_SQL),
    ).ddl_if(dialect=("sqlite", "postgresql")),  # type: ignore[arg-type]  # documented: a string or a tuple
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("exec_id", Integer, primary_key=True),
    Column("nested_id", String(500), primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("type", String(64), nullable=False),
    Column("status", String(24), nullable=False),
    Column("start_time", BigInteger, nullable=False, default=-1),
    Column("end_time", BigInteger, nullable=False, default=-1),
    Column("update_time", BigInteger, nullable=False),
    Column("parents", Text, nullable=False, default="[]"),
    Column("condition", Text, nullable=True),
    Column("pid", Integer, nullable=True),
    Column("host", String(255), nullable=True),
    Column("input_props", Doc, nullable=True),
    Column("output_props", Doc, nullable=True),
    Index("ix_job_runs_update", "exec_id", "update_time"),
)

logs = Table(
    "logs",
    metadata,
    Column("exec_id", Integer, primary_key=True),
    Column("name", String(500), primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("start_byte", BigInteger, primary_key=True),
    Column("end_byte", BigInteger, nullable=False),
    Column("data", Blob, nullable=False),
)

executors = Table(
    "executors",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started", BigInteger, nullable=False),
    Column("heartbeat", BigInteger, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

schedules = Table(
    "schedules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, nullable=False),
    Column("flow_id", String(512), nullable=False),
    Column("cron", String(255), nullable=False),
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("options", Doc, nullable=False),
    Column("sla", Doc, nullable=True),
    Column("submit_user", String(255), nullable=False),
    Column("submit_time", BigInteger, nullable=False),
    Column("next_fire", BigInteger, nullable=False, default=-1),
    Column("last_fire", BigInteger, nullable=False, default=-1),
    #: Azkaban's endSchedTime (no fire after it, -1 none) and backExecuteOnce (missed slots: once or skipped)
    Column("end_time", BigInteger, nullable=False, default=-1, server_default="-1"),
    Column("back_execute_once", Boolean, nullable=False, default=True, server_default=true()),
    UniqueConstraint("project_id", "flow_id", name="uq_schedules_flow"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(255), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("roles", Text, nullable=False, default=""),
    Column("groups", Text, nullable=False, default=""),
    Column("proxy_users", Text, nullable=False, default=""),
    Column("email", String(255), nullable=False, default=""),
    Column("created_time", BigInteger, nullable=False),
    #: where the account comes from: "local" (a password here), "ldap" or "pam" (created at first login,
    #: never given a local password, its groups refreshed from the directory)
    Column("source", String(32), nullable=False, default="local", server_default="local"),
    Column("last_login", BigInteger, nullable=True),
    #: a directory account whose user left the allowed groups (or the directory): refused until a refresh
    #: finds it allowed again
    Column("disabled", Boolean, nullable=False, default=False, server_default=false()),
)

permissions = Table(
    "permissions",
    metadata,
    Column("project_id", Integer, primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("is_group", Boolean, primary_key=True),
    Column("permissions", Integer, nullable=False),
    Column("modified_time", BigInteger, nullable=False),
    Index("ix_permissions_name", "name", "is_group"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("username", String(255), nullable=False),
    Column("ip", String(64), nullable=False, default=""),
    Column("created_time", BigInteger, nullable=False),
    Column("last_seen", BigInteger, nullable=False),
    Column("expires", BigInteger, nullable=False),
    Index("ix_sessions_username", "username"),
    Index("ix_sessions_expires", "expires"),
)

#: API tokens for scripts: only the SHA-256 of the token is kept (the token itself is shown once); ``scopes``
#: is "project_id:bits" pairs ("*" for every project), the most a token allows on top of its user's rights.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_key", String(64), nullable=False, unique=True),
    Column("username", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Column("expires", BigInteger, nullable=False),
    Column("last_used", BigInteger, nullable=True),
    UniqueConstraint("username", "name", name="uq_api_tokens_name"),
    Index("ix_api_tokens_username", "username"),
)

#: Roles defined in the database (``<role name permissions>`` of azkaban-users.xml); the built-in roles
#: live in code (``sudoless.accounts.permissions.BUILTIN_ROLES``) and a row here replaces one of them.
roles = Table(
    "roles",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("permissions", Integer, nullable=False),
    Column("modified_time", BigInteger, nullable=False),
)

#: ``<group name roles>``: every member of the group has these roles too (comma list, as users.roles).
groups = Table(
    "groups",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("roles", Text, nullable=False),
    Column("modified_time", BigInteger, nullable=False),
)

#: One row per failed login, once for the (address, user name) pair (kind "pair", subject "address name")
#: and once for the address ("ip"); the throttle counts recent rows, so every server process on one
#: database shares the limits. Rows of kind "user" are from older versions and are forgotten after a day.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(8), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("failed_at", BigInteger, nullable=False),
    Index("ix_login_failures_subject", "kind", "subject", "failed_at"),
    Index("ix_login_failures_time", "failed_at"),
)

#: Proxy users of a project (Azkaban's ``addProxyUser``): metadata only, since every job runs as the Unix user
#: of the executor; the creator is added when a project is created.
project_proxy_users = Table(
    "project_proxy_users",
    metadata,
    Column("project_id", Integer, primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("added_time", BigInteger, nullable=False),
    Column("added_by", String(255), nullable=False),
)

#: Locked flows (``setFlowLock``): a row means locked. Keyed by flow id, not version, so a lock outlives uploads.
flow_locks = Table(
    "flow_locks",
    metadata,
    Column("project_id", Integer, primary_key=True),
    Column("flow_id", String(512), primary_key=True),
    Column("message", Text, nullable=True),
    Column("locked_time", BigInteger, nullable=False),
    Column("locked_by", String(255), nullable=False),
)

#: Job override properties (``setJobOverrideProperty``, Azkaban's ``<job>.jor``) of one project version; they
#: replace the job file's own properties when the job runs. ``flow_id`` is "" for Flow 1.0, where a job file
#: is one job whatever flows use it, and the flow holding the node for Flow 2.0.
job_overrides = Table(
    "job_overrides",
    metadata,
    Column("project_id", Integer, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("flow_id", String(255), primary_key=True),
    Column("job_id", String(255), primary_key=True),
    Column("props", Doc, nullable=False),
    Column("modified_time", BigInteger, nullable=False),
    Column("modified_by", String(255), nullable=False),
)

#: What an admin lets the jobs of a project touch beyond the sandbox's defaults: extra paths (JSON lists of
#: absolute paths, read or read-write) and the TCP ports they may connect to (JSON list; NULL: any port).
project_sandbox = Table(
    "project_sandbox",
    metadata,
    Column("project_id", Integer, primary_key=True),
    Column("read_paths", Text, nullable=False),
    Column("write_paths", Text, nullable=False),
    Column("connect_ports", Text, nullable=True),
    Column("modified_time", BigInteger, nullable=False),
    Column("modified_by", String(255), nullable=False),
)

#: The notification queue (:mod:`sudoless.flows.notify`): one row per message to one target (an e-mail to its
#: recipients, one webhook or job callback request). ``payload`` holds the rendered message as JSON; a sender
#: claims a row by moving it to ``sending`` with its own ``claim_token`` until ``claim_until``, so two server
#: processes never send one row twice; ``next_attempt`` (epoch ms) spaces the retries.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("exec_id", Integer, nullable=True),
    Column("event", String(32), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("target", Text, nullable=False),
    Column("payload", Doc, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Column("next_attempt", BigInteger, nullable=False),
    Column("claim_token", String(64), nullable=True),
    Column("claim_until", BigInteger, nullable=False, default=-1),
    Column("sent_time", BigInteger, nullable=False, default=-1),
    Column("last_error", Text, nullable=True),
    Index("ix_notifications_due", "status", "next_attempt"),
    Index("ix_notifications_exec", "exec_id"),
)

#: Every attempt to send a notification, kept for the execution page and ``flow show --json``.
notification_attempts = Table(
    "notification_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("notification_id", Integer, nullable=False),
    Column("exec_id", Integer, nullable=True),
    Column("attempt_time", BigInteger, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("target", Text, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("error", Text, nullable=True),
    Index("ix_notification_attempts_exec", "exec_id", "notification_id"),
)

#: The run state of each flow trigger of a project's current version (the definition itself is in the flow's
#: graph JSON in project_flows): its cron, whether it is paused, and its next and last slot (epoch ms).
flow_triggers = Table(
    "flow_triggers",
    metadata,
    Column("project_id", Integer, primary_key=True),
    Column("flow_id", String(255), primary_key=True),
    Column("cron", String(255), nullable=False),
    Column("paused", Boolean, nullable=False, default=False),
    Column("next_fire", BigInteger, nullable=False, default=-1),
    Column("last_fire", BigInteger, nullable=False, default=-1),
    Column("modified_time", BigInteger, nullable=False),
    Column("modified_by", String(255), nullable=False),
)

#: One firing of a trigger: it waits for its dependencies up to max_wait_ms (-1: no limit, no dependencies),
#: then runs the flow (exec_id) or ends CANCELLED with cancel_cause (TIMEOUT, MANUAL, FAILURE) and message.
trigger_instances = Table(
    "trigger_instances",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("project_id", Integer, nullable=False),
    Column("project_name", String(255), nullable=False),
    Column("project_version", Integer, nullable=False),
    Column("flow_id", String(255), nullable=False),
    Column("submit_user", String(255), nullable=False),
    Column("cron", String(255), nullable=False),
    Column("slot", BigInteger, nullable=False),
    Column("period_start", BigInteger, nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=False, default=-1),
    Column("max_wait_ms", BigInteger, nullable=False, default=-1),
    Column("status", String(24), nullable=False),
    Column("cancel_cause", String(24), nullable=False, default="NONE"),
    Column("message", Text, nullable=False, default=""),
    Column("exec_id", Integer, nullable=True),
    Index("ix_trigger_instances_status", "status"),
    Index("ix_trigger_instances_flow", "project_id", "flow_id", "start_time"),
)

#: Each dependency of an instance, copied from the trigger when it fired; reason is why the last check found it
#: not met.
trigger_dependencies = Table(
    "trigger_dependencies",
    metadata,
    Column("instance_id", String(36), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("type", String(64), nullable=False),
    Column("params", Text, nullable=False),
    Column("status", String(24), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=False, default=-1),
    Column("cancel_cause", String(24), nullable=False, default="NONE"),
    Column("reason", Text, nullable=False, default=""),
    Column("checked_time", BigInteger, nullable=False, default=-1),
)

#: What ``sudoless azkaban import`` brought in, so that a second run imports nothing twice: ``origin`` names
#: the Azkaban database (host/port/name), ``kind`` the thing (project, version, schedule, execution) and
#: ``source_key`` its key there; ``local_id`` is what it became here (a project id, a version number...).
azkaban_imports = Table(
    "azkaban_imports",
    metadata,
    Column("origin", String(255), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("source_key", String(64), primary_key=True),
    Column("local_id", Integer, nullable=False),
    Column("imported_time", BigInteger, nullable=False),
)
