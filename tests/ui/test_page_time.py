"""Every UI page answers in under 200 ms of server time with 10,000 executions stored.

The time is the server's own (the ``Server-Timing`` header the UI sets: from the request to the rendered
answer, database included), the best of three tries so that a busy test machine measures the page, not
the machine. The history is written with bulk inserts (:mod:`ui.history`); no browser is needed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from starlette.testclient import TestClient

from conftest import create_database, drop_database
from sudoless.accounts import Accounts, Permission
from sudoless.config import Settings
from sudoless.flows.scheduler import Scheduler
from sudoless.flows.store import Store
from sudoless.flows.store.projects import get_project
from sudoless.server.app import create_app
from ui.history import History, seed

BUDGET_MS = 200.0
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@dataclass
class World:
    """A server application over a long history, with two logged-in clients."""

    admin: TestClient
    alice: TestClient
    history: History
    store: Store


def build_world(root: Path, url: str, log_chunks: int) -> World:
    settings = Settings(home=root / "home", db_url=url)
    store = Store(url)
    history = seed(store, settings, root / "projects", log_chunks=log_chunks)
    accounts = Accounts(store, settings, hasher=CHEAP)
    accounts.add_user("admin", "admin-pw", roles=("admin",))
    accounts.add_user("alice", "alice-pw", roles=("user",))
    for name in history.projects[:3]:
        project = get_project(store, name=name)
        assert project is not None
        accounts.set_project_permission(project.id, "alice", False, Permission.READ | Permission.EXECUTE)
    scheduler = Scheduler(store, settings)
    scheduler.schedule(history.projects[0], history.flow, "0 0 2 ? * *", "Europe/Paris", user="admin")
    app = create_app(settings, store, accounts, scheduler)
    admin, alice = TestClient(app, base_url="http://testserver"), TestClient(app, base_url="http://testserver")
    for client, (user, password) in ((admin, ("admin", "admin-pw")), (alice, ("alice", "alice-pw"))):
        response = client.post("/ui/login", data={"username": user, "password": password},
                               headers={"Origin": "http://testserver"}, follow_redirects=False)
        assert response.status_code == 303, response.text
    return World(admin, alice, history, store)


@pytest.fixture(scope="module", params=["sqlite", "mariadb", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The history on each database back end (the server ones with a smaller big log: 13 MB)."""
    kind = request.param
    root = tmp_path_factory.mktemp(f"history-{kind}")
    if kind == "sqlite":
        built = build_world(root, f"sqlite:///{root / 'history.db'}", log_chunks=2_000)
        yield built
        built.store.close()
        return
    url, engine, name = create_database(kind)
    try:
        built = build_world(root, url, log_chunks=200)
        yield built
        built.store.close()
    finally:
        drop_database(engine, name, kind)


def server_ms(client: TestClient, path: str) -> float:
    best = float("inf")
    for _ in range(3):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        match = re.search(r"dur=([0-9.]+)", response.headers["server-timing"])
        assert match
        best = min(best, float(match.group(1)))
    return best


PAGES = [
    "/ui/projects", "/ui/projects?q=p1", "/ui/projects/p00", "/ui/projects/p00?tab=versions",
    "/ui/projects/p00?tab=log", "/ui/projects/p00?tab=permissions", "/ui/projects/p00/flows/load",
    "/ui/executions", "/ui/executions?status=FAILED&user=bob", "/ui/executions?project=p01&flow=load",
    "/ui/executions?page=150", "/ui/executions?from=2000-01-01&to=2100-01-01", "/ui/executions/10000",
    "/ui/executions/1", "/ui/schedules", "/ui/users", "/ui/status",
    "/ui/data/executions/10000/runs?since=0", "/ui/data/executions/10000/layout",
    "/ui/data/projects/p00/flows/load/layout", "/ui/data/cron-preview?cron=0+0+2+%3F+*+*&tz=Europe/Paris",
    "/ui/data/executions/10000/log?job=load&offset=-1", "/ui/data/executions/10000/log?job=load&offset=6500000",
]


@pytest.mark.slow
def test_pages_are_fast_with_ten_thousand_executions(world: World) -> None:
    admin, alice, history = world.admin, world.alice, world.history
    timings = {path: server_ms(admin, path) for path in PAGES}
    timings["(alice) /ui/executions"] = server_ms(alice, "/ui/executions")
    timings["(alice) /ui/projects"] = server_ms(alice, "/ui/projects")
    report = "\n".join(f"{ms:7.1f} ms  {path}" for path, ms in timings.items())
    print(f"\nserver time on {world.store.dialect}, best of 3, {history.executions} executions:\n{report}")
    slow = {path: ms for path, ms in timings.items() if ms > BUDGET_MS}
    assert not slow, f"pages over {BUDGET_MS} ms:\n{report}"


def test_history_filters_and_visibility(world: World) -> None:
    admin, alice, history = world.admin, world.alice, world.history
    page = admin.get("/ui/executions?status=FAILED&user=bob").text
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = body.split("<tr>")[1:]
    assert 0 < len(rows) <= 50
    assert all(">FAILED<" in row and "<td>bob</td>" in row for row in rows)
    # alice reads three projects only: the history shows nothing else, and the others' pages are refused
    mine = alice.get("/ui/executions").text
    names = set(re.findall(r'<a href="/ui/projects/(p\d\d)">', mine))
    assert names and names <= set(history.projects[:3])
    refused = alice.get(f"/ui/projects/{history.projects[5]}")
    assert refused.status_code == 403 and "READ" in refused.text
    assert alice.get(f"/ui/data/executions/{history.executions - 14}/runs").status_code in (200, 403)


def test_log_pages_by_offset(world: World) -> None:
    admin, history = world.admin, world.history
    url = f"/ui/data/executions/{history.big_log_exec}/log"
    last = admin.get(url, params={"job": "load", "offset": -1, "length": 1000}).json()
    assert last["size"] == history.big_log_bytes and last["offset"] + last["length"] == last["size"]
    middle = admin.get(url, params={"job": "load", "offset": 65_536 * 100 + 10, "length": 100}).json()
    assert middle["offset"] == 65_536 * 100 + 10 and len(middle["data"]) == 100
    assert middle["data"] == ("x" * 99 + "\n")[10:] + "x" * 10


def test_root_sends_browsers_to_the_ui_and_clients_to_azkaban(world: World) -> None:
    admin = world.admin
    browser = admin.get("/", headers={"Accept": "text/html,application/xhtml+xml"}, follow_redirects=False)
    assert browser.status_code == 302 and browser.headers["location"] == "/ui/"
    client = admin.get("/", headers={"Accept": "*/*"}, follow_redirects=False)
    assert client.status_code == 302 and client.headers["location"] == "/index"


def test_session_and_csrf_are_required(world: World) -> None:
    admin = world.admin
    anonymous = TestClient(admin.app, base_url="http://testserver")
    page = anonymous.get("/ui/executions", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/ui/login?next=")
    assert anonymous.get("/ui/data/executions/1/runs").status_code == 401
    # A state change with the session cookie but neither the token nor a same-origin header is refused.
    forged = admin.post("/ui/projects/p19/delete", headers={"Origin": "http://evil.example"}, follow_redirects=False)
    assert forged.status_code == 403
    assert admin.get("/ui/projects/p19").status_code == 200
