"""Executions of stored projects: submit, control and restart them; a stored version as they run it.

The command line, the HTTP server, the scheduler, flow triggers and flow retries submit through
:func:`submit_flow`; projects arrive through :mod:`sudoless.flows.upload`, and an executor runs what is
submitted (:func:`sudoless.flows.executor.run_execution`). These functions hold no state of their own beyond
the store and the settings passed in.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from sudoless.config import Settings
from sudoless.errors import ArchiveError, FlowLockedError, InputError, StateError
from sudoless.flows.formats.archive import unpack_zip
from sudoless.flows.model import Flow, Project
from sudoless.flows.notify import recipients
from sudoless.flows.options import ExecutionOptions, parse_disabled
from sudoless.flows.versions import load_cached
from sudoless.flows.workspace import project_cache, version_folder
from sudoless.outbound import WebhookHosts
from sudoless.store import Store
from sudoless.store.light.executions import ExecutionRecord, NewExecution, Unfinished
from sudoless.store.status import SUCCEEDED_LIKE, TERMINAL_FLOW, Status


def project_dir(store: Store, settings: Settings, project_id: int, version: int) -> Path:
    """The unpacked copy of a stored version, cached as ``projects/<id>.<version>.<archive MD5>``
    (:func:`~sudoless.flows.workspace.version_folder`): Azkaban's ``<id>.<version>``, plus what tells this
    database's version from one of a former database at the same place. The archive is checked against that
    MD5 before it is unpacked, so a folder's name always says what it holds."""
    digest = store.projects.digest(project_id, version)
    target = project_cache(settings) / version_folder(project_id, version, digest)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as scratch:
            archive = store.projects.write_archive(project_id, version, Path(scratch) / "project.zip")
            with open(archive, "rb") as stream:
                found = hashlib.file_digest(stream, "md5").hexdigest()
            if found != digest:
                raise ArchiveError(
                    f"project {project_id} version {version}: the stored archive's MD5 is {found}, its version "
                    f"row says {digest}; if the database was replaced while this process ran, restart it"
                )
            try:
                unpack_zip(archive, target, settings.project_max_bytes, settings.project_max_files)
            except (ArchiveError, OSError):
                if not target.exists():
                    raise
                # else another executor unpacked the same version first: use theirs
    return target


def load_version(store: Store, settings: Settings, project_id: int, version: int, name: str) -> Project:
    """The model of a stored version, parsed once per process (:mod:`sudoless.flows.versions`)."""
    directory = project_dir(store, settings, project_id, version)
    return load_cached(directory, name, settings.max_job_xms, settings.max_job_xmx)


