"""How the runner writes job rows: changes made close together share one transaction (runner.WRITE_DELAY),
in the order they were made, and whatever a reader acts on is written before it can act."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flows.harness import job_status, run_flow, write_project
from sudoless.config import Settings
from sudoless.flows import runner as runner_module
from sudoless.flows.executions import control
from sudoless.flows.runner import FlowRunner
from sudoless.store import Store
from sudoless.store.status import FINISHED, Status
from support.eventually import eventually

S = Status.SUCCEEDED


def chain(root: Path, jobs: int, last: str = "type=noop\n") -> Path:
    files = {"j0.job": "type=noop\n"}
    for i in range(1, jobs):
        files[f"j{i}.job"] = (last if i == jobs - 1 else "type=noop\n") + f"dependencies=j{i - 1}\n"
    return write_project(root, files)


def record_writes(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[list[tuple[str, int, dict[str, Any]]]]:
    """Every ``update_many`` the runner makes, its changes in order."""
    batches: list[list[tuple[str, int, dict[str, Any]]]] = []
    original = store.job_runs.update_many

    def update_many(exec_id: int, changes: Any, logs: Any = ()) -> None:
        batches.append([(name, attempt, dict(values)) for name, attempt, values in changes])
        original(exec_id, changes, logs)

    monkeypatch.setattr(store.job_runs, "update_many", update_many)
    return batches


def test_jobs_that_end_close_together_share_one_write(store: Store, settings: Settings, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(runner_module, "WRITE_DELAY", 600.0)  # nothing is due before the run ends
    batches = record_writes(store, monkeypatch)
    result = run_flow(store, settings, chain(tmp_path / "p", 20), "j19")
    assert result.status == S and result.jobs == {f"j{i}": S for i in range(20)}
    assert len(batches) == 1, [len(b) for b in batches]  # the end of the run writes everything, once


def test_the_store_never_shows_a_job_started_before_its_parent_ended(
    store: Store, settings: Settings, tmp_path: Path, monkeypatch
):
    batches = record_writes(store, monkeypatch)
    project = chain(tmp_path / "p", 30, last="type=command\ncommand=true\n")
    for i in range(1, 29, 3):  # a few real processes on the way, so that some writes fall between jobs
        (project / f"j{i}.job").write_text(f"type=command\ncommand=true\ndependencies=j{i - 1}\n")
    result = run_flow(store, settings, project, "j29")
    assert result.status == S
    seen: dict[str, Status] = {}
    for batch in batches:  # what a reader (the UI, crash recovery) could have seen after each commit
        for name, _attempt, values in batch:
            if "status" in values:
                seen[name] = Status(values["status"])
        for name, status in seen.items():
            i = int(name[1:])
            if i and status in (Status.RUNNING, *FINISHED):
                assert seen.get(f"j{i - 1}") == S, f"{name} {status.value} while j{i - 1} is {seen.get(f'j{i - 1}')}"
    assert seen == {f"j{i}": S for i in range(30)}


def test_a_wake_up_and_the_executions_status_find_the_job_rows_written(
    store: Store, settings: Settings, tmp_path: Path, monkeypatch
):
    monkeypatch.setattr(runner_module, "WRITE_DELAY", 600.0)
    project = write_project(
        tmp_path / "p",
        # b ignores SIGTERM, so it is still KILLING when the test looks, 5 s before SIGKILL ends it: a job that
        # died at once could be decided KILLED by its own thread before the wake-up's write (flows/runner.py)
        {"a.job": "type=noop\n", "b.job": "type=command\ncommand=sh -c 'trap \"\" TERM; sleep 60'\ndependencies=a\n"},
    )
    seen: dict[str, object] = {}

    def cancel_once_a_has_ended(runner: FlowRunner) -> None:
        eventually(lambda: runner.nodes["a"].status, S)
        assert runner.wake().wait(20)
        seen["a"] = job_status(store, runner.exec_id, "a")
        control(store, runner.exec_id, "cancel")
        assert runner.wake().wait(20)
        seen["killing"] = (store.executions.get(runner.exec_id).status, job_status(store, runner.exec_id, "b"))

    result = run_flow(store, settings, project, "b", alongside=cancel_once_a_has_ended)
    assert seen["a"] == S  # written for the wake-up, 600 s before it was due
    assert seen["killing"] == (Status.KILLING, Status.KILLING)
    assert result.jobs == {"a": S, "b": Status.KILLED}


def test_a_row_changed_twice_before_a_write_is_written_once_and_a_retry_s_new_row_inserted_among_updates(
    store: Store, settings: Settings, tmp_path: Path, monkeypatch
):
    monkeypatch.setattr(runner_module, "WRITE_DELAY", 600.0)  # one write at the end: every change of the run
    monkeypatch.setattr(runner_module, "RUNNING_WRITE_DELAY", 600.0)
    batches = record_writes(store, monkeypatch)
    project = chain(
        tmp_path / "p",
        6,
        last="type=test\nfail=true\npassRetry=1\nretries=2\ntest.output.k=v\n",  # fails twice, then succeeds
    )
    result = run_flow(store, settings, project, "j5")
    assert result.status == S
    assert result.attempts == {**{f"j{i}": [S] for i in range(5)}, "j5": [Status.FAILED, Status.FAILED, S]}
    assert len(batches) == 1
    rows = [(name, attempt) for name, attempt, _ in batches[0]]
    assert sorted(rows) == sorted({*rows}), rows  # RUNNING and the end of one attempt: one row change
    for run in store.job_runs.of(result.exec_id):  # every column of the merged changes reached its row
        assert run.start_time > 0 and run.end_time >= run.start_time and run.host, run
        assert "Finished job" in result.log(run.nested_id, run.attempt)
    assert [r.output_props for r in store.job_runs.of(result.exec_id) if r.nested_id == "j5"][-1] == {"k": "v"}
