"""Failure actions, cancel, pause and resume, timeouts, disabled jobs, restarts and command semantics."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from flows.harness import job_status, outcome, run_flow, submit, write_project
from sudoless.errors import InputError, StateError
from sudoless.flows.executions import control, prepare_execution, restart_execution, submit_flow
from sudoless.flows.executor import Executor
from sudoless.flows.model import FailureAction
from sudoless.flows.runner import FlowRunner
from sudoless.store.status import Status
from support.eventually import eventually

S, F, C, K, SK = Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.KILLED, Status.SKIPPED


def job_files(root: Path, deps: dict[str, str], props: dict[str, str]) -> Path:
    """Flow 1.0 ``test`` jobs; ``props`` adds lines per job (``job2d: 'fail=true'``)."""
    files = {}
    for name, parents in deps.items():
        lines = ["type=test", "seconds=0"]
        if parents:
            lines.append(f"dependencies={parents}")
        lines += props.get(name, "").split(";") if props.get(name) else []
        files[f"{name}.job"] = "\n".join(lines) + "\n"
    return write_project(root, files)


def output_command(**values: object) -> str:
    """A command that writes ``values`` as a JSON object to $JOB_OUTPUT_PROP_FILE."""
    return f"python3 -c \"import json, os; json.dump({values!r}, open(os.environ['JOB_OUTPUT_PROP_FILE'], 'w'))\""


EXEC2 = {
    "job1": "",
    "job2d": "job1",
    "job6": "job1",
    "job3": "job2d",
    "job4": "job2d",
    "job5": "job3,job4",
    "job7": "job5,job6",
    "job8": "job7",
    "job9": "job7",
    "job10": "job8,job9",
}
EXEC3 = {
    "job1": "",
    "job2d": "job1",
    "job3": "job1",
    "job4": "job2d",
    "job5": "job2d",
    "job6": "job4,job5",
    "job7": "job3",
    "job8": "job3",
    "job9": "job7,job8",
    "job10": "job6,job9",
}


def test_finish_currently_running(store, settings, tmp_path):
    project = job_files(tmp_path / "exec2", EXEC2, {"job2d": "fail=true", "job6": "seconds=0.5"})
    result = run_flow(store, settings, project, "job10")
    cancelled = {f"job{i}" for i in (3, 4, 5, 7, 8, 9, 10)}
    assert result.jobs == {"job1": S, "job2d": F, "job6": S, **{j: C for j in cancelled}}
    assert result.status == F


def test_cancel_all(store, settings, tmp_path):
    project = job_files(tmp_path / "exec2", EXEC2, {"job2d": "fail=true", "job6": "seconds=5"})
    started = time.monotonic()
    result = run_flow(store, settings, project, "job10", failure_action=FailureAction.CANCEL_ALL)
    assert time.monotonic() - started < 4, "job6 should have been killed, not waited for"
    cancelled = {f"job{i}" for i in (3, 4, 5, 7, 8, 9, 10)}
    assert result.jobs == {"job1": S, "job2d": F, "job6": K, **{j: C for j in cancelled}}
    assert result.status == K


def test_finish_all_possible(store, settings, tmp_path):
    project = job_files(tmp_path / "exec3", EXEC3, {"job2d": "fail=true"})
    result = run_flow(store, settings, project, "job10", failure_action=FailureAction.FINISH_ALL_POSSIBLE)
    assert result.jobs == {
        "job1": S,
        "job2d": F,
        "job3": S,
        "job7": S,
        "job8": S,
        "job9": S,
        "job4": C,
        "job5": C,
        "job6": C,
        "job10": C,
    }
    assert result.status == F


def test_disabled_jobs_and_subflows_are_skipped(store, settings, tmp_path):
    project = write_project(
        tmp_path / "p",
        {
            "p.project": "azkaban-flow-version: 2.0\n",
            "f.flow": """
