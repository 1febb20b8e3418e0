"""Administration: users and roles (global ADMIN only), and the server's status (executors, queue, database).

User changes call :class:`~sudoless.accounts.Accounts` directly: Azkaban has no API for them (its users
live in an XML file), and Accounts enforces the rules (valid names, known roles, never removing the last
admin). The routes require the global ADMIN permission through the dispatch table like every other route.
"""

from __future__ import annotations

import os
from typing import Any

from starlette.responses import Response

from sudoless.accounts import Permission, random_password
from sudoless.accounts.backends import group_roles
from sudoless.errors import SudolessError
from sudoless.server.dispatch import GET, POST, Call, Route
from sudoless.server.ui.projects import readable_project_ids
from sudoless.server.ui.rows import running_rows
from sudoless.server.ui.web import redirect, render

__all__ = ["ROUTES"]


def _users_page(call: Call, status: int = 200, **extra: Any) -> Response:
    roles = call.accounts.roles()
    return render(
        call,
        "users.html",
        status=status,
        title="Users",
        users=call.accounts.list_users(),
        roles=sorted((name, perm.names()) for name, perm in roles.items()),
        groups=sorted(call.accounts.groups().items()),
        group_roles=sorted(group_roles(call.settings).items()),
        **extra,
    )


def users(call: Call) -> Response:
    return _users_page(call)


def _names(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").replace(";", ",").split(",") if part.strip()]


def add_user(call: Call) -> Response:
    params = call.params
    name = (params.get("name") or "").strip()
    password = params.get("password") or ""
    generated = not password
    if generated:
        password = random_password()
    roles = [value for key, value in params.items if key == "role"] or ["user"]
    try:
        call.accounts.add_user(
            name, password, roles=roles, groups=_names(params.get("groups")), email=params.get("email") or ""
        )
    except SudolessError as exc:
        return _users_page(
            call,
            400,
            error=str(exc),
            form={"name": name, "email": params.get("email") or "", "groups": params.get("groups") or ""},
        )
    if generated:
        return _users_page(call, new_password=(name, password))
    return redirect("/ui/users", "success", f"User {name} added.")


def reset_password(call: Call) -> Response:
    name = call.params.required("name")
    password = random_password()
    try:
        call.accounts.set_password(name, password)
    except SudolessError as exc:
        return _users_page(call, 400, error=str(exc))
    return _users_page(call, new_password=(name, password))


def remove_user(call: Call) -> Response:
    name = call.params.required("name")
    if name == call.user.name:
        return _users_page(call, 400, error="You cannot remove yourself; log in as another admin to do it.")
    try:
        call.accounts.remove_user(name)
    except SudolessError as exc:
        return _users_page(call, 400, error=str(exc))
    return redirect("/ui/users", "success", f"User {name} removed.")


def set_membership(call: Call) -> Response:
    """Replace a user's roles and groups (Accounts refuses unknown roles, bad names, directory accounts and
    taking the admin role from the last admin). No role ticked leaves the user without roles."""
    name = call.params.required("name")
    roles = [value for key, value in call.params.items if key == "role"]
    try:
        changed = call.accounts.set_membership(name, roles, _names(call.params.get("groups")))
    except SudolessError as exc:
        return _users_page(call, 400, error=str(exc))
    groups = ", ".join(changed.groups) or "no groups"
    return redirect("/ui/users", "success", f"User {name}: {', '.join(changed.roles) or 'no roles'}; {groups}.")


def set_group_roles(call: Call) -> Response:
    """Give a group (a local one, or a directory or Unix group) roles; every member gets them, at once for
    sessions, since roles are resolved at each request. No role selected leaves the group without roles."""
    name = (call.params.get("group") or "").strip()
    roles = [value for key, value in call.params.items if key == "role"]
    try:
        call.accounts.define_group(name, roles)
    except SudolessError as exc:
        return _users_page(call, 400, error=str(exc))
    return redirect("/ui/users", "success", f"Group {name}: {', '.join(roles) or 'no roles'}.")


def server_status(call: Call) -> Response:
    """The server's figures, its executors and what runs. The database check and the two counts are one
    statement (:meth:`~sudoless.store.executions.ExecutionQueries.status_figures`), the readable projects are
    read only when something runs, and the running table's rows are built in Python (:func:`.rows.running_rows`)."""
    store = call.store
    services = call.services
    now = store.clock()
    figures = store.executions.status_figures()
    database_up = figures is not None
    queued, schedules = figures or (0, 0)
    timeout_ms = int(call.settings.executor_timeout * 1000)
    executors = [
        {"record": x, "alive": now - x.heartbeat <= timeout_ms}
        for x in (store.executors.active() if database_up else ())
    ]
    running = store.executions.running(200)
    if running:
        visible = readable_project_ids(call)
        running = [r for r in running if visible is None or r.project_id in visible]
    return render(
        call,
        "status.html",
        title="Server status",
        version=services.version,
        pid=os.getpid(),
        started=services.started,
        uptime=now - services.started,
        database=store.dialect,
        database_up=database_up,
        executors=executors,
        queued=queued,
        running=running,
        running_rows=running_rows(running, now),
        schedules=schedules,
        timeout_ms=timeout_ms,
    )


def admin_route(key: str, handler: Any, methods: frozenset[str]) -> Route:
    """A route for global admins only; posts change state, so they carry the CSRF check too."""
    return Route(key, handler, Permission.ADMIN, methods=methods, changes_state=methods == POST, global_scope=True)


ROUTES = [
    ("/ui/users", admin_route("users", users, GET)),
    ("/ui/users/add", admin_route("add-user", add_user, POST)),
    ("/ui/users/{name}/password", admin_route("reset-password", reset_password, POST)),
    ("/ui/users/{name}/delete", admin_route("remove-user", remove_user, POST)),
    ("/ui/users/{name}/membership", admin_route("set-membership", set_membership, POST)),
    ("/ui/groups", admin_route("set-group-roles", set_group_roles, POST)),
    ("/ui/status", Route("status", server_status, methods=GET)),
]
