"""Flow triggers: each trigger (pause, resume) and its recent instances with every dependency's state and why
it is not met yet (kill a waiting one). Form posts here, checked with the permissions of the AJAX API's
``pauseTrigger`` and ``killRunningTrigger``."""

from __future__ import annotations

from starlette.responses import Response

from sudoless.errors import NotFoundError, StateError
from sudoless.server.ajax.flow_trigger import FLOW_TRIGGER
from sudoless.server.ajax.flow_trigger_instance import FLOW_TRIGGER_INSTANCE
from sudoless.server.dispatch import GET, POST, Call, Route, Target
from sudoless.server.ui.projects import readable_project_ids
from sudoless.server.ui.web import api_permission, error_page, locate_project, page_url, redirect, render

__all__ = ["ROUTES"]

PAUSE = api_permission(FLOW_TRIGGER, "ajax:pauseTrigger")
KILL = api_permission(FLOW_TRIGGER_INSTANCE, "ajax:killRunningTrigger")
RECENT = 50


def trigger_list(call: Call) -> Response:
    visible = readable_project_ids(call)
    triggers = [i for i in call.scheduler.triggers.list() if visible is None or i.row.project_id in visible]
    instances = [
        r
        for r in call.scheduler.triggers.store.triggers.instances(limit=RECENT * 4)
        if visible is None or r.project_id in visible
    ][:RECENT]
    project_ids = {i.row.project_id for i in triggers} | {r.project_id for r in instances}
    can_pause = {pid: call.allowed(pid, PAUSE) for pid in project_ids}
    can_kill = {pid: call.allowed(pid, KILL) for pid in project_ids}
    return render(
        call,
        "triggers.html",
        title="Triggers",
        triggers=triggers,
        instances=instances,
        can_pause=can_pause,
        can_kill=can_kill,
    )


def set_paused(call: Call) -> Response:
    flow_id = call.params.required("flow")
    paused = call.params.boolean("paused")
    try:
        call.scheduler.triggers.set_paused(call.project.id, flow_id, paused, call.user.name)
    except NotFoundError as exc:
        return error_page(call, 404, "No such trigger", str(exc))
    verb = "paused" if paused else "resumed"
    call.store.projects.add_event(call.project.id, "SCHEDULE", call.user.name, f"Flow trigger of {flow_id} {verb}.")
    return redirect(page_url("triggers"), "success", f"Trigger of {call.project.name}.{flow_id} {verb}.")


def locate_instance(call: Call) -> Target | Response:
    instance_id = call.params.required("instance")
    row = call.scheduler.triggers.store.triggers.instance(instance_id)
    project = None if row is None else call.store.projects.get(project_id=row.project_id, active_only=False)
    if row is None or project is None:
        return error_page(call, 404, "No such trigger instance", f"Trigger instance {instance_id} does not exist.")
    return Target(project=project)


def kill(call: Call) -> Response:
    instance_id = call.params.required("instance")
    try:
        call.scheduler.triggers.kill(instance_id, call.user.name)
    except StateError as exc:
        return redirect(page_url("triggers"), "error", str(exc))
    return redirect(page_url("triggers"), "success", f"Trigger instance {instance_id} killed.")


ROUTES = [
    ("/ui/triggers", Route("triggers", trigger_list, methods=GET)),
    (
        "/ui/triggers/{project}/{flow}/paused",
        Route("trigger-paused", set_paused, PAUSE, locate=locate_project, methods=POST, changes_state=True),
    ),
    (
        "/ui/trigger-instances/{instance}/kill",
        Route("trigger-kill", kill, KILL, locate=locate_instance, methods=POST, changes_state=True),
    ),
]
