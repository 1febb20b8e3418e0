"""``/schedule`` (Azkaban's ScheduleServlet): cron schedules and their SLAs.

``ajax=...`` works with GET and POST; ``action=...`` only with POST, and then also leaves a success or
failure message cookie, as Azkaban does. Unlike Azkaban, ``timezone`` is honoured (absent or unknown, it
is the server's zone: the ``timezone`` setting, Azkaban's ``default.timezone.id``), and a missing
``cronExpression`` or bad execution options do not create a schedule. ``endSchedTime`` and
``backExecuteOnce`` are Azkaban's (:meth:`sudoless.flows.scheduler.Scheduler.schedule`). Period schedules
(``scheduleFlow``) become cron schedules where one is equivalent (:mod:`sudoless.flows.periods`) and answer
an error saying why otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.requests import Request
from starlette.responses import Response

from sudoless.accounts import Permission
from sudoless.errors import InputError, NotFoundError, PermissionDenied, StateError
from sudoless.flows import periods
from sudoless.flows.executions import load_version
from sudoless.flows.options import parse_disabled
from sudoless.flows.scheduler import Schedule
from sudoless.outbound import OutboundRefused
from sudoless.server import flash, pages
from sudoless.server.dispatch import GET, Call, Route, Servlet, Target
from sudoless.server.params import Params
from sudoless.server.responses import json_response
from sudoless.server.run_options import (
    OptionsError,
    check_redefinitions,
    execution_options,
    options_json,
    sla_rules,
)

__all__ = ["SCHEDULE"]

#: the ``endSchedTime`` Azkaban puts on a schedule without one (2050-01-01)
AZKABAN_NO_END = 2_524_608_000_000

READ, SCHEDULE_PERM = Permission.READ, Permission.SCHEDULE


def select(request: Request, params: Params) -> str:
    if "ajax" in params:
        return f"ajax:{params.get('ajax')}"
    if request.method == "POST":
        return f"action:{params.get('action') or ''}"
    return "page"


def fallback(call: Call) -> Response:
    return json_response({})


def with_message(call: Call, response: Response, body: dict[str, Any]) -> Response:
    """``action=`` posts also leave the outcome in a message cookie."""
    if call.key.startswith("action:"):
        if body.get("status") == "success":
            flash.set_message(response, "success", str(body.get("message", "")))
        else:
            flash.set_message(response, "error", str(body.get("message") or body.get("error") or ""))
    return response


def answer(call: Call, body: dict[str, Any]) -> Response:
    return with_message(call, json_response(body), body)


# -- lookups and refusals ------------------------------------------------------------------------------------


def by_project_name(call: Call) -> Target | Response:
    name = call.params.required("projectName")
    project = call.store.projects.get(name=name)
    if project is None:
        return answer(call, {"message": f"Project {name} does not exist", "status": "error"})
    return Target(project=project)


def schedule_denied(call: Call, target: Target, perm: Permission) -> Response:
    return answer(call, {"status": "error", "message": f"Permission denied. Cannot execute {call.params.get('flow')}"})


def _schedule(call: Call) -> Schedule | None:
    try:
        return call.scheduler.get(call.params.integer("scheduleId"))
    except NotFoundError:
        return None


def by_schedule_for_removal(call: Call) -> Target | Response:
    schedule_id = call.params.integer("scheduleId")
    schedule = _schedule(call)
    if schedule is None:
        return answer(call, {"message": f"Schedule with ID {schedule_id} does not exist", "status": "error"})
    project = call.store.projects.get(project_id=schedule.project_id)
    if project is None:
        return answer(call, {"message": f"Project {schedule.project_id} does not exist", "status": "error"})
    return Target(project=project, schedule=schedule)


def removal_denied(call: Call, target: Target, perm: Permission) -> Response:
    return answer(
        call,
        {
            "status": "error",
            "message": f"Permission denied. Cannot remove schedule with id {call.params.get('scheduleId')}",
        },
    )


def by_schedule(call: Call) -> Target | Response:
    schedule_id = call.params.integer("scheduleId")
    schedule = _schedule(call)
    if schedule is None:
        return json_response({"error": f"Error loading schedule. Schedule {schedule_id} doesn't exist"})
    project = call.store.projects.get(project_id=schedule.project_id)
    if project is None:
        return json_response({"error": f"Error loading project. Project {schedule.project_id} doesn't exist"})
    return Target(project=project, schedule=schedule)


def sla_denied(call: Call, target: Target, perm: Permission) -> Response:
    return json_response({"error": f"User {call.user.name} does not have permission to set SLA for this flow."})


def sla_info_denied(call: Call, target: Target, perm: Permission) -> Response:
    assert target.schedule is not None
    return json_response({"error": f"Error loading project. Project {target.schedule.project_id} doesn't exist"})


def by_project_id(call: Call) -> Target | Response:
    project = call.store.projects.get(project_id=call.params.integer("projectId"))
    if project is None:
        return json_response({})  # Azkaban answers {} when there is no such schedule
    return Target(project=project)


def read_denied(call: Call, target: Target, perm: Permission) -> Response:
    assert target.project is not None
    return json_response(
        {"error": f"User '{call.user.name}' doesn't have {perm.name} permissions on {target.project.name}"}
    )


# -- handlers ------------------------------------------------------------------------------------------------


def _zone(call: Call, name: str | None) -> str:
    if not name:
        return call.settings.zone.key
    try:
        return ZoneInfo(name.strip()).key
    except (ZoneInfoNotFoundError, ValueError):
        return call.settings.zone.key  # what the ``azkaban`` client documents: an invalid zone means the default


def _end_and_misses(call: Call) -> tuple[int, bool]:
    """``endSchedTime`` (epoch ms; Azkaban's default, 2050, stored as none) and ``backExecuteOnce``."""
    end_text = (call.params.get("endSchedTime") or "").strip()
    try:
        end = int(end_text) if end_text else -1
    except ValueError:
        raise InputError(f"endSchedTime={end_text!r}: expected epoch milliseconds") from None
    if end == AZKABAN_NO_END:
        end = -1
    back = (call.params.get("backExecuteOnce") or "false").strip().lower() == "true"
    return end, back


def schedule_cron_flow(call: Call) -> Response:
    project = call.project
    flow_id = call.params.required("flow")
    flows = call.store.projects.flow_records(project.id, project.version) if project.version else {}
    if flow_id not in flows or flows[flow_id].embedded:
        return answer(call, {"status": "error", "message": f"Flow {flow_id} cannot be found in project {project.name}"})
    cron = call.params.get("cronExpression")
    if cron is None:
        return answer(call, {"error": "Cron expression must exist."})
    ignored: list[str] = []
    try:
        options, disabled = execution_options(
            call.params, flows[flow_id].graph.get("props") or {}, call.user.is_admin, call.settings.parallel
        )
        if disabled:
            loaded = load_version(call.store, call.settings, project.id, project.version, project.name)
            options = _with_disabled(options, parse_disabled(disabled, loaded, loaded.flow(flow_id), ignored))
        end_ms, back_execute_once = _end_and_misses(call)
    except (OptionsError, InputError) as exc:
        return answer(call, {"error": f"Error parsing flow options: {exc}"})
    try:
        check_redefinitions(call, project.id, project.version, project.name, flow_id, options)
    except PermissionDenied as exc:
        return answer(call, {"error": str(exc)})
    try:
        schedule = call.scheduler.schedule(
            project.name,
            flow_id,
            cron,
            _zone(call, call.params.get("timezone")),
            options,
            call.user.name,
            end_ms=end_ms,
            back_execute_once=back_execute_once,
        )
    except (NotFoundError, StateError) as exc:  # StateError: the flow is locked
        return answer(call, {"status": "error", "message": str(exc)})
    except OutboundRefused as exc:  # a notification webhook to a host the admin has not listed
        return answer(call, {"error": f"Error parsing flow options: {exc}"})
    except InputError as exc:
        if end_ms >= 0 and str(exc).startswith("end time"):  # the cron is fine; the end is before its first slot
            return answer(call, {"status": "error", "message": str(exc)})
        return answer(call, {"error": f"This expression <{cron}> can not be parsed to quartz cron."})
    call.store.projects.add_event(
        project.id,
        "SCHEDULE",
        call.user.name,
        f"Schedule {project.name}.{flow_id} '{schedule.cron}' ({schedule.timezone}) has been added.",
    )
    body = {"status": "success", "message": f"{project.name}.{flow_id} scheduled.", "scheduleId": schedule.id}
    if ignored:  # beyond Azkaban, which skips them silently
        body["warn"] = "disabled: ignored " + "; ".join(ignored)
    return answer(call, body)


def _with_disabled(options: Any, disabled: tuple[str, ...]) -> Any:
    from dataclasses import replace

    return replace(options, disabled=disabled)


def by_project_id_to_schedule(call: Call) -> Target | Response:
    project = call.store.projects.get(project_id=call.params.integer("projectId"))
    if project is None:
        return answer(
            call, {"message": f"Project {call.params.required('projectName')} does not exist", "status": "error"}
        )
    return Target(project=project)


def schedule_period_flow(call: Call) -> Response:
    """Azkaban's deprecated ``scheduleFlow``: a first time and a period, converted to a cron schedule
    (:mod:`sudoless.flows.periods`); a period with no cron equivalent is refused with the reason."""
    project = call.project
    flow_id = call.params.required("flow")
    flows = call.store.projects.flow_records(project.id, project.version) if project.version else {}
    if flow_id not in flows or flows[flow_id].embedded:
        return answer(
            call,
            {
                "status": "error",
                "message": f"Flow {flow_id} cannot be found in project {call.params.required('projectName')}",
            },
        )
    time_text = call.params.required("scheduleTime")
    date_text = call.params.required("scheduleDate")
    try:
        first = periods.first_time(
            date_text, time_text, call.settings.zone.key, datetime.fromtimestamp(call.store.clock() / 1000, UTC)
        )
    except InputError as exc:
        return answer(call, {"error": str(exc)})
    try:
        period = periods.parse_period(call.params.get("period")) if call.params.get("is_recurring") == "on" else None
        cron = periods.period_cron(first, period)
        options, disabled = execution_options(
            call.params, flows[flow_id].graph.get("props") or {}, call.user.is_admin, call.settings.parallel
        )
        if disabled:
            loaded = load_version(call.store, call.settings, project.id, project.version, project.name)
            options = _with_disabled(options, parse_disabled(disabled, loaded, loaded.flow(flow_id)))
        check_redefinitions(call, project.id, project.version, project.name, flow_id, options)
        schedule = call.scheduler.schedule(
            project.name,
            flow_id,
            cron,
            str(first.tzinfo),
            options,
            call.user.name,
            start_ms=int(first.timestamp() * 1000),
        )
    except (InputError, NotFoundError, StateError, PermissionDenied) as exc:
        return answer(call, {"status": "error", "message": str(exc)})
    call.store.projects.add_event(
        project.id,
        "SCHEDULE",
        call.user.name,
        f"Schedule {project.name}.{flow_id} '{schedule.cron}' ({schedule.timezone}) has been "
        f"added (period schedule from {first:%Y-%m-%d %H:%M %Z}).",
    )
    return answer(
        call, {"status": "success", "message": f"{project.name}.{flow_id} scheduled.", "scheduleId": schedule.id}
    )


def remove_schedule(call: Call) -> Response:
    schedule = call.target.schedule
    assert schedule is not None
    call.scheduler.remove(schedule.id)
    call.store.projects.add_event(
        call.project.id,
        "SCHEDULE",
        call.user.name,
        f"Schedule {schedule.project_name}.{schedule.flow_id} '{schedule.cron}' has been removed.",
    )
    return answer(call, {"status": "success", "message": f"flow {schedule.flow_id} removed from Schedules."})


def _time(ms: int, zone: str) -> str:
    if ms < 0:
        return "-"
    return f"{datetime.fromtimestamp(ms / 1000, UTC).astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M:%S}"


def fetch_schedule(call: Call) -> Response:
    schedule = call.scheduler.for_flow(call.project.id, call.params.required("flowId"))
    if schedule is None:
        return json_response({})
    return json_response(
        {
            "schedule": {
                "scheduleId": str(schedule.id),
                "submitUser": schedule.submit_user,
                "firstSchedTime": _time(schedule.submit_time, schedule.timezone),
                "nextExecTime": _time(schedule.next_fire, schedule.timezone),
                "period": "null",
                "cronExpression": schedule.cron,
                "timezone": schedule.timezone,
                "backExecuteOnce": schedule.back_execute_once,
                "endSchedTime": _time(
                    schedule.end_time if schedule.end_time >= 0 else AZKABAN_NO_END, schedule.timezone
                ),
                "executionOptions": options_json(schedule.options),
            }
        }
    )


def fetch_schedules(call: Call) -> Response:
    items = []
    readable: dict[int, bool] = {}
    for schedule in call.store.schedules.listed():
        if schedule.project_id not in readable:
            readable[schedule.project_id] = call.allowed(schedule.project_id, READ)
        if readable[schedule.project_id]:
            items.append(
                {
                    "scheduleId": schedule.id,
                    "flowname": schedule.flow_id,
                    "projectname": schedule.project_name,
                    "time": schedule.submit_time,
                    "cron": schedule.cron,
                    "period": 0,
                    "history": False,
                }
            )
    return json_response({"items": items} if items else {})


def set_sla(call: Call) -> Response:
    schedule = call.target.schedule
    assert schedule is not None
    try:
        rules = sla_rules(call.params, "settings")
        if not rules:
            raise InputError(f"SLA for schedule {schedule.id} must have at least one action")
        call.scheduler.set_sla(schedule.id, rules, call.params.get("slaEmails") or "")
    except InputError as exc:
        return json_response({"error": str(exc)})
    call.store.projects.add_event(
        call.project.id, "SLA", call.user.name, f"SLA for flow {schedule.flow_id} has been added/changed."
    )
    return json_response({})


def sla_info(call: Call) -> Response:
    schedule = call.target.schedule
    assert schedule is not None
    body: dict[str, Any] = {}
    if schedule.sla:
        body["slaEmails"] = list(schedule.sla_emails)
        # Azkaban 4's per-alerter form of the same (``slaAlerters[email][recipients]`` when set)
        alerters: dict[str, dict[str, Any]] = {}
        if schedule.sla_emails:
            alerters["email"] = {"recipients": list(schedule.sla_emails)}
        if schedule.webhook:
            alerters["webhook"] = {"url": schedule.webhook}
        body["slaAlerters"] = alerters
        body["settings"] = [
            {
                "id": rule.job,
                "duration": f"{rule.duration_ms // 60_000}m",
                "rule": rule.kind,
                "actions": list(rule.actions),
            }
            for rule in schedule.sla
        ]
    elif schedule.options.failure_emails:
        body["slaEmails"] = list(schedule.options.failure_emails)
    body["allJobNames"] = call.scheduler.job_ids(schedule.id)
    return json_response(body)


def schedules_page(call: Call) -> Response:
    rows = [
        (s.id, s.project_name, s.flow_id, s.cron, s.timezone, s.submit_user, pages.when(s.next_fire))
        for s in call.scheduler.list()
        if call.allowed(s.project_id, READ)
    ]
    columns = ["id", "project", "flow", "cron", "time zone", "user", "next run"]
    return pages.table_page("Scheduled flows", columns, rows, messages=flash.take_messages(call.request))


SCHEDULE = Servlet.build(
    "/schedule",
    select,
    [
        Route(
            "ajax:scheduleCronFlow",
            schedule_cron_flow,
            SCHEDULE_PERM,
            locate=by_project_name,
            denied=schedule_denied,
            changes_state=True,
        ),
        Route(
            "action:scheduleCronFlow",
            schedule_cron_flow,
            SCHEDULE_PERM,
            locate=by_project_name,
            denied=schedule_denied,
            changes_state=True,
        ),
        Route(
            "ajax:scheduleFlow",
            schedule_period_flow,
            SCHEDULE_PERM,
            locate=by_project_id_to_schedule,
            denied=schedule_denied,
            changes_state=True,
        ),
        Route(
            "action:scheduleFlow",
            schedule_period_flow,
            SCHEDULE_PERM,
            locate=by_project_id_to_schedule,
            denied=schedule_denied,
            changes_state=True,
        ),
        Route(
            "action:removeSched",
            remove_schedule,
            SCHEDULE_PERM,
            locate=by_schedule_for_removal,
            denied=removal_denied,
            changes_state=True,
        ),
        Route("ajax:fetchSchedule", fetch_schedule, READ, locate=by_project_id, denied=read_denied),
        Route("ajax:fetchSchedules", fetch_schedules),
        Route("ajax:loadFlow", fetch_schedules),
        Route("ajax:setSla", set_sla, SCHEDULE_PERM, locate=by_schedule, denied=sla_denied, changes_state=True),
        Route("ajax:slaInfo", sla_info, READ, locate=by_schedule, denied=sla_info_denied),
        Route("page", schedules_page, methods=GET),
    ],
    fallback,
)
