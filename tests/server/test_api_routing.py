"""The JSON API's route class (server/api/routing.py) and its direct dispatch (server/api/direct.py) against
FastAPI's own routes: a small application of each kind over a real store and the server's request threads,
compared answer for answer.

No ``from __future__ import annotations`` here: the routes are made in a function and their annotations name
its locals, which a string annotation could not be resolved against."""

import threading
from collections.abc import Iterator
from pathlib import Path as PathType
from types import SimpleNamespace
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI, Path, Query
from pydantic import BaseModel
from starlette.requests import Request
from starlette.testclient import TestClient

from sudoless.server.api.direct import DirectRoutes
from sudoless.server.api.errors import install_handlers
from sudoless.server.api.routing import Deferred, ThreadedRoute, defer
from sudoless.server.threads import RequestThreads
from sudoless.store import Store


class Item(BaseModel):
    name: str
    size: int
    tags: list[str]


def looked_up(request: Request) -> Deferred[str]:
    """A dependency whose blocking part runs with the route; refuses the token 'nope' with 401."""
    token = request.headers.get("x-token", "")

    def check() -> str:
        if token == "nope":
            from sudoless.server.api.errors import HttpError

            raise HttpError(401, "unknown token")
        return f"{token}@{threading.current_thread().name}"

    return defer(request, check)


async def who(request: Request) -> Deferred[str]:
    return looked_up(request)


async def who_at_once(request: Request) -> str:
    """The same, resolved on the event loop: for FastAPI's own routes, which do not resolve a Deferred."""
    return looked_up(request).resolve()


def routes(router: APIRouter, dependency: object) -> None:
    Who = Annotated[str, Depends(dependency)]  # noqa: N806 - a type alias, named as the API's are

    @router.get("/item", response_model=Item)
    def item(who: Who, size: Annotated[int, Query(ge=0)] = 1) -> Item:
        return Item(name=f"caf\u00e9 {who.split('@')[0]}", size=size, tags=["a", "b"])

    @router.post("/items", status_code=201, response_model=list[Item])
    def create(who: Who) -> list[dict[str, object]]:  # a dict is validated into the model, as FastAPI does
        return [{"name": "x", "size": 2, "tags": []}]

    @router.get("/broken", response_model=Item)
    def broken(who: Who) -> dict[str, object]:
        return {"name": "no size"}

    @router.get("/items/{item_id}/{label}", response_model=Item)
    def one(
        item_id: int,
        label: Annotated[str, Path(min_length=2, pattern="^[a-z]+$")],
        who: Who,
        tags: Annotated[list[str] | None, Query(max_length=3)] = None,
        size: Annotated[int | None, Query(le=10)] = None,
    ) -> Item:
        return Item(name=f"{label}{item_id}", size=size or 0, tags=tags or [])

    @router.get("/aliased")  # a parameter that is not plain: read by FastAPI's function
    def aliased(who: Who, number: Annotated[int, Query(alias="n", ge=1)] = 1) -> dict[str, int]:
        return {"number": number}

    @router.get("/defaults")  # a default copied for each request, and one that is not
    def defaults(who: Who, labels: Annotated[list[str], Query()] = ["x"], n: int = 2) -> dict[str, object]:  # noqa: B006
        labels.append("!")  # a shared default would grow from request to request
        return {"labels": labels, "n": n}

    @router.get("/thread")
    def thread(who: Who, request: Request) -> dict[str, str]:
        return {"who": who, "route": threading.current_thread().name, "path": request.url.path}


def application(services: SimpleNamespace, route_class: type, direct: bool = False) -> FastAPI | DirectRoutes:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.services = services
    install_handlers(app)
    router = APIRouter(route_class=route_class)
    routes(router, who if route_class is ThreadedRoute else who_at_once)
    app.include_router(router)
    return DirectRoutes(app, [router], guards=[], resolvers={who: who}) if direct else app


@pytest.fixture
def services(tmp_path: PathType) -> Iterator[SimpleNamespace]:
    store = Store(f"sqlite:///{tmp_path / 'direct.db'}")
    try:
        yield SimpleNamespace(store=store, threads=RequestThreads(2))
    finally:
        store.close()


