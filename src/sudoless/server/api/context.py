"""Who is calling the JSON API, and the permission checks every route makes through :class:`Caller`.

A token is an Accounts session id (``POST /api/v1/login`` creates one, and the Azkaban ``session.id`` of an
AJAX login is one too) or an API token (:mod:`sudoless.accounts.tokens`, limited to its scopes). It
travels as ``Authorization: Bearer <token>`` or as the Azkaban session cookie (a browser that logged in
through the web UI). A state-changing request authenticated by the cookie must
pass the same CSRF check as the AJAX API (:func:`sudoless.server.sessions.csrf_ok`); a bearer token cannot
be sent by another site, so it needs none.

Routes state the permission they need by naming the AJAX route that does the same thing
(:func:`ajax_permission`), so the two APIs check the same permission by construction; the check itself is
:meth:`sudoless.accounts.Accounts.require` (global roles, then user and group grants, as Azkaban's).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import Request

from sudoless.accounts import Permission, User
from sudoless.accounts.permissions import allows
from sudoless.errors import NotFoundError, PermissionDenied
from sudoless.flows.scheduler import Schedule
from sudoless.server import sessions
from sudoless.server.api.errors import HttpError
from sudoless.server.api.routing import Deferred, defer, services, services_of
from sudoless.server.dispatch import Authenticated, Services, Servlet
from sudoless.server.params import Params
from sudoless.store.executions import ExecutionRecord
from sudoless.store.projects import ProjectRecord

__all__ = [
    "DIRECT",
    "Caller",
    "CallerDep",
    "DeferredCallerDep",
    "ServicesDep",
    "ajax_permission",
    "caller",
    "refuse_nul",
    "services",
]

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="A session id from POST /api/v1/login (or an AJAX login's session.id).",
)
cookie_scheme = APIKeyCookie(
    name=sessions.COOKIE,
    auto_error=False,
    scheme_name="cookie",
    description="The Azkaban session cookie of a browser; state changes need CSRF.",
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def ajax_permission(servlet: Servlet, key: str) -> Permission:
    """The permission the AJAX route ``key`` of ``servlet`` checks: the API's routes check the same."""
    permission = servlet.routes[key].permission
    if permission is None:
        raise ValueError(f"{servlet.path} {key} checks no permission")
    return permission


@dataclass(frozen=True)
class Caller(Authenticated):
    """An authenticated request: the services and the user, with the lookups that check permissions."""

    services: Services
    user: User
    token: str

    def project(self, name: str, perm: Permission) -> ProjectRecord:
        """The active project ``name`` if the caller holds ``perm`` on it; 404 or 403 otherwise."""
        project = self.store.projects.get(name=name)
        if project is None:
            raise NotFoundError(f"Project {name} doesn't exist.")
        self.accounts.require(self.user, project.id, perm, project.name)
        return project

    def execution(self, exec_id: int, perm: Permission) -> ExecutionRecord:
        """The execution ``exec_id`` if the caller holds ``perm`` on its project."""
        record = self.store.executions.get(exec_id)
        self.accounts.require(self.user, record.project_id, perm, record.project_name)
        return record

    def schedule(self, schedule_id: int, perm: Permission) -> Schedule:
        """The schedule ``schedule_id`` if the caller holds ``perm`` on its project."""
        schedule = self.scheduler.get(schedule_id)
        self.accounts.require(self.user, schedule.project_id, perm, schedule.project_name)
        return schedule

    def require_admin(self) -> None:
        """Global ADMIN (a role, directly or through a group), as the AJAX admin-only routes require."""
        if not allows(self.accounts.global_permissions(self.user), Permission.ADMIN):
            raise PermissionDenied(f"User '{self.user.name}' is not an administrator.")


ServicesDep = Annotated[Services, Depends(services)]


async def caller(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    cookie: Annotated[str | None, Security(cookie_scheme)],
) -> Deferred[Caller]:
    """The authenticated caller, from the bearer token or else the session cookie (see the module docstring).

    A request without a token is refused here; the session is read, and the CSRF check made, in the request's
    thread with the route (:mod:`.routing`): a dependency of its own would cost a thread hop and a read
    transaction more."""
    token, via_cookie = (bearer.credentials, False) if bearer is not None else (cookie, True)
    if not token:
        raise HttpError(401, "no token: log in with POST /api/v1/login and send 'Authorization: Bearer <token>'")
    svc = services_of(request)  # not a dependency of its own: FastAPI's solving of one costs more than this

    def authenticate() -> Caller:
        user = svc.accounts.session_user(token)
        if user is None:
            raise HttpError(401, "the token is unknown or expired: log in again with POST /api/v1/login")
        if (
            via_cookie
            and request.method not in SAFE_METHODS
            and not sessions.csrf_ok(request, Params([]), svc.secret, token, True)
        ):
            raise HttpError(403, "CSRF validation failed.")
        return Caller(svc, user, token)

    return defer(request, authenticate)


async def direct_caller(request: Request) -> Deferred[Caller]:
    """:func:`caller` as FastAPI solves it, for a directly dispatched route (:mod:`.direct`): the cookie is
    only read when there is no bearer token (which wins), as neither scheme refuses anything."""
    bearer = await bearer_scheme(request)
    return await caller(request, bearer, None if bearer is not None else await cookie_scheme(request))


#: The resolvers of the dependencies a directly dispatched route may have (:mod:`.direct`).
DIRECT: dict[Callable[..., Any], Callable[[Request], Awaitable[Any]]] = {caller: direct_caller}


#: The caller, as a route receives it (a :class:`.routing.ThreadedRoute` resolves the :class:`Deferred`).
CallerDep = Annotated[Caller, Depends(caller)]
#: The caller, as a dependency that checks more receives it (to :meth:`Deferred.then` its check).
DeferredCallerDep = Annotated[Deferred[Caller], Depends(caller)]


async def refuse_nul(request: Request) -> None:
    """Refuse a NUL character in the path, the query or a JSON body with 400: no text sudoless stores can
    hold one (PostgreSQL rejects them), so such a request could only fail later and deeper.

    The request's URL and query parameters are only parsed when its raw parts could hold one (a NUL byte, or
    ``%00`` in the query): every request pays this check, and parsing them cost more than the rest of it."""
    scope = request.scope
    content_type: bytes | None = None
    suspect = "\x00" in scope.get("root_path", "") or "\x00" in scope.get("path", "")
    for name, value in scope["headers"]:  # the URL is made of the host header too
        suspect = suspect or b"\x00" in value
        if name == b"content-type" and content_type is None:
            content_type = value
    query: bytes = scope.get("query_string", b"")
    if suspect or b"\x00" in query or b"%00" in query:
        if "\x00" in request.url.path or "\x00" in scope.get("path", ""):
            raise HttpError(400, "the path contains a NUL character")
        for key, value in request.query_params.multi_items():
            if "\x00" in key or "\x00" in value:
                raise HttpError(400, f"query parameter {key[:100]!r} contains a NUL character")
    if (content_type or b"").decode("latin-1").lower().startswith("application/json"):
        body = await request.body()
        if b"\\u0000" in body.lower() or b"\x00" in body:
            raise HttpError(400, "the JSON body contains a NUL character")
