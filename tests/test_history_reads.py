"""The history reads made for a long history (issue 22), on each database back end: the executions list's
bounded count (counting stops a given number of rows past the page, says so, and is exact below that, with
the filters applied) and each project's and each flow's newest execution by index searches; keyset pages
(migration 0014's duration column among the sorts), the duration column as the database keeps it, and the
unfinished executions read off the partial index."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from sudoless.store import Store
from sudoless.store import tables as t
from sudoless.store.executions import ExecutionQueries, HistoryFilter
from sudoless.store.status import Status
from support.round_trips import counting


def add_history(store: Store, project: str, flow: str, count: int, status: str = "SUCCEEDED") -> list[int]:
    """``count`` finished executions of ``project``'s ``flow``; their ids, oldest first."""
    ids = []
    with store.write() as conn:
        for index in range(count):
            result = conn.execute(
                t.executions.insert().values(
                    project_id=1 if project == "alpha" else 2,
                    project_name=project,
                    version=1,
                    flow_id=flow,
                    status=status,
                    submit_user="ann",
                    submit_time=1_000 + index,
                    start_time=1_001 + index,
                    end_time=2_000 + index,
                    update_time=2_000 + index,
                    source="adhoc",
                    options="{}",
                    executor_id=1,
                    control="",
                    priority=5,
                    restarted_from=None,
                )
            )
            ids.append(int(result.inserted_primary_key[0]))
    return ids


def test_count_stops_ahead_of_the_page_and_says_so(store: Store) -> None:
    with store.write() as conn:
        conn.execute(t.executions.delete())
    failed = add_history(store, "alpha", "nightly", 7, "FAILED")
    done = add_history(store, "alpha", "nightly", 30, "SUCCEEDED")
    add_history(store, "beta", "hourly", 5, "SUCCEEDED")
    everything = HistoryFilter()

    exact = store.executions.history(everything, 5, 0)
    assert (exact.total, exact.exact) == (42, True)

    bounded = store.executions.history(everything, 5, 0, count_ahead=10)
    assert (bounded.total, bounded.exact) == (15, False)  # the page's 5 and 10 more: at least 15
    assert len(bounded.runs) == 5 and [r.id for r in bounded.runs] == sorted((r.id for r in bounded.runs), reverse=True)

    # further pages count further ahead; near the end the count is exact again
    assert store.executions.history(everything, 5, 20, count_ahead=10).total == 35
    last = store.executions.history(everything, 5, 30, count_ahead=10)
    assert (last.total, last.exact) == (42, True)
    assert store.executions.history(everything, 5, 27, count_ahead=10).exact  # exactly at the bound: exact

    # the filters bound the count as they bound the rows
    failures = store.executions.history(HistoryFilter(statuses=(Status.FAILED,)), 5, 0, count_ahead=10)
    assert (failures.total, failures.exact) == (7, True)
    assert {r.id for r in failures.runs} <= set(failed)
    alpha = store.executions.history(HistoryFilter(project_contains="ALP"), 10, 0, count_ahead=5)
    assert (alpha.total, alpha.exact) == (15, False)
    assert {r.id for r in alpha.runs} <= set(failed + done)
    nothing = store.executions.history(HistoryFilter(project_ids=[]), 10, 0, count_ahead=5)
    assert (nothing.total, nothing.exact, nothing.runs) == (0, True, [])
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.executions)).scalar_one() == 42


