"""``sudoless flow ...`` and ``sudoless executor``: validate, list, run and inspect Azkaban flows.

Every ``sudoless`` command imports this module (see :func:`sudoless.cli.register_commands`), so the flow
engine, SQLAlchemy and rich are imported inside the commands that use them, not here.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sudoless.cli import cli, db_option, emit_json, json_option, settings_from
from sudoless.errors import CheckFailed, InputError

if TYPE_CHECKING:
    from rich.table import Table

    from sudoless.flows.model import Project
    from sudoless.store import Store
    from sudoless.store.executions import ExecutionRecord
    from sudoless.store.job_runs import JobRunRecord
    from sudoless.store.status import Status

COLOURS = {
    "SUCCEEDED": "green",
    "FAILED": "red",
    "KILLED": "red",
    "RUNNING": "cyan",
    "CANCELLED": "yellow",
    "SKIPPED": "dim",
    "DISABLED": "dim",
    "QUEUED": "blue",
    "KILLING": "magenta",
    "FAILED_FINISHING": "red",
    "FAILED_SUCCEEDED": "yellow",
    "EXECUTION_STOPPED": "red",
}


@cli.group()
def flow() -> None:
    """Azkaban-compatible flows: Flow 1.0 (.job) and Flow 2.0 (.flow) projects."""


def _describe(project: Project) -> dict[str, Any]:
    flows = {}
    for name in project.top_flows:
        f = project.flows[name]
        flows[name] = {
            "nodes": {
                n: {
                    "type": node.type,
                    "dependsOn": list(node.dependencies),
                    **({"subflow": node.subflow} if node.subflow else {}),
                }
                for n, node in f.nodes.items()
            },
            **({"trigger": f.trigger.to_json()} if f.trigger else {}),
        }
    embedded = sorted(n for n, f in project.flows.items() if f.embedded)
    return {"project": project.name, "flowVersion": project.flow_version, "flows": flows, "embedded": embedded}


@flow.command()
@click.argument("path", type=click.Path(path_type=Path))
@json_option
def validate(path: Path, as_json: bool) -> None:
    """Check a project folder or zip the way an upload to Azkaban would.

    An invalid project prints one line per problem (file, line where known, reason) and exits 2 (what is
    checked is the user's input); with ``--json`` the same problems are a document on stdout (``valid: false``)
    instead.
    """
    from sudoless.errors import ProjectError, SudolessError
    from sudoless.flows.formats import Problem, load_project

    try:
        project = load_project(path)
    except SudolessError as exc:
        problems = exc.problems if isinstance(exc, ProjectError) else (str(exc),)
        if as_json:
            emit_json({"valid": False, "path": str(path), "problems": [Problem.parse(p).as_dict() for p in problems]})
        else:
            for problem in problems:
                click.echo(f"sudoless: {problem}", err=True)
        raise CheckFailed(exit_code=exc.exit_code) from None
    if as_json:
        emit_json({"valid": True, **_describe(project), "warnings": list(project.warnings)})
        return
    click.echo(
        f"{path}: valid Flow {project.flow_version} project with {len(project.top_flows)} flow(s): "
        f"{', '.join(project.top_flows)}"
    )
    for warning in project.warnings:
        click.echo(f"sudoless: warning: {warning}", err=True)


@flow.command("list")
@click.argument("path", type=click.Path(path_type=Path))
@json_option
def list_flows(path: Path, as_json: bool) -> None:
    """List a project's flows and their jobs."""
    from rich.console import Console
    from rich.table import Table

    from sudoless.flows.formats import load_project

    project = load_project(path)
    if as_json:
        emit_json(_describe(project))
        return
    console = Console()
    for name in project.top_flows:
        f = project.flows[name]
        levels = f.levels()
        table = Table(title=f"flow {name}", title_justify="left")
        for column in ("job", "type", "level", "depends on"):
            table.add_column(column)
        for node in sorted(f.nodes.values(), key=lambda n: (levels[n.name], n.name)):
            kind = f"flow → {node.subflow}" if node.subflow else node.type
            table.add_row(node.name, kind, str(levels[node.name]), ", ".join(node.dependencies))
        console.print(table)


def _pick_flow(project: Project, name: str | None) -> str:
    if name:
        return project.flow(name).name
    if len(project.top_flows) == 1:
        return project.top_flows[0]
    if not project.top_flows:
        raise InputError(f"{project.name}: {project.warnings[0] if project.warnings else 'no flows found'}")
    raise InputError(
        f"{project.name} has {len(project.top_flows)} flows ({', '.join(project.top_flows)}); "
        "choose one with --flow NAME"
    )


@flow.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--flow", "flow_name", metavar="NAME", help="Flow to run (needed when the project has several).")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Runtime property for the flow; NODE@KEY=VALUE for one job. Repeatable.",
)
@click.option(
    "--failure-action",
    type=click.Choice(["finishCurrent", "cancelImmediately", "finishPossible"]),
    help="What to do when a job fails (default finishCurrent, or the flow's failure.action).",
)
@click.option("--parallel", type=click.IntRange(1, 1000), default=None, help="Jobs run at once (default 10).")
@click.option("--disable", "disabled", multiple=True, metavar="JOB", help="Skip this job (nested ids ok).")
@click.option("--concurrent", is_flag=True, help="Run even if this flow is already running.")
@db_option
@json_option
def run(
    path: Path,
    flow_name: str | None,
    params: tuple[str, ...],
    failure_action: str | None,
    parallel: int | None,
    disabled: tuple[str, ...],
    concurrent: bool,
    db: str | None,
    as_json: bool,
) -> None:
    """Upload a project folder or zip and run one of its flows here, showing job states live.

    Exits 0 when the flow SUCCEEDED and 1 otherwise.
    """
    import getpass

    from sudoless.flows.executions import submit_flow
    from sudoless.flows.executor import finalise_orphans
    from sudoless.flows.model import FailureAction
    from sudoless.flows.options import ExecutionOptions, parse_assignments, parse_disabled
    from sudoless.flows.sandbox import announce_sandbox
    from sudoless.flows.upload import upload_project
    from sudoless.store import run_store_for
    from sudoless.store.status import Status

    settings = settings_from(db)
    announce_sandbox(settings)
    store = run_store_for(settings)  # a SQLite home at the newest schema: no SQLAlchemy (store.local)
    user = getpass.getuser()
    _, _, project = upload_project(store, settings, path, user)
    name = _pick_flow(project, flow_name)
    options = ExecutionOptions(
        failure_action=FailureAction.parse(failure_action) if failure_action else None,
        runtime=parse_assignments(params),
        parallel=parallel or settings.parallel,
        concurrent_option="ignore" if concurrent else "skip",
    )
    if disabled:  # the AJAX API ignores unknown names as Azkaban does; a typo on a command line is an error
        ignored: list[str] = []
        parse_disabled(list(disabled), project, project.flow(name), ignored)
        if ignored:
            raise InputError(f"--disable: {'; '.join(ignored)}")
    finalise_orphans(store, settings)
    exec_id = submit_flow(
        store, settings, project.name, name, options, user, disabled=list(disabled) if disabled else None
    )
    status = _run_with_display(store, settings, exec_id, live=not as_json and sys.stderr.isatty())
    _send_notifications(store, settings, exec_id)
    _report(store, exec_id, as_json)
    if status != Status.SUCCEEDED:
        raise CheckFailed()


