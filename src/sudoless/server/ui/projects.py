"""Projects: the searchable list, and one project's flows, versions, audit log and permissions.

Creating, uploading and changing permissions are done by the page's script through the AJAX API
(``action=create``, ``ajax=upload``, ``ajax=addPermission``/``changePermission``), so validation messages
and permission checks are the API's own; deleting is a form post here, checked with the permission of the
API's delete route.
"""

from __future__ import annotations

from collections.abc import Iterable
from math import ceil
from typing import Any

from starlette.responses import Response

from sudoless.accounts import Permission
from sudoless.accounts.permissions import allows
from sudoless.flows import projects as lifecycle
from sudoless.server.ajax.manager import MANAGER
from sudoless.server.dispatch import GET, POST, Call, Route
from sudoless.server.ui import charts
from sudoless.server.ui.web import api_permission, locate_project, page_url, redirect, render, ui_of
from sudoless.store.projects import FlowRecord, ProjectRecord

__all__ = ["ROUTES", "granted_candidates", "readable_project_ids"]

PAGE_SIZE = 50
#: A project page's success rates count each flow's newest runs only, so the page costs the same after a
#: million runs as after a thousand; the page says over how many. 100 and not 1,000: each counted run is a
#: row read by primary key (the status is not in the flow's index): with 500 runs a flow the page's counts
#: took 17.7 ms at 1,000 and 5.2 ms at 100 on a loaded machine (MariaDB; benchmarks/README.md).
RATE_WINDOW = 100
TABS = ("flows", "versions", "log", "permissions")
GRANTS = ("ADMIN", "READ", "WRITE", "EXECUTE", "SCHEDULE")
#: Reading a project in the UI needs what the API's project page needs.
READ = api_permission(MANAGER, "page:project")


def readable_project_ids(call: Call, active_ids: Iterable[int] | None = None) -> list[int] | None:
    """The active projects ``call.user`` may read; None when that is all of them (a global READ or ADMIN).
    ``active_ids``: the active projects' ids, when the caller read them already (else they are read here).

    The decision is Accounts' (:meth:`~sudoless.accounts.Accounts.has_permission`). Two shortcuts keep it
    cheap with many projects, without deciding anything themselves: a user whose global roles allow READ
    reads everything, and otherwise only projects with a grant naming the user or one of their groups
    can qualify, so only those are asked about.
    """
    if allows(call.accounts.global_permissions(call.user), READ):
        return None
    active = set(call.store.projects.active_ids() if active_ids is None else active_ids)
    return [pid for pid in granted_candidates(call) if pid in active and call.allowed(pid, READ)]


def granted_candidates(call: Call) -> list[int]:
    """The projects with a grant naming ``call.user`` or one of their groups, by id: the grants read with
    the session name them all (unless there were too many to read, then they are read here)."""
    if call.user.grants is not None:
        return sorted(call.user.grants)
    return call.store.accounts.granted_project_ids(call.user.name, call.user.groups)


def page_number(call: Call) -> int:
    value = call.params.get("page") or "1"
    return max(1, int(value)) if value.isdigit() else 1


def project_list(call: Call) -> Response:
    search = (call.params.get("q") or "").strip()
    page = page_number(call)
    projects, total = call.store.projects.page(search, PAGE_SIZE, (page - 1) * PAGE_SIZE, readable_project_ids(call))
    pages = max(1, ceil(total / PAGE_SIZE))
    last = call.store.executions.last_per_project([p.id for p in projects])  # one statement for the page
    return render(
        call,
        "projects.html",
        title="Projects",
        projects=projects,
        last=last,
        total=total,
        page=page,
        pages=pages,
        search=search,
        page_link=lambda n: page_url("projects", q=search, page=n),
    )


def current_flows(call: Call, project: ProjectRecord) -> dict[str, FlowRecord]:
    """The flows of ``project``'s current version (read in this request), from the UI's cache: a stored
    version's flows are written with it, in the transaction that makes it current, and never change
    after; a new upload (from any process) is a new version, hence a new key. Only the current version of
    an active project is looked up, and a purge removes only a deleted project's versions."""
    if not project.version:
        return {}
    key = (call.store.url, project.id, project.version)
    return ui_of(call).flows.get(key, lambda: call.store.projects.flow_records(project.id, project.version))


def abilities(call: Call, project: ProjectRecord) -> dict[str, bool]:
    """Which controls to show; the API checks again when they are used."""
    return {
        name.lower(): call.allowed(project.id, Permission[name]) for name in ("WRITE", "EXECUTE", "SCHEDULE", "ADMIN")
    }


def project_view(call: Call) -> Response:
    project = call.project
    tab = call.params.get("tab") or "flows"
    if tab not in TABS:
        tab = "flows"
    context: dict[str, Any] = {"tab": tab, "tabs": TABS, "project": project, "can": abilities(call, project)}
    if tab == "flows":
        flows = sorted(fid for fid, record in current_flows(call, project).items() if not record.embedded)
        outcomes, last = call.store.executions.flows_overview(project.id, flows, RATE_WINDOW)
        context["rates"] = charts.success_rates(outcomes, flows)
        context["window"] = RATE_WINDOW
        context["last"] = last
        context["schedules"] = call.store.schedules.of_flows(project.id)
    elif tab == "versions":
        context["versions"] = call.store.projects.versions(project.id)
    elif tab == "log":
        page = page_number(call)
        total = call.store.projects.count_events(project.id)
        context.update(
            events=call.store.projects.events(project.id, (page - 1) * PAGE_SIZE, PAGE_SIZE),
            page=page,
            pages=max(1, ceil(total / PAGE_SIZE)),
            total=total,
            page_link=lambda n: page_url("projects", project.name, tab="log", page=n),
        )
    else:
        context["grants"] = [
            (name, is_group, set(perms.names()))
            for name, is_group, perms in call.accounts.project_permissions(project.id)
        ]
        context["grant_names"] = GRANTS
    return render(call, "project.html", title=f"Project {project.name}", **context)


def delete_project(call: Call) -> Response:
    project = call.project
    lifecycle.delete_project(call.store, call.scheduler, project, call.user.name)
    return redirect("/ui/projects", "success", f"Project '{project.name}' was deleted, with its schedules.")


ROUTES = [
    ("/ui/projects", Route("projects", project_list, methods=GET)),
    ("/ui/projects/{project}", Route("project", project_view, READ, locate=locate_project, methods=GET)),
    (
        "/ui/projects/{project}/delete",
        Route(
            "delete-project",
            delete_project,
            api_permission(MANAGER, "delete"),
            locate=locate_project,
            methods=POST,
            changes_state=True,
        ),
    ),
]
