"""The ASGI application: Azkaban's servlet paths, each dispatching on ``ajax=`` / ``action=`` parameters.

:func:`create_app` returns a Starlette application: the Azkaban paths and the web UI are plain Starlette
routes, and the native JSON API (FastAPI, with pydantic) is mounted at ``/api/v1`` and built on its first
request. FastAPI is not imported before then: it costs a quarter to half a second of CPU at start and
about 0.1 ms per request on its own routes, and ``sudoless server`` answers within a second of its start.
Every Azkaban request goes through :func:`handle`: parameters (query and body merged, size
limited), login and one-shot credentials, the session, logout, then the servlet's route table
(:mod:`sudoless.server.dispatch`). Blocking work (the database) runs in the thread pool.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from sudoless.accounts import Accounts, User
from sudoless.config import Settings
from sudoless.errors import AuthError
from sudoless.server import api, metrics, pages, sessions
from sudoless.server.ajax import (
    executor,
    flow_trigger,
    flow_trigger_instance,
    history,
    index,
    login,
    manager,
    schedule,
    status,
)
from sudoless.server.dispatch import Call, Services, Servlet, answer
from sudoless.server.headers import StrictTransport, protect_page
from sudoless.server.params import BadBody, BodyTooLarge, MissingParameter, Params, read_params
from sudoless.server.responses import jetty_error, json_response, text_response
from sudoless.server.route_index import IndexedRouter
from sudoless.server.threads import RequestThreads
from sudoless.store import Store

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sudoless.flows.scheduler import Scheduler

__all__ = ["SERVLETS", "create_app", "handle"]

#: The Azkaban servlets, each with its route table: the API surface, defined once.
SERVLETS: tuple[Servlet, ...] = (
    index.ROOT,
    index.INDEX,
    manager.MANAGER,
    executor.EXECUTOR,
    schedule.SCHEDULE,
    status.STATUS,
    flow_trigger.FLOW_TRIGGER,
    flow_trigger_instance.FLOW_TRIGGER_INSTANCE,
    history.HISTORY,
)

ANONYMOUS = User(name="", roles=(), groups=(), proxy_users=(), email="")


def create_app(
    settings: Settings, store: Store, accounts: Accounts, scheduler: Scheduler, *, secure: bool = False
) -> Starlette:
    """The application over an opened store; ``secure`` (served over HTTPS) marks cookies Secure and adds HSTS."""
    services = Services(
        settings=settings,
        store=store,
        accounts=accounts,
        scheduler=scheduler,
        secret=sessions.load_secret(settings.home),
        secure=secure,
        version=status.version(),
        started=store.clock(),
        threads=RequestThreads(settings.request_threads),
    )
    from sudoless.server import ui  # the web UI: pages under /ui/, and / sends browsers there

    routes: list[BaseRoute] = [
        Route(
            servlet.path,
            _endpoint(services, servlet),
            methods=["GET", "POST"],
            name=f"azkaban{servlet.path.replace('/', '-') or '-root'}",
        )
        for servlet in SERVLETS
    ]
    routes.append(Route("/js/azkaban/view/login.js", _login_script, methods=["GET"]))
    routes.append(Route("/metrics", metrics.metrics, methods=["GET"], name="metrics"))
    routes.append(Route("/healthz", metrics.healthz, methods=["GET", "HEAD"], name="healthz"))
    routes.extend(ui.routes())
    routes.append(Mount(api.PREFIX, api.create_api(services), name="api"))  # the JSON API and its OpenAPI
    app = Starlette(routes=routes)
    app.router = IndexedRouter(app.router.routes)  # Starlette's routing, looked up by the first path segment
    app.add_middleware(ThreadLimit, threads=settings.request_threads)
    app.state.services = services
    app.state.metrics = metrics.registry_for(services)
    app.state.metrics_allow = metrics.allowed_networks(settings.metrics_allow)
    ui.install(app, services)
    if secure:
        app.add_middleware(StrictTransport)  # added last, so it is outermost: every answer carries it
    return app


class ThreadLimit:
    """Caps the worker threads that ``run_in_threadpool`` runs blocking work in (the JSON API's routes, the
    metrics, static files; the AJAX API and the UI run theirs in :attr:`Services.threads`), for the event
    loop serving the application (each loop has its own limiter; it is set on the loop's first request)."""

    def __init__(self, app: ASGIApp, threads: int) -> None:
        self.app = app
        self.threads = max(1, threads)
        self._limited: set[int] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        loop = id(asyncio.get_running_loop())
        if loop not in self._limited:
            anyio.to_thread.current_default_thread_limiter().total_tokens = self.threads
            self._limited.add(loop)
        await self.app(scope, receive, send)


def _endpoint(services: Services, servlet: Servlet) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            params = await read_params(request, services.settings.max_upload_bytes)
        except BodyTooLarge as exc:
            return json_response({"error": str(exc)}, status=413)
        except BadBody as exc:
            return json_response({"error": str(exc)}, status=400)
        try:
            return protect_page(await services.threads.run(handle, services, servlet, request, params))
        finally:
            params.close()

    return endpoint


async def _login_script(request: Request) -> Response:
    return Response(pages.LOGIN_JS.encode(), media_type="application/javascript")


def handle(services: Services, servlet: Servlet, request: Request, params: Params) -> Response:
    """Authenticate one request and hand it to its servlet (see the module docstring). The request's reads
    share one read transaction (:meth:`Store.shared_reads`): one rollback per request instead of one per
    read, a round trip each on MySQL and PostgreSQL."""
    with services.store.shared_reads():
        return _handle(services, servlet, request, params)


def _handle(services: Services, servlet: Servlet, request: Request, params: Params) -> Response:
    try:
        if servlet.public:
            return answer(servlet, Call(request, params, services, ANONYMOUS))
        if request.method == "POST" and "password" in request.query_params:
            # Azkaban refuses credentials in URLs, which end up in logs and browser history.
            return text_response("Login error. Must pass username and password in request body")
        if request.method == "POST" and params.get("action") == "login" and not params.multipart:
            return login.login(services, request, params)
        session, via_cookie = sessions.session_id(request, params)
        user = services.accounts.session_user(session) if session else None
        if user is None and request.method == "POST" and "username" in params and "password" in params:
            # One-shot credentials (Azkaban accepts them on any POST without a valid session).
            try:
                user = services.accounts.authenticate(
                    params.get("username") or "", params.get("password") or "", login.client_ip(request)
                )
            except AuthError as exc:
                return text_response(f"Login error: {exc}")
            session, via_cookie = None, False
        if user is None:
            return sessions.expired(request, params)
        if request.method == "GET" and "logout" in params:
            return login.logout(services, session)
        return answer(servlet, Call(request, params, services, user, session, via_cookie))
    except MissingParameter as exc:
        return jetty_error(request.url.path, str(exc))