def node_rows(project: Project, flow: Flow, disabled: tuple[str, ...]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def walk(current: Flow, prefix: str) -> None:
        for node in current.nodes.values():
            nested = prefix + node.name
            rows.append(
                {
                    "nested_id": nested,
                    "type": node.type,
                    "condition": node.condition,
                    "parents": [prefix + d for d in node.dependencies],
                    "status": (Status.DISABLED if nested in disabled else Status.READY).value,
                }
            )
            if node.subflow is not None:
                walk(project.flows[node.subflow], nested + ":")

    walk(flow, "")
    return rows


def submit_flow(
    store: Store,
    settings: Settings,
    project_name: str,
    flow_name: str,
    options: ExecutionOptions | None = None,
    user: str = "sudoless",
    source: str = "adhoc",
    disabled: Any = None,
    version: int | None = None,
    restarted_from: int | None = None,
    ignored: list[str] | None = None,
) -> int:
    """Queue an execution of ``flow_name`` (PREPARING); an executor claims and runs it.

    ``disabled`` takes Azkaban's JSON list form; names not in the flow are skipped and listed in
    ``ignored``. With the default ``concurrent_option="skip"`` a second
    submission while one runs is refused, as Azkaban does. An SLA webhook must go to a host on the admin's
    list (:mod:`sudoless.outbound`); a schedule's was checked when it was saved, and is again when sent.
    The flow's notification recipients are applied here (:mod:`sudoless.flows.notify.recipients`), and its
    webhooks checked against the same list.
    """
    options = options or ExecutionOptions(parallel=settings.parallel)
    if options.sla_webhook and source != "schedule":
        WebhookHosts.parse(settings.webhook_hosts).check(options.sla_webhook, "SLA webhook")
    project_id = store.projects.id_of(project_name)
    if store.project_settings.flow_lock(project_id, flow_name) is not None:
        raise FlowLockedError(f"Flow {flow_name} for project {project_name} is locked.")
    if version is None:
        version = _current_version(store, project_id)
    request = FlowSubmission(project_id, project_name, flow_name, options, user, source, restarted_from)
    project = load_version(store, settings, project_id, version, project_name)
    new = _prepare(settings, request, version, project, disabled, ignored)
    return store.executions.submit(
        new.project_id,
        new.project_name,
        new.version,
        new.flow_id,
        new.nodes,
        new.options,
        new.user,
        new.source,
        new.restarted_from,
        admit=new.admit,
    )


@dataclass(frozen=True)
class FlowSubmission:
    """One execution for :func:`submit_flows` to queue, of the current version of an active project whose id
    the caller knows already (the scheduler reads it with the schedule)."""

    project_id: int
    project_name: str
    flow_name: str
    options: ExecutionOptions
    user: str = "sudoless"
    source: str = "adhoc"
    restarted_from: int | None = None


def submit_flows(store: Store, settings: Settings, requests: Sequence[FlowSubmission]) -> list[int | Exception]:
    """Queue many executions at once: per request its execution id, or the error that refused it.

    The same checks and concurrency options as :func:`submit_flow`, each request admitted as if those
    before it had been submitted one by one, in a few statements for the whole batch rather than several
    transactions a submission: the flow locks and current versions are read in one query each and the
    executions queued in one transaction (:meth:`~sudoless.store.executions.ExecutionQueries.submit_many`).
    This is what lets the scheduler fire a thousand schedules due in the same second within it. A request
    that fails to prepare (even with an unexpected error) refuses only itself; a failing transaction raises.
    """
    project_ids = sorted({request.project_id for request in requests})
    locked = store.project_settings.locked_flows(project_ids)
    versions = store.projects.current_versions(project_ids)
    outcomes: list[int | Exception | None] = [None] * len(requests)
    batch: list[tuple[int, NewExecution]] = []
    loaded: dict[int, Project] = {}  # by project id: finding the cached model costs more than a submission
    for index, request in enumerate(requests):
        try:
            if (request.project_id, request.flow_name) in locked:
                raise FlowLockedError(f"Flow {request.flow_name} for project {request.project_name} is locked.")
            version = versions.get(request.project_id)
            if not version:
                raise _no_version(request.project_id)
            if request.project_id not in loaded:
                loaded[request.project_id] = load_version(
                    store, settings, request.project_id, version, request.project_name
                )
            batch.append((index, _prepare(settings, request, version, loaded[request.project_id])))
        except Exception as error:  # noqa: BLE001 - returned to the caller, for this request alone
            outcomes[index] = error
    if batch:
        queued = store.executions.submit_many([new for _, new in batch])
        for (index, _), outcome in zip(batch, queued, strict=True):
            outcomes[index] = outcome
    return cast("list[int | Exception]", outcomes)  # every request has its outcome by now


def _prepare(
    settings: Settings,
    request: FlowSubmission,
    version: int,
    project: Project,
    disabled: Any = None,
    ignored: list[str] | None = None,
) -> NewExecution:
    """The checks of a submission short of the concurrency check, and the rows it queues: the flow of the
    parsed ``version``, its disabled jobs, recipients, pipeline level and SLA jobs; the concurrency option
    becomes the ``admit`` the store applies inside its inserting transaction."""
    options, source, flow_name = request.options, request.source, request.flow_name
    flow = project.flow(flow_name)
    if disabled is not None:
        options = replace(options, disabled=parse_disabled(disabled, project, flow, ignored))
    hosts = None if source == "schedule" else WebhookHosts.parse(settings.webhook_hosts)
    options = recipients.resolve(options, flow, hosts)
    if hosts is not None:
        recipients.check_callbacks(project, flow, hosts)

    def admit(running: Unfinished) -> dict[str, Any]:
        if running.count and options.concurrent_option == "skip":
            raise StateError(
                f"Error submitting flow {flow_name}. Flow {flow_name} is already running. Skipping execution."
            )
        if running.count >= settings.max_runs_per_flow:
            raise StateError(f"Flow {flow_name} has more than {settings.max_runs_per_flow} concurrent runs. Skipping")
        if options.concurrent_option == "pipeline":
            return {**stored, "pipeline_execution": running.newest}
        return stored

    if options.concurrent_option == "pipeline" and options.pipeline_level not in (1, 2, 3):
        raise InputError(
            "Error parsing flow options: Missing required parameter 'pipelineLevel'. "
            "(pipeline needs pipelineLevel 1, 2 or 3)"
        )
    rows = node_rows(project, flow, options.disabled)
    jobs = {row["nested_id"] for row in rows}
    for rule in options.sla:
        if rule.get("job") and rule["job"] not in jobs:
            raise InputError(
                f"SLA rule for job '{rule['job']}': flow {flow_name} has no such job (jobs: "
                f"{', '.join(sorted(jobs))}; embedded ones as sub:job)"
            )
    stored = options.to_json()
    return NewExecution(
        request.project_id,
        request.project_name,
        version,
        flow_name,
        rows,
        stored,
        request.user,
        source,
        request.restarted_from,
        admit=admit,
    )


def _current_version(store: Store, project_id: int) -> int:
    version = store.projects.current_version(project_id)
    if not version:
        raise _no_version(project_id)
    return version


def _no_version(project_id: int) -> StateError:
    return StateError(f"project {project_id} has no uploaded version yet; upload a zip first")


def apply_job_overrides(project: Project, overrides: Mapping[tuple[str, str], Mapping[str, str]]) -> Project:
    """The project with Azkaban's ``.jor`` layer applied: a job's override properties *replace* its own
    properties (the job file, or the Flow 2.0 node config), reference §3.5 layer 4.

    ``overrides`` is keyed by (flow id, job) for Flow 2.0 nodes and ("", job) for Flow 1.0 job files.
    The flow's shape (dependencies, conditions, embedded flows) is the uploaded one: an override changes
    what a job does, not where it sits. A job node may change its ``type``; an embedded-flow node may not.
    """
    if not overrides:
        return project
    flows: dict[str, Flow] = {}
    for flow_id, flow in project.flows.items():
        nodes = dict(flow.nodes)
        for name, node in flow.nodes.items():
            props = overrides.get((flow_id, name)) or overrides.get(("", name))
            if props is None:
                continue
            kind = node.type if node.subflow is not None else (props.get("type") or "").strip() or node.type
            nodes[name] = replace(node, props=dict(props), type=kind)
        flows[flow_id] = replace(flow, nodes=nodes)
    return replace(project, flows=flows)


def control(store: Store, exec_id: int, action: str) -> None:
    """Post ``cancel``, ``pause``, ``resume`` or ``retry_failed`` to the runner of a live execution."""
    if action not in ("cancel", "pause", "resume", "retry_failed"):
        raise InputError(f"unknown action '{action}'; use cancel, pause, resume or retry_failed")
    record = store.executions.get(exec_id)
    if action == "retry_failed" and record.status != Status.FAILED_FINISHING:
        if record.status in TERMINAL_FLOW:
            raise StateError("Flow has already finished. Please re-execute.")
        raise StateError(f"Execution {exec_id} has no failed jobs to retry (status {record.status.value}).")
    store.executions.request(exec_id, action)


def succeeded_nodes(store: Store, exec_id: int) -> list[str]:
    """The nodes of an execution whose latest attempt succeeded, outermost only (an embedded flow that
    succeeded stands for its jobs): what a rerun of what did not succeed disables."""
    latest = {run.nested_id: run.status for run in store.job_runs.of(exec_id)}
    succeeded = {n for n, s in latest.items() if s in SUCCEEDED_LIKE}
    return sorted(n for n in succeeded if not any(n.startswith(p + ":") for p in succeeded))


def _unsuccessful(store: Store, exec_id: int) -> ExecutionRecord:
    """The record of a finished execution that did not succeed; StateError for any other."""
    record = store.executions.get(exec_id)
    if record.status not in TERMINAL_FLOW:
        raise StateError(f"Execution {exec_id} is still {record.status.value}; wait for it to finish or cancel it")
    if record.status == Status.SUCCEEDED:
        raise StateError(f"Execution {exec_id} succeeded; there is nothing to restart")
    return record


@dataclass(frozen=True)
class PreparedRun:
    """What Azkaban's "Prepare Execution" offers for a finished, unsuccessful execution: the same flow with
    the jobs that succeeded disabled and the first run's options, for a person to adjust before running it.

    Unlike :func:`restart_execution`, the run it leads to is an ordinary new execution (of whichever version
    the person submits), in a fresh folder, with nothing carried over."""

    record: ExecutionRecord
    disabled: tuple[str, ...]
    options: ExecutionOptions


def prepare_execution(store: Store, exec_id: int) -> PreparedRun:
    """The :class:`PreparedRun` of ``exec_id``; StateError while it runs or when it succeeded."""
    record = _unsuccessful(store, exec_id)
    return PreparedRun(record, tuple(succeeded_nodes(store, exec_id)), ExecutionOptions.from_json(record.options))


def restart_execution(
    store: Store,
    settings: Settings,
    exec_id: int,
    user: str = "sudoless",
    runtime: Mapping[str, Mapping[str, str]] | None = None,
) -> int:
    """A new execution of a finished, unsuccessful one that reruns only what did not succeed.

    Jobs that succeeded are disabled (Azkaban's "Prepare Execution"), and, beyond Azkaban, their output
    properties are carried over so that the jobs that rerun see the same inputs as the first time, and the
    new execution starts in a copy of the old one's directory, with the files those jobs wrote.
    ``runtime`` (node path -> properties, as :func:`~sudoless.flows.options.parse_assignments` makes)
    replaces the first run's runtime properties key by key: the fixed input of a run that failed on it.
    """
    record = _unsuccessful(store, exec_id)
    disabled = succeeded_nodes(store, exec_id)
    options = ExecutionOptions.from_json(record.options)
    merged = {node: dict(props) for node, props in options.runtime.items()}
    for node, props in (runtime or {}).items():
        merged.setdefault(node, {}).update(props)
    options = replace(options, reuse_outputs_from=exec_id, runtime=merged)
    return submit_flow(
        store,
        settings,
        record.project_name,
        record.flow_id,
        options,
        user,
        source="restart",
        disabled=disabled,
        version=record.version,
        restarted_from=exec_id,
    )