def general_path(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make :meth:`ExecutionQueries.history` answer every page through its general path, whose select is
    built for the request (the reference the statements built once are held to)."""

    def general(self: ExecutionQueries, wanted: HistoryFilter, limit: int, offset: int, ahead: int, after: Any) -> Any:
        return self._any_page(wanted, limit, offset, t.executions.c.id, True, ahead, after, None)

    monkeypatch.setattr(ExecutionQueries, "_newest_page", general)


def test_the_newest_pages_read_through_built_statements_answer_as_the_general_path(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The executions list's most asked page (newest first, by offset, filtered on the readable projects
    alone) runs statements built once; every page, bound and project filter answers as the general path,
    which builds its select per request, in one statement: the page with its count."""
    with store.write() as conn:
        conn.execute(t.executions.delete())
    add_history(store, "alpha", "nightly", 23)
    add_history(store, "beta", "hourly", 9, "FAILED")
    cases = [
        (projects, limit, offset, ahead)
        for projects in (None, [1], [2], [1, 2], [3], [])
        for limit, offset in ((5, 0), (5, 5), (7, 20), (5, 30), (16, 0), (5, 40), (0, 0))
        for ahead in (0, 3, 1_000)
    ]
    fast = {}
    for projects, limit, offset, ahead in cases:
        with counting(store.engine) as trips:
            fast[(str(projects), limit, offset, ahead)] = store.executions.history(
                HistoryFilter(project_ids=projects), limit, offset, count_ahead=ahead
            )
        # one statement, the count with the page's rows; a page past the end (or none) counts apart
        found = fast[(str(projects), limit, offset, ahead)]
        assert trips.statements == (0 if projects == [] else 1 if found.runs else 2)
    general_path(store, monkeypatch)
    for projects, limit, offset, ahead in cases:
        general = store.executions.history(HistoryFilter(project_ids=projects), limit, offset, count_ahead=ahead)
        assert fast[(str(projects), limit, offset, ahead)] == general, (projects, limit, offset, ahead)


def test_filtered_and_next_pages_through_built_statements_answer_as_the_general_path(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Newest first with any filter (names whole or in part, statuses, times, the term, the readable
    projects), by offset or after an execution id (the next page's link), and with names past
    :data:`~sudoless.store.executions.NAMES_LIMIT` (LIKE, wildcards literal): the statements built once per
    combination of filters answer as the general path does; built once, a second ask builds nothing."""
    from sudoless.store import executions

    rows = mixed_history(store)
    ids = [int(str(row["id"])) for row in rows]
    filters = [
        HistoryFilter(),
        HistoryFilter(project_ids=[1, 3], statuses=(Status.FAILED, Status.RUNNING)),
        HistoryFilter(flow="nightly", user="ann"),
        HistoryFilter(project_contains="ALPH", flow_contains="t_x"),
        HistoryFilter(project_contains="%_"),
        HistoryFilter(user_contains="ann", since=1_003, until=1_010),
        HistoryFilter(project_ids=[2], term="NN"),
        HistoryFilter(term="hour", statuses=(Status.SUCCEEDED,)),
        HistoryFilter(project_contains="nothing"),
        HistoryFilter(user_contains="zed", term="a"),
        HistoryFilter(term="zzz"),
        HistoryFilter(project_ids=[]),
    ]
    pages = [(5, 0, None), (5, 5, None), (16, 0, None), (5, 40, None), (4, 4, ids[30]), (4, 8, ids[3]), (5, 5, 10**9)]
    cases = [
        (f, limit, offset, after, ahead) for f in filters for limit, offset, after in pages for ahead in (0, 2, 1_000)
    ]
    for names_limit in (executions.NAMES_LIMIT, 2):  # 2: more distinct names than that, LIKE on every row
        monkeypatch.setattr(executions, "NAMES_LIMIT", names_limit)
        fast = [store.executions.history(f, n, o, count_ahead=a, after=x) for f, n, o, x, a in cases]
        with monkeypatch.context() as patched:
            general_path(store, patched)
            general = [store.executions.history(f, n, o, count_ahead=a, after=x) for f, n, o, x, a in cases]
        for case, one, other in zip(cases, fast, general, strict=True):
            assert one == other, (names_limit, case)
    assert any(found.runs for found in fast) and any(not found.exact for found in fast)
    built = executions._newest_statements.cache_info().misses
    store.executions.history(filters[3], 5, 0, count_ahead=10)
    assert executions._newest_statements.cache_info().misses == built


def test_newest_execution_per_project_and_per_flow(store: Store) -> None:
    with store.write() as conn:
        conn.execute(t.executions.delete())
    nightly = add_history(store, "alpha", "nightly", 3)
    hourly = add_history(store, "beta", "hourly", 4)
    later = add_history(store, "alpha", "weekly", 2)
    again = add_history(store, "alpha", "nightly", 1, "FAILED")
    daily = add_history(store, "beta", "daily", 2)

    newest = store.executions.last_per_project([1, 2, 99])
    assert set(newest) == {1, 2}  # project 99 never ran: absent, not an error
    assert newest[1].id == again[-1] and newest[1].status is Status.FAILED
    assert newest[2].id == daily[-1] and newest[2].flow_id == "daily"
    assert store.executions.last_per_project([]) == {}

    flows = store.executions.last_per_flow(1, ["nightly", "weekly", "never"])
    assert {f: r.id for f, r in flows.items()} == {"nightly": again[-1], "weekly": later[-1]}
    assert all(r.project_id == 1 for r in flows.values()) and again[-1] > max(nightly)
    assert store.executions.last_per_flow(2, ["hourly"])["hourly"].id == hourly[-1]
    assert store.executions.last_per_flow(1, []) == {}


def test_success_counts_over_each_flows_newest_runs(store: Store) -> None:
    with store.write() as conn:
        conn.execute(t.executions.delete())
    add_history(store, "alpha", "nightly", 7, "FAILED")
    add_history(store, "alpha", "nightly", 30)
    add_history(store, "alpha", "weekly", 3, "KILLED")
    add_history(store, "beta", "nightly", 4, "FAILED")  # same flow name, another project: never counted

    everything = store.executions.outcomes(1)
    assert everything == {"nightly": {Status.FAILED: 7, Status.SUCCEEDED: 30}, "weekly": {Status.KILLED: 3}}
    assert store.executions.outcomes(1, ["nightly", "weekly"], 10_000) == everything
    newest = store.executions.outcomes(1, ["nightly", "weekly", "never"], 35)
    assert newest == {"nightly": {Status.FAILED: 5, Status.SUCCEEDED: 30}, "weekly": {Status.KILLED: 3}}
    assert store.executions.outcomes(1, ["nightly"], 10) == {"nightly": {Status.SUCCEEDED: 10}}
    assert store.executions.outcomes(1, [], 10) == {}


def test_a_projects_flows_overview_is_their_outcomes_and_newest_runs_read_at_once(store: Store) -> None:
    """The project page's one statement answers what :meth:`outcomes` (windowed) and :meth:`last_per_flow`
    answer apart, summaries' fields and types included, and follows a new run."""
    with store.write() as conn:
        conn.execute(t.executions.delete())
    add_history(store, "alpha", "nightly", 7, "FAILED")
    add_history(store, "alpha", "nightly", 30)
    add_history(store, "alpha", "weekly", 3, "KILLED")
    add_history(store, "beta", "nightly", 4, "FAILED")
    queries = store.executions

    def both(project_id: int, flows: list[str], window: int) -> tuple[object, object]:
        return queries.outcomes(project_id, flows, window), queries.last_per_flow(project_id, flows)

    for project_id, flows, window in (
        (1, ["nightly", "weekly", "never"], 35),
        (1, ["weekly"], 2),
        (2, ["nightly"], 100),
    ):
        together = queries.flows_overview(project_id, flows, window)
        assert together == both(project_id, flows, window)
        assert [tuple(map(type, run)) for run in together[1].values()] == [
            tuple(map(type, run)) for run in queries.last_per_flow(project_id, flows).values()
        ]
    assert queries.flows_overview(1, [], 10) == ({}, {})
    assert queries.flows_overview(1, ["never"], 10) == ({}, {})
    newer = add_history(store, "alpha", "weekly", 1, "FAILED")
    outcomes, last = queries.flows_overview(1, ["weekly"], 10)
    assert last["weekly"].id == newer[-1] and outcomes == {"weekly": {Status.KILLED: 3, Status.FAILED: 1}}


def test_a_jobs_recent_attempts_newest_first_across_executions(store: Store) -> None:
    with store.write() as conn:
        conn.execute(t.executions.delete())
        conn.execute(t.job_runs.delete())
    runs = add_history(store, "alpha", "nightly", 6)
    other = add_history(store, "alpha", "weekly", 2)  # the same job name in another flow: not its history
    rows = []
    for exec_id in runs + other:
        for attempt in (0, 1) if exec_id == runs[3] else (0,):
            started = -1 if exec_id == runs[5] else 10 * exec_id + attempt  # the newest never started
            for job in ("build", "test"):
                rows.append(
                    {
                        "exec_id": exec_id,
                        "nested_id": job,
                        "attempt": attempt,
                        "type": "command",
                        "status": "SUCCEEDED" if started >= 0 else "READY",
                        "start_time": started,
                        "end_time": started + 5 if started >= 0 else -1,
                        "update_time": 1,
                        "parents": "[]",
                    }
                )
    with store.write() as conn:
        conn.execute(t.job_runs.insert(), rows)
    recent = store.job_runs.recent_attempts(1, "nightly", "test", limit=4)
    assert [(r.exec_id, r.attempt) for r in recent] == [(runs[4], 0), (runs[3], 1), (runs[3], 0), (runs[2], 0)]
    assert all(r.nested_id == "test" for r in recent)
    # the cut falls inside an execution's attempts: its newest attempt is kept, whatever order rows come in
    two = store.job_runs.recent_attempts(1, "nightly", "test", limit=2)
    assert [(r.exec_id, r.attempt) for r in two] == [(runs[4], 0), (runs[3], 1)]
    assert store.job_runs.recent_attempts(1, "nightly", "nothing") == []
    assert len(store.job_runs.recent_attempts(1, "nightly", "build", limit=50)) == 6  # 5 started, one twice


@pytest.mark.parametrize("fresh_db", ["mariadb"], indirect=True)
def test_a_jobs_recent_attempts_keep_their_plan_whatever_mariadb_s_statistics_say(fresh_db: tuple[str, str]) -> None:
    """MariaDB chooses a join's order from index statistics. Statistics that make every key of ``job_runs``
    look shared by every row (what the latency benchmark's freshly loaded database got, until ANALYZE TABLE)
    turned the portable statement into a scan of all of ``job_runs``; the statement MariaDB is given must still
    read the flow's executions newest first and the attempts by primary key."""
    _, url = fresh_db
    store = Store(url)
    try:
        runs = add_history(store, "alpha", "nightly", 20)
        with store.write() as conn:
            conn.execute(
                t.job_runs.insert(),
                [
                    {
                        "exec_id": run,
                        "nested_id": "test",
                        "attempt": 0,
                        "type": "command",
                        "status": "SUCCEEDED",
                        "start_time": run,
                        "end_time": run + 1,
                        "update_time": 1,
                        "parents": "[]",
                    }
                    for run in runs
                ],
            )
        database = store.engine.url.database
        with store.engine.connect() as conn:  # engine-independent statistics, which MariaDB prefers to InnoDB's
            conn.exec_driver_sql("DELETE FROM mysql.table_stats WHERE db_name = %s", (database,))
            conn.exec_driver_sql("DELETE FROM mysql.index_stats WHERE db_name = %s", (database,))
            conn.exec_driver_sql("INSERT INTO mysql.table_stats VALUES (%s, 'job_runs', 106784)", (database,))
            for index, arity in (("PRIMARY", 1), ("PRIMARY", 2), ("PRIMARY", 3), ("ix_job_runs_update", 1)):
                conn.exec_driver_sql(
                    "INSERT INTO mysql.index_stats VALUES (%s, 'job_runs', %s, %s, 106784)", (database, index, arity)
                )
            conn.exec_driver_sql(f"FLUSH TABLES `{database}`.job_runs")
            conn.commit()
        asked: list[tuple[str, Any]] = []

        def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
            asked.append((statement, parameters))

        sa.event.listen(store.engine, "before_cursor_execute", keep)
        try:
            recent = store.job_runs.recent_attempts(1, "nightly", "test", limit=2)
        finally:
            sa.event.remove(store.engine, "before_cursor_execute", keep)
        assert [r.exec_id for r in recent] == [runs[-1], runs[-2]]
        (statement, parameters), *_ = [(s, p) for s, p in asked if "job_runs" in s]
        with store.engine.connect() as conn:
            plan = conn.exec_driver_sql("EXPLAIN " + statement, parameters).mappings().all()
        scans = [row for row in plan if row["type"] in ("ALL", "index")]
        assert scans == [] or all(str(row["table"]).startswith("<derived") for row in scans), plan
        assert {row["table"]: row["key"] for row in plan if row["table"] in ("a", "executions")} == {
            "a": "PRIMARY",
            "executions": "ix_executions_flow_id",
        }, plan
    finally:
        store.close()


def mixed_history(store: Store) -> list[dict[str, object]]:
    """43 executions with ties in every sortable column (a few distinct names, times and statuses, some
    unfinished), names in mixed case and with LIKE's wildcards; every row as stored, oldest first."""
    with store.write() as conn:
        conn.execute(t.executions.delete())
        rows = []
        for index in range(43):
            running = index % 11 == 0
            rows.append(
                {
                    "project_id": 1 + index % 3,
                    "project_name": ("Alpha", "beta", "gam%_ma")[index % 3],
                    "version": 1,
                    "flow_id": ("nightly", "Hourly", "night_x")[index % 4 % 3],
                    "status": "RUNNING" if running else ("SUCCEEDED", "FAILED", "KILLED")[index % 5 % 3],
                    "submit_user": ("ann", "Bob", "annie", "carl")[index % 4],
                    "submit_time": 1_000 + index // 3,
                    "start_time": 1_010 + index // 4,
                    "end_time": -1 if running else 1_100 + index % 7,
                    "update_time": 2_000,
                    "source": ("adhoc", "schedule")[index % 2],
                    "options": "{}",
                    "executor_id": 1,
                    "control": "",
                    "priority": 5,
                    "restarted_from": None,
                }
            )
        conn.execute(t.executions.insert(), rows)
        stored = conn.execute(sa.select(t.executions).order_by(t.executions.c.id)).mappings().all()
    return [dict(row) for row in stored]


def naive_key(sort: str):  # type: ignore[no-untyped-def]
    """The sort of the executions page, computed in Python from the stored rows."""
    column = {"id": "id", "project": "project_name", "flow": "flow_id", "status": "status", "user": "submit_user"}
    column |= {"submitted": "submit_time", "started": "start_time", "ended": "end_time", "source": "source"}
    if sort == "duration":
        return lambda r: -1 if r["end_time"] < 0 or r["start_time"] < 0 else r["end_time"] - r["start_time"]
    return lambda r: r[column[sort]]


def test_every_sort_pages_through_every_execution_once_in_order(store: Store) -> None:
    """Pages of 5 (ids from the index, then their rows) concatenate to the whole table sorted by the column
    and, among equals, by id in the same direction. Numbers are sorted here in Python; names in one query
    without paging, since their order is the database's collation (MariaDB's ignores case)."""
    from sudoless.store.executions import HISTORY_SORTS

    rows = mixed_history(store)
    for sort in ("id", "project", "flow", "status", "user", "submitted", "started", "ended", "duration", "source"):
        for descending in (True, False):
            key = naive_key(sort)
            expected = [r["id"] for r in sorted(rows, key=lambda r: (key(r), r["id"]), reverse=descending)]
            if isinstance(key(rows[0]), str):
                column, e = HISTORY_SORTS[sort], t.executions.c
                order = (column.desc(), e.id.desc()) if descending else (column.asc(), e.id.asc())
                with store.read() as conn:
                    expected = list(conn.execute(sa.select(e.id).order_by(*order)).scalars())
                assert sorted(expected) == sorted(r["id"] for r in rows)
            seen: list[int] = []
            for offset in range(0, 50, 5):
                page = store.executions.history(HistoryFilter(), 5, offset, sort, descending, count_ahead=5)
                seen += [r.id for r in page.runs]
                # the bounded total, counted on from the page's last row in this order
                later = len(rows) - offset - len(page.runs)
                wanted = (len(rows), True) if later <= 5 else (offset + len(page.runs) + 5, False)
                assert (page.total, page.exact) == wanted, (sort, descending, offset)
            assert seen == expected, (sort, descending)
    # in a sort by a column with ties, the rows of a page are whole records
    page = store.executions.history(HistoryFilter(), 3, 7, "user", False)
    by_id = {r["id"]: r for r in rows}
    assert [(r.submit_user, r.flow_id, r.end_time) for r in page.runs] == [
        (by_id[r.id]["submit_user"], by_id[r.id]["flow_id"], by_id[r.id]["end_time"]) for r in page.runs
    ]


def test_name_filters_match_what_lower_like_matches(store: Store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The filters on parts of names (resolved into IN lists of the distinct names) select exactly the rows
    that a case-blind substring test selects, wildcards literal, combined with the other filters; and the
    same when there are too many distinct names and the filter falls back to LIKE."""
    from sudoless.store import executions

    rows = mixed_history(store)

    def naive(project: str = "", flow: str = "", user: str = "", term: str = "", status: str = "") -> list[int]:
        def has(value: object, part: str) -> bool:
            return part.lower() in str(value).lower()

        names = ("project_name", "flow_id", "submit_user")
        return [
            r["id"]
            for r in reversed(rows)
            if has(r["project_name"], project)
            and has(r["flow_id"], flow)
            and has(r["submit_user"], user)
            and (not term or any(has(r[c], term) for c in names))
            and (not status or r["status"] == status)
        ]

    cases = [
        {"project": "ALPH"},
        {"project": "%_"},  # the wildcards are literal: only gam%_ma
        {"project": "_"},
        {"flow": "night"},
        {"flow": "t_x"},
        {"user": "ann"},  # ann and annie
        {"user": "BOB", "status": "FAILED"},
        {"project": "a", "flow": "hourly", "user": "b"},
        {"term": "NN"},
        {"term": "hour"},
        {"project": "nothing"},
        {"user": "zed", "term": "a"},
    ]
    for limit in (executions.NAMES_LIMIT, 2):  # 2: more distinct names than that, LIKE on every row
        monkeypatch.setattr(executions, "NAMES_LIMIT", limit)
        for case in cases:
            wanted = HistoryFilter(
                project_contains=case.get("project", ""),
                flow_contains=case.get("flow", ""),
                user_contains=case.get("user", ""),
                term=case.get("term", ""),
                statuses=(Status(case["status"]),) if "status" in case else (),
            )
            found = store.executions.history(wanted, 100, 0)
            assert [r.id for r in found.runs] == naive(**case), (limit, case)
            assert (found.total, found.exact) == (len(naive(**case)), True)


def test_a_flows_pages_deep_and_shallow(store: Store) -> None:
    """fetchFlowExecutions' pages (ids from the flow's index, then the rows) at every offset, and the
    unfiltered and status-filtered lists, equal the naive newest-first lists."""
    rows = mixed_history(store)
    nightly = [r["id"] for r in reversed(rows) if r["project_id"] == 1 and r["flow_id"] == "nightly"]
    assert len(nightly) > 4
    for offset in range(len(nightly) + 2):
        page, total = store.executions.flow_page(1, "nightly", limit=3, offset=offset)
        assert ([r.id for r in page], total) == (nightly[offset : offset + 3], len(nightly))
        assert all(r.flow_id == "nightly" and r.project_id == 1 for r in page)
    newest = [r["id"] for r in reversed(rows)]
    assert [r.id for r in store.executions.latest(limit=10, offset=30)] == newest[30:40]
    failed = [r["id"] for r in reversed(rows) if r["status"] == "FAILED"]
    assert [r.id for r in store.executions.latest(statuses=[Status.FAILED], limit=100)] == failed


def test_a_flows_page_is_one_statement_unless_past_the_end(store: Store) -> None:
    """fetchFlowExecutions' read: the page and the flow's total in one statement (a round trip fewer per
    request); a page past the end has no row to carry the total and counts it in a second one."""
    add_history(store, "alpha", "one-statement", 5)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        statements.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", seen)
    try:
        page, total = store.executions.flow_page(1, "one-statement", limit=3, offset=0)
        assert (len(page), total, len(statements)) == (3, 5, 1)
        statements.clear()
        page, total = store.executions.flow_page(1, "one-statement", limit=3, offset=9)
        assert (page, total, len(statements)) == ([], 5, 2)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", seen)


SORTS = ("id", "project", "flow", "status", "user", "submitted", "started", "ended", "duration", "source")


def test_keyset_pages_equal_offset_pages_in_every_sort(store: Store) -> None:
    """Following the "Older" links (``after``: the last row shown) gives the pages that offsets give, in
    every sort and both directions, with a filter or none; going back (``before``: the first row shown)
    gives them again. Totals: the page's number (the link's) plus the rows from the page on."""
    rows = mixed_history(store)
    filters = (HistoryFilter(), HistoryFilter(statuses=(Status.SUCCEEDED, Status.RUNNING), user_contains="ann"))
    for wanted in filters:
        for sort in SORTS:
            for descending in (True, False):
                offset_pages = []
                for offset in range(0, 50, 5):
                    page = store.executions.history(wanted, 5, offset, sort, descending)
                    offset_pages.append([r.id for r in page.runs])
                matching = sum(len(p) for p in offset_pages)
                if wanted == filters[0]:
                    assert matching == len(rows)
                walked = [offset_pages[0]]
                last = offset_pages[0][-1]
                for number in range(1, 10):
                    page = store.executions.history(wanted, 5, number * 5, sort, descending, count_ahead=7, after=last)
                    walked.append([r.id for r in page.runs])
                    if not page.runs:
                        assert (page.total, page.exact) == (number * 5, True)
                        continue
                    shown = number * 5 + len(page.runs)
                    later = matching - shown
                    assert (page.total, page.exact) == ((shown + later, True) if later <= 7 else (shown + 7, False))
                    last = page.runs[-1].id
                assert walked == offset_pages, (sort, descending, wanted)
                # and back: each previous page from the first row of the one after it
                full = [p for p in offset_pages if p]
                for number in range(len(full) - 1, 0, -1):
                    back = store.executions.history(
                        wanted, 5, (number - 1) * 5, sort, descending, before=full[number][0]
                    )
                    assert [r.id for r in back.runs] == full[number - 1], (sort, descending, number)
                    assert back.total == matching
    # an anchor that no longer exists: the page's number (an offset) applies
    gone = store.executions.history(HistoryFilter(), 5, 10, "user", True, after=10**9)
    assert [r.id for r in gone.runs] == [r.id for r in store.executions.history(HistoryFilter(), 5, 10, "user").runs]


def duration_of(row: object) -> int:
    start, end = row.start_time, row.end_time  # type: ignore[attr-defined]
    return -1 if start < 0 or end < 0 else end - start


def test_the_duration_column_follows_every_write(store: Store) -> None:
    """``executions.duration`` is computed by the database: right after inserts (several rows at once and
    one), after updates of the start or end time alone or together, through the store or a plain UPDATE."""
    rows = mixed_history(store)
    ids = [r["id"] for r in rows]
    e = t.executions
    store.executions.update(ids[0], start_time=5_000, end_time=5_250)
    store.executions.update(ids[1], end_time=-1)
    store.executions.update(ids[2], start_time=-1)
    store.executions.update(ids[11], end_time=9_999)  # a run that was unfinished ends
    with store.write() as conn:
        conn.execute(e.update().where(e.c.id == ids[3]).values(start_time=e.c.start_time - 7))
        conn.execute(e.update().where(e.c.id.in_(ids[20:30])).values(end_time=e.c.end_time + 1_000))
    (single,) = add_history(store, "alpha", "nightly", 1)
    with store.read() as conn:
        stored = conn.execute(sa.select(e.c.id, e.c.start_time, e.c.end_time, e.c.duration)).all()
    assert len(stored) == 44 and single in {r.id for r in stored}
    assert all(r.duration == duration_of(r) for r in stored), [r for r in stored if r.duration != duration_of(r)]
    by_id = {r.id: r.duration for r in stored}
    assert (by_id[ids[0]], by_id[ids[1]], by_id[ids[2]], by_id[ids[11]]) == (250, -1, -1, 9_999 - 1_012)


@pytest.mark.parametrize("fresh_db", ["sqlite", "mariadb", "postgresql"], indirect=True)
def test_migration_0014_fills_the_duration_of_existing_executions(fresh_db: tuple[str, str]) -> None:
    """A database at revision 0013 with executions (finished, running, queued) gets, on upgrading, each
    one's duration; the sort by duration then reads the new index. Downgrading removes what it added."""
    from alembic import command
    from alembic.config import Config

    from sudoless.store.engine import create_engine, current_revision, migrate
    from sudoless.store.revision import MIGRATIONS

    _, url = fresh_db
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))

    def move(step: str, revision: str) -> None:
        with engine.connect() as connection:
            connection.info["write"] = True
            with connection.begin():
                config.attributes["connection"] = connection
                getattr(command, step)(config, revision)
            connection.info["write"] = False

    move("upgrade", "0013")
    times = [(1_000, 4_000), (2_000, -1), (-1, -1), (5_000, 5_000), (10, 999_999_999_999)]
    stored_columns = [c.name for c in t.executions.c if c.name != "duration"]
    columns = ", ".join(stored_columns)
    values = ", ".join(f":{c}" for c in stored_columns)
    with engine.begin() as conn:
        for index, (start, end) in enumerate(times, start=1):
            row: dict[str, object] = dict.fromkeys(stored_columns)
            row.update(
                id=index, project_id=1, project_name="p", version=1, flow_id="f", status="SUCCEEDED",
                submit_user="u", submit_time=1, start_time=start, end_time=end, update_time=1, source="adhoc",
                options="{}", control="", priority=5,
            )  # fmt: skip
            conn.execute(sa.text(f"INSERT INTO executions ({columns}) VALUES ({values})"), row)
    migrate(engine)  # as a Store opening the database does: the migrations, then VACUUM where they rewrote
    assert current_revision(engine) == "0014"
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT id, start_time, end_time, duration FROM executions ORDER BY id")).all()
        index_names = {index["name"] for index in sa.inspect(conn).get_indexes("executions")}
    assert [r.duration for r in stored] == [3_000, -1, -1, 0, 999_999_999_989]
    assert {"ix_executions_by_duration", "ix_executions_status_user", "ix_executions_project_flow"} <= index_names
    assert ("ix_executions_unfinished" in index_names) == (engine.dialect.name != "mysql")
    if engine.dialect.name == "postgresql":  # the rewritten table was vacuumed: its page is all-visible again
        with engine.connect() as conn:
            visible = conn.exec_driver_sql("SELECT relallvisible FROM pg_class WHERE relname = 'executions'")
            assert visible.scalar_one() >= 1
    store = Store(url)
    try:
        page = store.executions.history(HistoryFilter(), 10, 0, "duration")
        assert [r.id for r in page.runs] == [5, 1, 4, 3, 2]
    finally:
        store.close()
    move("downgrade", "0013")
    with engine.connect() as conn:
        assert "duration" not in {c["name"] for c in sa.inspect(conn).get_columns("executions")}
    engine.dispose()


