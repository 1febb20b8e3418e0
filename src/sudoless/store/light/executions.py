"""The queries on ``executions`` a flow run makes: queue it, claim it, change its state, read it back; and the
records they return (:mod:`sudoless.store.light`; :mod:`sudoless.store.executions` has the rest)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _quote  # json.dumps' own quoting of a string (ensure_ascii)
from typing import TYPE_CHECKING, Any, cast

from sudoless.errors import NotFoundError, SudolessError
from sudoless.store import statements as q
from sudoless.store.rows import status, values
from sudoless.store.status import TERMINAL_FLOW, Status

if TYPE_CHECKING:
    from sudoless.store.local import Queryable

__all__ = [
    "ELSEWHERE",
    "ExecutionRecord",
    "LightExecutionQueries",
    "NewExecution",
    "Unfinished",
    "execution_records",
    "run_duration",
]

#: The executor id of an execution that runs outside sudoless: one imported from Azkaban while it was still
#: running or preparing there. No executor has it (their ids start at 1), so no executor claims such an
#: execution and no orphan check finalises it; it changes only when an import brings its final state.
ELSEWHERE = 0


@dataclass(frozen=True)
class ExecutionRecord:
    """One row of ``executions``, ``options`` decoded from JSON."""

    id: int
    project_id: int
    project_name: str
    version: int
    flow_id: str
    status: Status
    submit_user: str
    submit_time: int
    start_time: int
    end_time: int
    update_time: int
    source: str
    options: dict[str, Any]
    executor_id: int | None
    control: str
    restarted_from: int | None

    @property
    def elsewhere(self) -> bool:
        """Imported from Azkaban while it ran there: shown as it stood, never run here (:data:`ELSEWHERE`)."""
        return self.executor_id == ELSEWHERE and self.status not in TERMINAL_FLOW

    def duration(self, now: int) -> int:
        """Milliseconds run so far (to now while running); -1 before it started."""
        return run_duration(self.start_time, self.end_time, now)


def run_duration(start_time: int, end_time: int, now: int) -> int:
    """How long a run with these times has run by ``now`` (-1 times: not yet); -1 before it started."""
    if start_time < 0:
        return -1
    return (end_time if end_time >= 0 else now) - start_time


@dataclass(frozen=True)
class Unfinished:
    """The unfinished executions of a flow, as a submission's ``admit`` sees them: how many, and the newest."""

    count: int
    newest: int | None

    def plus(self, exec_id: int) -> Unfinished:
        return Unfinished(self.count + 1, exec_id if self.newest is None else max(self.newest, exec_id))


@dataclass(frozen=True)
class NewExecution:
    """One execution to queue (:meth:`ExecutionQueries.submit_many`): the columns the submitter decides, its
    node rows, and ``admit`` (None: always admitted), which sees the flow's :class:`Unfinished` executions
    and raises a :class:`~sudoless.errors.SudolessError` to refuse or returns the options to store."""

    project_id: int
    project_name: str
    version: int
    flow_id: str
    nodes: Sequence[dict[str, Any]]
    options: dict[str, Any]
    user: str
    source: str = "adhoc"
    restarted_from: int | None = None
    admit: Callable[[Unfinished], dict[str, Any]] | None = None


def execution_records(rows: Sequence[Any]) -> list[ExecutionRecord]:
    """Rows holding every ``executions`` column (more may follow) as records."""
    return [
        ExecutionRecord(
            id=v["id"],
            project_id=v["project_id"],
            project_name=v["project_name"],
            version=v["version"],
            flow_id=v["flow_id"],
            status=status(v["status"]),
            submit_user=v["submit_user"],
            submit_time=v["submit_time"],
            start_time=v["start_time"],
            end_time=v["end_time"],
            update_time=v["update_time"],
            source=v["source"],
            options=json.loads(v["options"]),
            executor_id=v["executor_id"],
            control=v["control"],
            restarted_from=v["restarted_from"],
        )
        for v in values(rows, q.EXECUTION_COLUMNS)
    ]


#: The columns :meth:`LightExecutionQueries.update` may set (the key and the generated ``duration`` not among them).
_SETTABLE = frozenset(q.EXECUTION_COLUMNS) - {"id", "duration"}