nodes:
  - {name: a, type: test, config: {fail: "true"}}
  - {name: b, type: noop, dependsOn: [a]}
  - name: sub
    type: flow
    dependsOn: [b]
    nodes:
      - {name: x, type: test, config: {fail: "true"}}
      - {name: y, type: noop, dependsOn: [x]}
  - {name: end, type: noop, dependsOn: [sub]}
""",
        },
    )
    result = run_flow(store, settings, project, "f", disabled='["a", {"id": "sub", "children": ["x"]}]')
    assert result.jobs == {"a": SK, "b": S, "sub": S, "sub:x": SK, "sub:y": S, "end": S}
    assert result.status == S
    whole = run_flow(store, settings, project, "f", disabled=["a", "sub"])
    assert whole.jobs == {"a": SK, "b": S, "sub": SK, "sub:x": SK, "sub:y": SK, "end": S}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_cancel_kills_the_whole_process_group(store, settings, tmp_path):
    project = write_project(
        tmp_path / "p",
        {
            "long.job": 'type=command\ncommand=bash -c "sleep 60 & echo $! > child.pid; sleep 60"\n',
            "after.job": "type=noop\ndependencies=long\n",
        },
    )
    pid_file = project / "child.pid"

    def cancel_when_running(exec_id: int) -> None:
        eventually(lambda: job_status(store, exec_id, "long"), Status.RUNNING)
        eventually((settings.executions_dir / str(exec_id) / "child.pid").exists)
        control(store, exec_id, "cancel")

    started = time.monotonic()
    result = run_flow(store, settings, project, "after", during=cancel_when_running)
    assert time.monotonic() - started < 15
    assert result.jobs == {"long": K, "after": C}
    assert result.status == K
    child = int((result.workdir / pid_file.name).read_text())
    eventually(lambda: not _pid_alive(child), timeout=5, what=f"process {child} gone")


def test_pause_holds_new_jobs_until_resume(store, settings, tmp_path):
    # a runs until the test releases it, so the pause surely lands while it runs
    project = write_project(
        tmp_path / "p",
        {
            "a.job": "type=command\ncommand=bash -c 'until [ -e release ]; do sleep 0.01; done'\n",
            "b.job": "type=noop\ndependencies=a\n",
        },
    )
    seen: dict[str, object] = {}

    def pause_then_resume(runner: FlowRunner) -> None:
        exec_id = runner.exec_id
        eventually(lambda: job_status(store, exec_id, "a"), Status.RUNNING)
        control(store, exec_id, "pause")
        assert runner.wake().wait(20)  # the runner took the request at once, not at its next tick
        assert store.executions.get(exec_id).status == Status.PAUSED
        (settings.executions_dir / str(exec_id) / "release").touch()
        eventually(lambda: job_status(store, exec_id, "a"), S)
        # The pass that wrote a's end also decided about b; one more whole pass, and b must still wait.
        assert runner.wake().wait(20)
        seen["b_while_paused"] = (job_status(store, exec_id, "b"), runner.nodes["b"].status, len(runner.running))
        if store.executions.get(exec_id).status == Status.PAUSED:  # else b ran anyway, and the flow is over
            control(store, exec_id, "resume")
            runner.wake()

    result = run_flow(store, settings, project, "b", alongside=pause_then_resume)
    assert seen["b_while_paused"] == (Status.READY, Status.READY, 0)
    assert result.jobs == {"a": S, "b": S}
    assert result.status == S


def test_timeout_fails_the_job(store, settings, tmp_path):
    project = write_project(tmp_path / "p", {"slow.job": "type=command\ncommand=sleep 30\ntimeout=0.5\n"})
    started = time.monotonic()
    result = run_flow(store, settings, project, "slow")
    assert time.monotonic() - started < 10
    assert result.jobs == {"slow": F}
    assert "timeout of 0.5 s" in result.log("slow")


def test_command_semantics_outputs_and_substitution(store, settings, tmp_path):
    project = write_project(
        tmp_path / "p",
        {
            "common.properties": "greeting=hello\nwho=${user.name}\nuser.name=world\n",
            "first.job": "type=command\nuser.name=there\n"
            "command=echo ${greeting} ${who} | wc $(6*7)\n"
            f"command.1={output_command(n=7, s='x y')}\n"
            "command.3=echo never runs: command.2 is missing\n"
            "env.MY_VAR=from-env\n",
            "sub/second.job": "type=command\ndependencies=first\n"
            'command=bash -c "echo n=${n} s=${s} env=$MY_VAR cwd=${PWD##*/} $JOB_NAME"\n',
        },
    )
    result = run_flow(store, settings, project, "second")
    assert result.status == S, result.log("first") + result.log("second")
    first = result.log("first")
    assert "hello there | wc 42" in first, "commands are not run by a shell"
    assert "never runs" not in first
    assert "n=7 s=x y env= cwd=sub second" in result.log("second")
    assert result.props("second")["n"] == "7"


def test_prepare_disables_what_succeeded_and_keeps_the_options(store, settings, tmp_path):
    project = job_files(
        tmp_path / "p",
        {"a": "", "bad": "a", "after": "bad", "side": "a", "alone": "", "end": "after,side,alone"},
        {"bad": "fail=true"},
    )
    first = run_flow(store, settings, project, "end", failure_action=FailureAction.FINISH_ALL_POSSIBLE)
    assert first.jobs == {"a": S, "bad": F, "after": C, "side": S, "alone": S, "end": C}
    prepared = prepare_execution(store, first.exec_id)
    assert prepared.disabled == ("a", "alone", "side")
    assert prepared.options.failure_action == FailureAction.FINISH_ALL_POSSIBLE
    assert prepared.record.id == first.exec_id
    with pytest.raises(StateError, match="nothing to restart"):
        prepare_execution(store, run_flow(store, settings, project, "end", disabled=["bad"]).exec_id)


def test_failed_command_and_unknown_type_fail_the_job(store, settings, tmp_path):
    project = write_project(
        tmp_path / "p",
        {
            "a.job": "type=command\ncommand=false\n",
            "b.job": "type=nosuchtype\n",
            "c.job": "type=command\ncommand=/no/such/binary\n",
            "end.job": "type=noop\ndependencies=a,b,c\n",
        },
    )
    result = run_flow(store, settings, project, "end", failure_action=FailureAction.FINISH_ALL_POSSIBLE)
    assert result.jobs == {"a": F, "b": F, "c": F, "end": C}
    assert "exit code 1" in result.log("a")
    assert "unknown job type 'nosuchtype'" in result.log("b")
    assert "cannot start '/no/such/binary'" in result.log("c")


def test_restart_reruns_failures_and_reuses_outputs(store, settings, tmp_path):
    marker = tmp_path / "second-time"
    project = write_project(
        tmp_path / "p",
        {
            "make.job": f"type=command\ncommand={output_command(token='abc')}\n",
            "flaky.job": "type=command\ndependencies=make\n"
            f"command=bash -c 'test -e {marker} && echo got ${{token}}'\n",
        },
    )
    first = run_flow(store, settings, project, "flaky")
    assert first.jobs == {"make": S, "flaky": F}
    marker.touch()
    new_id = restart_execution(store, settings, first.exec_id, "tester")
    executor = Executor(store, settings)
    executor.claim_and_run(new_id)
    executor.stop(wait=False)
    second = outcome(store, settings, new_id)
    assert second.jobs == {"make": SK, "flaky": S}
    assert "got abc" in second.log("flaky")
    assert store.executions.get(new_id).restarted_from == first.exec_id
    with pytest.raises(StateError):
        restart_execution(store, settings, new_id)


def test_retry_failed_jobs_while_failed_finishing(store, settings, tmp_path):
    marker = tmp_path / "fixed"
    project = write_project(
        tmp_path / "p",
        {
            "flaky.job": f"type=command\ncommand=test -e {marker}\n",
            "slow.job": "type=test\nseconds=1.5\n",
            "end.job": "type=noop\ndependencies=flaky,slow\n",
        },
    )

    def retry_when_failing(exec_id: int) -> None:
        eventually(lambda: store.executions.get(exec_id).status, Status.FAILED_FINISHING)
        marker.touch()
        control(store, exec_id, "retry_failed")

    result = run_flow(
        store, settings, project, "end", during=retry_when_failing, failure_action=FailureAction.FINISH_ALL_POSSIBLE
    )
    assert result.attempts["flaky"] == [F, S]
    assert result.jobs == {"flaky": S, "slow": S, "end": S}
    assert result.status == S
    with pytest.raises(StateError, match="already finished"):
        control(store, result.exec_id, "retry_failed")


def test_concurrent_option_skip_refuses_a_second_run(store, settings, tmp_path):
    project = job_files(tmp_path / "p", {"a": ""}, {})
    exec_id = submit(store, settings, project, "a", name=f"skip-{tmp_path.name}")
    with pytest.raises(StateError, match="already running. Skipping execution."):
        submit(store, settings, project, "a", name=f"skip-{tmp_path.name}")
    other = submit(store, settings, project, "a", name=f"skip-{tmp_path.name}", concurrent_option="ignore")
    executor = Executor(store, settings)
    assert executor.claim_and_run(exec_id) == S
    assert executor.claim_and_run(other) == S
    executor.stop(wait=False)


@pytest.mark.parametrize("level", [1, 3])
def test_pipeline_waits_for_the_previous_execution(store, settings, tmp_path, level):
    import threading

    project = job_files(tmp_path / "p", {"a": "", "b": "a"}, {"a": "seconds=1", "b": "seconds=0.5"})
    name = f"pipe-{level}-{tmp_path.name}"
    first = submit(store, settings, project, "b", name=name)
    executor = Executor(store, settings)
    runner = threading.Thread(target=executor.claim_and_run, args=(first,))
    runner.start()
    eventually(lambda: job_status(store, first, "a"), Status.RUNNING)
    second = submit(store, settings, project, "b", name=name, concurrent_option="pipeline", pipeline_level=level)
    assert executor.claim_and_run(second) == S
    runner.join()
    runs = {(r.exec_id, r.nested_id): r for e in (first, second) for r in store.job_runs.of(e)}
    waited_for = runs[(first, "a")] if level == 1 else runs[(first, "b")]
    assert runs[(second, "a")].start_time >= waited_for.end_time
    executor.stop(wait=False)


def test_pipeline_needs_a_level(store, settings, tmp_path):
    project = job_files(tmp_path / "p", {"a": ""}, {})
    with pytest.raises(InputError, match="pipelineLevel"):
        submit(store, settings, project, "a", concurrent_option="pipeline")


def test_flow_log_accepts_other_writers_while_running(store, settings, tmp_path):
    from sudoless.flows.joblog import LogWriter

    project = job_files(tmp_path / "p", {"a": ""}, {"a": "seconds=1.2"})

    def write_from_outside(exec_id: int) -> None:
        eventually(lambda: job_status(store, exec_id, "a"), Status.RUNNING)
        outside = LogWriter(store, exec_id, "", 0, shared=True)
        outside.line("a note from the scheduler")
        outside.flush()

    result = run_flow(store, settings, project, "a", during=write_from_outside)
    assert result.status == S
    log = result.log()
    assert "a note from the scheduler" in log and log.index("Running execution") < log.index("finished: SUCCEEDED")


def test_simultaneous_submissions_with_skip_admit_exactly_one(store, settings, tmp_path):
    import threading

    project = job_files(tmp_path / "p", {"a": ""}, {})
    name = f"race-{tmp_path.name}"
    submit(store, settings, project, "a", name=name, concurrent_option="ignore")  # uploads the project
    for record in store.executions.latest(store.projects.id_of(name)):
        store.executions.update(record.id, status=Status.SUCCEEDED)
    barrier = threading.Barrier(4)
    outcomes: list[object] = []

    def race() -> None:
        barrier.wait()
        try:
            outcomes.append(submit_flow(store, settings, name, "a"))
        except StateError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(o, int) for o in outcomes) == 1, outcomes
