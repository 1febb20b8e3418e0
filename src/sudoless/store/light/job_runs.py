"""The queries on ``job_runs`` a flow run makes (the runner's writes are its hot path: cached textual
statements, and a pass of its loop writes its node changes and log chunks in one transaction), and the record
they return (:mod:`sudoless.store.light`; :mod:`sudoless.store.job_runs` has the rest)."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sudoless.errors import NotFoundError
from sudoless.store import statements as q
from sudoless.store.light.logs import insert_chunks
from sudoless.store.rows import status, values
from sudoless.store.status import Status

if TYPE_CHECKING:
    from sudoless.store.local import Queryable

__all__ = ["JobRunRecord", "LightJobRunQueries", "job_run_records"]


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


#: Each attempt's status (:meth:`LightJobRunQueries.attempt_statuses`).
_ATTEMPT_STATUSES = (
    'SELECT job_runs."nested_id", job_runs."attempt", job_runs."status" FROM job_runs '
    "WHERE exec_id = :exec_id ORDER BY nested_id, attempt"
)

#: The columns the runner sets on an attempt's row (:func:`_job_update`).
_SETTABLE = frozenset(
    ("type", "status", "start_time", "end_time", "update_time", "pid", "host", "input_props", "output_props")
)


class LightJobRunQueries:
    """What a flow run asks of ``job_runs``."""

    def __init__(self, store: Queryable) -> None:
        self.store = store

    def of(self, exec_id: int, since: int = -1) -> list[JobRunRecord]:
        """Every attempt of every node, oldest attempt first; ``since`` keeps rows updated after it."""
        query = q.JOB_RUNS_SINCE if since >= 0 else q.JOB_RUNS
        with self.store.read() as conn:
            rows = q.run(conn, query, {"exec_id": exec_id, "since": since}).all()
        return job_run_records(rows)

    def attempt_statuses(self, exec_id: int) -> list[tuple[str, int, Status]]:
        """``(nested_id, attempt, status)`` of every attempt, oldest attempt first: what a runner starting an
        execution takes from its rows. Three columns, not :meth:`of`'s records, whose fields (two of them JSON
        to decode) cost about 300 bytecodes a row, paid for every job of a flow before its first one starts."""
        with self.store.read() as conn:
            rows = q.run(conn, _ATTEMPT_STATUSES, {"exec_id": exec_id}).all()
        return [(nested_id, attempt, status(value)) for nested_id, attempt, value in rows]

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
                    if isinstance(conn, q.TextConnection):  # sqlite3 itself: its parameters by position
                        done = conn.execute_positional(
                            _job_update_by_position(columns),
                            [(*map(v.__getitem__, columns), exec_id, n, a) for n, a, v in rows],
                        )
                    else:
                        done = q.run(conn, _job_update(columns), [_keyed(v, exec_id, n, a) for n, a, v in rows])
                    if done.rowcount == len(rows):
                        continue
                    # some row is a new attempt, to insert: each again on its own (an UPDATE repeated is a no-op)
                for nested_id, attempt, row in rows:
                    self._update_row(conn, exec_id, nested_id, attempt, row)

    def _update(self, conn: Any, exec_id: int, nested_id: str, attempt: int, values: dict[str, Any]) -> None:
        values = _job_values(values)
        values["update_time"] = self.store.clock()
        self._update_row(conn, exec_id, nested_id, attempt, values)

    def _update_row(self, conn: Any, exec_id: int, nested_id: str, attempt: int, values: dict[str, Any]) -> None:
        """Set ``values`` (column values, ``update_time`` included) on one attempt's row, inserting it if new."""
        # The runner's hot path: a cached textual UPDATE per column set costs a tenth of building a Core
        # statement each time (measured: 0.1 ms against 1 ms per job on SQLite), still fully parameterised.
        done = q.run(conn, _job_update(tuple(sorted(values))), _keyed(values, exec_id, nested_id, attempt))
        if done.rowcount == 0:
            base = q.run(conn, q.LATEST_ATTEMPT, {"exec_id": exec_id, "nested_id": nested_id}).first()
            if base is None:
                raise NotFoundError(f"Job {nested_id} doesn't exist in {exec_id}")
            row: dict[str, Any] = {
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
            columns = tuple(row)
            q.run(conn, q.insert_statement("job_runs", columns), row)


def _job_update(columns: tuple[str, ...]) -> str:
    """The UPDATE of one attempt's row setting ``columns`` (:func:`_keyed` gives its parameters)."""
    if not set(columns) <= _SETTABLE:
        raise ValueError(f"unknown job_runs columns: {sorted(set(columns) - _SETTABLE)}")
    return q.update_statement("job_runs", columns, ("exec_id", "nested_id", "attempt"))


@functools.cache
def _job_update_by_position(columns: tuple[str, ...]) -> str:
    """:func:`_job_update` with ``?`` for its parameters: the values of ``columns`` in their order, then the
    execution, the nested id and the attempt. sqlite3 binds a named parameter by making a string of its name
    and looking it up in the row's dict, for every parameter of every row: 5.1 against 2.8 us a row of the
    runner's (timeit), and no dict to build for each row."""
    if not set(columns) <= _SETTABLE:
        raise ValueError(f"unknown job_runs columns: {sorted(set(columns) - _SETTABLE)}")
    assignments = ", ".join(f"{column} = ?" for column in columns)
    return f"UPDATE job_runs SET {assignments} WHERE exec_id = ? AND nested_id = ? AND attempt = ?"


def _keyed(values: dict[str, Any], exec_id: int, nested_id: str, attempt: int) -> dict[str, Any]:
    return {**values, "k_exec_id": exec_id, "k_nested_id": nested_id, "k_attempt": attempt}


def _job_values(given: dict[str, Any]) -> dict[str, Any]:
    out = dict(given)
    if isinstance(out.get("status"), Status):
        out["status"] = out["status"].value
    for key in ("output_props", "input_props"):
        value = out.get(key)
        if value is not None and not isinstance(value, str):
            # most jobs output nothing: json.dumps({}) is about 60 bytecodes of the encoder's Python for "{}"
            out[key] = "{}" if value == {} else json.dumps(value)
    return out


def job_run_records(rows: Sequence[Any]) -> list[JobRunRecord]:
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
        for v in values(rows, q.JOB_RUN_COLUMNS)
    ]
