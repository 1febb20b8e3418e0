"""The ``job_runs`` table: one row per attempt of each node of an execution, written by the runner.

Reached as ``store.job_runs``. The runner's updates are its hot path: they go through cached textual
statements, and a pass of its loop writes its node changes and log chunks in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple, cast

import sqlalchemy as sa

from sudoless.store import statements as q
from sudoless.store import tables as t
from sudoless.store.light.job_runs import JobRunRecord, LightJobRunQueries, job_run_records
from sudoless.store.rows import status
from sudoless.store.status import Status

if TYPE_CHECKING:
    from sudoless.store import Store

__all__ = ["JobAttempt", "JobRunQueries", "JobRunRecord", "JobRunState"]


class JobRunState(NamedTuple):
    """What an execution's page and its polls show of an attempt: no parents, condition, process or
    properties (:class:`JobRunRecord` decodes two JSON columns a row, and the properties can be long)."""

    nested_id: str
    attempt: int
    type: str
    status: Status
    start_time: int
    end_time: int
    update_time: int


_STATUSES_OF = (
    sa.select(t.job_runs.c.exec_id, t.job_runs.c.nested_id, t.job_runs.c.attempt, t.job_runs.c.status)
    .where(t.job_runs.c.exec_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(t.job_runs.c.exec_id, t.job_runs.c.nested_id, t.job_runs.c.attempt)
)


_jr = t.job_runs.c
#: :meth:`JobRunQueries.states`' statements, built once: every attempt of an execution, oldest first, and those
#: updated after ``since`` (the ``ix_job_runs_update`` index).
_STATES = (
    sa.select(_jr.nested_id, _jr.attempt, _jr.type, _jr.status, _jr.start_time, _jr.end_time, _jr.update_time)
    .where(_jr.exec_id == sa.bindparam("exec_id"))
    .order_by(_jr.nested_id, _jr.attempt)
)
_STATES_SINCE = _STATES.where(_jr.update_time > sa.bindparam("since"))


#: :meth:`JobRunQueries.recent_attempts`' statement: the started attempts of one job in the executions of its
#: ``limit`` newest started rows (in a derived table: MySQL refuses a LIMIT in an IN subquery), in one round trip.
#: The inner rows are ordered by the executions' id alone (not job_runs.exec_id, equal through the join, nor the
#: attempt): then the walk down the flow's index gives the order and stops after ``limit`` rows. Any column of
#: job_runs in that ORDER BY made SQLite and MariaDB read and sort every run of the flow (SQLite, 20,000
#: executions: 140 ms against 0.1 ms; MariaDB: "Using temporary; Using filesort").
_RECENT_ATTEMPTS = (
    "SELECT a.exec_id, a.nested_id, a.attempt, a.status, a.start_time, a.end_time FROM job_runs a JOIN ("
    "SELECT job_runs.exec_id FROM job_runs JOIN executions ON executions.id = job_runs.exec_id "
    "WHERE executions.project_id = :project_id AND executions.flow_id = :flow_id "
    "AND job_runs.nested_id = :nested_id AND job_runs.start_time >= 0 "
    "ORDER BY executions.id DESC LIMIT :limit) recent ON a.exec_id = recent.exec_id "
    "WHERE a.nested_id = :nested_id AND a.start_time >= 0"
)
#: The same statement with its plan written out for MySQL and MariaDB, whose choice of join order rests on
#: sampled index statistics: on a freshly bulk-loaded database (the latency benchmark's 10,000 executions),
#: MariaDB 10.11 read all of ``job_runs`` (106,784 rows, about 30 ms a request) until ``ANALYZE TABLE``, and the
#: same load gave the good plan the next time. The plan asked for here is the good one whatever the statistics
#: say: the flow's executions newest first down ``ix_executions_flow_id``, each one's attempts of the job by
#: primary key, then those executions' attempts by primary key (``STRAIGHT_JOIN`` keeps the tables' order).
_RECENT_ATTEMPTS_MYSQL = (
    "SELECT STRAIGHT_JOIN a.exec_id, a.nested_id, a.attempt, a.status, a.start_time, a.end_time FROM ("
    "SELECT STRAIGHT_JOIN job_runs.exec_id FROM executions FORCE INDEX (ix_executions_flow_id) "
    "JOIN job_runs FORCE INDEX (PRIMARY) ON job_runs.exec_id = executions.id AND job_runs.nested_id = :nested_id "
    "WHERE executions.project_id = :project_id AND executions.flow_id = :flow_id AND job_runs.start_time >= 0 "
    "ORDER BY executions.id DESC LIMIT :limit) recent "
    "JOIN job_runs a FORCE INDEX (PRIMARY) ON a.exec_id = recent.exec_id AND a.nested_id = :nested_id "
    "WHERE a.start_time >= 0"
)
#: Every attempt of one node, oldest first (a seek on the primary key ``exec_id, nested_id, attempt``); the
#: column names quoted as :mod:`~sudoless.store.statements` quotes them (``condition`` is reserved in MySQL).
_ATTEMPTS = "SELECT {} FROM job_runs WHERE exec_id = :exec_id AND nested_id = :nested_id ORDER BY attempt".format(
    ", ".join(f'job_runs."{column}"' for column in q.JOB_RUN_COLUMNS)
)


class JobAttempt(NamedTuple):
    """An attempt of a job as its recent history shows it (:meth:`JobRunQueries.recent_attempts`): the row's
    key, status and times, without the parents' and properties' JSON a :class:`JobRunRecord` decodes."""

    exec_id: int
    nested_id: str
    attempt: int
    status: Status
    start_time: int
    end_time: int


class JobRunQueries(LightJobRunQueries):
    """Queries on ``job_runs`` of one :class:`~sudoless.store.Store`; the runner's reads and writes are
    :class:`~sudoless.store.light.job_runs.LightJobRunQueries`'s."""

    store: Store

    def attempts(self, exec_id: int, nested_id: str) -> list[JobRunRecord]:
        """Every attempt of one node of an execution, oldest first: what a log request needs to know of the
        job, without reading and decoding the rows of every other node (:meth:`of`)."""
        with self.store.read() as conn:
            rows = q.run(conn, _ATTEMPTS, {"exec_id": exec_id, "nested_id": nested_id}).all()
        # MySQL compares names without case (and trailing spaces): the id must be the one asked for
        return [run for run in job_run_records(rows) if run.nested_id == nested_id]

    def recent_attempts(self, project_id: int, flow_id: str, nested_id: str, limit: int = 20) -> list[JobAttempt]:
        """The ``limit`` latest attempts that started of one job of a flow, across its executions, newest
        first (one statement walking the executions of the flow by id, newest first)."""
        if limit <= 0:
            return []
        params = {"project_id": project_id, "flow_id": flow_id, "nested_id": nested_id, "limit": limit}
        with self.store.read() as conn:
            mysql = conn.dialect.name in ("mysql", "mariadb")
            rows = q.run(conn, _RECENT_ATTEMPTS_MYSQL if mysql else _RECENT_ATTEMPTS, params).all()
        # The ``limit`` newest started attempts lie in the executions of the ``limit`` newest such rows
        # (whichever attempts those rows are); all their attempts, sorted here, give them exactly. An
        # execution among those rows twice (two attempts) joins its attempts twice: each is kept once.
        found = {(row[0], row[2]): row for row in rows if row[1] == nested_id}  # MySQL ignores case
        newest = sorted(found.values(), key=lambda row: (row[0], row[2]), reverse=True)[:limit]
        return [JobAttempt(e, n, a, status(s), start, end) for e, n, a, s, start, end in newest]

    def states(self, exec_id: int, since: int = -1) -> list[JobRunState]:
        """:meth:`of`'s rows as the execution page shows them (:class:`JobRunState`), in the same order; ``since``
        keeps the rows updated after it."""
        query, params = (
            (_STATES_SINCE, {"exec_id": exec_id, "since": since}) if since >= 0 else (_STATES, {"exec_id": exec_id})
        )
        with self.store.read() as conn:
            rows = conn.execute(query, params).all()
        return [JobRunState(n, a, kind, status(s), start, end, update) for n, a, kind, s, start, end, update in rows]

    def statuses_of(self, exec_ids: Sequence[int]) -> list[tuple[int, str, int, str]]:
        """``(exec id, nested id, attempt, status)`` of every attempt of the executions given, in one statement:
        the runs x jobs grid of a flow. Rows come in primary-key order (execution, node, attempt), so a reader
        keeping the last row per node keeps its latest attempt; 100 runs of a 61-job flow are about 6,100
        short rows, read without turning each into a record."""
        if not exec_ids:
            return []
        with self.store.read() as conn:
            rows = conn.execute(_STATUSES_OF, {"ids": list(exec_ids)}).all()
        return cast(list[tuple[int, str, int, str]], rows)  # Rows are tuples; copying 6,100 of them costs
