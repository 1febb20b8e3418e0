"""The JSON API as an application of its own: the routers of every resource module, the error handlers
(:mod:`.errors`), the NUL guard, the OpenAPI document (``/api/v1/openapi.json``) and its rendering for people
(``/api/v1/docs``, without any CDN). Being separate from the server's application keeps its error handlers
and its document about the JSON API alone; :mod:`sudoless.server.api` mounts it, built on first use.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.requests import Request

from sudoless.server.api import (
    docs,
    executions,
    flows,
    login,
    logs,
    projects,
    schedules,
    tokens,
    triggers,
    users,
)
from sudoless.server.api.context import DIRECT, refuse_nul
from sudoless.server.api.direct import DirectRoutes
from sudoless.server.api.errors import install_handlers
from sudoless.server.dispatch import Services

__all__ = ["MODULES", "create_api", "direct"]

#: the resource modules, whose routers the application includes in this order
MODULES = (login, projects, flows, executions, logs, schedules, triggers, users, tokens)
DESCRIPTION = """\
The native JSON API of sudoless. Log in with `POST /login` and send the token as
`Authorization: Bearer <token>`; the Azkaban session cookie of a browser works too. Every error is
`{"error": "..."}` with 400 (bad input), 401 (no or expired token), 403 (permission), 404 (missing),
409 (conflict: already running, locked, finished) or 429 (too many failed logins). Times are epoch
milliseconds, -1 when unset."""


def create_api(services: Services, prefix: str) -> FastAPI:
    """The JSON API over ``services``, to be mounted at ``prefix`` (the OpenAPI document's server URL when the
    request does not carry its mount point)."""
    app = FastAPI(
        title="sudoless API",
        version=services.version or "0",
        description=DESCRIPTION,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(refuse_nul)],
        redirect_slashes=False,
    )
    app.state.services = services
    install_handlers(app)
    for module in MODULES:
        app.include_router(module.router)

    def spec(request: Request) -> dict[str, Any]:
        document = dict(_without_422(app.openapi()))
        document["servers"] = [{"url": request.scope.get("root_path", "").rstrip("/") or prefix}]
        return document

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request) -> JSONResponse:
        return JSONResponse(spec(request))

    @app.get("/docs", include_in_schema=False)
    def documentation(request: Request) -> HTMLResponse:
        return HTMLResponse(docs.render(spec(request), request.scope.get("root_path", "") + "/openapi.json"))

    return app


def direct(app: FastAPI) -> DirectRoutes:
    """``app`` (made by :func:`create_api`) with its reads dispatched directly (:mod:`.direct`)."""
    return DirectRoutes(app, [module.router for module in MODULES], guards=[refuse_nul], resolvers=DIRECT)


def _without_422(document: dict[str, Any]) -> dict[str, Any]:
    """FastAPI documents a 422 for every route with parameters; this API answers invalid requests with 400
    (:mod:`.errors`), which every route documents, so the 422s and their schemas are dropped (in place: the
    document is built once and cached)."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return document
