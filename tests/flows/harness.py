"""Running flows in tests: upload a project, submit, run in this process, and read back what happened."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from sudoless.config import Settings
from sudoless.flows.attempt import attempt_stem
from sudoless.flows.executions import submit_flow
from sudoless.flows.executor import Executor, run_execution
from sudoless.flows.formats.properties import parse_properties
from sudoless.flows.options import ExecutionOptions
from sudoless.flows.runner import FlowRunner
from sudoless.flows.upload import upload_project
from sudoless.store import Store
from sudoless.store.status import Status

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
        return self.store.logs.read(self.exec_id, nested_id, attempt, 0, 1 << 30).decode()


def write_project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def outcome(store: Store, settings: Settings, exec_id: int) -> Outcome:
    attempts: dict[str, list[Status]] = {}
    for run in store.job_runs.of(exec_id):
        attempts.setdefault(run.nested_id, []).append(run.status)
    return Outcome(
        exec_id=exec_id,
        status=store.executions.get(exec_id).status,
        jobs={k: v[-1] for k, v in attempts.items()},
        attempts=attempts,
        workdir=settings.executions_dir / str(exec_id),
        store=store,
    )


def submit(
    store: Store,
    settings: Settings,
    project: Path,
    flow: str,
    runtime: dict[str, dict[str, str]] | None = None,
    disabled: Any = None,
    name: str | None = None,
    **options: Any,
) -> int:
    """Upload ``project`` under a unique name (tests share a database) and queue ``flow``."""
    name = name or f"{project.name}-{next(_counter)}-{id(store) % 10_000}"
    upload_project(store, settings, project, "tester", name=name)
    opts = ExecutionOptions(runtime=runtime or {}, **options)
    return submit_flow(store, settings, name, flow, opts, "tester", disabled=disabled)


def run_flow(
    store: Store,
    settings: Settings,
    project: Path,
    flow: str,
    runtime: dict[str, dict[str, str]] | None = None,
    disabled: Any = None,
    during: Callable[[int], None] | None = None,
    alongside: Callable[[FlowRunner], None] | None = None,
    **options: Any,
) -> Outcome:
    """Run a flow to its end; ``during(exec_id)`` runs in a second thread while it runs, ``alongside(runner)``
    too, from the moment its runner exists (to :meth:`~FlowRunner.wake` it rather than wait for its tick)."""
    exec_id = submit(store, settings, project, flow, runtime, disabled, **options)
    return run_submitted(store, settings, exec_id, during, alongside)


def run_submitted(
    store: Store,
    settings: Settings,
    exec_id: int,
    during: Callable[[int], None] | None = None,
    alongside: Callable[[FlowRunner], None] | None = None,
) -> Outcome:
    """Claim the queued execution ``exec_id`` and run it here to its end (see :func:`run_flow`); what the
    helpers raise fails the caller once the run is over."""
    helpers: list[_Helper] = []

    def start(target: Callable[[Any], None], arg: object) -> None:
        helper = _Helper(target, arg)
        helpers.append(helper)
        helper.start()

    if during is not None:
        start(during, exec_id)
    on_runner = None if alongside is None else partial(start, alongside)
    executor = Executor(store, settings, run=partial(run_execution, on_runner=on_runner))
    try:
        executor.claim_and_run(exec_id)
    finally:
        for helper in helpers:
            helper.join()
        executor.stop(wait=False)
    for helper in helpers:
        if helper.error is not None:
            raise helper.error
    return outcome(store, settings, exec_id)


class _Helper(threading.Thread):
    """A thread that keeps what its target raised, for the test's own thread to raise."""

    def __init__(self, target: Callable[[Any], None], arg: object) -> None:
        super().__init__(name="test-helper", daemon=True)
        self.target, self.arg = target, arg
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.target(self.arg)
        except BaseException as exc:
            self.error = exc


def job_status(store: Store, exec_id: int, nested_id: str) -> Status | None:
    runs = [r for r in store.job_runs.of(exec_id) if r.nested_id == nested_id]
    return runs[-1].status if runs else None


def spawn_python(code: str, **env: str) -> subprocess.Popen[bytes]:
    """A child Python that imports sudoless from this checkout."""
    full_env = {**os.environ, **env}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


SERVE = """
    import os
    from pathlib import Path
    from sudoless.config import Settings
    from sudoless.flows.executor import Executor
    from sudoless.store import Store
    store = Store(os.environ["T_DB"], migrate_schema=False)
    executor = Executor(store, Settings(home=Path(os.environ["T_HOME"])), max_flows=int(os.environ["T_MAX_FLOWS"]))
    print("executor", executor.id, flush=True)
    executor.serve(poll_seconds=0.05, until_idle=True)
    executor.stop()
"""


def spawn_executor(url: str, home: Path, max_flows: int) -> subprocess.Popen[bytes]:
    """An executor process on the database at ``url`` that claims and runs executions, ``max_flows`` at a
    time, until none is queued or running; it prints ``executor <id>`` first."""
    return spawn_python(SERVE, T_DB=url, T_HOME=str(home), T_MAX_FLOWS=str(max_flows))
