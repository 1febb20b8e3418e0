"""``/executions``: submit with options, list with filters and paging, inspect one (jobs and attempts),
control (cancel, pause, resume, retry failed jobs) and restart. Permissions are those of ``/executor``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam

from sudoless.accounts import Permission
from sudoless.accounts.permissions import allows
from sudoless.errors import InputError, NotFoundError
from sudoless.flows.executions import control, restart_execution, submit_flow
from sudoless.flows.options import ExecutionOptions
from sudoless.server.ajax.executor import EXECUTOR
from sudoless.server.api.context import Caller, CallerDep, ajax_permission
from sudoless.server.api.errors import error_responses
from sudoless.server.api.models import (
    Attempt,
    ConcurrentOption,
    ControlAction,
    ControlResult,
    ExecuteRequest,
    ExecutionDetail,
    ExecutionPage,
    ExecutionSummary,
    JobState,
    RunOptions,
    RunOptionsView,
    SlaAction,
    SlaKind,
    SlaRuleView,
    Submitted,
)
from sudoless.server.api.routing import ThreadedRoute
from sudoless.server.params import emails
from sudoless.server.run_options import check_redefinitions, filter_runtime
from sudoless.store.executions import ExecutionRecord
from sudoless.store.job_runs import JobRunRecord
from sudoless.store.status import Status

router = APIRouter(prefix="/executions", tags=["executions"], route_class=ThreadedRoute)

EXECUTE = ajax_permission(EXECUTOR, "ajax:executeFlow")
READ = ajax_permission(EXECUTOR, "ajax:fetchexecflow")
CONTROL = {
    ControlAction.cancel: ("cancel", ajax_permission(EXECUTOR, "ajax:cancelFlow")),
    ControlAction.pause: ("pause", ajax_permission(EXECUTOR, "ajax:pauseFlow")),
    ControlAction.resume: ("resume", ajax_permission(EXECUTOR, "ajax:resumeFlow")),
    ControlAction.retry_failed: ("retry_failed", ajax_permission(EXECUTOR, "ajax:retryFailedJobs")),
}

ExecId = Annotated[int, PathParam(ge=1, le=2**31 - 1, description="the execution id")]
MAX_TIME = 2**62


def library_options(body: RunOptions, call: Caller) -> ExecutionOptions:
    """The engine's options for a request; runtime properties only admins may set are dropped, as the AJAX
    API drops them. A ``failure_action`` given wins over the flow's own ``failure.action``."""
    if body.concurrent_option == ConcurrentOption.pipeline and body.pipeline_level is None:
        raise InputError("pipeline_level (1, 2 or 3) is required with concurrent_option 'pipeline'")
    return ExecutionOptions(
        failure_action=body.failure_action,
        runtime=filter_runtime(body.runtime_properties, call.user.is_admin),
        parallel=call.settings.parallel,
        concurrent_option=body.concurrent_option.value,
        pipeline_level=body.pipeline_level if body.concurrent_option == ConcurrentOption.pipeline else None,
        notify_failure_first=body.notify_failure_first,
        notify_failure_last=body.notify_failure_last,
        failure_emails=tuple(e for address in body.failure_emails for e in emails(address)),
        success_emails=tuple(e for address in body.success_emails for e in emails(address)),
        # a list given here replaces the flow's own addresses; an empty one keeps them
        failure_emails_override=bool(body.failure_emails),
        success_emails_override=bool(body.success_emails),
        sla=tuple(
            {"job": r.job, "kind": r.kind.value, "duration_ms": r.duration_ms, "actions": [a.value for a in r.actions]}
            for r in body.sla
        ),
        sla_emails=tuple(e for address in body.sla_emails for e in emails(address)) if body.sla else (),
        sla_webhook=body.sla_webhook if body.sla else None,
    )


def sla_rule_model(rule: Mapping[str, Any]) -> SlaRuleView:
    return SlaRuleView(
        job=str(rule.get("job") or ""),
        kind=SlaKind(rule["kind"]),
        duration_ms=int(rule["duration_ms"]),
        actions=[SlaAction(action) for action in rule.get("actions") or ()],
    )


def options_model(options: ExecutionOptions) -> RunOptionsView:
    concurrent = (
        options.concurrent_option
        if options.concurrent_option in ConcurrentOption.__members__
        else ConcurrentOption.ignore.value
    )
    return RunOptionsView(
        failure_action=options.failure_action,
        disabled=list(options.disabled),
        runtime_properties={node: dict(props) for node, props in options.runtime.items()},
        concurrent_option=ConcurrentOption(concurrent),
        pipeline_level=options.pipeline_level,
        notify_failure_first=options.notify_failure_first,
        notify_failure_last=options.notify_failure_last,
        failure_emails=list(options.failure_emails),
        success_emails=list(options.success_emails),
        sla=[sla_rule_model(rule) for rule in options.sla],
        sla_emails=list(options.sla_emails),
        sla_webhook=options.sla_webhook,
    )


def summary(record: ExecutionRecord) -> ExecutionSummary:
    return ExecutionSummary(
        id=record.id,
        project=record.project_name,
        project_id=record.project_id,
        flow=record.flow_id,
        version=record.version,
        status=record.status,
        submit_user=record.submit_user,
        submit_time=record.submit_time,
        start_time=record.start_time,
        end_time=record.end_time,
        update_time=record.update_time,
        source=record.source,
        restarted_from=record.restarted_from,
        elsewhere=record.elsewhere,
    )