@pytest.fixture
def clients(tmp_path: PathType) -> Iterator[tuple[TestClient, TestClient]]:
    store = Store(f"sqlite:///{tmp_path / 'routing.db'}")
    try:
        services = SimpleNamespace(store=store, threads=RequestThreads(2))
        threaded = TestClient(application(services, ThreadedRoute), raise_server_exceptions=False)
        plain = TestClient(application(services, APIRouter().route_class), raise_server_exceptions=False)
        yield threaded, plain
    finally:
        store.close()


def test_the_same_answers_as_fastapis_own_routes(clients: tuple[TestClient, TestClient]) -> None:
    threaded, plain = clients
    headers = {"x-token": "t"}
    for method, path, params in (
        ("GET", "/item", {"size": "3"}),
        ("GET", "/item", {"size": "-1"}),  # 400 from the validation handler
        ("POST", "/items", {}),
        ("GET", "/broken", {}),  # a result that is not its model: 500, logged
    ):
        ours = threaded.request(method, path, params=params, headers=headers)
        theirs = plain.request(method, path, params=params, headers=headers)
        assert (ours.status_code, ours.content, ours.headers["content-type"]) == (
            theirs.status_code,
            theirs.content,
            theirs.headers["content-type"],
        ), (method, path)
    assert threaded.get("/item", params={"size": "3"}, headers=headers).json()["name"] == "caf\u00e9 t"
    assert threaded.post("/items", headers=headers).status_code == 201
    assert threaded.get("/broken", headers=headers).status_code == 500


def test_the_route_and_its_dependencies_run_in_one_request_thread(clients: tuple[TestClient, TestClient]) -> None:
    threaded, _ = clients
    body = threaded.get("/thread", headers={"x-token": "t"}).json()
    assert body["route"].startswith("sudoless-request")
    assert body["who"] == f"t@{body['route']}"
    assert body["path"] == "/thread"  # the route's own Request parameter is still given to it


def test_a_deferred_refusal_answers_before_an_invalid_parameter(clients: tuple[TestClient, TestClient]) -> None:
    threaded, _ = clients
    refused = threaded.get("/item", params={"size": "-1"}, headers={"x-token": "nope"})
    assert (refused.status_code, refused.json()) == (401, {"error": "unknown token"})
    assert threaded.get("/item", params={"size": "-1"}, headers={"x-token": "t"}).status_code == 400


class Counted:
    """An ASGI application that counts the requests it is given."""

    def __init__(self, app: object) -> None:
        self.app = app
        self.calls = 0

    async def __call__(self, scope: object, receive: object, send: object) -> None:
        self.calls += 1
        await self.app(scope, receive, send)  # type: ignore[operator]


REQUESTS: tuple[tuple[str, str, dict[str, str | list[str]], str, bool], ...] = (
    # (method, path, query, x-token, answered directly)
    ("GET", "/item", {"size": "3"}, "t", True),
    ("GET", "/item", {}, "t", True),  # the default
    ("GET", "/item", {"size": "-1"}, "t", False),  # 400, by FastAPI
    ("GET", "/item", {"size": "x"}, "nope", False),  # 401 before the invalid parameter, by FastAPI
    ("GET", "/item", {"size": "3"}, "nope", True),  # 401 from the deferred dependency
    ("POST", "/items", {}, "t", True),
    ("GET", "/broken", {}, "t", True),  # 500, logged and raised
    ("GET", "/items/7/abc", {"tags": ["a", "b"], "size": "4"}, "t", True),
    ("GET", "/items/7/abc", {"tags": ["a", "b", "c", "d"]}, "t", False),  # a list too long: 400
    ("GET", "/items/x/abc", {}, "t", False),  # not an int: 400
    ("GET", "/items/7/A", {}, "t", False),  # the pattern: 400
    ("GET", "/defaults", {}, "t", True),
    ("GET", "/defaults", {}, "t", True),
    ("GET", "/defaults", {"labels": ["a", "b"], "n": "3"}, "t", True),
    ("GET", "/aliased", {"n": "4"}, "t", True),
    ("GET", "/aliased", {"number": "4"}, "t", True),  # the default
    ("GET", "/aliased", {"n": "0"}, "t", False),
    ("GET", "/items/7/abc/more", {}, "t", False),  # no such route: 404
    ("PUT", "/item", {}, "t", False),  # no such method: 405
    ("GET", "/nowhere", {}, "t", False),
)


