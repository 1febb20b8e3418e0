"""The action table of the AJAX API and the one place that applies it.

Azkaban dispatches inside a servlet on parameters (``ajax=``, ``action=``, bare flags), not on paths. Each
servlet module declares a :class:`Servlet`: a ``select`` function that names the route a request asks for
(``"ajax:fetchflowgraph"``, ``"action:create"``, ``"delete"``), and its :class:`Route` objects, each with
the handler and the permission it needs. :func:`answer` then does, for every route alike: method check,
CSRF check for state changes made with a cookie session, lookup of the project the permission applies
to, the permission check, and only then the handler. Handlers never check permissions themselves.

Lookup failures and refusals are answered in each servlet's own words (Azkaban's messages differ per
servlet), which is why routes and servlets carry ``locate`` and ``denied`` functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from sudoless.accounts import Accounts, Permission, User
from sudoless.accounts.permissions import allows
from sudoless.config import Settings
from sudoless.server import sessions
from sudoless.server.params import Params
from sudoless.server.responses import json_response
from sudoless.server.threads import RequestThreads
from sudoless.store import Store
from sudoless.store.executions import ExecutionRecord
from sudoless.store.projects import ProjectRecord

if TYPE_CHECKING:
    from sudoless.flows.scheduler import Schedule, Scheduler

__all__ = ["Call", "Route", "Servlet", "Services", "Target", "answer"]

GET_POST = frozenset({"GET", "POST"})
GET = frozenset({"GET"})
POST = frozenset({"POST"})


@dataclass(frozen=True)
class Services:
    """What handlers work with; one per application."""

    settings: Settings
    store: Store
    accounts: Accounts
    scheduler: Scheduler
    secret: bytes
    secure: bool = False
    version: str = ""
    started: int = 0
    #: where requests' blocking work runs (:mod:`sudoless.server.threads`)
    threads: RequestThreads = field(default_factory=lambda: RequestThreads(16))


@dataclass(frozen=True)
class Target:
    """The objects a request is about, found before the permission check."""

    project: ProjectRecord | None = None
    execution: ExecutionRecord | None = None
    schedule: Schedule | None = None


class Authenticated:
    """Shortcuts from an authenticated request (AJAX :class:`Call`, JSON API ``Caller``) to the services."""

    services: Services
    user: User

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def accounts(self) -> Accounts:
        return self.services.accounts

    @property
    def scheduler(self) -> Scheduler:
        return self.services.scheduler

    def allowed(self, project_id: int, perm: Permission) -> bool:
        return self.accounts.has_permission(self.user, project_id, perm)


@dataclass
class Call(Authenticated):
    """One authenticated request on its way to a handler."""

    request: Request
    params: Params
    services: Services
    user: User
    session_id: str | None = None
    via_cookie: bool = False
    key: str = ""
    target: Target = field(default_factory=Target)

    @property
    def project(self) -> ProjectRecord:
        assert self.target.project is not None, "route without a project lookup"
        return self.target.project


Handler = Callable[[Call], Response]
Locator = Callable[[Call], "Target | Response"]
Denied = Callable[[Call, Target, Permission], Response]


@dataclass(frozen=True)
class Route:
    """``key`` as ``select`` names it; ``permission`` on the located project (or, with ``global_scope``,
    among the user's global roles) is checked before ``handler`` runs."""

    key: str
    handler: Handler
    permission: Permission | None = None
    locate: Locator | None = None
    denied: Denied | None = None
    methods: frozenset[str] = GET_POST
    changes_state: bool = False
    global_scope: bool = False


@dataclass(frozen=True)
class Servlet:
    path: str
    select: Callable[[Request, Params], str]
    routes: Mapping[str, Route]
    fallback: Handler
    locate: Locator | None = None
    denied: Denied | None = None
    public: bool = False

    @classmethod
    def build(
        cls,
        path: str,
        select: Callable[[Request, Params], str],
        routes: Iterable[Route],
        fallback: Handler,
        **kwargs: Any,
    ) -> Servlet:
        table: dict[str, Route] = {}
        for route in routes:
            if route.key in table:
                raise ValueError(f"{path}: route {route.key} defined twice")
            table[route.key] = route
        return cls(path, select, table, fallback, **kwargs)


def csrf_failed() -> Response:
    return json_response({"error": "CSRF validation failed."}, status=403)


def answer(servlet: Servlet, call: Call) -> Response:
    """Route an authenticated request through the checks of the module docstring to its handler."""
    call.key = servlet.select(call.request, call.params)
    route = servlet.routes.get(call.key)
    if route is None or call.request.method not in route.methods:
        return servlet.fallback(call)
    if (
        route.changes_state
        and call.session_id
        and not sessions.csrf_ok(call.request, call.params, call.services.secret, call.session_id, call.via_cookie)
    ):
        return csrf_failed()
    if route.permission is not None:
        if route.global_scope:
            granted = call.accounts.global_permissions(call.user)
            if not allows(granted, route.permission):
                denied = route.denied or servlet.denied
                assert denied is not None, f"{servlet.path} {route.key}: no refusal message"
                return denied(call, Target(), route.permission)
        else:
            locate = route.locate or servlet.locate
            assert locate is not None, f"{servlet.path} {route.key}: permission without a project lookup"
            found = locate(call)
            if isinstance(found, Response):
                return found
            if found.project is None or not call.allowed(found.project.id, route.permission):
                denied = route.denied or servlet.denied
                assert denied is not None, f"{servlet.path} {route.key}: no refusal message"
                return denied(call, found, route.permission)
            call.target = found
    return route.handler(call)
