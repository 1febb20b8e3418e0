"""The native JSON API, ``/api/v1``, for new clients; the Azkaban AJAX API stays for existing ones.

Same accounts, sessions and permissions as the AJAX API, over resources instead of servlet actions:
``login`` (tokens), ``projects`` (versions, proxy users, grants), ``flows`` (graphs, locks), ``executions``,
``logs``, ``schedules`` and ``users`` (administrators only), one module each, each an ``APIRouter``.
Routes parse the request, call the library (:mod:`sudoless.flows`, :mod:`sudoless.accounts`) and render
Pydantic models (:mod:`.models`); permissions are checked through :class:`.context.Caller`, errors are
rendered once, in :mod:`.errors`, each route's blocking part (the session read, the route, its response)
runs as one call to the server's request threads in one read transaction (:mod:`.routing`), and
:mod:`.application` assembles the routers into an application of their own, so that its error handlers and
its OpenAPI document (``/api/v1/openapi.json``, rendered for people at ``/api/v1/docs`` without any CDN)
concern the JSON API alone.

:func:`create_api` returns that application wrapped to be built on its first request: importing some forty
models and routes costs about half a second of CPU, which ``sudoless server`` should not spend before it
answers its first request (it starts in under a second).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from sudoless.server.heap import keep_frozen

if TYPE_CHECKING:
    from sudoless.server.dispatch import Services

__all__ = ["PREFIX", "LazyApi", "create_api"]

PREFIX = "/api/v1"


class LazyApi:
    """An ASGI application that builds the JSON API (in a worker thread) when the first request comes."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._app: ASGIApp | None = None
        self._lock = threading.Lock()

    def build(self) -> ASGIApp:
        with self._lock:
            if self._app is None:
                from sudoless.server.api.application import create_api as build_api
                from sudoless.server.api.application import direct

                self._app = direct(build_api(self.services, PREFIX))
                keep_frozen()  # what the build made lives as long as the server
            return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self._app if self._app is not None else await run_in_threadpool(self.build)
        await app(scope, receive, send)


def create_api(services: Services) -> LazyApi:
    """The JSON API over ``services``, to be mounted at :data:`PREFIX`."""
    return LazyApi(services)
