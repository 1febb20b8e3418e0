"""Schedules: the list (pause, resume, remove, SLA), and creating one from a cron expression with a preview
of its next five fire times in the chosen time zone.

Creating, removing and the SLA go through the AJAX API (``scheduleCronFlow``, ``removeSched``,
``setSla``) from the page's script; pausing and resuming have no Azkaban call, so they are form posts
here, checked with the permission of the API's ``removeSched``.
"""

from __future__ import annotations

import functools
import zoneinfo
from datetime import UTC, datetime
from html import escape

from markupsafe import Markup
from starlette.responses import Response

from sudoless.accounts.permissions import allows
from sudoless.errors import InputError
from sudoless.flows.schedule import CronExpression
from sudoless.flows.scheduler import sla_rules
from sudoless.server.ajax.schedule import SCHEDULE
from sudoless.server.dispatch import GET, POST, Call, Route
from sudoless.server.ui.projects import granted_candidates, readable_project_ids
from sudoless.server.ui.rows import schedule_rows
from sudoless.server.ui.web import api_permission, csrf_of, data, locate_schedule, page_url, redirect, render

__all__ = ["ROUTES", "preview"]

CHANGE = api_permission(SCHEDULE, "action:removeSched")
CREATE = api_permission(SCHEDULE, "ajax:scheduleCronFlow")
PREVIEW_COUNT = 5


@functools.cache
def time_zones() -> tuple[str, ...]:
    """The IANA zones this Python knows, UTC first."""
    names = sorted(z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))
    return ("UTC", *names)


def zones_from(first: str) -> tuple[str, ...]:
    """The zones with ``first`` (the server's, which the form then proposes) at the top."""
    return (first, *(z for z in time_zones() if z != first))


def preview(cron: str, zone: str, now_ms: int, count: int = PREVIEW_COUNT) -> list[datetime]:
    """The next ``count`` fire times of ``cron`` in ``zone`` after ``now_ms``; InputError when it does not
    parse (the scheduler's own parser, so the preview cannot disagree with what will run)."""
    expression = CronExpression.parse(cron, zone)
    return expression.fire_times(datetime.fromtimestamp(now_ms / 1000, UTC), count)


@functools.lru_cache(maxsize=16)
def zone_options(first: str) -> Markup:
    """The time zone list's ``<option>``s, ``first`` on top: 400-odd, the same on every view, drawn once."""
    return Markup("".join(f'<option value="{escape(z)}">{escape(z)}</option>' for z in zones_from(first)))


def schedule_list(call: Call) -> Response:
    """The schedules of the projects the user may read, from the stored rows: the page shows no run option,
    so none is read (:meth:`~sudoless.store.schedules.ScheduleQueries.shown`). The active projects are read
    once, with their names: the readable ones among them filter the list and fill the form's choice."""
    active = call.store.projects.named()  # the readable among them are the form's, their ids the filter's
    visible = readable_project_ids(call, [pid for pid, _, _ in active])
    shown = None if visible is None else set(visible)
    schedules = [s for s in call.store.schedules.shown() if shown is None or s.project_id in shown]
    can_change = {pid: call.allowed(pid, CHANGE) for pid in {s.project_id for s in schedules}}
    projects = [project for project in active if shown is None or project[0] in shown]
    # The form offers only projects the user may schedule: scheduleCronFlow would refuse the others. As for
    # reading, a global role allowing it allows every project, and otherwise only projects with a grant
    # naming the user or a group of theirs can qualify: only those are asked about (no query per project).
    if allows(call.accounts.global_permissions(call.user), CREATE):
        schedulable = [name for _, name, version in projects if version]
    else:
        granted = set(granted_candidates(call))
        schedulable = [
            name for pid, name, version in projects if version and pid in granted and call.allowed(pid, CREATE)
        ]
    chosen = call.params.get("project") or ""
    refused = chosen if chosen and chosen not in schedulable else ""
    return render(
        call,
        "schedules.html",
        title="Schedules",
        schedules=schedules,
        rows=schedule_rows(schedules, {s.id: sla_rules(s) for s in schedules}, can_change, csrf_of(call)),
        projects=schedulable,
        refused_project=refused,
        needed=CREATE.name,
        zone_options=zone_options(call.settings.zone.key),
        chosen_project="" if refused else chosen,
        chosen_flow=call.params.get("flow") or "",
    )


def cron_preview(call: Call) -> Response:
    cron = call.params.get("cron") or ""
    zone = call.params.get("tz") or call.settings.zone.key
    try:
        times = preview(cron, zone, call.store.clock())
    except InputError as exc:
        return data({"error": str(exc)}, 400)
    if not times:
        return data({"error": "This expression never fires again (check the year field)."}, 400)
    return data(
        {
            "cron": " ".join(cron.split()),
            "tz": zone,
            "times": [
                {
                    "iso": t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "local": t.strftime("%a %Y-%m-%d %H:%M:%S %Z"),
                }
                for t in times
            ],
        }
    )


def set_enabled(call: Call) -> Response:
    schedule = call.target.schedule
    assert schedule is not None
    enabled = call.params.boolean("enabled")
    call.scheduler.set_enabled(schedule.id, enabled)
    verb = "resumed" if enabled else "paused"
    call.store.projects.add_event(
        call.project.id,
        "SCHEDULE",
        call.user.name,
        f"Schedule {schedule.project_name}.{schedule.flow_id} '{schedule.cron}' {verb}.",
    )
    return redirect(page_url("schedules"), "success", f"Schedule of {schedule.project_name}.{schedule.flow_id} {verb}.")


ROUTES = [
    ("/ui/schedules", Route("schedules", schedule_list, methods=GET)),
    ("/ui/data/cron-preview", Route("data:cron-preview", cron_preview, methods=GET)),
    (
        "/ui/schedules/{scheduleId}/enabled",
        Route("schedule-enabled", set_enabled, CHANGE, locate=locate_schedule, methods=POST, changes_state=True),
    ),
]
