"""``/index`` (Azkaban's ProjectServlet) and ``/`` (IndexRedirectServlet).

``fetchallprojects`` lists every active project to any logged-in user (names and grants, no content),
as Azkaban does; ``fetchuserprojects`` lists the projects where a user holds a *user* grant with READ
or ADMIN. Both are GET-only; a POST to ``/index`` answers an empty 200. The HTML project list is what
``azkaban-cli fetch_projects`` scrapes and what a project deletion redirects to.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sudoless.accounts import Permission
from sudoless.server import flash, pages
from sudoless.server.dispatch import GET, Call, Route, Servlet
from sudoless.server.params import Params
from sudoless.server.responses import json_response
from sudoless.store.projects import ProjectRecord

__all__ = ["INDEX", "ROOT", "project_json"]


def select(request: Request, params: Params) -> str:
    if request.method != "GET":
        return "post"
    ajax = params.get("ajax")
    return f"ajax:{ajax}" if ajax is not None else "page"


#: a project's grants: (user or group name, is a group, permissions), users first, by name
Grants = list[tuple[str, bool, Permission]]


def project_json(call: Call, project: ProjectRecord, grants: Grants | None = None) -> dict[str, Any]:
    """A project as Azkaban's project lists show it; ``grants`` as :meth:`~sudoless.accounts.Accounts.grants_of`
    read them for a whole list (else read here)."""
    users: list[dict[str, object]] = []
    groups: list[dict[str, object]] = []
    for name, is_group, perms in call.accounts.project_permissions(project.id) if grants is None else grants:
        entry: dict[str, object] = {"first": name, "second": {"types": perms.names()}}
        (groups if is_group else users).append(entry)
    return {
        "projectId": project.id,
        "projectName": project.name,
        "createdBy": project.modified_by,
        "createdTime": project.created_time,
        "userPermissions": users,
        "groupPermissions": groups,
    }


def _listed(call: Call, projects: list[ProjectRecord]) -> list[tuple[ProjectRecord, Grants]]:
    """Each project with its grants, all read in one statement (one per project was most of a list's cost)."""
    grants = call.accounts.grants_of([project.id for project in projects])
    return [(project, grants[project.id]) for project in projects]


def fetch_all_projects(call: Call) -> Response:
    listed = _listed(call, call.store.projects.active())
    return json_response({"projects": [project_json(call, project, grants) for project, grants in listed]})


def fetch_user_projects(call: Call) -> Response:
    name = call.params.get("user") or call.user.name
    wanted = Permission.READ | Permission.ADMIN
    found = []
    for project, grants in _listed(call, call.store.projects.active()):
        if any(not is_group and who == name and perms & wanted for who, is_group, perms in grants):
            found.append(project_json(call, project, grants))
    return json_response({"projects": found})


def project_page(call: Call) -> Response:
    projects = call.store.projects.active()
    if "all" not in call.params:
        projects = [p for p in projects if call.allowed(p.id, Permission.READ)]
    messages = flash.take_messages(call.request)
    response = pages.project_list_page(
        ((p.name, p.description, p.modified_time, p.modified_by) for p in projects), messages
    )
    flash.clear_messages(call.request, response)
    return response


def fallback(call: Call) -> Response:
    if call.key == "post":
        return Response(b"")
    return json_response({"error": f"Cannot execute command {call.params.get('ajax')}"})


INDEX = Servlet.build(
    "/index",
    select,
    [
        Route("ajax:fetchallprojects", fetch_all_projects, methods=GET),
        Route("ajax:fetchuserprojects", fetch_user_projects, methods=GET),
        Route("page", project_page, methods=GET),
    ],
    fallback,
)


def redirect_to_index(call: Call) -> Response:
    return flash.redirect("/index")


ROOT = Servlet.build("/", lambda request, params: "redirect", [Route("redirect", redirect_to_index)], redirect_to_index)
