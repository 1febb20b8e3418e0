"""An executor: claims queued executions from the store and runs them (:func:`run_execution`); finalises
orphans.

Several executors, on one host or many, can share a MySQL/MariaDB or PostgreSQL database: each claims
executions with a row lock (Azkaban's POLL dispatch model, without its manual activation step). An
executor beats a heartbeat; one whose process died (same host) or whose heartbeat stopped (other host)
leaves orphans behind, which the next executor to start finalises.

Finalising an orphan follows Azkaban 4's answer to a crashed executor: the flow ends
``EXECUTION_STOPPED``; jobs that were running end ``KILLED`` (their process groups, if still alive on
this host, are killed first); jobs that had not started end ``CANCELLED``. Logs written before the crash
stay readable. :func:`~sudoless.flows.executions.restart_execution` then reruns what did not succeed.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from sudoless.config import Settings
from sudoless.flows import flow_retry
from sudoless.flows.executions import apply_job_overrides, load_version, project_dir
from sudoless.flows.formats import load_project_dir
from sudoless.flows.joblog import LogWriter
from sudoless.flows.notify.events import flow_finished
from sudoless.flows.runner import FlowRunner
from sudoless.flows.workspace import continue_workdir, prepare_workdir, set_aside
from sudoless.processes import kill_session
from sudoless.store import Store
from sudoless.store.light.executions import ExecutionRecord
from sudoless.store.status import FINISHED, Status

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0


def finalise_orphans(store: Store, settings: Settings) -> list[int]:
    """Finalise executions whose executor is gone; return their ids."""
    done = []
    host = socket.gethostname()
    for record in store.executors.orphaned_executions(int(settings.executor_timeout * 1000)):
        changes = []
        for run in store.job_runs.of(record.id):
            if run.status in FINISHED:
                continue
            if run.status in (Status.RUNNING, Status.KILLING):
                if run.pid and run.host == host:
                    kill_session(run.pid)  # the job's group, unless its pid now names another process
                changes.append((run.nested_id, run.attempt, {"status": Status.KILLED, "end_time": store.clock()}))
            elif run.status in (Status.READY, Status.QUEUED, Status.DISABLED):
                changes.append((run.nested_id, run.attempt, {"status": Status.CANCELLED}))
        store.job_runs.update_many(record.id, changes)
        flow_log = LogWriter(store, record.id, "", 0, shared=True)
        flow_log.line(
            f"Executor {record.executor_id} died while this execution was {record.status.value}; "
            "finalised as EXECUTION_STOPPED",
            "ERROR",
        )
        flow_log.flush()
        store.executions.update(record.id, status=Status.EXECUTION_STOPPED, end_time=store.clock())
        flow_finished(store, settings, record.id)
        flow_retry.retry_if_asked(store, settings, record.id, Status.EXECUTION_STOPPED)
        log.warning("finalised orphaned execution %s", record.id)
        done.append(record.id)
    return done


def run_execution(
    store: Store, settings: Settings, exec_id: int, on_runner: Callable[[FlowRunner], object] | None = None
) -> Status:
    """Run a claimed execution to its end in this process, in ``executions/<id>``, whose files are links
    to the project cache's (:mod:`sudoless.flows.workspace`). ``on_runner`` is handed the runner before it
    starts, for a caller that wants to :meth:`~FlowRunner.wake` it."""
    record = store.executions.get(exec_id)
    workdir = settings.executions_dir / str(exec_id)
    if os.path.lexists(workdir):
        # A claimed execution runs once, so this is the folder of a former database at this place (one deleted
        # and created again numbers its executions from 1 again): its files and what its jobs wrote are not this
        # execution's. Kept under another name until `sudoless clean` (retention.set_aside_workdirs).
        aside = set_aside(workdir)
        log.warning("execution %s: %s held another database's files; moved to %s", exec_id, workdir, aside)
    try:
        _prepare(store, settings, record, workdir)
    except FileNotFoundError:  # ``sudoless clean`` took the cached version away meanwhile: unpack it again
        _prepare(store, settings, record, workdir)
    if record.restarted_from is None:  # the version's own files: parsed once per version (load_version)
        loaded = load_version(store, settings, record.project_id, record.version, record.project_name)
        project = replace(loaded, root=workdir)
    else:  # a restart runs in a copy of the earlier run's folder, as that run left it
        project = load_project_dir(workdir, record.project_name)
    project = apply_job_overrides(project, store.project_settings.job_overrides(record.project_id, record.version))
    runner = FlowRunner(store, settings, record, project, workdir)
    if on_runner is not None:
        on_runner(runner)
    status = runner.run()
    flow_retry.retry_if_asked(store, settings, exec_id, status, runner.flow.props)
    return status


def _prepare(store: Store, settings: Settings, record: ExecutionRecord, workdir: Path) -> None:
    """A restart continues in a copy of the execution it restarts (what its succeeded jobs wrote); any
    other execution, or a restart whose earlier directory retention already removed, starts from the
    project's files."""
    source = project_dir(store, settings, record.project_id, record.version)
    if record.restarted_from is not None:
        previous = settings.executions_dir / str(record.restarted_from)
        if previous.is_dir():
            continue_workdir(previous, source, workdir)
            return
        log.warning(
            "execution %s restarts %s, whose directory is gone (execution_dir_retention_days); it "
            "starts from the project's files",
            record.id,
            record.restarted_from,
        )
    prepare_workdir(source, workdir)


