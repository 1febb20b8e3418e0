"""What survives a crash, what two executors share, and logs too big for memory: all with real processes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from flows.harness import job_status, outcome, spawn_executor, spawn_python, submit, write_project
from sudoless.config import Settings
from sudoless.flows.executions import restart_execution, submit_flow
from sudoless.flows.executor import Executor, finalise_orphans
from sudoless.flows.options import ExecutionOptions
from sudoless.flows.upload import upload_project
from sudoless.processes import is_alive
from sudoless.store import Store
from sudoless.store.status import Status
from support.eventually import eventually

S, K, C, SK = Status.SUCCEEDED, Status.KILLED, Status.CANCELLED, Status.SKIPPED


RUN_ONE = """
    import os, sys
    from pathlib import Path
    from sudoless.config import Settings
    from sudoless.flows.executor import Executor
    from sudoless.store import Store
    store = Store(os.environ["T_DB"])
    settings = Settings(home=Path(os.environ["T_HOME"]))
    Executor(store, settings).claim_and_run(int(os.environ["T_EXEC"]))
"""


@pytest.mark.slow
def test_kill_9_mid_flow_loses_nothing_and_restarts(store: Store, settings: Settings, tmp_path: Path):
    marker = tmp_path / "second-run"
    project = write_project(
        tmp_path / "p",
        {
            "a.job": "type=command\ncommand=echo first job done\n",
            "b.job": "type=command\ndependencies=a\n"
            f'command=bash -c "echo started b; echo $$ > {tmp_path}/p/b.pid; '
            f'test -e {marker} || sleep 60"\n',
            "c.job": "type=noop\ndependencies=b\n",
        },
    )
    exec_id = submit(store, settings, project, "c")
    child = spawn_python(RUN_ONE, T_DB=store.url, T_HOME=str(settings.home), T_EXEC=str(exec_id))
    try:
        eventually(
            lambda: store.logs.read(exec_id, "b", 0, 0, 10_000).decode(),
            lambda log: "started b" in log,
            timeout=30,
            what="b's log says it started",
        )
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
    job_pid = int((tmp_path / "p" / "b.pid").read_text())
    assert is_alive(job_pid), "the job runs in its own session and outlives the runner"
    # Everything committed before the crash is there.
    assert store.executions.get(exec_id).status == Status.RUNNING
    assert job_status(store, exec_id, "a") == S and job_status(store, exec_id, "b") == Status.RUNNING
    assert "first job done" in store.logs.read(exec_id, "a", 0, 0, 10_000).decode()

    assert finalise_orphans(store, settings) == [exec_id]
    after = outcome(store, settings, exec_id)
    assert after.status == Status.EXECUTION_STOPPED
    assert after.jobs == {"a": S, "b": K, "c": C}
    eventually(lambda: not is_alive(job_pid), timeout=5, what=f"job process {job_pid} gone")
    assert "EXECUTION_STOPPED" in after.log()
    assert finalise_orphans(store, settings) == []

    marker.touch()
    new_id = restart_execution(store, settings, exec_id, "tester")
    executor = Executor(store, settings)
    assert executor.claim_and_run(new_id) == S
    executor.stop(wait=False)
    assert outcome(store, settings, new_id).jobs == {"a": SK, "b": S, "c": S}


CLAIM_AND_EXIT = """
    import os
    from sudoless.store import Store
    store = Store(os.environ["T_DB"], migrate_schema=False)
    assert store.executions.claim(store.executors.register(), int(os.environ["T_EXEC"])) is not None
"""


def test_an_executor_left_a_zombie_has_died(store: Store, settings: Settings, tmp_path: Path):
    """An executor that exited unreaped is a zombie: the kernel still has its pid, but its executions are
    orphans to finalise, as with one that is gone."""
    exec_id = submit(store, settings, write_project(tmp_path / "p", {"a.job": "type=noop\n"}), "a")
    child = spawn_python(CLAIM_AND_EXIT, T_DB=store.url, T_EXEC=str(exec_id))
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
    try:
        os.kill(child.pid, 0)  # a signal test alone would count it alive
        assert store.executions.get(exec_id).executor_id is not None
        assert exec_id in [record.id for record in store.executors.orphaned_executions(timeout_ms=3_600_000)]
        assert finalise_orphans(store, settings) == [exec_id]
        assert store.executions.get(exec_id).status == Status.EXECUTION_STOPPED
    finally:
        child.wait()


@pytest.mark.slow
@pytest.mark.parametrize("fresh_db", ["mariadb", "postgresql", "sqlite"], indirect=True)
def test_two_executors_never_start_an_execution_twice(fresh_db: tuple[str, str], tmp_path: Path):
    kind, url = fresh_db
    store = Store(url)
    settings = Settings(home=tmp_path / "home", max_runs_per_flow=1000)
    # in a folder beside the home: the job sandbox lets a job create files there, not in the home's parent
    starts = tmp_path / "p" / "starts.txt"
    project = write_project(
        tmp_path / "p", {"once.job": f'type=command\ncommand=bash -c "echo ${{azkaban.flow.execid}} >> {starts}"\n'}
    )
    upload_project(store, settings, project, "tester", name="once")
    options = ExecutionOptions(concurrent_option="ignore")
    ids = [submit_flow(store, settings, "once", "once", options, "tester") for _ in range(200)]
    children = [spawn_executor(url, settings.home, max_flows=4) for _ in range(2)]
    try:
        for child in children:
            child.wait(timeout=600)
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    outputs = [child.stdout.read().decode() for child in children if child.stdout]
    assert all(child.returncode == 0 for child in children), outputs
    lines = starts.read_text().split()
    assert sorted(map(int, lines)) == ids, "every execution ran exactly once"
    records = [store.executions.get(i) for i in ids]
    assert {r.status for r in records} == {S}
    per_executor: dict[int | None, int] = {}
    for record in records:
        per_executor[record.executor_id] = per_executor.get(record.executor_id, 0) + 1
    assert len(per_executor) == 2, f"both executors should have claimed work: {per_executor}"
    store.close()


@pytest.mark.slow
def test_a_huge_log_streams_through_bounded_memory(sqlite_store: Store, tmp_path: Path):
    settings = Settings(home=tmp_path / "home")
    size = 256 * 1024 * 1024
    project = write_project(
        tmp_path / "p", {"loud.job": f'type=command\ncommand=bash -c "yes 0123456789abcdef | head -c {size}"\n'}
    )
    exec_id = submit(sqlite_store, settings, project, "loud")
    child = spawn_python(RUN_ONE, T_DB=sqlite_store.url, T_HOME=str(settings.home), T_EXEC=str(exec_id))
    process = psutil.Process(child.pid)
    baseline = peak = 0
    while child.poll() is None:
        try:
            rss = process.memory_info().rss
        except psutil.NoSuchProcess:
            break
        baseline = baseline or rss
        peak = max(peak, rss)
        time.sleep(0.02)
    assert child.returncode == 0, child.stdout.read().decode() if child.stdout else ""
    assert sqlite_store.executions.get(exec_id).status == S
    header = len(sqlite_store.logs.read(exec_id, "loud", 0, 0, 4096).split(b"\n0123456789abcdef")[0]) + 1
    total = sqlite_store.logs.size(exec_id, "loud", 0)
    assert size < total < size + 4096
    middle = sqlite_store.logs.read(exec_id, "loud", 0, header + 17 * 1_000_000, 34)
    assert middle == b"0123456789abcdef\n" * 2
    assert peak - baseline < 100 * 1024 * 1024, f"runner grew by {(peak - baseline) >> 20} MB"
