"""``/triggers`` and ``/trigger-instances``: flow triggers, pause and resume, their instances with each
dependency's state, and killing a waiting instance. Permissions are those of ``/flowtrigger`` and
``/flowtriggerinstance``; ``POST /triggers/{project}/{flow}/fire`` (start an instance now, without waiting
for the cron) is sudoless's own and needs what killing needs, EXECUTE."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from sudoless.accounts import Permission
from sudoless.errors import NotFoundError
from sudoless.flows.triggers.instances import TriggerInfo
from sudoless.server.ajax.flow_trigger import FLOW_TRIGGER
from sudoless.server.ajax.flow_trigger_instance import FLOW_TRIGGER_INSTANCE
from sudoless.server.api.context import Caller, CallerDep, ajax_permission
from sudoless.server.api.errors import error_responses
from sudoless.server.api.flows import FlowName
from sudoless.server.api.models import Millis
from sudoless.server.api.projects import ProjectName
from sudoless.server.api.routing import ThreadedRoute
from sudoless.store.triggers import InstanceRow

router = APIRouter(tags=["triggers"], route_class=ThreadedRoute)

READ = ajax_permission(FLOW_TRIGGER, "ajax:fetchTrigger")
PAUSE = ajax_permission(FLOW_TRIGGER, "ajax:pauseTrigger")
KILL = ajax_permission(FLOW_TRIGGER_INSTANCE, "ajax:killRunningTrigger")

InstanceId = Annotated[str, PathParam(min_length=1, max_length=36, description="the trigger instance's id")]


class DependencyDefinition(BaseModel):
    name: str
    type: str
    params: dict[str, str]


class TriggerView(BaseModel):
    project: str
    project_id: int
    flow: str
    cron: str
    max_wait_mins: int | None = Field(description="null: no dependencies, nothing to wait for")
    paused: bool
    next_fire: Millis
    last_fire: Millis
    submit_user: str = Field(description="who uploaded the trigger's version; its executions run as them")
    dependencies: list[DependencyDefinition]


class DependencyState(BaseModel):
    name: str
    type: str
    params: dict[str, str]
    status: str = Field(description="RUNNING (waiting), SUCCEEDED (met) or CANCELLED")
    start_time: Millis
    end_time: Millis
    cancel_cause: str = Field(description="NONE, TIMEOUT or MANUAL")
    reason: str = Field(description="why the last check found it not met")
    checked_time: Millis


class InstanceView(BaseModel):
    id: str
    project: str
    project_id: int
    flow: str
    submit_user: str
    cron: str
    slot: Millis = Field(description="the cron slot it was fired for")
    period_start: Millis = Field(description="the previous slot: a flow dependency needs a success after it")
    start_time: Millis
    end_time: Millis
    max_wait_ms: int
    status: str = Field(description="RUNNING (waiting), SUCCEEDED (the flow was started) or CANCELLED")
    cancel_cause: str = Field(description="NONE, TIMEOUT (the wait ran out), MANUAL (killed)")
    message: str
    exec_id: int | None = Field(description="the execution it started; -2 when the flow could not start")
    dependencies: list[DependencyState]


def trigger_view(info: TriggerInfo) -> TriggerView:
    return TriggerView(
        project=info.row.project_name,
        project_id=info.row.project_id,
        flow=info.row.flow_id,
        cron=info.row.cron,
        max_wait_mins=info.trigger.max_wait_mins,
        paused=info.row.paused,
        next_fire=info.row.next_fire,
        last_fire=info.row.last_fire,
        submit_user=info.row.modified_by,
        dependencies=[
            DependencyDefinition(name=d.name, type=d.type, params=dict(d.params)) for d in info.trigger.dependencies
        ],
    )


def instance_view(row: InstanceRow) -> InstanceView:
    return InstanceView(
        id=row.id,
        project=row.project_name,
        project_id=row.project_id,
        flow=row.flow_id,
        submit_user=row.submit_user,
        cron=row.cron,
        slot=row.slot,
        period_start=row.period_start,
        start_time=row.start_time,
        end_time=row.end_time,
        max_wait_ms=row.max_wait_ms,
        status=row.status,
        cancel_cause=row.cancel_cause,
        message=row.message,
        exec_id=row.exec_id,
        dependencies=[
            DependencyState(
                name=d.name,
                type=d.type,
                params=d.params,
                status=d.status,
                start_time=d.start_time,
                end_time=d.end_time,
                cancel_cause=d.cancel_cause,
                reason=d.reason,
                checked_time=d.checked_time,
            )
            for d in row.dependencies
        ],
    )


def _instance(call: Caller, instance_id: str, perm: Permission) -> InstanceRow:
    row = call.scheduler.triggers.store.triggers.instance(instance_id)
    project = None if row is None else call.store.projects.get(project_id=row.project_id, active_only=False)
    if row is None or project is None:
        raise NotFoundError(f"Trigger instance {instance_id} does not exist")
    call.accounts.require(call.user, project.id, perm, project.name)
    return row


@router.get(
    "/triggers",
    response_model=list[TriggerView],
    responses=error_responses(403, 404),
    summary="Flow triggers the caller may read",
)
def list_triggers(
    call: CallerDep, project: Annotated[str | None, Query(min_length=1, max_length=255)] = None
) -> list[TriggerView]:
    if project is not None:
        return [trigger_view(i) for i in call.scheduler.triggers.list(call.project(project, READ).id)]
    return [trigger_view(i) for i in call.scheduler.triggers.list() if call.allowed(i.row.project_id, READ)]


@router.get(
    "/triggers/{project}/{flow}",
    response_model=TriggerView,
    responses=error_responses(403, 404),
    summary="One flow's trigger",
)
def get_trigger(project: ProjectName, flow: FlowName, call: CallerDep) -> TriggerView:
    return trigger_view(call.scheduler.triggers.get(call.project(project, READ).id, flow))


def _set_paused(project: str, flow: str, call: Caller, paused: bool) -> TriggerView:
    record = call.project(project, PAUSE)
    info = call.scheduler.triggers.set_paused(record.id, flow, paused, call.user.name)
    call.store.projects.add_event(
        record.id, "SCHEDULE", call.user.name, f"Flow trigger of {flow} {'paused' if paused else 'resumed'}."
    )
    return trigger_view(info)


@router.post(
    "/triggers/{project}/{flow}/pause",
    response_model=TriggerView,
    responses=error_responses(403, 404),
    summary="Pause a trigger: no new instances (waiting ones go on)",
)
def pause_trigger(project: ProjectName, flow: FlowName, call: CallerDep) -> TriggerView:
    return _set_paused(project, flow, call, True)


@router.post(
    "/triggers/{project}/{flow}/resume",
    response_model=TriggerView,
    responses=error_responses(403, 404),
    summary="Resume a trigger from its next slot after now",
)
def resume_trigger(project: ProjectName, flow: FlowName, call: CallerDep) -> TriggerView:
    return _set_paused(project, flow, call, False)


@router.post(
    "/triggers/{project}/{flow}/fire",
    status_code=201,
    response_model=InstanceView,
    responses=error_responses(403, 404),
    summary="Start an instance now, without waiting for the cron",
)
def fire_trigger(project: ProjectName, flow: FlowName, call: CallerDep) -> InstanceView:
    record = call.project(project, KILL)
    triggers = call.scheduler.triggers
    return instance_view(triggers.instance(triggers.fire(record.id, flow, call.user.name)))


@router.get(
    "/trigger-instances",
    response_model=list[InstanceView],
    responses=error_responses(403, 404),
    summary="Trigger instances, newest first, with each dependency's state",
)
def list_instances(
    call: CallerDep,
    project: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    flow: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
    running: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> list[InstanceView]:
    store = call.scheduler.triggers.store.triggers
    if project is not None:
        rows = store.instances(
            project_id=call.project(project, READ).id, flow_id=flow, running=running, limit=limit, offset=offset
        )
    else:
        rows = [
            r
            for r in store.instances(flow_id=flow, running=running, limit=limit, offset=offset)
            if call.allowed(r.project_id, READ)
        ]
    return [instance_view(r) for r in rows]


@router.get(
    "/trigger-instances/{instance_id}",
    response_model=InstanceView,
    responses=error_responses(403, 404),
    summary="One trigger instance",
)
def get_instance(instance_id: InstanceId, call: CallerDep) -> InstanceView:
    return instance_view(_instance(call, instance_id, READ))


@router.post(
    "/trigger-instances/{instance_id}/kill",
    response_model=InstanceView,
    responses=error_responses(403, 404, 409),
    summary="Cancel a waiting instance (its flow does not run)",
)
def kill_instance(instance_id: InstanceId, call: CallerDep) -> InstanceView:
    row = _instance(call, instance_id, KILL)
    return instance_view(call.scheduler.triggers.kill(row.id, call.user.name))
