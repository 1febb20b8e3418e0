"""``/schedules``: cron schedules with a time zone (created with a preview of their next fire times), pause and
resume, removal, and their SLA; ``/cron/upcoming`` previews an expression. Permissions are ``/schedule``'s."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi import Path as PathParam

from sudoless.errors import NotFoundError
from sudoless.flows.executions import load_version
from sudoless.flows.options import parse_disabled
from sudoless.flows.schedule import CronExpression
from sudoless.flows.scheduler import Schedule
from sudoless.server.ajax.schedule import SCHEDULE
from sudoless.server.api.context import Caller, CallerDep, ajax_permission
from sudoless.server.api.errors import error_responses
from sudoless.server.api.executions import library_options, options_model, sla_rule_model
from sudoless.server.api.models import (
    CronPreview,
    FireTime,
    ScheduleCreate,
    ScheduleInfo,
    SlaInfo,
    SlaRequest,
)
from sudoless.server.api.routing import ThreadedRoute
from sudoless.server.run_options import check_redefinitions

router = APIRouter(tags=["schedules"], route_class=ThreadedRoute)

CREATE = ajax_permission(SCHEDULE, "ajax:scheduleCronFlow")
REMOVE = ajax_permission(SCHEDULE, "action:removeSched")
READ = ajax_permission(SCHEDULE, "ajax:fetchSchedule")
SET_SLA = ajax_permission(SCHEDULE, "ajax:setSla")
#: Pausing and resuming have no AJAX counterpart: they need what scheduling needs.
ENABLE = CREATE
PREVIEW = 5

ScheduleId = Annotated[int, PathParam(ge=1, le=2**31 - 1, description="the schedule id")]


def fire_times(expression: CronExpression, after_ms: int, count: int) -> list[FireTime]:
    after = datetime.fromtimestamp(after_ms / 1000, UTC)
    return [
        FireTime(at=int(fire.timestamp()) * 1000, local=fire.isoformat())
        for fire in expression.fire_times(after, count)
    ]


def schedule_info(call: Caller, schedule: Schedule) -> ScheduleInfo:
    upcoming: list[FireTime] = []
    if schedule.enabled and schedule.next_fire >= 0:
        upcoming = fire_times(CronExpression.parse(schedule.cron, schedule.timezone), schedule.next_fire - 1, PREVIEW)
        if schedule.end_time >= 0:
            upcoming = [fire for fire in upcoming if fire.at <= schedule.end_time]
    sla = None
    if schedule.sla or schedule.sla_emails or schedule.webhook:
        sla = SlaInfo(
            rules=[sla_rule_model(rule.to_json()) for rule in schedule.sla],
            emails=list(schedule.sla_emails),
            webhook=schedule.webhook,
        )
    return ScheduleInfo(
        id=schedule.id,
        project=schedule.project_name,
        project_id=schedule.project_id,
        flow=schedule.flow_id,
        cron=schedule.cron,
        timezone=schedule.timezone,
        enabled=schedule.enabled,
        submit_user=schedule.submit_user,
        submit_time=schedule.submit_time,
        next_fire=schedule.next_fire,
        last_fire=schedule.last_fire,
        end_time=schedule.end_time,
        back_execute_once=schedule.back_execute_once,
        upcoming=upcoming,
        options=options_model(schedule.options),
        sla=sla,
    )


@router.get(
    "/cron/upcoming",
    response_model=CronPreview,
    responses=error_responses(),
    summary="Preview a cron expression's next fire times",
    tags=["schedules"],
)
def preview(
    call: CallerDep,
    expression: Annotated[str, Query(min_length=1, max_length=255, description="Quartz cron")],
    timezone: Annotated[str, Query(min_length=1, max_length=64)] = "UTC",
    count: Annotated[int, Query(ge=1, le=50)] = PREVIEW,
) -> CronPreview:
    parsed = CronExpression.parse(expression, timezone)
    return CronPreview(
        expression=parsed.text, timezone=parsed.tz.key, upcoming=fire_times(parsed, call.store.clock(), count)
    )


@router.get(
    "/schedules",
    response_model=list[ScheduleInfo],
    responses=error_responses(403, 404),
    summary="Schedules the caller may read",
)
def list_schedules(
    call: CallerDep, project: Annotated[str | None, Query(min_length=1, max_length=255)] = None
) -> list[ScheduleInfo]:
    if project is not None:
        schedules = call.scheduler.list(call.project(project, READ).name)
    else:
        schedules = [s for s in call.scheduler.list() if call.allowed(s.project_id, READ)]
    return [schedule_info(call, s) for s in schedules]


@router.post(
    "/schedules",
    status_code=201,
    response_model=ScheduleInfo,
    responses=error_responses(403, 404, 409),
    summary="Schedule a flow with a cron expression",
)
def create_schedule(body: ScheduleCreate, call: CallerDep) -> ScheduleInfo:
    """One schedule per flow: scheduling a flow again replaces its schedule and keeps its id (and its SLA,
    unless ``options.sla`` gives new rules). The answer lists the next fire times. 409 for a locked flow."""
    project = call.project(body.project, CREATE)
    flows = call.store.projects.flow_records(project.id, project.version) if project.version else {}
    if body.flow not in flows or flows[body.flow].embedded:
        raise NotFoundError(f"Flow {body.flow} cannot be found in project {project.name}")
    options = library_options(body.options, call)
    if body.options.disabled:
        loaded = load_version(call.store, call.settings, project.id, project.version, project.name)
        options = replace(options, disabled=parse_disabled(body.options.disabled, loaded, loaded.flow(body.flow)))
    check_redefinitions(call, project.id, project.version, project.name, body.flow, options)
    schedule = call.scheduler.schedule(
        project.name,
        body.flow,
        body.cron,
        body.timezone,
        options,
        call.user.name,
        end_ms=body.end_time,
        back_execute_once=body.back_execute_once,
    )
    call.store.projects.add_event(
        project.id,
        "SCHEDULE",
        call.user.name,
        f"Schedule {project.name}.{body.flow} '{schedule.cron}' ({schedule.timezone}) has been added.",
    )
    return schedule_info(call, schedule)


@router.get(
    "/schedules/{schedule_id}", response_model=ScheduleInfo, responses=error_responses(403, 404), summary="One schedule"
)
def get_schedule(schedule_id: ScheduleId, call: CallerDep) -> ScheduleInfo:
    return schedule_info(call, call.schedule(schedule_id, READ))


@router.delete(
    "/schedules/{schedule_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(403, 404),
    summary="Remove a schedule",
)
def remove_schedule(schedule_id: ScheduleId, call: CallerDep) -> Response:
    schedule = call.schedule(schedule_id, REMOVE)
    call.scheduler.remove(schedule.id)
    call.store.projects.add_event(
        schedule.project_id,
        "SCHEDULE",
        call.user.name,
        f"Schedule {schedule.project_name}.{schedule.flow_id} '{schedule.cron}' has been removed.",
    )
    return Response(status_code=204)


@router.post(
    "/schedules/{schedule_id}/enable",
    response_model=ScheduleInfo,
    responses=error_responses(403, 404),
    summary="Resume a schedule from its next slot",
)
def enable(schedule_id: ScheduleId, call: CallerDep) -> ScheduleInfo:
    """Slots missed while it was disabled are not run: it continues from the next slot after now."""
    schedule = call.schedule(schedule_id, ENABLE)
    return schedule_info(call, call.scheduler.set_enabled(schedule.id, True))


@router.post(
    "/schedules/{schedule_id}/disable",
    response_model=ScheduleInfo,
    responses=error_responses(403, 404),
    summary="Pause a schedule",
)
def disable(schedule_id: ScheduleId, call: CallerDep) -> ScheduleInfo:
    schedule = call.schedule(schedule_id, ENABLE)
    return schedule_info(call, call.scheduler.set_enabled(schedule.id, False))


@router.put(
    "/schedules/{schedule_id}/sla",
    response_model=ScheduleInfo,
    responses=error_responses(403, 404),
    summary="Set a schedule's SLA",
)
def set_sla(schedule_id: ScheduleId, body: SlaRequest, call: CallerDep) -> ScheduleInfo:
    """Every execution the schedule fires from now on carries these rules; a missed rule is logged in the
    execution's flow log, POSTed to the webhook (EMAIL and WEBHOOK actions) and, with KILL, cancels it."""
    schedule = call.schedule(schedule_id, SET_SLA)
    rules = [
        {"job": r.job, "kind": r.kind.value, "duration_ms": r.duration_ms, "actions": [a.value for a in r.actions]}
        for r in body.rules
    ]
    updated = call.scheduler.set_sla(schedule.id, rules, body.emails, body.webhook)
    call.store.projects.add_event(
        schedule.project_id, "SLA", call.user.name, f"SLA for flow {schedule.flow_id} has been added/changed."
    )
    return schedule_info(call, updated)


@router.delete(
    "/schedules/{schedule_id}/sla",
    response_model=ScheduleInfo,
    responses=error_responses(403, 404),
    summary="Remove a schedule's SLA",
)
def remove_sla(schedule_id: ScheduleId, call: CallerDep) -> ScheduleInfo:
    schedule = call.schedule(schedule_id, SET_SLA)
    return schedule_info(call, call.scheduler.set_sla(schedule.id, [], [], None))