class Executor:
    """Claims and runs executions, ``max_flows`` at a time, until :meth:`stop`."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        max_flows: int = 30,
        run: Callable[[Store, Settings, int], Status] | None = None,
    ) -> None:
        from sudoless.flows.sandbox import check_sandbox

        check_sandbox(settings)  # require_sandbox on a kernel without Landlock: nothing runs
        self.store = store
        self.settings = settings
        self.max_flows = max_flows
        self.run_execution = run or run_execution
        self.id = store.executors.register()
        self._stop = threading.Event()
        self._flows: dict[int, threading.Thread] = {}
        self._beat = threading.Thread(target=self._heartbeat, daemon=True, name=f"heartbeat-{self.id}")
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self.store.executors.heartbeat(self.id)
            except Exception:  # a database blip must not kill the heartbeat thread
                log.exception("heartbeat failed")

    def run_claimed(self, exec_id: int) -> Status:
        return self.run_execution(self.store, self.settings, exec_id)

    def claim_and_run(self, exec_id: int) -> Status | None:
        """Claim one specific execution and run it in this thread (``sudoless flow run``)."""
        if self.store.executions.claim(self.id, exec_id) is None:
            return None
        return self.run_claimed(exec_id)

    def serve(self, poll_seconds: float = 0.5, until_idle: bool = False) -> None:
        """Claim executions as they are queued, each run in its own thread; ``until_idle`` returns when
        nothing is queued or running (tests and batch use)."""
        finalise_orphans(self.store, self.settings)
        while not self._stop.is_set():
            self._flows = {k: t for k, t in self._flows.items() if t.is_alive()}
            claimed = None
            if len(self._flows) < self.max_flows:
                claimed = self.store.executions.claim(self.id)
            if claimed is not None:
                thread = threading.Thread(target=self._run_safely, args=(claimed,), daemon=True, name=f"flow-{claimed}")
                self._flows[claimed] = thread
                thread.start()
                continue
            if until_idle and not self._flows and self.store.executions.queued_count() == 0:
                return
            self._stop.wait(poll_seconds)

    def _run_safely(self, exec_id: int) -> None:
        try:
            self.run_claimed(exec_id)
        except Exception:
            log.exception("execution %s crashed", exec_id)
            self.store.executions.update(exec_id, status=Status.FAILED, end_time=self.store.clock())
            flow_finished(self.store, self.settings, exec_id)

    def stop(self, wait: bool = True) -> None:
        self._stop.set()
        if wait:
            for thread in list(self._flows.values()):
                thread.join()
        self.store.executors.heartbeat(self.id, active=False)
