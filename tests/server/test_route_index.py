"""The server's top-level router looks full matches up by the path's first segment (server/route_index.py):
it must answer every request as Starlette's own router does (the route chosen, its path parameters, 405,
the redirect to the path with or without its slash, 404), while trying only the routes that could match."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.testclient import TestClient
from starlette.types import Scope

from sudoless.accounts import Accounts
from sudoless.config import Settings
from sudoless.flows.scheduler import Scheduler
from sudoless.server.app import create_app
from sudoless.server.route_index import IndexedRouter, first_segment
from sudoless.store import Store

matched_against: list[str] = []


class Counted(Route):
    """A route that notes each match it is asked for."""

    def matches(self, scope: Scope) -> tuple[object, Scope]:  # type: ignore[override]
        matched_against.append(self.path)
        return super().matches(scope)


def named(name: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse(f"{name} {sorted(request.path_params.items())} {request.url.path}")

    return endpoint


def table() -> list[BaseRoute]:
    """Routes that overlap in every way the index must keep: a parameter as the first segment between
    literal ones, the same path for two methods, a path and its slashed twin, mounts inside a segment."""
    sub = Router([Route("/items/{item}", named("sub-item")), Route("/", named("sub-root"))])
    return [
        Counted("/", named("root")),
        Counted("/alpha", named("alpha-get"), methods=["GET"]),
        Counted("/alpha/{rest:path}", named("alpha-path")),
        Counted("/{anything}/beta", named("any-beta")),
        Counted("/alpha", named("alpha-post"), methods=["POST"]),
        Counted("/gamma/", named("gamma-slash")),
        Counted("/beta/x", named("beta-x")),
        Mount("/beta/mounted", app=sub),
        Counted("/{word}", named("word"), methods=["PUT"]),
        Mount("/api/v1", app=sub),
    ]


REQUESTS = [
    ("GET", "/"),
    ("GET", "/alpha"),
    ("POST", "/alpha"),
    ("DELETE", "/alpha"),  # 405
    ("GET", "/alpha/one/two"),
    ("GET", "/alpha/beta"),  # alpha-path comes before any-beta
    ("GET", "/zeta/beta"),
    ("GET", "/beta/beta"),
    ("GET", "/beta/x"),
    ("GET", "/beta/x/"),  # redirected to /beta/x
    ("GET", "/gamma"),  # redirected to /gamma/
    ("GET", "/gamma/"),
    ("GET", "/beta/mounted/items/7"),
    ("GET", "/beta/mounted/"),
    ("GET", "/api/v1/items/9"),
    ("GET", "/api/v1/"),
    ("GET", "/api/v2/items/9"),  # 404
    ("PUT", "/delta"),
    ("GET", "/delta"),  # 405 from the PUT route
    ("GET", "/nowhere/at/all"),
    ("GET", "//double"),
]


def answers(router: type[Router]) -> list[tuple[int, str, str | None]]:
    app = Starlette(routes=table())
    app.router = router(app.router.routes)
    with TestClient(app, follow_redirects=False) as client:
        return [
            (reply.status_code, reply.text, reply.headers.get("location"))
            for reply in (client.request(method, path) for method, path in REQUESTS)
        ]


def test_every_request_gets_starlette_s_own_answer() -> None:
    assert answers(IndexedRouter) == answers(Router)


@pytest.mark.parametrize(
    ("path", "tried"),
    [
        ("/api/v1/items/9", ["/{anything}/beta", "/{word}"]),  # the parameter routes before the mount
        ("/alpha", ["/alpha"]),
        ("/zeta/beta", ["/{anything}/beta"]),
    ],
)
def test_only_the_routes_that_could_match_are_tried(path: str, tried: list[str]) -> None:
    app = Starlette(routes=table())
    app.router = IndexedRouter(app.router.routes)
    with TestClient(app) as client:
        matched_against.clear()
        assert client.get(path).status_code == 200
    assert tried == matched_against


def test_routes_added_later_are_indexed() -> None:
    app = Starlette(routes=table())
    app.router = IndexedRouter(app.router.routes)
    with TestClient(app) as client:
        assert client.get("/epsilon/z").status_code == 404
        app.router.routes.insert(0, Route("/epsilon/z", named("late")))
        assert client.get("/epsilon/z").text.startswith("late")


def test_first_segment() -> None:
    assert [first_segment(p) for p in ("/", "/ui", "/ui/flows/x", "//x", "api")] == ["", "ui", "ui", "", "api"]


def test_the_server_reaches_the_json_api_and_the_pages_through_the_index(tmp_path: Path) -> None:
    """The server's own router: a JSON API request is matched against its mount alone, a UI page against the
    UI's routes alone, not against the fifty routes before them."""
    settings = Settings(home=tmp_path / "home")
    store = Store(settings.database_url)
    try:
        app = create_app(settings, store, Accounts(store, settings), Scheduler(store, settings))
        router = app.router
        assert isinstance(router, IndexedRouter)
        api = router.candidates("/api/v1/executions/1")
        assert [getattr(route, "path", None) for route in api] == ["/api/v1"]
        ui = router.candidates("/ui/executions/1")
        assert ui and all(getattr(route, "path", "").startswith("/ui") for route in ui)
        assert len(ui) < len(router.routes) - 10
        with TestClient(app) as client:
            assert client.get("/api/v1/executions/1").status_code == 401  # reached the API, which wants a login
            assert client.get("/status").status_code == 200
    finally:
        store.close()
