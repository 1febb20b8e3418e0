"""The ``job_runs`` table: one row per attempt of each node of an execution, written by the runner.

Reached as ``store.job_runs``. The runner's updates are its hot path: they go through cached textual
statements, and a pass of its loop writes its node changes and log chunks in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

import sqlalchemy as sa

from sudoless.store import statements as q
from sudoless.store import tables as t
from sudoless.store.light.job_runs import JobRunRecord, LightJobRunQueries, job_run_records

if TYPE_CHECKING:
    from sudoless.store import Store

__all__ = ["JobRunQueries", "JobRunRecord"]


_STATUSES_OF = (
    sa.select(t.job_runs.c.exec_id, t.job_runs.c.nested_id, t.job_runs.c.attempt, t.job_runs.c.status)
    .where(t.job_runs.c.exec_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(t.job_runs.c.exec_id, t.job_runs.c.nested_id, t.job_runs.c.attempt)
)


_RECENT_EXECUTIONS = (
    sa.select(t.job_runs.c.exec_id)
    .join(t.executions, t.executions.c.id == t.job_runs.c.exec_id)
    .where(
        t.executions.c.project_id == sa.bindparam("project_id"),
        t.executions.c.flow_id == sa.bindparam("flow_id"),
        t.job_runs.c.nested_id == sa.bindparam("nested_id"),
        t.job_runs.c.start_time >= 0,
    )
    # By the executions' id alone (not job_runs.exec_id, equal through the join, nor the attempt): then the
    # walk down the flow's index gives the order and stops after ``limit`` rows. Any column of job_runs in
    # the ORDER BY made SQLite and MariaDB read and sort every run of the flow (SQLite, 20,000 executions:
    # 140 ms against 0.1 ms; MariaDB: "Using temporary; Using filesort").
    .order_by(t.executions.c.id.desc())
    .limit(sa.bindparam("limit"))
)
#: Every attempt of one node, oldest first (a seek on the primary key ``exec_id, nested_id, attempt``); the
#: column names quoted as :mod:`~sudoless.store.statements` quotes them (``condition`` is reserved in MySQL).
_ATTEMPTS = "SELECT {} FROM job_runs WHERE exec_id = :exec_id AND nested_id = :nested_id ORDER BY attempt".format(
    ", ".join(f'job_runs."{column}"' for column in q.JOB_RUN_COLUMNS)
)
_ATTEMPTS_IN = sa.select(t.job_runs).where(
    t.job_runs.c.exec_id.in_(sa.bindparam("ids", expanding=True)),
    t.job_runs.c.nested_id == sa.bindparam("nested_id"),
    t.job_runs.c.start_time >= 0,
)


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

    def recent_attempts(self, project_id: int, flow_id: str, nested_id: str, limit: int = 20) -> list[JobRunRecord]:
        """The ``limit`` latest attempts that started of one job of a flow, across its executions, newest
        first (one join walking the executions of the flow by id, newest first)."""
        params = {"project_id": project_id, "flow_id": flow_id, "nested_id": nested_id, "limit": limit}
        with self.store.read() as conn:
            # the ``limit`` newest started attempts lie in the executions of the ``limit`` newest such rows
            # (whichever attempts those rows are); all their attempts, then sorted here, give them exactly
            ids = sorted(set(conn.execute(_RECENT_EXECUTIONS, params).scalars()))
            rows = conn.execute(_ATTEMPTS_IN, {"ids": ids, "nested_id": nested_id}).all() if ids else []
        records = sorted(job_run_records(rows), key=lambda r: (r.exec_id, r.attempt), reverse=True)
        return records[: max(limit, 0)]

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
