"""The history reads made for a long history (issue 22), on each database back end: the executions list's
bounded count (counting stops a given number of rows past the page, says so, and is exact below that, with
the filters applied) and each project's and each flow's newest execution by index searches."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from sudoless.store import Store
from sudoless.store import tables as t
from sudoless.store.executions import HistoryFilter
from sudoless.store.status import Status


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