class LightExecutionQueries:
    """What a flow run asks of ``executions``; each method is one short transaction."""

    def __init__(self, store: Queryable) -> None:
        self.store = store

    # -- the run's life ---------------------------------------------------------------------------------

    def submit(
        self,
        project_id: int,
        project_name: str,
        version: int,
        flow_id: str,
        nodes: Sequence[dict[str, Any]],
        options: dict[str, Any],
        user: str,
        source: str = "adhoc",
        restarted_from: int | None = None,
        admit: Callable[[Unfinished], dict[str, Any]] | None = None,
    ) -> int:
        """Queue an execution (PREPARING) with its node rows (READY or DISABLED, attempt 0).

        ``admit`` sees the flow's unfinished executions inside the inserting transaction, with the project
        row locked, so two concurrent submissions cannot both pass a "not already running" check; it
        raises to refuse, or returns the options to store. Executions running elsewhere (:data:`ELSEWHERE`)
        are not among them: nothing here would ever end them, and a flow must not wait on them for good.
        """
        new = NewExecution(
            project_id, project_name, version, flow_id, nodes, options, user, source, restarted_from, admit
        )
        (outcome,) = self.submit_many([new])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def submit_many(self, batch: Sequence[NewExecution]) -> list[int | SudolessError]:
        """Queue ``batch`` in one transaction: per item its execution id, or the error its ``admit`` raised.

        What :meth:`submit` does for one, at the cost of a few statements for the whole batch: the projects
        are locked once, the flows' unfinished executions counted in one grouped query, and the executions
        and their node rows inserted by multi-row statements. An item is admitted as if the items before it
        had been submitted one by one: a flow submitted twice in one batch sees its first execution as
        unfinished (the second goes in a later insert, after the first has its id).
        """
        store = self.store
        now = store.clock()
        outcomes: list[int | SudolessError | None] = [None] * len(batch)
        with store.write() as conn:
            unfinished: dict[tuple[int, str], Unfinished] = {}
            if any(item.admit is not None for item in batch):
                unfinished = self._lock_and_count(conn, batch)
            pending = list(range(len(batch)))
            while pending:
                rows: list[tuple[int, dict[str, Any]]] = []
                seen: set[tuple[int, str]] = set()
                later: list[int] = []
                for index in pending:
                    item = batch[index]
                    key = (item.project_id, item.flow_id)
                    if key in seen:
                        later.append(index)
                        continue
                    seen.add(key)
                    options = item.options
                    if item.admit is not None:
                        try:
                            options = item.admit(unfinished.get(key, Unfinished(0, None)))
                        except SudolessError as error:
                            outcomes[index] = error
                            continue
                    rows.append((index, _execution_row(item, options, now)))
                ids = self._insert_executions(conn, [row for _, row in rows])
                nodes: list[dict[str, Any]] = []
                for (index, _), exec_id in zip(rows, ids, strict=True):
                    item = batch[index]
                    outcomes[index] = exec_id
                    key = (item.project_id, item.flow_id)
                    unfinished[key] = unfinished.get(key, Unfinished(0, None)).plus(exec_id)
                    nodes.extend(_node_row(exec_id, node, now) for node in item.nodes)
                if nodes:
                    self._insert_nodes(conn, nodes)
                pending = later
        return cast("list[int | SudolessError]", outcomes)  # every item has its outcome by now

    def _lock_and_count(self, conn: Any, batch: Sequence[NewExecution]) -> dict[tuple[int, str], Unfinished]:
        """Lock the batch's projects (in id order: two batches never wait on each other crosswise) and count
        the unfinished executions of its flows, in one grouped query on ``ix_executions_unfinished``."""
        projects = sorted({item.project_id for item in batch})
        flows = sorted({item.flow_id for item in batch})
        params: dict[str, Any] = {f"p{index}": project for index, project in enumerate(projects)}
        lock = q.lock_projects(len(projects))
        q.run(conn, lock if self.store.dialect == "sqlite" else lock + " FOR UPDATE", params).all()
        params.update({f"f{index}": flow for index, flow in enumerate(flows)}, elsewhere=ELSEWHERE)
        counts = q.unfinished_counts(len(projects), len(flows), sqlite=self.store.dialect == "sqlite")
        wanted = {(item.project_id, item.flow_id) for item in batch}
        return {
            (int(pid), flow): Unfinished(int(count), int(newest))
            for pid, flow, count, newest in q.run(conn, counts, params).all()
            if (int(pid), flow) in wanted
        }

    def _insert_executions(self, conn: Any, rows: list[dict[str, Any]]) -> list[int]:
        """Insert ``rows`` into ``executions``; their ids, in order."""
        return [q.insert(conn, q.INSERT_EXECUTION, row) for row in rows]

    def _insert_nodes(self, conn: Any, rows: list[dict[str, Any]]) -> None:
        """Insert the node rows of new executions (attempt 0)."""
        q.run(conn, q.INSERT_JOB_RUN, rows)

    def claim(self, executor_id: int, exec_id: int | None = None) -> int | None:
        """Take one queued execution for ``executor_id`` (the oldest, or ``exec_id``); None if none is free.

        Candidates are read without locks; each is then locked alone with ``FOR UPDATE SKIP LOCKED`` on
        MySQL/MariaDB and PostgreSQL (locking the ordered range instead would make InnoDB lock every
        queued row, and a second executor would see none), so concurrent executors pass over each
        other's rows instead of waiting. On SQLite the write transaction itself is exclusive. The
        conditional UPDATE is a second guard either way.
        """
        store = self.store
        if exec_id is not None:
            candidates = [exec_id]
        else:
            with store.read() as conn:
                candidates = list(q.run(conn, q.QUEUED, {"preparing": Status.PREPARING.value}).scalars())
        # the run's statements (sudoless.store.statements); on the back ends with row locks, each candidate is
        # locked alone and skipped when another executor holds it
        lock = q.CLAIMABLE if store.dialect == "sqlite" else q.CLAIMABLE + " FOR UPDATE SKIP LOCKED"
        for candidate in candidates:
            key = {"exec_id": candidate, "preparing": Status.PREPARING.value}
            with store.write() as conn:
                if q.run(conn, lock, key).first() is None:
                    continue
                done = q.run(conn, q.CLAIM, {**key, "executor_id": executor_id, "now": store.clock()})
                if done.rowcount == 1:
                    return int(candidate)
        return None

    def update(self, exec_id: int, **values: Any) -> None:
        """Set columns of one execution (a :class:`Status` as its value), stamping ``update_time``."""
        if "status" in values and isinstance(values["status"], Status):
            values["status"] = values["status"].value
        values["update_time"] = self.store.clock()
        if not set(values) <= _SETTABLE:
            raise ValueError(f"not columns of executions one may set: {sorted(set(values) - _SETTABLE)}")
        with self.store.write() as conn:
            q.run(conn, q.update_statement("executions", tuple(sorted(values)), ("id",)), {**values, "k_id": exec_id})

    def take_control(self, exec_id: int) -> str:
        """Read and clear the pending control request of an execution."""
        with self.store.write() as conn:
            row = q.run(conn, q.CONTROL, {"exec_id": exec_id}).first()
            if row is None or not row.control:
                return ""
            q.run(conn, q.CLEAR_CONTROL, {"exec_id": exec_id})
            return str(row.control)

    def get(self, exec_id: int) -> ExecutionRecord:
        with self.store.read() as conn:
            row = q.run(conn, q.EXECUTION, {"exec_id": exec_id}).first()
        if row is None:
            raise NotFoundError(f"Cannot find execution '{exec_id}'")
        return execution_records([row])[0]


