"""The JSON API's route class (server/api/routing.py) against FastAPI's own: a small application of both kinds
of route over a real store and the server's request threads, compared answer for answer.

No ``from __future__ import annotations`` here: the routes are made in a function and their annotations name
its locals, which a string annotation could not be resolved against."""

import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import BaseModel
from starlette.requests import Request
from starlette.testclient import TestClient

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

    @router.get("/thread")
    def thread(who: Who, request: Request) -> dict[str, str]:
        return {"who": who, "route": threading.current_thread().name, "path": request.url.path}


def application(services: SimpleNamespace, route_class: type) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.services = services
    install_handlers(app)
    router = APIRouter(route_class=route_class)
    routes(router, who if route_class is ThreadedRoute else who_at_once)
    app.include_router(router)
    return app


@pytest.fixture
def clients(tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
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
