"""The ``job_runs`` table: one row per attempt of each node of an execution, written by the runner.

Reached as ``store.job_runs``. The runner's updates are its hot path: they go through cached textual
statements, and a pass of its loop writes its node changes and log chunks in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sudoless.errors import NotFoundError
from sudoless.store import statements as q
from sudoless.store import tables as t
from sudoless.store.logs import insert_chunks
from sudoless.store.rows import status, values
from sudoless.store.status import Status

if TYPE_CHECKING:
    from sudoless.store import Store

__all__ = ["JobRunQueries", "JobRunRecord"]


@dataclass(frozen=True)
class JobRunRecord:
    """One row of ``job_runs``: an attempt of a node, ``parents`` and ``output_props`` decoded from JSON."""

    exec_id: int
    nested_id: str
    attempt: int
    type: str
    status: Status
    start_time: int
    end_time: int
    update_time: int
    parents: list[str]
    condition: str | None
    pid: int | None
    host: str | None
    output_props: dict[str, str] | None


_COLUMNS = tuple(t.job_runs.c.keys())
#: The columns the runner sets on an attempt's row (:func:`_job_update`).
_SETTABLE = frozenset(
    ("type", "status", "start_time", "end_time", "update_time", "pid", "host", "input_props", "output_props")
)
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
_ATTEMPTS_IN = sa.select(t.job_runs).where(
    t.job_runs.c.exec_id.in_(sa.bindparam("ids", expanding=True)),
    t.job_runs.c.nested_id == sa.bindparam("nested_id"),
    t.job_runs.c.start_time >= 0,
)


class JobRunQueries:
    """Queries on ``job_runs`` of one :class:`~sudoless.store.Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def of(self, exec_id: int, since: int = -1) -> list[JobRunRecord]:
        """Every attempt of every node, oldest attempt first; ``since`` keeps rows updated after it."""
        query = q.JOB_RUNS_SINCE if since >= 0 else q.JOB_RUNS
        with self.store.read() as conn:
            rows = q.run(conn, query, {"exec_id": exec_id, "since": since}).all()
        return _records(rows)

    def recent_attempts(self, project_id: int, flow_id: str, nested_id: str, limit: int = 20) -> list[JobRunRecord]:
        """The ``limit`` latest attempts that started of one job of a flow, across its executions, newest
        first (one join walking the executions of the flow by id, newest first)."""
        params = {"project_id": project_id, "flow_id": flow_id, "nested_id": nested_id, "limit": limit}
        with self.store.read() as conn:
            # the ``limit`` newest started attempts lie in the executions of the ``limit`` newest such rows
            # (whichever attempts those rows are); all their attempts, then sorted here, give them exactly
            ids = sorted(set(conn.execute(_RECENT_EXECUTIONS, params).scalars()))
            rows = conn.execute(_ATTEMPTS_IN, {"ids": ids, "nested_id": nested_id}).all() if ids else []
        records = sorted(_records(rows), key=lambda r: (r.exec_id, r.attempt), reverse=True)
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

    def update(self, exec_id: int, nested_id: str, attempt: int, **values: Any) -> None:
        """Update one attempt's row, inserting it first when this is a new attempt."""
        with self.store.write() as conn:
            self._update(conn, exec_id, nested_id, attempt, values)

    def update_many(
        self,
        exec_id: int,
        changes: Sequence[tuple[str, int, dict[str, Any]]],
        logs: Sequence[tuple[str, int, int, bytes]] = (),
    ) -> None:
        """Node updates, in order, and log chunks ``(name, attempt, offset, data)``, in one transaction.

        The runner gathers what one pass of its loop changed and writes it here, so a burst of changes
        (a branch cancelled, a job ending and the next starting) costs one commit. Rows changing the same
        columns go in one ``executemany``: a 300-job chain writes about 300 rows in 45 commits, and one
        statement per row was most of the runner's database time (benchmarks/README.md, flow_overhead).
        """
        if not changes and not logs:
            return
        groups: dict[tuple[str, ...], list[tuple[str, int, dict[str, Any]]]] = {}
        now = self.store.clock()
        for nested_id, attempt, given in changes:
            row = _job_values(given)
            row["update_time"] = now
            groups.setdefault(tuple(sorted(row)), []).append((nested_id, attempt, row))
        with self.store.write() as conn:
            insert_chunks(conn, exec_id, logs)
            for columns, rows in groups.items():
                if len(rows) > 1 and conn.dialect.supports_sane_multi_rowcount:
                    params = [_keyed(v, exec_id, n, a) for n, a, v in rows]
                    if q.run(conn, _job_update(columns), params).rowcount == len(rows):
                        continue
                    # some row is a new attempt, to insert: each again on its own (an UPDATE repeated is a no-op)
                for nested_id, attempt, row in rows:
                    self._update_row(conn, exec_id, nested_id, attempt, row)

    def _update(self, conn: Connection, exec_id: int, nested_id: str, attempt: int, values: dict[str, Any]) -> None:
        values = _job_values(values)
        values["update_time"] = self.store.clock()
        self._update_row(conn, exec_id, nested_id, attempt, values)

    def _update_row(self, conn: Connection, exec_id: int, nested_id: str, attempt: int, values: dict[str, Any]) -> None:
        """Set ``values`` (column values, ``update_time`` included) on one attempt's row, inserting it if new."""
        # The runner's hot path: a cached textual UPDATE per column set costs a tenth of building a Core
        # statement each time (measured: 0.1 ms against 1 ms per job on SQLite), still fully parameterised.
        done = q.run(conn, _job_update(tuple(sorted(values))), _keyed(values, exec_id, nested_id, attempt))
        if done.rowcount == 0:
            base = conn.execute(
                sa.select(t.job_runs)
                .where(t.job_runs.c.exec_id == exec_id, t.job_runs.c.nested_id == nested_id)
                .order_by(t.job_runs.c.attempt.desc())
                .limit(1)
            ).first()
            if base is None:
                raise NotFoundError(f"Job {nested_id} doesn't exist in {exec_id}")
            row = {
                "exec_id": exec_id,
                "nested_id": nested_id,
                "attempt": attempt,
                "type": base.type,
                "parents": base.parents,
                "condition": base.condition,
                "start_time": -1,
                "end_time": -1,
                "status": Status.READY.value,
            }
            row.update(values)
            conn.execute(t.job_runs.insert().values(**row))


def _job_update(columns: tuple[str, ...]) -> str:
    """The UPDATE of one attempt's row setting ``columns`` (:func:`_keyed` gives its parameters)."""
    if not set(columns) <= _SETTABLE:
        raise ValueError(f"unknown job_runs columns: {sorted(set(columns) - _SETTABLE)}")
    return q.update_statement("job_runs", columns, ("exec_id", "nested_id", "attempt"))


def _keyed(values: dict[str, Any], exec_id: int, nested_id: str, attempt: int) -> dict[str, Any]:
    return {**values, "k_exec_id": exec_id, "k_nested_id": nested_id, "k_attempt": attempt}


def _job_values(given: dict[str, Any]) -> dict[str, Any]:
    out = dict(given)
    if isinstance(out.get("status"), Status):
        out["status"] = out["status"].value
    for key in ("output_props", "input_props"):
        if key in out and out[key] is not None and not isinstance(out[key], str):
            out[key] = json.dumps(out[key])
    return out


def _records(rows: Sequence[Any]) -> list[JobRunRecord]:
    return [
        JobRunRecord(
            exec_id=v["exec_id"],
            nested_id=v["nested_id"],
            attempt=v["attempt"],
            type=v["type"],
            status=status(v["status"]),
            start_time=v["start_time"],
            end_time=v["end_time"],
            update_time=v["update_time"],
            parents=json.loads(v["parents"]),
            condition=v["condition"],
            pid=v["pid"],
            host=v["host"],
            output_props=json.loads(v["output_props"]) if v["output_props"] else None,
        )
        for v in values(rows, _COLUMNS)
    ]
