"""Flow-level retry (sudoless.flows.flow_retry): a flow that fails once and then succeeds, Azkaban's
properties and both strategies, the retry cap, and the links between the executions."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from flows.harness import run_flow, run_submitted, submit, write_project
from sudoless.config import Settings
from sudoless.flows.executor import finalise_orphans
from sudoless.flows.options import ExecutionOptions
from sudoless.store import Store
from sudoless.store.status import Status


def flaky(tmp_path: Path, settings: Settings, fail_times: int, config: str = "") -> tuple[Path, Settings, Path]:
    """Flow ``f``: ``a`` counts its runs, then ``b`` fails its first ``fail_times`` runs (state kept outside
    the execution folders, in a folder the sandbox lets jobs write)."""
    state = tmp_path / "state"
    state.mkdir()
    b_script = f'n=$(cat "$STATE/b" 2>/dev/null || echo 0)\necho $((n+1)) > "$STATE/b"\n[ "$n" -ge {fail_times} ]\n'
    project = write_project(
        tmp_path / "p",
        {
            "p.project": "azkaban-flow-version: 2.0\n",
            "a.sh": 'echo x >> "$STATE/a"\n',
            "b.sh": b_script,
            "f.flow": (
                config + "nodes:\n"
                f"  - name: a\n    type: command\n    config:\n      command: bash a.sh\n      env.STATE: {state}\n"
                f"  - name: b\n    type: command\n    dependsOn: [a]\n    config:\n      command: bash b.sh\n"
                f"      env.STATE: {state}\n"
            ),
        },
    )
    return project, dataclasses.replace(settings, sandbox_write=str(state)), state


def options(store: Store, exec_id: int) -> ExecutionOptions:
    return ExecutionOptions.from_json(store.executions.get(exec_id).options)


def test_a_flow_that_fails_once_is_retried_as_new_and_succeeds(store, settings, tmp_path: Path) -> None:
    project, settings, state = flaky(tmp_path, settings, fail_times=1)
    first = run_flow(store, settings, project, "f", runtime={"ROOT": {"flow.retry.statuses": "FAILED"}})
    assert first.status == Status.FAILED
    child = options(store, first.exec_id).retry_child
    assert child is not None and store.executions.get(child).status == Status.PREPARING
    second = run_submitted(store, settings, child)
    assert second.status == Status.SUCCEEDED, second.log("b") + second.log("a")
    assert second.jobs == {"a": Status.SUCCEEDED, "b": Status.SUCCEEDED}
    assert (state / "a").read_text() == "x\nx\n"  # retryAsNew: the whole flow ran again
    linked = options(store, child)
    assert (linked.retry_count, linked.retry_root, linked.retry_parent, linked.retry_child) == (
        1,
        first.exec_id,
        first.exec_id,
        None,
    )
    assert linked.runtime["ROOT"]["flow.retry.statuses"] == "FAILED"


def test_disable_succeeded_nodes_from_the_flow_config(store, settings, tmp_path: Path) -> None:
    config = "config:\n  flow.retry.statuses: FAILED\n  flow.retry.strategy: disableSucceededNodes\n"
    project, settings, state = flaky(tmp_path, settings, fail_times=1, config=config)
    first = run_flow(store, settings, project, "f")
    assert first.status == Status.FAILED
    second = run_submitted(store, settings, options(store, first.exec_id).retry_child)
    assert second.status == Status.SUCCEEDED
    assert second.jobs == {"a": Status.SKIPPED, "b": Status.SUCCEEDED}
    assert (state / "a").read_text() == "x\n"


def test_retries_stop_at_the_maximum(store, settings, tmp_path: Path) -> None:
    project, settings, state = flaky(tmp_path, settings, fail_times=99)
    runtime = {"ROOT": {"flow.retry.statuses": "FAILED, KILLED", "flow.max.retries": "2"}}
    first = run_flow(store, settings, project, "f", runtime=runtime)
    ids = [first.exec_id]
    while (child := options(store, ids[-1]).retry_child) is not None:
        assert run_submitted(store, settings, child).status == Status.FAILED
        ids.append(child)
    assert len(ids) == 3 and (state / "b").read_text() == "3\n"
    assert options(store, ids[-1]).retry_count == 2
    assert {options(store, i).retry_root for i in ids[1:]} == {ids[0]}


def test_no_retry_without_the_property_or_for_another_status(store, settings, tmp_path: Path) -> None:
    project, settings, _ = flaky(tmp_path, settings, fail_times=1)
    plain = run_flow(store, settings, project, "f")
    assert plain.status == Status.FAILED and options(store, plain.exec_id).retry_child is None
    other = run_flow(store, settings, project, "f", runtime={"ROOT": {"allow.restart.on.execution.stopped": "true"}})
    assert other.status == Status.SUCCEEDED  # b's one failure was used up by the first run
    assert options(store, other.exec_id).retry_child is None


def test_an_execution_whose_executor_died_is_retried(store, settings, tmp_path: Path) -> None:
    project, settings, _ = flaky(tmp_path, settings, fail_times=0)
    exec_id = submit(store, settings, project, "f", runtime={"ROOT": {"allow.restart.on.execution.stopped": "true"}})
    executor_id = store.executors.register()
    assert store.executions.claim(executor_id, exec_id) == exec_id
    store.executors.heartbeat(executor_id, active=False)  # as if its process had died on this host
    assert exec_id in finalise_orphans(store, settings)
    assert store.executions.get(exec_id).status == Status.EXECUTION_STOPPED
    child = options(store, exec_id).retry_child
    assert child is not None and run_submitted(store, settings, child).status == Status.SUCCEEDED
    assert options(store, child).retry_parent == exec_id
