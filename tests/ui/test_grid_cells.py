"""How the runs x jobs grid turns job attempts into rows of status letters (no server, no browser)."""

from __future__ import annotations

from dataclasses import replace

from sudoless.server.ui.grid import CODES, NONE, build_grid
from sudoless.store.executions import ExecutionRecord
from sudoless.store.status import Status

BASE = ExecutionRecord(
    id=0,
    project_id=1,
    project_name="p",
    version=1,
    flow_id="f",
    status=Status.SUCCEEDED,
    submit_user="u",
    submit_time=0,
    start_time=0,
    end_time=1,
    update_time=1,
    source="adhoc",
    options={},
    executor_id=None,
    control="",
    restarted_from=None,
)
JOBS = [
    {"id": "a", "name": "a", "depth": 0},
    {"id": "sub", "name": "sub", "depth": 0},
    {"id": "sub:x", "name": "x", "depth": 1},
]


def test_columns_oldest_first_rows_in_flow_order_latest_attempt_wins() -> None:
    runs = [replace(BASE, id=7, status=Status.FAILED), replace(BASE, id=5)]  # newest first, as queried
    attempts = {
        5: [("a", 0, "SUCCEEDED"), ("sub", 0, "SUCCEEDED"), ("sub:x", 0, "SUCCEEDED")],
        7: [("a", 0, "FAILED"), ("a", 1, "FAILED"), ("a", 2, "SUCCEEDED"), ("sub", 0, "FAILED")]
        + [("sub:x", 0, "FAILED")],
    }
    grid = build_grid(runs, JOBS, attempts)
    assert [run.id for run in grid.runs] == [5, 7]
    succeeded, failed = CODES["SUCCEEDED"], CODES["FAILED"]
    assert grid.cells == [succeeded * 2, succeeded + failed, succeeded + failed]
    assert grid.attempts == {"0:1": 2}  # only attempts after the first are sent
    data = grid.page_data()
    assert data["runs"] == [5, 7] and data["jobs"] == ["a", "sub", "sub:x"]
    assert [data["statuses"][ord(c) - ord("a")] for c in data["cells"][2]] == ["SUCCEEDED", "FAILED"]


def test_jobs_not_in_a_run_and_jobs_gone_from_the_flow() -> None:
    runs = [replace(BASE, id=2), replace(BASE, id=1)]
    attempts = {1: [("a", 0, "SUCCEEDED"), ("old", 0, "KILLED")], 2: [("a", 0, "RUNNING")]}
    grid = build_grid(runs, JOBS, attempts)
    assert [job["id"] for job in grid.jobs] == ["a", "sub", "sub:x", "old"]  # a renamed job: a row at the end
    assert grid.cells == [CODES["SUCCEEDED"] + CODES["RUNNING"], NONE * 2, NONE * 2, CODES["KILLED"] + NONE]


def test_no_run_yet() -> None:
    grid = build_grid([], JOBS, {})
    assert grid.runs == [] and grid.cells == ["", "", ""]