def test_unfinished_executions_as_before_off_the_partial_index(store: Store) -> None:
    """getRunning's ids, the status page's running executions and the concurrency count at submit are the
    unfinished ones, as a plain filter finds them; on SQLite and PostgreSQL the flow's unfinished ids are read
    from the partial index (its condition is the query's, word for word)."""
    from sudoless.store.executions import _UNFINISHED, UNFINISHED

    rows = mixed_history(store)
    store.executions.update(rows[5]["id"], status=Status.PREPARING)
    store.executions.update(rows[6]["id"], status=Status.KILLING, executor_id=0)  # elsewhere: not counted
    with store.read() as conn:
        now = {r.id: r for r in conn.execute(sa.select(t.executions)).all()}
    for project_id, flow in {(r.project_id, r.flow_id) for r in now.values()}:
        expected = sorted(
            r.id
            for r in now.values()
            if (r.project_id, r.flow_id) == (project_id, flow) and r.status in _UNFINISHED and r.executor_id != 0
        )
        assert store.executions.running_ids(project_id, flow) == expected
    running = [r.id for r in sorted(now.values(), key=lambda r: -r.id) if r.status in _UNFINISHED]
    assert [r.id for r in store.executions.running()] == running and len(running) == 6
    assert str(UNFINISHED.compile(compile_kwargs={"literal_binds": True})).endswith(t.UNFINISHED_SQL[len("status") :])
    if store.dialect == "sqlite":  # the statements as run name the index, and SQLite's plan follows it
        seen: list[tuple[str, object]] = []

        def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            seen.append((statement, parameters))

        sa.event.listen(store.engine, "before_cursor_execute", record)
        try:
            store.executions.running_ids(1, "nightly")
            store.executions.running()
        finally:
            sa.event.remove(store.engine, "before_cursor_execute", record)
        reads = [(sql, params) for sql, params in seen if "INDEXED BY ix_executions_unfinished" in sql]
        assert len(reads) == 2, seen
        with store.read() as conn:
            for sql, params in reads:
                plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
                assert "ix_executions_unfinished" in plan, plan
    if store.dialect == "postgresql":
        e = t.executions.c
        query = sa.select(e.id).where(e.project_id == 1, e.flow_id == "nightly", UNFINISHED).order_by(e.id)
        compiled = query.compile(store.engine, compile_kwargs={"literal_binds": True})
        with store.read() as conn:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a few rows: a scan would be cheaper
            plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN " + str(compiled)))
        assert "ix_executions_unfinished" in plan, plan


