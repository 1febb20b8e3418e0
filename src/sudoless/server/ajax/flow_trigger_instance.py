"""``/flowtriggerinstance`` (Azkaban's FlowTriggerInstanceServlet): trigger instances and their dependencies.

* ``fetchRunningTriggers``: the waiting instances (of projects the user may read; Azkaban lists all);
* ``fetchTriggerInstances`` (``project``, ``flow``, ``start``, ``length``): one flow's instances, newest
  first (READ);
* ``fetchTriggerStatus`` (``triggerinstid`` or ``execid``): one instance with each dependency's state (READ);
* ``showTriggerProperties`` (``id``): the trigger the instance was fired from (READ);
* ``killRunningTrigger`` (``id``): cancel a waiting instance (EXECUTE, as in Azkaban).

Keys are Azkaban's; each dependency also carries ``reason``, why its last check found it not met.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sudoless.accounts import Permission
from sudoless.errors import StateError
from sudoless.flows.triggers.instances import instance_json
from sudoless.server import pages
from sudoless.server.ajax.flow_trigger import error_denied
from sudoless.server.dispatch import GET, Call, Route, Servlet, Target
from sudoless.server.params import Params
from sudoless.server.responses import json_response
from sudoless.store.triggers import InstanceRow

__all__ = ["FLOW_TRIGGER_INSTANCE"]

READ, EXECUTE = Permission.READ, Permission.EXECUTE


def select(request: Request, params: Params) -> str:
    return f"ajax:{params.get('ajax')}" if "ajax" in params else "page"


def fallback(call: Call) -> Response:
    return json_response({})


def _instance(call: Call) -> InstanceRow | None:
    triggers = call.scheduler.triggers.store.triggers
    if "triggerinstid" in call.params:
        return triggers.instance(call.params.required("triggerinstid"))
    if "execid" in call.params:
        found = [i for i in triggers.instances(limit=1, exec_id=call.params.integer("execid", bits=32))]
        return found[0] if found else None
    return triggers.instance(call.params.get("id") or "")


def by_instance(call: Call) -> Target | Response:
    if not ({"id", "triggerinstid", "execid"} & {key for key, _ in call.params.items}):
        return json_response({"error": "please specify a valid trigger instance id or flow execution id"})
    instance = _instance(call)
    project = None if instance is None else call.store.projects.get(project_id=instance.project_id, active_only=False)
    if instance is None or project is None:
        if call.key == "ajax:killRunningTrigger":
            return json_response({"error": "the trigger doesn't exist, might already finished or cancelled"})
        return json_response({"error": "the trigger instance doesn't exist"})
    return Target(project=project)


def by_project_name(call: Call) -> Target | Response:
    if "project" not in call.params or "flow" not in call.params:
        return json_response({"error": "please specify project id and flow id"})
    project = call.store.projects.get(name=call.params.required("project"))
    if project is None:
        return json_response({"error": "please specify a valid project name"})
    return Target(project=project)


def kill_denied(call: Call, target: Target, perm: Permission) -> Response:
    return json_response({"error": "no permission to kill the trigger"})


def status_json(row: InstanceRow) -> dict[str, Any]:
    """``fetchTriggerStatus``'s answer: the instance and one item per dependency."""
    full = instance_json(row)
    return {
        "triggerId": row.id,
        "triggerSubmitter": row.submit_user,
        "triggerStartTime": row.start_time,
        "triggerEndTime": row.end_time,
        "triggerStatus": row.status,
        "flowExecutionId": full["execId"],
        "cancellationCause": row.cancel_cause,
        "message": row.message,
        "triggerProps": json.dumps({"cron": row.cron, "maxWaitMs": row.max_wait_ms}),
        "items": [
            {
                "triggerInstanceId": row.id,
                **dep,
                "dependencyConfig": {
                    "name": dep["dependencyName"],
                    "type": dep["dependencyType"],
                    "params": dep["params"],
                },
            }
            for dep in full["dependencies"]
        ],
    }