def _send_notifications(store: Store, settings: Any, exec_id: int) -> None:
    """Deliver the execution's notifications before the command exits; retries due later stay queued for a
    server sharing the database, and a line on stderr says so."""

    if not store.notifications.unsent_count(exec_id):
        return  # nothing queued: the sender (and smtplib with it) is not even imported
    from sudoless.flows.notify import Sender

    left = Sender(store, settings).drain(exec_id)
    if left:
        click.echo(
            f"{left} notification(s) of execution {exec_id} not sent yet: a sudoless server on this "
            "database will retry them ('sudoless flow show --json' lists every attempt)",
            err=True,
        )


def _run_with_display(store: Store, settings: Any, exec_id: int, live: bool) -> Status:
    import threading
    import time

    from sudoless.flows.executor import Executor
    from sudoless.store.status import TERMINAL_FLOW

    executor = Executor(store, settings)
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["status"] = executor.claim_and_run(exec_id)
            # Another executor sharing the database (a running `sudoless server`) claimed it first: it runs
            # there, and this command follows it to the end, as if it ran here.
            while outcome["status"] is None and store.executions.get(exec_id).status not in TERMINAL_FLOW:
                time.sleep(0.25)
        except BaseException as exc:  # re-raised in the main thread
            outcome["error"] = exc

    worker = threading.Thread(target=work, name=f"run-{exec_id}")
    worker.start()
    try:
        if live:  # rich only for a terminal: --json and a pipe never import it (about 30 ms of CPU)
            from rich.console import Console
            from rich.live import Live

            with Live(_table(store, exec_id), console=Console(stderr=True), refresh_per_second=4) as view:
                while worker.is_alive():
                    worker.join(0.25)
                    view.update(_table(store, exec_id))
        while worker.is_alive():
            worker.join(0.25)
    except KeyboardInterrupt:
        click.echo(f"Cancelling execution {exec_id}…", err=True)
        store.executions.request(exec_id, "cancel")
        worker.join()
    finally:
        executor.stop(wait=False)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("status") or store.executions.get(exec_id).status