def test_direct_dispatch_answers_as_fastapi(services: SimpleNamespace) -> None:
    direct = application(services, ThreadedRoute, direct=True)
    assert isinstance(direct, DirectRoutes)
    counted = direct.fallback = Counted(direct.fallback)
    ours = TestClient(direct, raise_server_exceptions=False)
    theirs = TestClient(application(services, ThreadedRoute), raise_server_exceptions=False)
    for method, path, params, token, directly in REQUESTS:
        before = counted.calls
        mine = ours.request(method, path, params=params, headers={"x-token": token})
        fastapi = theirs.request(method, path, params=params, headers={"x-token": token})
        assert (mine.status_code, mine.headers.items(), mine.content) == (
            fastapi.status_code,
            fastapi.headers.items(),
            fastapi.content,
        ), (method, path, params)
        assert counted.calls == before + (not directly), (method, path, params)
    plans = {
        path: direct.match({"type": "http", "method": "GET", "path": path}) for path in ("/aliased", "/items/7/ab")
    }
    assert all(matched is not None and matched[0].plan is not None for matched in plans.values())
    assert plans["/aliased"][0].plan.plain is None  # type: ignore[index,union-attr]  # asserted above
    assert plans["/items/7/ab"][0].plan.plain is not None  # type: ignore[index,union-attr]
    assert ours.get("/items/7/abc", params={"tags": ["a"]}, headers={"x-token": "t"}).json() == {
        "name": "abc7",
        "size": 0,
        "tags": ["a"],
    }


def test_direct_dispatch_raises_what_it_answers_with_500(services: SimpleNamespace) -> None:
    """As Starlette's ServerErrorMiddleware does: the server logs the traceback."""
    client = TestClient(application(services, ThreadedRoute, direct=True))
    with pytest.raises(Exception, match="validation error"):
        client.get("/broken", headers={"x-token": "t"})


def test_the_json_apis_reads_are_dispatched_directly() -> None:
    """The reads the benchmarks measure keep their direct dispatch (a dependency without a resolver would
    silently send them through FastAPI again)."""
    from sudoless.server.api import application as api

    direct = api.direct(api.create_api(SimpleNamespace(version="1"), "/api/v1"))  # type: ignore[arg-type]
    for path in (
        "/executions",
        "/executions/5",
        "/executions/5/logs",
        "/executions/5/jobs/a:b/logs",
        "/projects",
        "/projects/p",
        "/projects/p/flows/f",
        "/me",
    ):
        matched = direct.match({"type": "http", "method": "GET", "path": path, "root_path": ""})
        assert matched is not None and matched[0].plan is not None, path
    assert direct.match({"type": "http", "method": "GET", "path": "/openapi.json", "root_path": ""}) is None


@pytest.mark.parametrize(
    ("path", "query", "headers", "body", "refused"),
    [
        ("/a", b"x=1&y=%41", [], b"", None),
        ("/a\x00b", b"", [], b"", "the path"),
        ("/a", b"x=a%00b", [], b"", "query parameter 'x'"),
        ("/a", b"k%00=1", [], b"", "query parameter 'k\\x00'"),
        ("/a", b"x=\x00", [], b"", "query parameter 'x'"),
        ("/a", b"", [(b"content-type", b"Application/JSON")], b'{"a": "\\u0000"}', "the JSON body"),
        ("/a", b"", [(b"content-type", b"text/plain")], b'{"a": "\\u0000"}', None),
        # the URL's path is made of the host header too on some Starlette versions (0.52, not 1.10)
        ("/a", b"", [(b"host", b"h/\x00")], b"", "url"),
    ],
)
def test_nul_characters_are_refused_wherever_they_are(
    path: str, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes, refused: str | None
) -> None:
    import asyncio

    from sudoless.server.api.context import refuse_nul
    from sudoless.server.api.errors import HttpError

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": "POST", "path": path, "root_path": "", "query_string": query}
    request = Request({**scope, "headers": headers, "scheme": "http", "server": ("s", 80)}, receive)
    if refused == "url":
        refused = "the path" if "\x00" in request.url.path else None
    if refused is None:
        asyncio.run(refuse_nul(request))
    else:
        with pytest.raises(HttpError, match=refused.replace("\\", "\\\\")):
            asyncio.run(refuse_nul(request))
