"""The ``executions`` table: queueing a flow run, claiming it, its state and control requests, and the
history lists the API and the web UI page through.

Reached as ``store.executions``. Every list is a single indexed statement (``ix_executions_flow`` on
project, flow and submit time; ``ix_executions_status``; the primary key for newest-first paging), so a
page stays fast with tens of thousands of executions.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import sqlalchemy as sa

from sudoless.errors import NotFoundError, StateError
from sudoless.store import tables as t
from sudoless.store.light.executions import (
    ELSEWHERE,
    ExecutionRecord,
    LightExecutionQueries,
    NewExecution,
    Unfinished,
    execution_records,
    run_duration,
)
from sudoless.store.light.projects import ProjectRecord, project_record
from sudoless.store.rows import status
from sudoless.store.status import TERMINAL_FLOW, Status

if TYPE_CHECKING:
    from sudoless.store import Store

__all__ = [
    "ELSEWHERE",
    "FLOW_SCHEDULES",
    "HISTORY_SORTS",
    "ExecutionQueries",
    "ExecutionRecord",
    "ExecutionSummary",
    "History",
    "HistoryFilter",
    "NewExecution",
    "Unfinished",
    "execution_records",
]


class FlowRun(NamedTuple):
    """What a flow's list of executions shows of each (``fetchFlowExecutions``): a few columns of the row,
    read without the rest (the options' JSON above all)."""

    id: int
    project_id: int
    flow_id: str
    status: Status
    submit_user: str
    submit_time: int
    start_time: int
    end_time: int


class ExecutionSummary(NamedTuple):
    """What the lists of executions show of each (the executions page and ``/history?ajax=fetch``, a flow's
    recent runs and their chart, the runs x jobs grid): the row's columns but the options' JSON, the
    version and the executor's bookkeeping. Decoding the options and filling an :class:`ExecutionRecord`
    cost more than the rest of such a page's reads (50 rows: about 1 ms of CPU)."""

    id: int
    project_id: int
    project_name: str
    flow_id: str
    status: Status
    submit_user: str
    submit_time: int
    start_time: int
    end_time: int
    source: str

    def duration(self, now: int) -> int:
        """Milliseconds run so far (to now while running); -1 before it started."""
        return run_duration(self.start_time, self.end_time, now)


_e = t.executions.c
#: :class:`ExecutionSummary`'s columns, in its order.
_SUMMARY = (
    _e.id,
    _e.project_id,
    _e.project_name,
    _e.flow_id,
    _e.status,
    _e.submit_user,
    _e.submit_time,
    _e.start_time,
    _e.end_time,
    _e.source,
)


def _summaries(rows: Sequence[Any]) -> list[ExecutionSummary]:
    """Rows of :data:`_SUMMARY`'s columns as summaries."""
    return [
        ExecutionSummary(i, p, pn, f, status(s), u, sub, st, end, src) for i, p, pn, f, s, u, sub, st, end, src in rows
    ]


@dataclass(frozen=True)
class HistoryFilter:
    """What the executions page filters on; empty values filter nothing. Times are epoch ms on submit."""

    project_ids: Sequence[int] | None = None  # None: every project (an admin); []: none visible
    flow: str = ""
    statuses: Sequence[Status] = ()
    user: str = ""
    since: int | None = None
    until: int | None = None
    #: Azkaban's history search: parts of the project name, flow id or submitter (any case), and a term that
    #: any of the three may contain (its quick search)
    project_contains: str = ""
    flow_contains: str = ""
    user_contains: str = ""
    term: str = ""


@dataclass(frozen=True)
class History:
    runs: list[ExecutionSummary]
    #: how many match; when ``exact`` is false, at least this many (counting stopped there)
    total: int
    exact: bool = True


#: How far past the shown page the executions page and ``/history?ajax=fetch`` count matches: beyond it the
#: total is a lower bound (counting a million executions on every page view would take longer than the page).
#: 1,000 (20 pages of 50) and not more: with a selective filter (FAILED runs of one user, 1.6 % of a
#: generated history) each counted match costs about 60 rows read, 5,000 of them 150 ms on PostgreSQL.
COUNT_AHEAD = 1_000

#: The statuses of an execution not yet over, named (an IN list searches ``ix_executions_status``; a NOT IN
#: of the terminal ones reads every execution ever run).
_UNFINISHED = tuple(s.value for s in Status if s not in TERMINAL_FLOW)
#: The same as a condition with literal values, exactly the partial index ``ix_executions_unfinished``'s
#: (``statements.UNFINISHED_SQL``): SQLite uses a partial index only when the query's WHERE holds its condition,
#: compared before any parameter is bound, so the statuses are written into the statement (constants of
#: the Status enum, never input).
UNFINISHED = t.executions.c.status.in_([sa.literal_column(f"'{value}'") for value in _UNFINISHED])

# Statements of the HTTP API's read path, built once: building a Core select costs several times more than
# running it on SQLite (measured: 0.4 ms against 0.08 ms for one execution row).
_P = t.projects
_PROJECT_COLUMNS = tuple(_P.c.keys())
_EXECUTION_PROJECT = (
    sa.select(t.executions, *(column.label(f"p_{column.name}") for column in _P.c))
    .select_from(t.executions.outerjoin(_P, _P.c.id == t.executions.c.project_id))
    .where(t.executions.c.id == sa.bindparam("exec_id"))
)
_COUNT = (
    sa.select(sa.func.count()).select_from(t.executions).where(t.executions.c.project_id == sa.bindparam("project_id"))
)
_COUNT_FLOW = _COUNT.where(t.executions.c.flow_id == sa.bindparam("flow_id"))


def _flow_page() -> sa.Select[Any]:
    """:meth:`ExecutionQueries.flow_page`'s statement: the page's ids from the flow's index, then the
    :class:`FlowRun` columns of those rows and the flow's total. Built once: building a select like this
    cost about 1 ms of CPU per request, more than running it."""
    e = t.executions
    ids = (
        sa.select(e.c.id)
        .where(e.c.project_id == sa.bindparam("project_id"), e.c.flow_id == sa.bindparam("flow_id"))
        .order_by(e.c.id.desc())
        .limit(sa.bindparam("limit"))
        .offset(sa.bindparam("offset"))
        .subquery("page")
    )
    c = e.c
    shown = (c.id, c.project_id, c.flow_id, c.status, c.submit_user, c.submit_time, c.start_time, c.end_time)
    total = _COUNT_FLOW.scalar_subquery().label("total")
    return sa.select(*shown, total).join(ids, c.id == ids.c.id).order_by(c.id.desc())


_FLOW_PAGE = _flow_page()


@functools.cache
def _find_statements(
    projects: bool, flow: bool, statuses: bool, user: bool, after: bool, before: bool
) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """:meth:`ExecutionQueries.find`'s page (every column and the matches' count, uncorrelated: counted once)
    and its count alone, for the filters given, built once per combination: building them cost more than
    running them."""
    e = t.executions
    where: list[sa.ColumnElement[bool]] = []
    if projects:
        where.append(e.c.project_id.in_(sa.bindparam("project_ids", expanding=True)))
    if flow:
        where.append(e.c.flow_id == sa.bindparam("flow_id"))
    if statuses:
        where.append(e.c.status.in_(sa.bindparam("statuses", expanding=True)))
    if user:
        where.append(e.c.submit_user == sa.bindparam("submit_user"))
    if after:
        where.append(e.c.submit_time >= sa.bindparam("after"))
    if before:
        where.append(e.c.submit_time < sa.bindparam("before"))
    count = sa.select(sa.func.count()).select_from(e).where(*where)
    page = (
        sa.select(e, count.scalar_subquery().label("total"))
        .where(*where)
        .order_by(e.c.id.desc())
        .limit(sa.bindparam("limit"))
        .offset(sa.bindparam("offset"))
    )
    return page, count


_QUEUED_COUNT = (
    sa.select(sa.func.count())
    .select_from(t.executions)
    .where(_e.status == Status.PREPARING.value, _e.executor_id.is_(None))
)
#: The status page's two figures in one statement (:meth:`ExecutionQueries.status_figures`): the executions
#: waiting for an executor, and the schedules of active projects (what ``ScheduleQueries.count`` counts).
_STATUS_FIGURES = sa.select(
    _QUEUED_COUNT.scalar_subquery(),
    sa.select(sa.func.count())
    .select_from(t.schedules.join(t.projects, t.projects.c.id == t.schedules.c.project_id))
    .where(t.projects.c.active.is_(True))
    .scalar_subquery(),
)
#: :meth:`ExecutionQueries.recent`'s statement, built once.
_RECENT = (
    sa.select(*_SUMMARY)
    .where(_e.project_id == sa.bindparam("project_id"), _e.flow_id == sa.bindparam("flow_id"))
    .order_by(_e.submit_time.desc(), _e.id.desc())
    .limit(sa.bindparam("limit"))
)
#: The schedules of flow ``flow_id`` of project ``project_id`` while the project is active (what
#: ``ScheduleQueries.scheduled`` asks; here so that :data:`_RECENT_SCHEDULED` can ask it too).
FLOW_SCHEDULES = (
    sa.select(t.schedules.c.id)
    .select_from(t.schedules.join(t.projects, t.projects.c.id == t.schedules.c.project_id))
    .where(
        t.projects.c.active.is_(True),
        t.schedules.c.project_id == sa.bindparam("project_id"),
        t.schedules.c.flow_id == sa.bindparam("flow_id"),
    )
)
#: :data:`_RECENT` with whether the flow has a schedule in a last column (the same on every row: the
#: subquery is uncorrelated, run once): the flow page's two reads in one statement.
_RECENT_SCHEDULED = _RECENT.add_columns(sa.exists(FLOW_SCHEDULES).label("scheduled"))


#: The columns the executions page sorts by, by the names its links use: only these reach ORDER BY.
HISTORY_SORTS: dict[str, Any] = {
    "id": _e.id,
    "project": _e.project_name,
    "flow": _e.flow_id,
    "status": _e.status,
    "user": _e.submit_user,
    "submitted": _e.submit_time,
    "started": _e.start_time,
    "ended": _e.end_time,
    # a generated column (migration 0014): unfinished runs (end -1) are -1, the shortest
    "duration": _e.duration,
    "source": _e.source,
}


class ExecutionQueries(LightExecutionQueries):
    """Queries on ``executions`` of one :class:`~sudoless.store.Store`; each is one short transaction. What a
    flow run asks (submit, claim, state, get) is :class:`~sudoless.store.light.executions.LightExecutionQueries`'s.
    """

    store: Store

    def _insert_executions(self, conn: Any, rows: list[dict[str, Any]]) -> list[int]:
        """Several rows (the scheduler's burst) in one multi-row INSERT ... RETURNING where the back end has it
        (SQLite 3.35, MariaDB 10.5, PostgreSQL); else one INSERT a row."""
        if len(rows) > 1 and conn.dialect.insert_executemany_returning_sort_by_parameter_order:
            insert = t.executions.insert().returning(t.executions.c.id, sort_by_parameter_order=True)
            return [int(exec_id) for exec_id in conn.execute(insert, rows).scalars()]
        return super()._insert_executions(conn, rows)

    def _insert_nodes(self, conn: Any, rows: list[dict[str, Any]]) -> None:
        """Through Core, whose multi-row VALUES batches a burst of thousands of node rows into few statements."""
        conn.execute(t.job_runs.insert(), rows)

    def queued_count(self) -> int:
        """Executions waiting for an executor."""
        with self.store.read() as conn:
            return int(conn.execute(_QUEUED_COUNT).scalar_one())

    def status_figures(self) -> tuple[int, int] | None:
        """(executions waiting for an executor, schedules of active projects) in one round trip, or None when
        the database does not answer: the status page's figures and its database check at once, where a ping
        and two counts cost it three statements (each about 0.15 ms of the server's CPU on MariaDB)."""
        try:
            with self.store.read() as conn:
                queued, schedules = conn.execute(_STATUS_FIGURES).one()
        except sa.exc.SQLAlchemyError:
            return None
        return int(queued), int(schedules)

    def request(self, exec_id: int, action: str) -> ExecutionRecord:
        """Ask the runner of a live execution to ``cancel``, ``pause``, ``resume`` or ``retry_failed``."""
        record = self.get(exec_id)
        if record.status in TERMINAL_FLOW:
            raise StateError(f"Execution {exec_id} of flow {record.flow_id} isn't running.")
        with self.store.write() as conn:
            conn.execute(t.executions.update().where(t.executions.c.id == exec_id).values(control=action))
        return record

    # -- reading ----------------------------------------------------------------------------------------

    def get_with_project(self, exec_id: int) -> tuple[ExecutionRecord, ProjectRecord | None]:
        """An execution and its project, active or not (None when the project row is gone), in one
        statement: every request about an execution checks the permission on its project, and on MySQL and
        PostgreSQL each statement is a round trip."""
        with self.store.read() as conn:
            row = conn.execute(_EXECUTION_PROJECT, {"exec_id": exec_id}).first()
        if row is None:
            raise NotFoundError(f"Cannot find execution '{exec_id}'")
        columns = row._mapping
        project = None
        if columns["p_id"] is not None:
            project = project_record(SimpleNamespace(**{name: columns[f"p_{name}"] for name in _PROJECT_COLUMNS}))
        return execution_records([row])[0], project

    def latest(
        self,
        project_id: int | None = None,
        flow_id: str | None = None,
        statuses: Sequence[Status] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[ExecutionRecord]:
        """Executions newest first, filtered on what is given."""
        query = _list_query(project_id is not None, flow_id is not None, bool(statuses))
        params = {
            "project_id": project_id,
            "flow_id": flow_id,
            "limit": limit,
            "offset": offset,
            "statuses": [s.value for s in statuses or ()],
        }
        with self.store.read() as conn:
            return execution_records(conn.execute(query, params).all())

    def find(
        self,
        project_ids: Sequence[int] | None = None,
        flow_id: str | None = None,
        statuses: Sequence[Status] | None = None,
        submit_user: str | None = None,
        submitted_after: int | None = None,
        submitted_before: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[ExecutionRecord], int]:
        """One page of executions matching every filter given, newest first, and the number that match.

        ``project_ids`` None means any project; an empty list matches nothing (a caller who may read no
        project). Submission times are epoch ms, ``submitted_after`` inclusive, ``submitted_before`` exclusive.
        """
        if project_ids is not None and not project_ids:
            return [], 0
        shape = (
            project_ids is not None,
            flow_id is not None,
            bool(statuses),
            submit_user is not None,
            submitted_after is not None,
            submitted_before is not None,
        )
        params = {
            "project_ids": list(project_ids or ()),
            "flow_id": flow_id,
            "statuses": [s.value for s in statuses or ()],
            "submit_user": submit_user,
            "after": submitted_after,
            "before": submitted_before,
            "limit": max(limit, 0),
            "offset": max(offset, 0),
        }
        page, count = _find_statements(*shape)
        with self.store.read() as conn:
            rows = conn.execute(page, params).all()
            # the total came with each row; a page past the end has none to bring it
            total = int(rows[0].total) if rows else int(conn.execute(count, params).scalar_one())
        return execution_records(rows), total

    def history(
        self,
        wanted: HistoryFilter,
        limit: int,
        offset: int,
        sort: str = "id",
        descending: bool = True,
        count_ahead: int | None = None,
        after: int | None = None,
        before: int | None = None,
    ) -> History:
        """One page of the executions page and how many match in all; newest first unless ``sort`` names one of
        :data:`HISTORY_SORTS` (anything else sorts by id). Ties follow the id in the same direction (newest
        first when descending, oldest first when ascending), so that one (column, id) index serves both
        directions (migration 0013).

        With ``count_ahead``, counting stops ``count_ahead`` rows past the page's end: a count of every
        match reads every matching index entry (a million executions: half a second and more), where the
        pager needs only to know that later pages exist. The answer then says the total is a lower bound.

        The page's ids come first, from the indexes alone, and then their rows (a "deferred join"): a deep
        page skips its offset's index entries instead of fetching the offset's rows.

        ``after`` (an execution id: the page follows that row in this order) or ``before`` (the page
        precedes it) make a keyset page: the index is entered at that row's (sort key, id) and read from
        there, so page 5,000 costs what page 1 does, where an offset steps over every entry before it.
        ``offset`` then only numbers the page (the total is ``offset`` plus what follows the page's start,
        counted up to ``count_ahead``). An id that no longer exists (deleted since) falls back to
        ``offset``."""
        key = HISTORY_SORTS.get(sort, HISTORY_SORTS["id"])
        if key is t.executions.c.id and descending and before is None and count_ahead is not None:
            return self._newest_page(wanted, limit, offset, count_ahead, after)
        return self._any_page(wanted, limit, offset, key, descending, count_ahead, after, before)

    def _any_page(
        self,
        wanted: HistoryFilter,
        limit: int,
        offset: int,
        key: Any,
        descending: bool,
        count_ahead: int | None,
        after: int | None,
        before: int | None,
    ) -> History:
        """:meth:`history`'s general path: any sort, any anchor, the select built for the request."""
        e = t.executions.c
        with self.store.read() as conn:
            where = _conditions(conn, wanted)
            anchor, forward = (after, True) if after is not None else (before, False)
            past = None if anchor is None else _past(conn, key, anchor, descending == forward)
            if past is None:
                ids = _ordered_ids(where, key, descending).limit(max(limit, 0)).offset(max(offset, 0))
                order = _order(key, descending)
            else:  # a previous page is read backwards from its anchor, then turned round
                found: list[int] = []
                for part in past:  # ranges in order: the anchor's ties, then the keys beyond
                    if len(found) >= limit:
                        break
                    ids = _ordered_ids([*where, part], key, descending == forward).limit(limit - len(found))
                    found += [int(i) for i in conn.execute(ids).scalars()]
                rows = conn.execute(sa.select(*_SUMMARY).where(e.id.in_(found))).all() if found else []
                position = {exec_id: index for index, exec_id in enumerate(found)}
                runs = sorted(_summaries(rows), key=lambda run: position[run.id])
                if not forward:
                    runs.reverse()
                return self._count_from(conn, where, key, descending, runs, max(offset, 0), count_ahead)
            runs = _summaries(conn.execute(_rows_of(ids.subquery("page"), order, _SUMMARY)).all())
            if count_ahead is not None and runs:
                # counted on from the page's last row, as a keyset page is: counting from the start would
                # step over the offset's index entries a second time (page 5,000 of a million on MariaDB:
                # 78 ms, half of it the count; benchmarks/README.md, long_history.py)
                return self._count_from(conn, where, key, descending, runs, max(offset, 0), count_ahead)
            bound = None if count_ahead is None else max(offset, 0) + max(limit, 0) + max(count_ahead, 0)
            if bound is None:
                count = sa.select(sa.func.count()).select_from(t.executions).where(*where)
            else:
                matching = sa.select(e.id).where(*where).limit(bound + 1).subquery()
                count = sa.select(sa.func.count()).select_from(matching)
            total = int(conn.execute(count).scalar_one())
        if bound is not None and total > bound:
            return History(runs, bound, exact=False)
        return History(runs, total)

    def _newest_page(
        self, wanted: HistoryFilter, limit: int, offset: int, count_ahead: int, after: int | None = None
    ) -> History:
        """:meth:`history`'s most asked pages, newest first, by offset or after an execution id (the next
        page's link), with any filter, through statements built once per combination of filters
        (:func:`_newest_statements`, the filters' values parameters); the same answer as the general path,
        which built and cached a select of several subqueries on every request: more CPU than running it
        (``/history?ajax=fetch``: half of its CPU; the executions page filtered on a project and a flow: a
        third)."""
        limit, offset, count_ahead = max(limit, 0), max(offset, 0), max(count_ahead, 0)
        empty = History([], offset if after is not None else 0)  # what the general path answers for no match
        if wanted.project_ids is not None and not wanted.project_ids:
            return empty
        with self.store.read() as conn:
            bound = _bound_conditions(conn, wanted)
            if bound is None:
                return empty
            shape, params = bound
            if after is not None:
                shape, params["after"] = (*shape, "after"), after
            page, every = _newest_statements(shape)
            params.update(limit=limit, offset=0 if after is not None else offset, ahead=count_ahead + 1)
            rows = conn.execute(page, params).all()
            runs = _summaries([row[:-1] for row in rows])
            if runs:  # counted on from the page's last row, as the general path does
                past = int(rows[0][-1])
                if past > count_ahead:
                    return History(runs, offset + len(runs) + count_ahead, exact=False)
                return History(runs, offset + len(runs) + past)
            if after is not None:  # past the anchor nothing matches: the page's number stands
                return History([], offset)
            bound_total = offset + limit + count_ahead  # past the end: how many there are, up to the bound
            params["ahead"] = bound_total + 1
            total = int(conn.execute(every, params).scalar_one())
        return History([], bound_total, exact=False) if total > bound_total else History([], total)

    @staticmethod
    def _count_from(
        conn: sa.Connection,
        where: list[sa.ColumnElement[bool]],
        key: Any,
        descending: bool,
        runs: list[ExecutionSummary],
        offset: int,
        count_ahead: int | None,
    ) -> History:
        """A keyset page's total: its ``offset`` (the page's number, as the link says), its rows and the
        matches after its last row, counted up to ``count_ahead`` (all without)."""
        if not runs:
            return History(runs, offset)
        past = _past(conn, key, runs[-1].id, descending)
        if past is None:  # the page's last row was deleted while being read: count from nothing
            return History(runs, offset + len(runs), exact=False)
        later = 0
        for part in past:
            matching = sa.select(t.executions.c.id).where(*where, part)
            if count_ahead is not None:
                if later > count_ahead:
                    break
                matching = matching.limit(max(count_ahead, 0) + 1 - later)
            later += int(conn.execute(sa.select(sa.func.count()).select_from(matching.subquery())).scalar_one())
        if count_ahead is not None and later > count_ahead:
            return History(runs, offset + len(runs) + count_ahead, exact=False)
        return History(runs, offset + len(runs) + later)

    def recent(self, project_id: int, flow_id: str, limit: int = 50) -> list[ExecutionSummary]:
        """The latest ``limit`` executions of a flow, newest first (the ``ix_executions_flow`` index)."""
        params = {"project_id": project_id, "flow_id": flow_id, "limit": limit}
        with self.store.read() as conn:
            return _summaries(conn.execute(_RECENT, params).all())

    def recent_and_scheduled(
        self, project_id: int, flow_id: str, limit: int = 50
    ) -> tuple[list[ExecutionSummary], bool]:
        """:meth:`recent`, and whether the flow has a schedule (``ScheduleQueries.scheduled``), read in one
        statement when the flow has run (a flow never run asks the second question on its own)."""
        params = {"project_id": project_id, "flow_id": flow_id, "limit": limit}
        with self.store.read() as conn:
            rows = conn.execute(_RECENT_SCHEDULED, params).all()
            if not rows:
                return [], conn.execute(FLOW_SCHEDULES, params).first() is not None
        return _summaries([row[:-1] for row in rows]), bool(rows[0][-1])

    def outcomes(
        self, project_id: int, flows: Sequence[str] | None = None, window: int | None = None
    ) -> dict[str, dict[Status, int]]:
        """Per flow of a project: how many executions ended (or stand) in each status.

        With ``flows`` and ``window``, only each flow's newest ``window`` executions count: one bounded
        index walk per flow instead of a grouping over every execution the project ever had (a long
        history's hundreds of thousands)."""
        e = t.executions.c
        params: dict[str, Any] = {"project_id": project_id}
        if flows is not None and window is not None:
            if not flows:
                return {}
            query: Any = _windowed_outcomes(len(flows))
            params.update({f"f{index}": flow for index, flow in enumerate(flows)}, window=max(window, 0))
        else:
            query = (
                sa.select(e.flow_id, e.status, sa.func.count())
                .where(e.project_id == project_id)
                .group_by(e.flow_id, e.status)
            )
        out: dict[str, dict[Status, int]] = {}
        with self.store.read() as conn:
            for flow_id, stored, count in conn.execute(query, params):
                out.setdefault(flow_id, {})[Status(stored)] = int(count)
        return out

    def last_per_flow(self, project_id: int, flows: Sequence[str]) -> dict[str, ExecutionSummary]:
        """The newest execution of each of a project's ``flows`` that ever ran.

        One index search per flow (``ix_executions_flow_id``), not a grouping: grouping reads every
        execution of the project (PostgreSQL and SQLite have no loose index scan), a long history's
        hundreds of thousands."""
        if not flows:
            return {}
        params: dict[str, Any] = {f"f{index}": flow for index, flow in enumerate(flows)}
        with self.store.read() as conn:
            rows = conn.execute(_newest_of_flows(len(flows)), {"project_id": project_id, **params}).all()
        return {run.flow_id: run for run in _summaries(rows)}

    def flows_overview(
        self, project_id: int, flows: Sequence[str], window: int
    ) -> tuple[dict[str, dict[Status, int]], dict[str, ExecutionSummary]]:
        """:meth:`outcomes` of each of ``flows``' newest ``window`` executions and :meth:`last_per_flow`, read
        in one statement (a project page's two reads of its flows' runs)."""
        if not flows:
            return {}, {}
        params: dict[str, Any] = {f"f{index}": flow for index, flow in enumerate(flows)}
        with self.store.read() as conn:
            rows = conn.execute(
                _flows_overview(len(flows)), {"project_id": project_id, "window": max(window, 0), **params}
            ).all()
        outcomes: dict[str, dict[Status, int]] = {}
        newest = []
        for flow_id, stored, counted, ident, pid, name, user, submitted, started, ended, source in rows:
            if counted is None:
                newest.append((ident, pid, name, flow_id, stored, user, submitted, started, ended, source))
            else:
                outcomes.setdefault(flow_id, {})[Status(stored)] = int(counted)
        return outcomes, {run.flow_id: run for run in _summaries(newest)}

    def last_per_project(self, project_ids: Sequence[int]) -> dict[int, ExecutionSummary]:
        """The newest execution of each project given (the projects list's badges): one index search per
        project (``ix_executions_project_id``), all in one statement with the rows they find."""
        if not project_ids:
            return {}
        params = {f"p{index}": project for index, project in enumerate(project_ids)}
        with self.store.read() as conn:
            rows = conn.execute(_newest_of_projects(len(project_ids)), params).all()
        return {run.project_id: run for run in _summaries(rows)}

    def running(self, limit: int = 100) -> list[ExecutionRecord]:
        """Executions not yet over, newest first (the ``ix_executions_status`` index)."""
        with self.store.read() as conn:
            return execution_records(_unfinished_only(conn, _running(limit)).all())

    def elsewhere(self, limit: int = 200) -> list[ExecutionRecord]:
        """Executions running elsewhere (:data:`ELSEWHERE`: imported from Azkaban while they ran there), newest
        first."""
        e = t.executions.c
        query = sa.select(t.executions).where(UNFINISHED, e.executor_id == ELSEWHERE).order_by(e.id.desc()).limit(limit)
        with self.store.read() as conn:
            return execution_records(_unfinished_only(conn, query).all())

    def running_ids(self, project_id: int, flow_id: str) -> list[int]:
        """Executions of a flow that have not finished (Azkaban's "running": any non-terminal status), but
        those running elsewhere (:data:`ELSEWHERE`), which no control here reaches."""
        e = t.executions
        query = (
            sa.select(e.c.id)
            .where(
                e.c.project_id == project_id,
                e.c.flow_id == flow_id,
                UNFINISHED,
                _here(e),
            )
            .order_by(e.c.id)
        )
        with self.store.read() as conn:
            return [int(x) for x in _unfinished_only(conn, query).scalars()]

    def flow_page(self, project_id: int, flow_id: str, limit: int, offset: int) -> tuple[list[FlowRun], int]:
        """One page of a flow's executions, newest first, and how many the flow has (``fetchFlowExecutions``
        asks for both on every call).

        One statement where the page has rows: the total rides on each row as an uncorrelated subquery
        (computed once), and only the columns the page shows are read. On MariaDB the select built per call, a
        separate count and every column of the rows (the options' JSON decoded 16 times) cost 2.8 ms of CPU
        per call, 0.65 ms now (benchmarks/README.md). A page past the end has no row to carry the total, so
        it is counted on its own then."""
        params = {"project_id": project_id, "flow_id": flow_id, "limit": max(limit, 0), "offset": max(offset, 0)}
        with self.store.read() as conn:
            rows = conn.execute(_FLOW_PAGE, params).all()
            total = rows[0][-1] if rows else conn.execute(_COUNT_FLOW, params).scalar_one()
        runs = [FlowRun(i, p, f, status(s), u, sub, start, end) for i, p, f, s, u, sub, start, end, _ in rows]
        return runs, int(total)

    def count(self, project_id: int, flow_id: str | None = None) -> int:
        query = _COUNT if flow_id is None else _COUNT_FLOW
        with self.store.read() as conn:
            return int(conn.execute(query, {"project_id": project_id, "flow_id": flow_id}).scalar_one())


#: Where SQLite reads the executions that are not over (see :func:`_unfinished_only`).
_FROM_UNFINISHED = "\nFROM executions INDEXED BY ix_executions_unfinished"


def _unfinished_only(conn: sa.Connection, query: sa.Select[Any]) -> sa.CursorResult[Any]:
    """Run ``query``, a read of unfinished executions (its WHERE holds :data:`UNFINISHED`) from
    ``executions`` alone; on SQLite through the partial index ``ix_executions_unfinished`` by name.

    SQLite's planner, without statistics (sudoless never runs ANALYZE), takes a flow's (project, flow, id)
    index as readily as the partial one of the same columns, and walks the flow's whole history (50,000
    entries for one flow of a million executions: 200 ms for getRunning); with statistics it scanned the table
    for the status page. ``INDEXED BY`` settles it, and fails loudly (no query plan) should the query stop
    matching the index's condition. SQLAlchemy renders no table hints for SQLite, hence the text."""
    if conn.dialect.name != "sqlite":
        return conn.execute(query)
    compiled = query.compile(conn, compile_kwargs={"render_postcompile": True})
    sql = str(compiled)
    if sql.count("\nFROM executions") != 1:
        raise AssertionError(f"not a read of executions alone: {sql}")
    sql = sql.replace("\nFROM executions", _FROM_UNFINISHED, 1)
    return conn.exec_driver_sql(sql, tuple(compiled.params[name] for name in compiled.positiontup or ()))


@functools.lru_cache(maxsize=8)
def _running(limit: int) -> sa.Select[Any]:
    """:meth:`ExecutionQueries.running`'s statement, built once per limit (the limit is written into it, as
    :func:`_unfinished_only` compiles it with its values on SQLite)."""
    e = t.executions.c
    return sa.select(t.executions).where(UNFINISHED).order_by(e.id.desc()).limit(limit)


@functools.lru_cache(maxsize=8)
def _here(e: sa.Table) -> sa.ColumnElement[bool]:
    """Not an execution running elsewhere (its executor id is :data:`ELSEWHERE`)."""
    return sa.or_(e.c.executor_id.is_(None), e.c.executor_id != ELSEWHERE)


# The statements below are built once per number of flows or projects (their names and ids are parameters):
# building a select of a few subqueries cost a project page more CPU than running it.


def _flow_counts(flows: int) -> list[sa.Select[Any]]:
    """Per flow ``f0``... of project ``project_id``: a select of its newest ``window`` executions counted by
    status, (flow id, status, count)."""
    e = t.executions.c
    parts = []
    for index in range(flows):
        newest = (
            sa.select(e.flow_id, e.status)
            .where(e.project_id == sa.bindparam("project_id"), e.flow_id == sa.bindparam(f"f{index}"))
            .order_by(e.id.desc())
            .limit(sa.bindparam("window"))
            .subquery()
        )
        parts.append(
            sa.select(newest.c.flow_id, newest.c.status, sa.func.count()).group_by(newest.c.flow_id, newest.c.status)
        )
    return parts


@functools.lru_cache(maxsize=64)
def _windowed_outcomes(flows: int) -> Any:
    """Per flow ``f0``... of project ``project_id``: its newest ``window`` executions counted by status."""
    return sa.union_all(*_flow_counts(flows))


#: The columns of :func:`_flows_overview`'s rows after the flow, the status and the count: a summary's others.
_OVERVIEW_REST = (
    _e.id,
    _e.project_id,
    _e.project_name,
    _e.submit_user,
    _e.submit_time,
    _e.start_time,
    _e.end_time,
    _e.source,
)


@functools.lru_cache(maxsize=64)
def _flows_overview(flows: int) -> Any:
    """:func:`_windowed_outcomes` and :func:`_newest_of_flows` in one statement: the newest execution of each
    flow as (flow id, status, NULL, the rest of its summary: :data:`_OVERVIEW_REST`), then the counts as
    (flow id, status, count, NULL...)."""
    e = t.executions.c
    newest = sa.select(e.flow_id, e.status, sa.null().label("counted"), *_OVERVIEW_REST).where(
        e.id.in_(_flow_maxima(flows))
    )
    padding = [sa.null().label(f"none{index}") for index in range(len(_OVERVIEW_REST))]
    return sa.union_all(newest, *(part.add_columns(*padding) for part in _flow_counts(flows)))


def _newest_by_ids(maxima: list[Any]) -> sa.Select[Any]:
    """The summaries of the executions whose ids the scalar subqueries ``maxima`` find (uncorrelated: each
    is one index search, run once; a NULL, where nothing ran, matches no row)."""
    return sa.select(*_SUMMARY).where(_e.id.in_(maxima))


def _flow_maxima(flows: int) -> list[Any]:
    """The newest execution id of each flow ``f0``... of project ``project_id``, as scalar subqueries."""
    e = t.executions.c
    return [
        sa.select(sa.func.max(e.id))
        .where(e.project_id == sa.bindparam("project_id"), e.flow_id == sa.bindparam(f"f{index}"))
        .scalar_subquery()
        for index in range(flows)
    ]


@functools.lru_cache(maxsize=64)
def _newest_of_flows(flows: int) -> sa.Select[Any]:
    return _newest_by_ids(_flow_maxima(flows))


@functools.lru_cache(maxsize=64)
def _newest_of_projects(projects: int) -> sa.Select[Any]:
    e = t.executions.c
    return _newest_by_ids(
        [
            sa.select(sa.func.max(e.id)).where(e.project_id == sa.bindparam(f"p{index}")).scalar_subquery()
            for index in range(projects)
        ]
    )


#: The filters of a :class:`HistoryFilter` bound as parameters (:func:`_bound_conditions`): the name of each
#: that applies, and for a name filter how (``in``: the matching names, ``like``: a pattern), for the term the
#: ways of its columns (None: the column matches nothing).
Shape = tuple[Any, ...]
_CONTAINS = (("project_contains", "project_name"), ("flow_contains", "flow_id"), ("user_contains", "submit_user"))


def _bound_conditions(conn: sa.Connection, wanted: HistoryFilter) -> tuple[Shape, dict[str, Any]] | None:
    """``wanted``'s conditions as a shape and parameters for :func:`_newest_statements` (the name filters read
    the distinct names through ``conn``, as :func:`_conditions` does); None when they can match nothing."""
    shape: list[Any] = []
    params: dict[str, Any] = {}
    if wanted.project_ids is not None:
        shape.append("projects")
        params["project_ids"] = list(wanted.project_ids)
    for name, value in (("flow", wanted.flow), ("user", wanted.user)):
        if value:
            shape.append(name)
            params[name] = value
    if wanted.statuses:
        shape.append("statuses")
        params["statuses"] = [s.value for s in wanted.statuses]
    for name in ("since", "until"):
        if getattr(wanted, name) is not None:
            shape.append(name)
            params[name] = getattr(wanted, name)
    for field, column in _CONTAINS:
        part = getattr(wanted, field)
        if part:
            way = _bound_contains(conn, column, part, params, column)
            if way is None:
                return None
            shape.append((column, way))
    if wanted.term:
        ways = tuple(_bound_contains(conn, column, wanted.term, params, f"term_{column}") for _, column in _CONTAINS)
        if all(way is None for way in ways):
            return None
        shape.append(("term", ways))
    return tuple(shape), params


def _bound_contains(conn: sa.Connection, column: str, part: str, params: dict[str, Any], name: str) -> str | None:
    """:func:`_contains` as a parameter ``name``: ``in`` (the matching names), ``like`` (past
    :data:`NAMES_LIMIT` names: the pattern, its wildcards escaped with ``/`` as ``autoescape`` does), or None
    when no name matches."""
    names = _distinct(conn, t.executions.c[column], NAMES_LIMIT)
    wanted = part.lower()
    if names is None:
        params[name] = wanted.replace("/", "//").replace("%", "/%").replace("_", "/_")
        return "like"
    matching = [value for value in names if wanted in value.lower()]
    if not matching:
        return None
    params[name] = matching
    return "in"


def _bound_contains_clause(column: str, way: str, name: str) -> sa.ColumnElement[bool]:
    c = t.executions.c[column]
    if way == "like":
        return sa.func.lower(c).contains(sa.bindparam(name), escape="/")
    return c.in_(sa.bindparam(name, expanding=True))


@functools.lru_cache(maxsize=256)
def _newest_statements(shape: Shape) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """:meth:`ExecutionQueries._newest_page`'s statements for the filters ``shape`` names, their values
    parameters: a page of summaries newest first (``limit``, ``offset``), each row with how many match below
    the page's last, and how many match at all (for a page past the end), each counted up to ``ahead``.
    Built once per shape (a few dozen are ever asked)."""
    e = t.executions.c
    where: list[sa.ColumnElement[bool]] = []
    for part in shape:
        if part == "projects":
            where.append(e.project_id.in_(sa.bindparam("project_ids", expanding=True)))
        elif part == "flow":
            where.append(e.flow_id == sa.bindparam("flow"))
        elif part == "user":
            where.append(e.submit_user == sa.bindparam("user"))
        elif part == "statuses":
            where.append(e.status.in_(sa.bindparam("statuses", expanding=True)))
        elif part == "since":
            where.append(e.submit_time >= sa.bindparam("since"))
        elif part == "until":
            where.append(e.submit_time < sa.bindparam("until"))
        elif part == "after":
            where.append(e.id < sa.bindparam("after"))
        elif part[0] == "term":
            columns = [column for _, column in _CONTAINS]
            where.append(
                sa.or_(
                    *(
                        _bound_contains_clause(column, way, f"term_{column}")
                        for column, way in zip(columns, part[1], strict=True)
                        if way is not None
                    )
                )
            )
        else:
            where.append(_bound_contains_clause(part[0], part[1], part[0]))
    ids = sa.select(e.id).where(*where).order_by(e.id.desc()).limit(sa.bindparam("limit"))
    ids = ids.offset(sa.bindparam("offset"))
    every = sa.select(e.id).where(*where)
    # the count past the page's last (lowest) id comes with every row of the page: an uncorrelated subquery
    # the databases run once, where a second statement cost the request about 0.15 ms of CPU
    shown = ids.subquery("shown")
    last = sa.select(sa.func.min(shown.c.id)).scalar_subquery()
    later = counted(every.where(e.id < last)).scalar_subquery().label("later")
    page = ids.subquery("page")
    rows = sa.select(*_SUMMARY, later).join(page, e.id == page.c.id).order_by(e.id.desc())
    return rows, counted(every)


def counted(matching: sa.Select[Any]) -> sa.Select[Any]:
    """How many rows ``matching`` finds, up to the parameter ``ahead``."""
    return sa.select(sa.func.count()).select_from(matching.limit(sa.bindparam("ahead")).subquery())


@functools.cache
def _list_query(by_project: bool, by_flow: bool, by_status: bool) -> sa.Select[Any]:
    """Executions newest first, filtered on the columns asked for; page bounds are parameters too. The page's
    ids come from the index alone and then their rows (see :meth:`ExecutionQueries.history`). Built once per
    combination of filters (eight at most): building the select cost more than running it."""
    e = t.executions
    ids = sa.select(e.c.id).order_by(e.c.id.desc()).limit(sa.bindparam("limit")).offset(sa.bindparam("offset"))
    if by_project:
        ids = ids.where(e.c.project_id == sa.bindparam("project_id"))
    if by_flow:
        ids = ids.where(e.c.flow_id == sa.bindparam("flow_id"))
    if by_status:
        ids = ids.where(e.c.status.in_(sa.bindparam("statuses", expanding=True)))
    return _rows_of(ids.subquery("page"), [e.c.id.desc()])


def _order(key: Any, descending: bool) -> list[Any]:
    """The history's ORDER BY: the sort key, then the id in the same direction (ties)."""
    e = t.executions.c
    order = [key.desc() if descending else key.asc()]
    if key is not e.id:
        order.append(e.id.desc() if descending else e.id.asc())
    return order


def _ordered_ids(where: list[sa.ColumnElement[bool]], key: Any, descending: bool) -> sa.Select[Any]:
    return sa.select(t.executions.c.id).where(*where).order_by(*_order(key, descending))


def _past(conn: sa.Connection, key: Any, anchor: int, descending: bool) -> list[sa.ColumnElement[bool]] | None:
    """The rows that come after execution ``anchor`` in the order by ``key`` then id (both descending or
    both ascending), as ranges on the (key, id) index to read one after the other. None if ``anchor`` does
    not exist. The anchor's key is read here by its id, so that links carry only an id (no key to parse,
    none to forge).

    PostgreSQL takes a row comparison, ``(key, id) < (k, i)``, as one index range; MariaDB the same spelled
    ``key < k OR (key = k AND id < i)`` (two ranges, in order, for its range optimizer). SQLite bounds a row
    comparison's range by its first column alone and steps over every entry of the anchor's key before
    the anchor (a user's 200,000 executions for a sort by user): it gets two reads instead, the anchor's
    ties after it (``key = k AND id < i``), then the keys beyond (``key < k``)."""
    e = t.executions.c
    if key is e.id:
        return [cast("sa.ColumnElement[bool]", e.id < anchor if descending else e.id > anchor)]
    found = conn.execute(sa.select(key).where(e.id == anchor)).first()
    if found is None:
        return None
    value = found[0]
    ties = sa.and_(key == value, e.id < anchor if descending else e.id > anchor)
    beyond = key < value if descending else key > value
    if conn.dialect.name == "sqlite":
        return [ties, beyond]
    if conn.dialect.name == "mysql":
        return [sa.or_(beyond, ties)]
    pair, at = sa.tuple_(key, e.id), sa.tuple_(sa.literal(value, key.type), sa.literal(anchor))
    return [pair < at if descending else pair > at]


def _rows_of(page: sa.Subquery, order: list[Any], columns: Sequence[Any] = ()) -> sa.Select[Any]:
    """The executions whose ids the ``page`` subquery holds (their ``columns``, all by default), in ``order``
    again (a join keeps no order)."""
    e = t.executions
    return sa.select(*(columns or [e])).join(page, e.c.id == page.c.id).order_by(*order)


#: The most distinct names a name filter resolves into an IN list; past it, LIKE on every row (a scan).
NAMES_LIMIT = 2_000


def _distinct(conn: sa.Connection, column: Any, limit: int) -> list[str] | None:
    """``column``'s distinct values in order, each found by one index search from the previous one; None
    past ``limit`` values. MariaDB does that walk itself for a DISTINCT ("Using index for group-by") and
    runs the recursive form slowly (2-3 s for 5 names in 1,000,000 executions, against 20 ms)."""
    values = list(conn.execute(_distinct_statement(column, limit, conn.dialect.name == "mysql")).scalars())
    return None if len(values) > limit else values


@functools.lru_cache(maxsize=32)
def _distinct_statement(column: Any, limit: int, mysql: bool) -> sa.Select[Any]:
    """:func:`_distinct`'s statement, built once per column and limit."""
    if mysql:
        return sa.select(column).distinct().order_by(column).limit(limit + 1)
    low = sa.select(sa.func.min(column).label("v"), sa.literal(1).label("n")).cte("names", recursive=True)
    nxt = sa.select(sa.func.min(column)).where(column > low.c.v).scalar_subquery()
    walk = low.union_all(sa.select(nxt, low.c.n + 1).where(low.c.v.is_not(None), low.c.n <= limit))
    return sa.select(walk.c.v).where(walk.c.v.is_not(None))


def _contains(conn: sa.Connection, column: Any, part: str) -> sa.ColumnElement[bool]:
    """``column`` holds ``part``, case aside. The distinct values of the column are few (projects, flows,
    users) and found by index searches (:func:`_distinct`): matched here, they become an IN list that the
    (column, id) indexes answer, where ``lower(column) LIKE '%part%'`` reads every execution ever run. A
    column with more than :data:`NAMES_LIMIT` distinct values falls back to that LIKE (``%`` and ``_`` in
    ``part`` literal)."""
    names = _distinct(conn, column, NAMES_LIMIT)
    if names is None:
        return sa.func.lower(column).contains(part.lower(), autoescape=True)
    wanted = part.lower()
    matching = [name for name in names if wanted in name.lower()]
    return column.in_(matching) if matching else sa.false()


def _conditions(conn: sa.Connection, wanted: HistoryFilter) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of ``wanted``; the name filters read the distinct names through ``conn``."""
    e = t.executions.c
    where: list[sa.ColumnElement[bool]] = []
    if wanted.project_ids is not None:
        where.append(e.project_id.in_(list(wanted.project_ids)) if wanted.project_ids else sa.false())
    if wanted.flow:
        where.append(e.flow_id == wanted.flow)
    if wanted.statuses:
        where.append(e.status.in_([s.value for s in wanted.statuses]))
    if wanted.user:
        where.append(e.submit_user == wanted.user)
    if wanted.since is not None:
        where.append(e.submit_time >= wanted.since)
    if wanted.until is not None:
        where.append(e.submit_time < wanted.until)
    for column, part in (
        (e.project_name, wanted.project_contains),
        (e.flow_id, wanted.flow_contains),
        (e.submit_user, wanted.user_contains),
    ):
        if part:
            where.append(_contains(conn, column, part))
    if wanted.term:
        where.append(sa.or_(*(_contains(conn, c, wanted.term) for c in (e.project_name, e.flow_id, e.submit_user))))
    return where
