"""Many executions at once: a queue of runs of a 20-job flow drained by two executor processes sharing
MariaDB or PostgreSQL; every job of every execution runs exactly once and every execution finishes.

The rate the queue drains at is benchmarks/queue_drain.py's business (figures in
benchmarks/README.md); here only the outcome counts. The size is kept to what a loaded CI machine runs in
about a minute per database.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.harness import spawn_executor
from flows.queue_load import job_names, starts_per_job, submit_many, write_queue_project
from sudoless.config import Settings
from sudoless.store import Store
from sudoless.store.status import Status

EXECUTIONS, JOBS = 200, 20


@pytest.mark.slow
@pytest.mark.parametrize("fresh_db", ["mariadb", "postgresql"], indirect=True)
def test_two_executors_drain_a_queue_of_many_executions_running_every_job_once(
    fresh_db: tuple[str, str], tmp_path: Path
) -> None:
    _, url = fresh_db
    store = Store(url)
    settings = Settings(home=tmp_path / "home", max_runs_per_flow=EXECUTIONS, parallel=10)
    # beside the home: the job sandbox lets a job write there, not in the home's parent
    starts = tmp_path / "p" / "starts.txt"
    project = write_queue_project(tmp_path / "p", starts, JOBS)
    ids = submit_many(store, settings, project, "queue", EXECUTIONS)
    children = [spawn_executor(url, settings.home, max_flows=8) for _ in range(2)]
    try:
        for child in children:
            child.wait(timeout=900)
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    outputs = [child.stdout.read().decode() for child in children if child.stdout]
    assert all(child.returncode == 0 for child in children), outputs

    started = starts_per_job(starts)
    expected = {(exec_id, job) for exec_id in ids for job in job_names(JOBS)}
    assert set(started) == expected, "every job of every execution started"
    assert [key for key, times in started.items() if times != 1] == [], "and each exactly once"
    records = [store.executions.get(exec_id) for exec_id in ids]
    assert {record.status for record in records} == {Status.SUCCEEDED}
    assert all(record.end_time >= record.start_time > 0 for record in records)
    for exec_id in ids[:: EXECUTIONS // 10]:
        runs = store.job_runs.of(exec_id)
        assert sorted(run.nested_id for run in runs) == sorted(job_names(JOBS))
        assert {(run.status, run.attempt) for run in runs} == {(Status.SUCCEEDED, 0)}
    claimed_by = {record.executor_id for record in records}
    assert len(claimed_by) == 2, f"both executors should have claimed work: {claimed_by}"
    store.close()
