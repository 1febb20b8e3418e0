"""The platform demo's run steps, without the server: store examples/platform-demo as a project and run its quick
flow (a cipher broken, a dispatch planned with its map, a network trained); the spark flow is left for the UI.

    python examples/run_platform_demo.py        # what `./dev demo` runs before it serves (SUDOLESS_HOME as usual)

It uses the library the way ``sudoless flow run`` does (upload, submit, claim and run here), so a test can run
the same steps in a temporary home and check what they produced. Exits 0 when the flow SUCCEEDED, 1 otherwise.
"""

from __future__ import annotations

import getpass
import json
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from sudoless.config import Settings, ensure_home, load_settings
from sudoless.flows.executions import submit_flow
from sudoless.flows.executor import Executor, finalise_orphans
from sudoless.flows.upload import upload_project
from sudoless.store import Store, open_store
from sudoless.store.status import FINISHED, Status

PROJECT = Path(__file__).resolve().parent / "platform-demo"
QUICK_FLOW = "workloads"
SLOW_FLOW = "spark"


@dataclass(frozen=True)
class DemoRun:
    """One finished execution of a demo flow: where it ran and what each job left for its dependants."""

    exec_id: int
    flow: str
    status: Status
    jobs: dict[str, Status]
    outputs: dict[str, dict[str, str]]
    workdir: Path


def upload_demo(store: Store, settings: Settings, user: str) -> None:
    """Store the demo project as its next version (both flows; nothing runs)."""
    upload_project(
        store,
        settings,
        PROJECT,
        user,
        description="The workload job types as flows: decipher, routes, nn; pack and spark",
    )


def run_flow(store: Store, settings: Settings, flow: str, user: str, progress: bool = False) -> DemoRun:
    """Run one flow of the stored demo project here, to its end; ``progress`` prints each job as it ends."""
    finalise_orphans(store, settings)
    exec_id = submit_flow(store, settings, PROJECT.name, flow, user=user)
    executor = Executor(store, settings)
    worker = threading.Thread(target=executor.claim_and_run, args=(exec_id,), name=f"demo-{exec_id}")
    worker.start()
    reported: set[str] = set()
    try:
        while worker.is_alive():
            worker.join(0.5)
            if progress:
                for job in store.job_runs.of(exec_id):
                    if job.status in FINISHED and job.status != Status.DISABLED and job.nested_id not in reported:
                        reported.add(job.nested_id)
                        print(f"  {job.nested_id:<10} {job.status.value}", file=sys.stderr, flush=True)
    finally:
        executor.stop(wait=False)
    runs = {job.nested_id: job for job in store.job_runs.of(exec_id)}  # the latest attempt of each job wins
    return DemoRun(
        exec_id=exec_id,
        flow=flow,
        status=store.executions.get(exec_id).status,
        jobs={name: job.status for name, job in runs.items()},
        outputs={name: dict(job.output_props or {}) for name, job in runs.items()},
        workdir=settings.executions_dir / str(exec_id),
    )


def run_quick(store: Store, settings: Settings, user: str, progress: bool = False) -> DemoRun:
    """Upload the demo project and run its quick flow: the demo's steps before the server starts."""
    upload_demo(store, settings, user)
    return run_flow(store, settings, QUICK_FLOW, user, progress)


def summary(run: DemoRun) -> list[str]:
    """What a person watching the demo wants to see of the quick flow's results."""
    decipher, dispatch, train = (run.outputs.get(job, {}) for job in ("decipher", "dispatch", "train"))
    first_line = (decipher.get("plaintext") or "").strip().splitlines()[:1]
    return [
        f"execution {run.exec_id}: flow {run.flow} {run.status.value}",
        f"  decipher: '{first_line[0] if first_line else ''} ...' (confidence {decipher.get('confidence', '?')})",
        f"  dispatch: {dispatch.get('routes', '?')} routes, longest {dispatch.get('makespan', '?')} m; map "
        f"{run.workdir / 'out' / 'routes.png'}",
        f"  train: accuracy {train.get('accuracy', '?')} after {train.get('epochs', '?')} epochs",
    ]


def main() -> int:
    settings = load_settings()
    ensure_home(settings)
    store = open_store(settings.database_url)
    try:
        print(
            f"demo: running {PROJECT.name}'s flow {QUICK_FLOW} (decipher, dispatch, train, summary)",
            file=sys.stderr,
            flush=True,
        )
        run = run_quick(store, settings, getpass.getuser(), progress=True)
    finally:
        store.close()
    for line in summary(run):
        print(line, file=sys.stderr)
    print(
        f"demo: the flow {SLOW_FLOW} (pack an environment, submit a PySpark app to local[2]) waits in the web UI: "
        f"project {PROJECT.name}, flow {SLOW_FLOW}, button Run",
        file=sys.stderr,
    )
    if "--json" in sys.argv[1:]:
        print(json.dumps({"execid": run.exec_id, "status": run.status.value, "outputs": run.outputs}))
    return 0 if run.status == Status.SUCCEEDED else 1


if __name__ == "__main__":
    sys.exit(main())
