"""The web UI: server-rendered pages under ``/ui/``, with small scripts for what has to be live.

Where it lives, and why: Azkaban's paths (``/``, ``/index``, ``/manager``, ``/executor``, ``/schedule``)
keep answering Azkaban clients exactly as before, HTML pages included, because clients scrape some of
them. The UI has its own prefix, ``/ui/``, and a browser that opens the server's root (a plain GET of
``/`` that accepts HTML and carries no Azkaban parameter) is sent there; anything else reaching ``/``
is Azkaban's business.

One module per page group: :mod:`.auth` (login, logout), :mod:`.projects`, :mod:`.flows`, :mod:`.grid` (a
flow's runs x jobs), :mod:`.executions`, :mod:`.jobs` (the job details panel), :mod:`.schedules`,
:mod:`.triggers`, :mod:`.admin` (users, server status), :mod:`.azkaban_import` (the admin's import of an Azkaban
installation). :mod:`.web` holds what they share (session, permission check through the API's dispatch,
rendering), :mod:`.rows` the long tables' rows built in Python, :mod:`.layout` the graph layout,
:mod:`.charts` the chart geometry; the indexed reads of the history
views are in the store (:mod:`sudoless.store.executions`, :mod:`sudoless.store.projects`,
:mod:`sudoless.store.job_runs`). Static files (CSS, JS, the icon) are in ``static/`` and ship in the package:
the UI needs no network.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from sudoless.server.dispatch import Services
from sudoless.server.ui import admin, auth, azkaban_import, executions, flows, grid, jobs, projects, schedules, triggers
from sudoless.server.ui.web import Ui, endpoint, new_environment

__all__ = ["BrowserHome", "install", "routes"]

_STATIC = Path(__file__).parent / "static"


def _asset_version() -> str:
    """A digest of the static files, appended to their URLs so browsers never run a stale script."""
    digest = hashlib.sha256()
    for path in sorted(_STATIC.iterdir()):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def routes() -> list[BaseRoute]:
    """Every UI route, and the static files."""
    table: list[BaseRoute] = [
        Route("/ui", _home, methods=["GET"]),
        Route("/ui/", _home, methods=["GET"]),
        Route("/ui/login", auth.login_form, methods=["GET"]),
        Route("/ui/login", auth.login_submit, methods=["POST"]),
    ]
    for module in (auth, projects, flows, grid, executions, jobs, schedules, triggers, admin, azkaban_import):
        for path, route in module.ROUTES:
            table.append(Route(path, endpoint(route), methods=sorted(route.methods), name=f"ui-{route.key}"))
    table.append(Mount("/ui/static", StaticFiles(directory=_STATIC), name="ui-static"))
    return table


async def _home(request: Request) -> RedirectResponse:
    return RedirectResponse(auth.HOME, status_code=302)


class BrowserHome:
    """Sends a browser opening ``/`` to the UI; every other request passes through untouched.

    A browser navigation asks for ``text/html`` first; Azkaban clients (requests, httpx, curl) send
    ``*/*``, and their calls carry ``ajax``/``action``/``session.id`` parameters anyway.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == "/"
            and scope["method"] == "GET"
            and not scope.get("query_string")
        ):
            accept = dict(scope.get("headers") or ()).get(b"accept", b"")
            if accept.startswith(b"text/html"):
                await RedirectResponse("/ui/", status_code=302)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install(app: Starlette, services: Services) -> None:
    """Give the application built with :func:`routes` what the UI needs: its state and the root redirect."""
    app.state.ui = Ui(services=services, env=new_environment(), asset_version=_asset_version())
    app.add_middleware(BrowserHome)
