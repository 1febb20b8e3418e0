"""Which thread decides a job's end: the job thread that ran it, under the runner's state lock, which then runs
the job that end made ready itself; the loop only when one of the job's reports went through its queue. And
the loop, which no longer sees every end, is woken whenever a job thread's decision needs it before its timer."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from flows.harness import job_status, run_flow, submit, write_project
from sudoless.config import Settings
from sudoless.flows import runner as runner_module
from sudoless.flows.executions import control
from sudoless.flows.executor import run_execution
from sudoless.flows.runner import FlowRunner
from sudoless.store import Store
from sudoless.store.status import Status
from support.eventually import eventually

S = Status.SUCCEEDED


def chain(root: Path, jobs: dict[str, str]) -> Path:
    """``jobs`` (name -> properties) in that order, each depending on the one before."""
    files, before = {}, None
    for name, props in jobs.items():
        files[f"{name}.job"] = props + (f"dependencies={before}\n" if before else "")
        before = name
    return write_project(root, files)


def record_deciders(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """For each job, the threads its ends were decided on ("loop" for the thread that called ``run``)."""
    deciders: dict[str, list[str]] = {}
    original_run, original_on_done = FlowRunner.run, FlowRunner._on_done
    loops: set[int] = set()

    def run(self: FlowRunner) -> Any:
        loops.add(threading.get_ident())
        return original_run(self)

    def on_done(self: FlowRunner, done: Any) -> None:
        here = threading.current_thread()
        deciders.setdefault(done.nested_id, []).append("loop" if here.ident in loops else here.name)
        original_on_done(self, done)

    monkeypatch.setattr(FlowRunner, "run", run)
    monkeypatch.setattr(FlowRunner, "_on_done", on_done)
    return deciders


def quiet_timers(monkeypatch: pytest.MonkeyPatch, write_delay: float = 600.0) -> None:
    """Nothing due on the loop's own timers during a test: no control poll after the first, no start report
    collected, no write before ``write_delay``. A run then ends, retries or writes early only when a job
    thread wakes the loop."""
    monkeypatch.setattr(runner_module, "CONTROL_POLL_SECONDS", 600.0)
    monkeypatch.setattr(runner_module, "RUNNING_WRITE_DELAY", 600.0)
    monkeypatch.setattr(runner_module, "WRITE_DELAY", write_delay)


def test_a_chain_s_ends_are_decided_on_the_job_thread_that_runs_the_next_job(
    store: Store, settings: Settings, tmp_path: Path, monkeypatch
):
    quiet_timers(monkeypatch)
    deciders = record_deciders(monkeypatch)
    jobs = {f"j{i}": ("type=command\ncommand=true\n" if i % 2 else "type=noop\n") for i in range(12)}
    result = run_flow(store, settings, chain(tmp_path / "p", jobs), "j11")
    assert result.status == S and result.jobs == {name: S for name in jobs}
    threads = {name: where for name, (where,) in deciders.items()}
    assert "loop" not in threads.values(), threads
    assert len(set(threads.values())) == 1, threads  # the first job's thread ran every job after it
    for run in store.job_runs.of(result.exec_id):  # the held-back RUNNING columns reached every row
        assert run.start_time > 0 and run.end_time >= run.start_time and run.host, run
        assert "Finished job" in result.log(run.nested_id)
    # the loop was woken for the end of the run, not after its 600 s poll: the test would have timed out


def test_an_end_that_follows_a_report_on_the_queue_is_decided_by_the_loop_after_it(
    store: Store, settings: Settings, tmp_path: Path, monkeypatch
):
    quiet_timers(monkeypatch)
    deciders = record_deciders(monkeypatch)
    # a second process posts the first report and its own on the loop's queue: the end must come after them
    jobs = {"a": "type=noop\n", "two": "type=command\ncommand=true\ncommand.1=true\n", "c": "type=noop\n"}
    result = run_flow(store, settings, chain(tmp_path / "p", jobs), "c")
    assert result.jobs == {name: S for name in jobs}
    assert deciders["two"] == ["loop"] and deciders["a"] != ["loop"] and deciders["c"] != ["loop"], deciders
    (two,) = [run for run in store.job_runs.of(result.exec_id) if run.nested_id == "two"]
    assert two.status == S and two.start_time > 0 and two.pid and two.end_time >= two.start_time


def test_a_retry_s_backoff_wakes_the_loop_that_no_end_went_through(
    store: Store, settings: Settings, tmp_path: Path, monkeypatch
):
    quiet_timers(monkeypatch)
    deciders = record_deciders(monkeypatch)
    jobs = {"a": "type=noop\n", "flaky": "type=test\nfail=true\npassRetry=1\nretries=2\nretry.backoff=100\n"}
    result = run_flow(store, settings, chain(tmp_path / "p", jobs), "flaky")
    assert result.status == S
    assert result.attempts["flaky"] == [Status.FAILED, Status.FAILED, S]
    assert "loop" not in deciders["flaky"], deciders


def test_a_job_s_end_is_written_within_the_write_delay_while_the_next_one_runs(
    store: Store, settings: Settings, tmp_path: Path, monkeypatch
):
    quiet_timers(monkeypatch, write_delay=0.05)  # the loop waits 600 s unless the job thread says otherwise
    project = chain(tmp_path / "p", {"a": "type=noop\n", "b": "type=test\nseconds=30\n"})
    seen: dict[str, object] = {}

    def cancel_once_a_is_written(runner: FlowRunner) -> None:
        seen["a"] = eventually(lambda: job_status(store, runner.exec_id, "a"), S, timeout=15)
        control(store, runner.exec_id, "cancel")
        runner.wake()

    result = run_flow(store, settings, project, "b", alongside=cancel_once_a_is_written)
    assert seen["a"] == S
    assert result.jobs == {"a": S, "b": Status.KILLED}


def test_a_runner_error_in_a_job_thread_stops_the_run_instead_of_hanging_it(
    store: Store, settings: Settings, tmp_path: Path, monkeypatch
):
    quiet_timers(monkeypatch)
    original = FlowRunner._on_done

    def on_done(self: FlowRunner, done: Any) -> None:
        if done.nested_id == "j2":
            raise RuntimeError("a runner bug")
        original(self, done)

    monkeypatch.setattr(FlowRunner, "_on_done", on_done)
    exec_id = submit(store, settings, chain(tmp_path / "p", {f"j{i}": "type=noop\n" for i in range(5)}), "j4")
    raised: list[BaseException] = []

    def run() -> None:
        try:
            run_execution(store, settings, exec_id)
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "the run hung after a job thread's error"
    assert [str(exc) for exc in raised] == ["a runner bug"]
    assert job_status(store, exec_id, "j3") in (Status.READY, None)  # nothing ran after it