def test_the_status_pages_figures_in_one_statement(store: Store) -> None:
    """The status page's queue and schedule figures, read together, are the two counts read apart."""
    rows = mixed_history(store)
    with store.write() as conn:  # two queued (no executor yet), one preparing on an executor
        for row, executor in ((rows[1], None), (rows[2], None), (rows[3], 1)):
            queued = t.executions.update().where(t.executions.c.id == row["id"])
            conn.execute(queued.values(status="PREPARING", executor_id=executor))
    with counting(store.engine) as trips:
        figures = store.executions.status_figures()
    assert trips.statements == 1
    assert figures == (store.executions.queued_count(), store.schedules.count()) and figures[0] == 2


def test_an_executions_attempts_as_its_page_shows_them(store: Store) -> None:
    """The execution page's narrow read of the attempts (and its polls' ``since``) gives the rows of the full
    read, in its order, without the columns the page does not show."""
    exec_id = int(str(mixed_history(store)[0]["id"]))
    with store.write() as conn:  # an id used before (SQLite reuses them): another test's rows may remain
        conn.execute(t.job_runs.delete().where(t.job_runs.c.exec_id == exec_id))
        conn.execute(
            t.job_runs.insert(),
            [
                {
                    "exec_id": exec_id,
                    "nested_id": name,
                    "attempt": attempt,
                    "type": "command",
                    "status": status,
                    "start_time": 100 + index,
                    "end_time": -1 if status == "RUNNING" else 200 + index,
                    "update_time": 300 + index,
                    "parents": '["a"]',
                    "output_props": '{"k": "v"}',
                }
                for index, (name, attempt, status) in enumerate(
                    [("b", 1, "FAILED"), ("a", 0, "SUCCEEDED"), ("b", 0, "FAILED"), ("e:c", 0, "RUNNING")]
                )
            ],
        )
    shown = ("nested_id", "attempt", "type", "status", "start_time", "end_time", "update_time")
    for since in (-1, 0, 301, 303):
        full = [tuple(getattr(run, name) for name in shown) for run in store.job_runs.of(exec_id, since)]
        assert [tuple(state) for state in store.job_runs.states(exec_id, since)] == full
        assert len(full) == {-1: 4, 0: 4, 301: 2, 303: 0}[since]


