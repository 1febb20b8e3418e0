"""Running flows in tests: upload a project, submit, run in this process, and read back what happened."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sudoless.config import Settings
from sudoless.flows.attempt import attempt_stem
from sudoless.flows.executions import submit_flow
from sudoless.flows.executor import Executor
from sudoless.flows.formats.properties import parse_properties
from sudoless.flows.model import Status
from sudoless.flows.options import ExecutionOptions
from sudoless.flows.upload import upload_project
from sudoless.store import Store

_counter = iter(range(1, 1_000_000))


@dataclass
class Outcome:
    exec_id: int
    status: Status
    jobs: dict[str, Status]
    attempts: dict[str, list[Status]]
    workdir: Path
    store: Store = field(repr=False)

    def props(self, nested_id: str) -> dict[str, str]:
        """The resolved properties the job saw (its JOB_PROP_FILE), latest attempt."""
        attempt = len(self.attempts[nested_id]) - 1
        return parse_properties((self.workdir / ".jobs" / f"{attempt_stem(nested_id, attempt)}.props").read_text())

    def log(self, nested_id: str = "", attempt: int | None = None) -> str:
        if attempt is None:
            attempt = len(self.attempts[nested_id]) - 1 if nested_id else 0
        return self.store.read_log(self.exec_id, nested_id, attempt, 0, 1 << 30).decode()


def write_project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def outcome(store: Store, settings: Settings, exec_id: int) -> Outcome:
    attempts: dict[str, list[Status]] = {}
    for run in store.job_runs(exec_id):
        attempts.setdefault(run.nested_id, []).append(run.status)
    return Outcome(exec_id=exec_id, status=store.execution(exec_id).status,
                   jobs={k: v[-1] for k, v in attempts.items()}, attempts=attempts,
                   workdir=settings.executions_dir / str(exec_id), store=store)


def submit(store: Store, settings: Settings, project: Path, flow: str, runtime: dict[str, dict[str, str]] | None = None,
           disabled: Any = None, name: str | None = None, **options: Any) -> int:
    """Upload ``project`` under a unique name (tests share a database) and queue ``flow``."""
    name = name or f"{project.name}-{next(_counter)}-{id(store) % 10_000}"
    upload_project(store, settings, project, "tester", name=name)
    opts = ExecutionOptions(runtime=runtime or {}, **options)
    return submit_flow(store, settings, name, flow, opts, "tester", disabled=disabled)


def run_flow(store: Store, settings: Settings, project: Path, flow: str,
             runtime: dict[str, dict[str, str]] | None = None, disabled: Any = None,
             during: Callable[[int], None] | None = None, **options: Any) -> Outcome:
    """Run a flow to its end; ``during(exec_id)`` runs in a second thread while it runs."""
    exec_id = submit(store, settings, project, flow, runtime, disabled, **options)
    return run_submitted(store, settings, exec_id, during)


def run_submitted(store: Store, settings: Settings, exec_id: int,
                  during: Callable[[int], None] | None = None) -> Outcome:
    """Claim the queued execution ``exec_id`` and run it here to its end (see :func:`run_flow`)."""
    executor = Executor(store, settings)
    helper = None
    if during is not None:
        helper = threading.Thread(target=during, args=(exec_id,))
        helper.start()
    try:
        executor.claim_and_run(exec_id)
    finally:
        if helper is not None:
            helper.join()
        executor.stop(wait=False)
    return outcome(store, settings, exec_id)


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll until ``predicate`` holds; fail the test when it does not within ``timeout``."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition not reached within {timeout} s")


def job_status(store: Store, exec_id: int, nested_id: str) -> Status | None:
    runs = [r for r in store.job_runs(exec_id) if r.nested_id == nested_id]
    return runs[-1].status if runs else None