def _latest(runs: list[JobRunRecord]) -> dict[str, JobRunRecord]:
    latest: dict[str, JobRunRecord] = {}
    for job in runs:
        latest[job.nested_id] = job
    return latest


def _table(store: Store, exec_id: int, limit: int = 40) -> Table:
    from rich.table import Table

    from sudoless.store.status import FINISHED

    record = store.executions.get(exec_id)
    jobs = _latest(store.job_runs.of(exec_id))
    counts: dict[str, int] = {}
    for job in jobs.values():
        counts[job.status.value] = counts.get(job.status.value, 0) + 1
    summary = ", ".join(f"{v} {k.lower()}" for k, v in sorted(counts.items()))
    table = Table(
        title=f"execution {exec_id} · {record.flow_id} · {_status(record.status)} · {summary}", title_justify="left"
    )
    for column in ("job", "status", "attempt", "duration"):
        table.add_column(column)
    active = [j for j in jobs.values() if j.status not in FINISHED]
    finished = sorted((j for j in jobs.values() if j.status in FINISHED), key=lambda j: -j.update_time)
    shown = (active + finished)[:limit]
    for job in sorted(shown, key=lambda j: j.nested_id):
        table.add_row(job.nested_id, _status(job.status), str(job.attempt), _duration(job.start_time, job.end_time))
    if len(jobs) > limit:
        table.caption = f"{len(jobs) - limit} more jobs not shown"
    return table


def _status(status: Status) -> str:
    colour = COLOURS.get(status.value, "white")
    return f"[{colour}]{status.value}[/]"


def _duration(start: int, end: int) -> str:
    if start < 0:
        return ""
    stop = end if end >= 0 else int(time.time() * 1000)
    return f"{(stop - start) / 1000:.1f}s"


def _execution_json(store: Store, record: ExecutionRecord) -> dict[str, Any]:
    from sudoless.flows.notify.history import execution_notifications

    jobs = []
    for job in store.job_runs.of(record.id):
        jobs.append(
            {
                "id": job.nested_id,
                "attempt": job.attempt,
                "type": job.type,
                "status": job.status.value,
                "startTime": job.start_time,
                "endTime": job.end_time,
                "outputs": job.output_props or {},
            }
        )
    return {
        "execid": record.id,
        "project": record.project_name,
        "flow": record.flow_id,
        "status": record.status.value,
        "submitUser": record.submit_user,
        "submitTime": record.submit_time,
        "startTime": record.start_time,
        "endTime": record.end_time,
        "restartedFrom": record.restarted_from,
        "jobs": jobs,
        "notifications": execution_notifications(store, record.id),
    }


def _report(store: Store, exec_id: int, as_json: bool) -> None:
    if as_json:
        emit_json(_execution_json(store, store.executions.get(exec_id)))
    else:
        from rich.console import Console

        Console().print(_table(store, exec_id, limit=200))


@flow.command()
@click.argument("exec_id", type=int)
@db_option
@json_option
def show(exec_id: int, db: str | None, as_json: bool) -> None:
    """Show an execution and the status of each of its jobs."""
    from sudoless.store import store_for

    store = store_for(settings_from(db))
    _report(store, exec_id, as_json)


