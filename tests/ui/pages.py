"""A UI over a long history (10,000 executions, bulk-written by :mod:`ui.history`, and a 61-job flow's 100
runs for its runs x jobs grid) and the pages to time:
shared by the page tests and by ``benchmarks/ui_pages.py``, which measures them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from starlette.testclient import TestClient

from sudoless.accounts import Accounts, Permission
from sudoless.config import Settings
from sudoless.flows.scheduler import Scheduler
from sudoless.server.app import create_app
from sudoless.store import Store
from ui.history import GRID_FLOW, GRID_PROJECT, History, seed, seed_grid

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
    seed_grid(store, settings, root / "projects")
    accounts = Accounts(store, settings, hasher=CHEAP)
    accounts.add_user("admin", "admin-pw", roles=("admin",))
    accounts.add_user("alice", "alice-pw", roles=("user",))
    for name in history.projects[:3]:
        project = store.projects.get(name=name)
        assert project is not None
        accounts.set_project_permission(project.id, "alice", False, Permission.READ | Permission.EXECUTE)
    scheduler = Scheduler(store, settings)
    scheduler.schedule(history.projects[0], history.flow, "0 0 2 ? * *", "Europe/Paris", user="admin")
    app = create_app(settings, store, accounts, scheduler)
    admin, alice = TestClient(app, base_url="http://testserver"), TestClient(app, base_url="http://testserver")
    for client, (user, password) in ((admin, ("admin", "admin-pw")), (alice, ("alice", "alice-pw"))):
        response = client.post(
            "/ui/login",
            data={"username": user, "password": password},
            headers={"Origin": "http://testserver"},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
    return World(admin, alice, history, store)


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
    "/ui/projects",
    "/ui/projects?q=p1",
    "/ui/projects/p00",
    "/ui/projects/p00?tab=versions",
    "/ui/projects/p00?tab=log",
    "/ui/projects/p00?tab=permissions",
    "/ui/projects/p00/flows/load",
    f"/ui/projects/{GRID_PROJECT}/flows/{GRID_FLOW}/grid",
    f"/ui/projects/{GRID_PROJECT}/flows/{GRID_FLOW}/grid?runs=100",
    "/ui/executions",
    "/ui/executions?status=FAILED&user=bob",
    "/ui/executions?project=p01&flow=load",
    "/ui/executions?page=150",
    "/ui/executions?from=2000-01-01&to=2100-01-01",
    "/ui/executions/10000",
    "/ui/executions/1",
    "/ui/schedules",
    "/ui/users",
    "/ui/status",
    "/ui/data/executions/10000/runs?since=0",
    "/ui/data/executions/10000/layout",
    "/ui/data/executions/10000/jobs/transform",
    "/ui/data/projects/p00/flows/load/jobs/transform",
    f"/ui/data/projects/{GRID_PROJECT}/flows/{GRID_FLOW}/jobs/L03_05",
    "/ui/data/projects/p00/flows/load/layout",
    "/ui/data/cron-preview?cron=0+0+2+%3F+*+*&tz=Europe/Paris",
    "/ui/data/executions/10000/log?job=load&offset=-1",
    "/ui/data/executions/10000/log?job=load&offset=6500000",
]