def fetch_running(call: Call) -> Response:
    readable: dict[int, bool] = {}
    items = []
    for row in call.scheduler.triggers.store.triggers.instances(running=True, limit=10_000):
        if row.project_id not in readable:
            readable[row.project_id] = call.allowed(row.project_id, READ)
        if readable[row.project_id]:
            full = instance_json(row)
            items.append(
                {
                    "id": row.id,
                    "starttime": row.start_time,
                    "endtime": row.end_time,
                    "status": row.status,
                    "flowExecutionId": full["execId"],
                    "submitUser": row.submit_user,
                    "projectName": row.project_name,
                    "flowId": row.flow_id,
                    "dependencies": [
                        {
                            "dependencyName": d["dependencyName"],
                            "dependencyStarttime": d["dependencyStartTime"],
                            "dependencyEndtime": d["dependencyEndTime"],
                            "dependencyStatus": d["dependencyStatus"],
                            "reason": d["reason"],
                            "dependencyConfig": {
                                "name": d["dependencyName"],
                                "type": d["dependencyType"],
                                "params": d["params"],
                            },
                        }
                        for d in full["dependencies"]
                    ],
                }
            )
    return json_response({"items": items})


def fetch_instances(call: Call) -> Response:
    start = call.params.integer("start", 0, bits=32)
    length = call.params.integer("length", 25, bits=32)
    flow_id = call.params.required("flow")
    rows = call.scheduler.triggers.store.triggers.instances(
        project_id=call.project.id, flow_id=flow_id, limit=max(0, min(length, 1000)), offset=max(0, start)
    )
    return json_response(
        {
            "flow": flow_id,
            "total": len(rows),
            "from": start,
            "length": length,
            "executions": [
                {
                    "instanceId": r.id,
                    "submitUser": r.submit_user,
                    "startTime": r.start_time,
                    "endTime": r.end_time,
                    "status": r.status,
                    "flowExecutionId": r.exec_id if r.exec_id is not None else -1,
                }
                for r in rows
            ],
        }
    )


def fetch_status(call: Call) -> Response:
    row = _instance(call)
    return json_response(status_json(row) if row is not None else {})


def show_properties(call: Call) -> Response:
    row = _instance(call)
    assert row is not None
    return json_response(
        {
            "triggerProperties": json.dumps(
                {
                    "cron": row.cron,
                    "maxWaitMs": row.max_wait_ms,
                    "dependencies": [{"name": d.name, "type": d.type, "params": d.params} for d in row.dependencies],
                }
            )
        }
    )


def kill_running(call: Call) -> Response:
    row = _instance(call)
    assert row is not None
    try:
        call.scheduler.triggers.kill(row.id, call.user.name)
    except StateError:
        return json_response({"error": "the trigger doesn't exist, might already finished or cancelled"})
    return json_response({})


def instances_page(call: Call) -> Response:
    rows = [
        (
            r.id,
            r.project_name,
            r.flow_id,
            r.status,
            pages.when(r.start_time),
            pages.when(r.end_time),
            ", ".join(f"{d.name}: {d.status}" for d in r.dependencies),
            r.exec_id or "-",
        )
        for r in call.scheduler.triggers.store.triggers.instances(limit=200)
        if call.allowed(r.project_id, READ)
    ]
    return pages.table_page(
        "Flow trigger instances",
        ["id", "project", "flow", "status", "started", "ended", "dependencies", "execution"],
        rows,
    )


FLOW_TRIGGER_INSTANCE = Servlet.build(
    "/flowtriggerinstance",
    select,
    [
        Route("ajax:fetchRunningTriggers", fetch_running),
        Route("ajax:fetchTriggerInstances", fetch_instances, READ, locate=by_project_name, denied=error_denied),
        Route("ajax:fetchTriggerStatus", fetch_status, READ, locate=by_instance, denied=error_denied),
        Route("ajax:showTriggerProperties", show_properties, READ, locate=by_instance, denied=error_denied),
        Route(
            "ajax:killRunningTrigger", kill_running, EXECUTE, locate=by_instance, denied=kill_denied, changes_state=True
        ),
        Route("page", instances_page, methods=GET),
    ],
    fallback,
)