def _execution_row(item: NewExecution, options: dict[str, Any], now: int) -> dict[str, Any]:
    return {
        "project_id": item.project_id,
        "project_name": item.project_name,
        "version": item.version,
        "flow_id": item.flow_id,
        "status": Status.PREPARING.value,
        "submit_user": item.user,
        "submit_time": now,
        "start_time": -1,
        "end_time": -1,
        "update_time": now,
        "source": item.source,
        "options": json.dumps(options),
        "control": "",
        "priority": int(options.get("priority", 5)),
        "restarted_from": item.restarted_from,
    }


def json_names(names: Sequence[str]) -> str:
    """``json.dumps(names)`` for a list of strings, the same text, without setting an encoder up for each of
    a submission's node rows (a tenth of a short job's submission)."""
    return "[" + ", ".join(map(_quote, names)) + "]"


def _node_row(exec_id: int, node: dict[str, Any], now: int) -> dict[str, Any]:
    return {
        "exec_id": exec_id,
        "nested_id": node["nested_id"],
        "attempt": 0,
        "type": node["type"],
        "status": node["status"],
        "start_time": -1,
        "end_time": -1,
        "update_time": now,
        "parents": json_names(node["parents"]),
        "condition": node.get("condition"),
    }  # pid, host and the properties: NULL, unsent (pymysql escapes each value sent: 5,000 rows a burst)
