"""why_not_run: each reason a job can end without starting, from the rows the store holds."""

from __future__ import annotations

from dataclasses import replace

from sudoless.flows.why import why_not_run
from sudoless.store.executions import ExecutionRecord
from sudoless.store.job_runs import JobRunRecord
from sudoless.store.status import Status

EXECUTION = ExecutionRecord(
    1,
    1,
    "p",
    1,
    "f",
    Status.FAILED,
    "u",
    0,
    0,
    10,
    10,
    "adhoc",
    {"failure_action": "FINISH_CURRENTLY_RUNNING"},
    None,
    "",
    None,
)


def run(
    name: str, status: Status, parents: tuple[str, ...] = (), condition: str | None = None, start: int = -1
) -> JobRunRecord:
    return JobRunRecord(
        1,
        name,
        0,
        "command",
        status,
        start,
        -1 if start < 0 else start + 1,
        5,
        list(parents),
        condition,
        None,
        None,
        None,
    )


def test_each_reason() -> None:
    latest = {
        "a": run("a", Status.SUCCEEDED, start=1),
        "b": run("b", Status.FAILED, start=1),
        "c": run("c", Status.CANCELLED),
    }
    assert why_not_run(run("x", Status.SKIPPED), latest, EXECUTION) == (
        "Not run: the job was disabled for this execution."
    )
    assert why_not_run(run("x", Status.CANCELLED, ("a", "b")), latest, EXECUTION) == (
        "Not run: upstream job b (FAILED) did not succeed."
    )
    assert why_not_run(run("x", Status.CANCELLED, ("a", "b"), "all_done"), latest, EXECUTION) == (
        "Not run: its condition `all_done` was false (a SUCCEEDED, b FAILED)."
    )
    killed = replace(EXECUTION, status=Status.KILLED)
    assert why_not_run(run("x", Status.CANCELLED, ("a", "c")), latest, killed) == (
        "Not run: the execution was killed before this job could start."
    )
    assert why_not_run(run("x", Status.CANCELLED, ("c",)), latest, EXECUTION) == (
        "Not run: upstream job c was cancelled."
    )
    assert why_not_run(run("x", Status.CANCELLED, ("a",)), latest, EXECUTION) == (
        "Not run: another job failed, and under the failure action FINISH_CURRENTLY_RUNNING no new job starts."
    )


def test_jobs_that_ran_or_may_still_run_have_no_reason() -> None:
    assert why_not_run(run("x", Status.FAILED, start=3), {}, EXECUTION) is None
    assert why_not_run(run("x", Status.KILLED, start=3), {}, EXECUTION) is None
    assert why_not_run(run("x", Status.READY), {}, EXECUTION) is None