def job_states(runs: list[JobRunRecord]) -> list[JobState]:
    by_job: dict[str, list[JobRunRecord]] = {}
    for run in runs:
        by_job.setdefault(run.nested_id, []).append(run)
    states = []
    for nested, attempts in by_job.items():
        attempts.sort(key=lambda r: r.attempt)
        last = attempts[-1]
        states.append(
            JobState(
                id=nested,
                type=last.type,
                status=last.status,
                attempt=last.attempt,
                start_time=last.start_time,
                end_time=last.end_time,
                update_time=last.update_time,
                depends_on=list(last.parents),
                condition=last.condition,
                attempts=[
                    Attempt(
                        attempt=r.attempt,
                        status=r.status,
                        start_time=r.start_time,
                        end_time=r.end_time,
                        update_time=r.update_time,
                    )
                    for r in attempts
                ],
            )
        )
    return states


@router.post(
    "", status_code=201, response_model=Submitted, responses=error_responses(403, 404, 409), summary="Run a flow"
)
def execute(body: ExecuteRequest, call: CallerDep) -> Submitted:
    """Queue an execution of the project's current version. 409 when the flow is locked, or already running
    with ``concurrent_option`` skip (the default), or runs as often as the server allows."""
    project = call.project(body.project, EXECUTE)
    flows = call.store.projects.flow_records(project.id, project.version) if project.version else {}
    if body.flow not in flows or flows[body.flow].embedded:
        raise NotFoundError(f"Flow '{body.flow}' cannot be found in project {project.name}")
    options = library_options(body, call)
    check_redefinitions(call, project.id, project.version, project.name, body.flow, options)
    running = call.store.executions.running_ids(project.id, body.flow)
    exec_id = submit_flow(
        call.store,
        call.settings,
        project.name,
        body.flow,
        options,
        call.user.name,
        disabled=body.disabled or None,
        version=project.version,
    )
    message = f"Execution queued successfully with exec id {exec_id}"
    if running:
        message = f"Flow {body.flow} is already running with exec id {','.join(map(str, running))}. {message}"
    return Submitted(exec_id=exec_id, project=project.name, flow=body.flow, message=message)


@router.get(
    "",
    response_model=ExecutionPage,
    responses=error_responses(403, 404),
    summary="Executions, newest first, filtered and paged",
)
def list_executions(
    call: CallerDep,
    project: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    flow: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
    status: Annotated[list[Status] | None, Query(description="any of these statuses")] = None,
    user: Annotated[str | None, Query(min_length=1, max_length=255, description="who submitted")] = None,
    submitted_after: Annotated[int | None, Query(ge=0, le=MAX_TIME, description="epoch ms, inclusive")] = None,
    submitted_before: Annotated[int | None, Query(ge=0, le=MAX_TIME, description="epoch ms, exclusive")] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> ExecutionPage:
    """Only executions of projects the caller may read (all of them for a global reader or admin)."""
    project_ids: list[int] | None
    if project is not None:
        project_ids = [call.project(project, READ).id]
    elif allows(call.accounts.global_permissions(call.user), Permission.READ):
        project_ids = None
    else:
        project_ids = [p.id for p in call.store.projects.active() if call.allowed(p.id, READ)]
    records, total = call.store.executions.find(
        project_ids, flow, status, user, submitted_after, submitted_before, limit, offset
    )
    return ExecutionPage(total=total, offset=offset, limit=limit, items=[summary(r) for r in records])


@router.get(
    "/{exec_id}",
    response_model=ExecutionDetail,
    responses=error_responses(403, 404),
    summary="One execution with its jobs and their attempts",
)
def get_execution(exec_id: ExecId, call: CallerDep) -> ExecutionDetail:
    record = call.execution(exec_id, READ)
    return ExecutionDetail(
        **summary(record).model_dump(),
        options=options_model(ExecutionOptions.from_json(record.options)),
        jobs=job_states(call.store.job_runs.of(exec_id)),
    )


@router.post(
    "/{exec_id}/restart",
    status_code=201,
    response_model=Submitted,
    responses=error_responses(403, 404, 409),
    summary="Rerun what did not succeed",
)
def restart(exec_id: ExecId, call: CallerDep) -> Submitted:
    """A new execution of a finished, unsuccessful one: its succeeded jobs are skipped (their outputs
    reused) and the others run again. 409 while it runs or when it succeeded."""
    record = call.execution(exec_id, EXECUTE)
    check_redefinitions(
        call,
        record.project_id,
        record.version,
        record.project_name,
        record.flow_id,
        ExecutionOptions.from_json(record.options),
    )
    new_id = restart_execution(call.store, call.settings, exec_id, call.user.name)
    return Submitted(
        exec_id=new_id,
        project=record.project_name,
        flow=record.flow_id,
        message=f"Execution {exec_id} restarted as {new_id}",
    )


@router.post(
    "/{exec_id}/{action}",
    status_code=202,
    response_model=ControlResult,
    responses=error_responses(403, 404, 409),
    summary="Cancel, pause, resume, or retry failed jobs",
)
def control_execution(exec_id: ExecId, action: ControlAction, call: CallerDep) -> ControlResult:
    """Posted to the execution's runner, which acts within a second. 409 when the execution is over (or,
    for retry-failed, has no failed jobs to retry)."""
    name, permission = CONTROL[action]
    record = call.execution(exec_id, permission)
    control(call.store, exec_id, name)
    return ControlResult(id=exec_id, action=action, status=record.status)