@flow.command()
@click.argument("exec_id", type=int)
@click.argument("job", required=False, default="")
@click.option("--attempt", type=int, default=None, help="Attempt to show (default: the latest).")
@click.option("--follow", "-f", is_flag=True, help="Keep printing as the log grows, until the job ends.")
@db_option
@json_option
def log(exec_id: int, job: str, attempt: int | None, follow: bool, db: str | None, as_json: bool) -> None:
    """Print a job's log (JOB is a nested id such as sub:job); without JOB, the flow's log."""
    from sudoless.store import store_for

    store = store_for(settings_from(db))
    record = store.executions.get(exec_id)
    if job:
        runs = [r for r in store.job_runs.of(exec_id) if r.nested_id == job]
        if not runs:
            raise InputError(f"Job {job} doesn't exist in {exec_id}")
        attempt = runs[-1].attempt if attempt is None else attempt
    else:
        attempt = 0
    offset = 0
    chunks = []
    while True:
        data = store.logs.read(exec_id, job, attempt, offset, 1 << 20)
        if data:
            offset += len(data)
            if as_json:
                chunks.append(data)
            else:
                sys.stdout.buffer.write(data)
                sys.stdout.flush()
            continue
        if not follow or _log_done(store, record.id, job, attempt):
            break
        time.sleep(0.5)
    if as_json:
        emit_json(
            {"execid": exec_id, "job": job, "attempt": attempt, "data": b"".join(chunks).decode("utf-8", "replace")}
        )


def _log_done(store: Store, exec_id: int, job: str, attempt: int) -> bool:
    from sudoless.store.status import FINISHED, TERMINAL_FLOW

    if not job:
        return store.executions.get(exec_id).status in TERMINAL_FLOW
    runs = [r for r in store.job_runs.of(exec_id) if r.nested_id == job and r.attempt == attempt]
    return bool(runs) and runs[0].status in FINISHED


@flow.command("control")
@click.argument("exec_id", type=int)
@click.argument("action", type=click.Choice(["cancel", "pause", "resume", "retry-failed"]))
@db_option
@json_option
def control_cmd(exec_id: int, action: str, db: str | None, as_json: bool) -> None:
    """Cancel, pause, resume a running execution, or retry its failed jobs while it is FAILED_FINISHING."""
    from sudoless.flows.executions import control
    from sudoless.store import store_for

    store = store_for(settings_from(db))
    control(store, exec_id, action.replace("-", "_"))
    if as_json:
        emit_json({"execid": exec_id, "action": action, "requested": True})
        return
    click.echo(f"execution {exec_id}: {action} requested")


@flow.command()
@click.argument("exec_id", type=int)
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Replace a runtime property of the first run (NODE@KEY=VALUE for one job). Repeatable.",
)
@db_option
@json_option
def restart(exec_id: int, params: tuple[str, ...], db: str | None, as_json: bool) -> None:
    """Run a failed, killed or stopped execution again, skipping the jobs that succeeded.

    The new execution starts in a copy of the old one's folder, so what the skipped jobs wrote is there.
    """
    import getpass

    from sudoless.flows.executions import restart_execution
    from sudoless.flows.executor import finalise_orphans
    from sudoless.flows.options import parse_assignments
    from sudoless.store import store_for
    from sudoless.store.status import Status

    settings = settings_from(db)
    store = store_for(settings)
    finalise_orphans(store, settings)
    new_id = restart_execution(store, settings, exec_id, getpass.getuser(), runtime=parse_assignments(params))
    status = _run_with_display(store, settings, new_id, live=not as_json and sys.stderr.isatty())
    _send_notifications(store, settings, new_id)
    _report(store, new_id, as_json)
    if status != Status.SUCCEEDED:
        raise CheckFailed()


@cli.command()
@click.option("--max-flows", type=click.IntRange(1, 1000), default=30, help="Executions run at once.")
@db_option
def executor(max_flows: int, db: str | None) -> None:
    """Run an executor that claims queued executions from a shared database until interrupted."""
    from sudoless.flows.executor import Executor
    from sudoless.flows.sandbox import announce_sandbox
    from sudoless.store import store_for

    settings = settings_from(db)
    announce_sandbox(settings)
    store = store_for(settings)
    import threading

    from sudoless.flows.notify import Sender

    worker = Executor(store, settings, max_flows=max_flows)
    click.echo(f"executor {worker.id} polling {store.engine.url.render_as_string()}", err=True)
    # the notifications of the flows it runs go out from here too, when no server shares the database
    stop = threading.Event()
    threading.Thread(target=Sender(store, settings).run, args=(stop,), daemon=True, name="notifications").start()
    try:
        worker.serve()
    except KeyboardInterrupt:
        worker.stop()
    finally:
        stop.set()
