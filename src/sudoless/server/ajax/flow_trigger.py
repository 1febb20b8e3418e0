"""``/flowtrigger`` (Azkaban's FlowTriggerServlet): the flow triggers of uploaded projects.

``fetchTrigger`` (``projectId``, ``flowId``) answers ``{"flowTrigger": {...}}`` in Azkaban's keys, or ``{}``
when the flow has no trigger; ``pauseTrigger`` and ``resumeTrigger`` need ADMIN on the project, as in
Azkaban, and answer ``{"status": "success"}``. Azkaban checks no permission to read a trigger; sudoless
asks READ, and adds ``fetchTriggers``: every trigger of the projects the user may read. The page lists them.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sudoless.accounts import Permission
from sudoless.errors import NotFoundError
from sudoless.flows.triggers.instances import TriggerInfo
from sudoless.server import pages
from sudoless.server.dispatch import GET, Call, Route, Servlet, Target
from sudoless.server.params import Params
from sudoless.server.responses import json_response

__all__ = ["FLOW_TRIGGER", "by_project_id", "error_denied", "trigger_json"]

READ, ADMIN = Permission.READ, Permission.ADMIN


def select(request: Request, params: Params) -> str:
    return f"ajax:{params.get('ajax')}" if "ajax" in params else "page"


def fallback(call: Call) -> Response:
    return json_response({})


def by_project_id(call: Call) -> Target | Response:
    project = call.store.projects.get(project_id=call.params.integer("projectId", bits=32))
    if project is None:
        return json_response({"error": "please specify a valid project id"})
    return Target(project=project)


def error_denied(call: Call, target: Target, perm: Permission) -> Response:
    return json_response({"error": f"Permission denied. Need {perm.name} access."})


def trigger_json(info: TriggerInfo) -> dict[str, Any]:
    """A trigger in the keys of Azkaban's ``fetchTrigger``, plus the ids and state the UI needs."""
    return {
        "projectId": info.row.project_id,
        "projectName": info.row.project_name,
        "flowId": info.row.flow_id,
        "cronExpression": info.row.cron,
        "submitUser": info.row.modified_by,
        "firstSchedTime": pages.when(info.row.modified_time),
        "nextExecTime": pages.when(info.row.next_fire),
        "maxWaitMin": info.trigger.max_wait_mins,
        "paused": info.row.paused,
        "dependencies": [d.to_json() for d in info.trigger.dependencies],
    }


def fetch_trigger(call: Call) -> Response:
    try:
        info = call.scheduler.triggers.get(call.project.id, call.params.required("flowId"))
    except NotFoundError:
        return json_response({})
    return json_response({"flowTrigger": trigger_json(info)})


def fetch_triggers(call: Call) -> Response:
    readable: dict[int, bool] = {}
    items = []
    for info in call.scheduler.triggers.list():
        if info.row.project_id not in readable:
            readable[info.row.project_id] = call.allowed(info.row.project_id, READ)
        if readable[info.row.project_id]:
            items.append(trigger_json(info))
    return json_response({"items": items})


def _set_paused(call: Call, paused: bool) -> Response:
    flow_id = call.params.required("flowId")
    try:
        call.scheduler.triggers.set_paused(call.project.id, flow_id, paused, call.user.name)
    except NotFoundError as exc:
        return json_response({"error": str(exc)})
    call.store.projects.add_event(
        call.project.id, "SCHEDULE", call.user.name, f"Flow trigger of {flow_id} {'paused' if paused else 'resumed'}."
    )
    return json_response({"status": "success"})


def pause_trigger(call: Call) -> Response:
    return _set_paused(call, True)


def resume_trigger(call: Call) -> Response:
    return _set_paused(call, False)


def triggers_page(call: Call) -> Response:
    rows = [
        (
            i.row.project_name,
            i.row.flow_id,
            i.row.cron,
            i.trigger.max_wait_mins or "-",
            len(i.trigger.dependencies),
            "paused" if i.row.paused else "active",
            pages.when(i.row.next_fire),
        )
        for i in call.scheduler.triggers.list()
        if call.allowed(i.row.project_id, READ)
    ]
    return pages.table_page(
        "Flow triggers", ["project", "flow", "cron", "max wait (min)", "dependencies", "state", "next run"], rows
    )


FLOW_TRIGGER = Servlet.build(
    "/flowtrigger",
    select,
    [
        Route("ajax:fetchTrigger", fetch_trigger, READ, locate=by_project_id, denied=error_denied),
        Route("ajax:fetchTriggers", fetch_triggers),
        Route("ajax:pauseTrigger", pause_trigger, ADMIN, locate=by_project_id, denied=error_denied, changes_state=True),
        Route(
            "ajax:resumeTrigger", resume_trigger, ADMIN, locate=by_project_id, denied=error_denied, changes_state=True
        ),
        Route("page", triggers_page, methods=GET),
    ],
    fallback,
)