def test_the_apis_filtered_pages_and_their_totals(store: Store) -> None:
    """``find`` (the JSON API's list): each filter and their combinations, the page and the total of the
    matches, a page past the end (its total read on its own), no readable project, an empty page."""
    with store.write() as conn:
        conn.execute(t.executions.delete())
    nightly = add_history(store, "alpha", "nightly", 5)
    failed = add_history(store, "alpha", "nightly", 2, status="FAILED")
    other = add_history(store, "beta", "weekly", 3)

    def found(**filters: Any) -> tuple[list[int], int]:
        records, total = store.executions.find(**filters)
        return [r.id for r in records], total

    newest_first = sorted(nightly + failed + other, reverse=True)
    assert found() == (newest_first, 10)
    assert found(limit=3, offset=2) == (newest_first[2:5], 10)
    assert found(limit=3, offset=20) == ([], 10)
    assert found(limit=0) == ([], 10)
    assert found(project_ids=[]) == ([], 0)
    assert found(project_ids=[2]) == (sorted(other, reverse=True), 3)
    assert found(project_ids=[1, 2], flow_id="nightly", limit=2) == (sorted(failed, reverse=True), 7)
    assert found(statuses=[Status.FAILED, Status.KILLED]) == (sorted(failed, reverse=True), 2)
    assert found(flow_id="nightly", statuses=[Status.SUCCEEDED], limit=1, offset=1) == ([nightly[-2]], 5)
    times = {r.id: r.submit_time for r in store.executions.find(limit=100)[0]}
    after, before = times[nightly[2]], times[nightly[4]]
    window = sorted((i for i, at in times.items() if after <= at < before), reverse=True)
    assert found(submitted_after=after, submitted_before=before) == (window, len(window))
    assert found(submit_user="ann", project_ids=[1]) == (sorted(nightly + failed, reverse=True), 7)
    assert found(submit_user="nobody") == ([], 0)
