"""What one request asks of the database, pinned per endpoint on SQLite, MariaDB and PostgreSQL.

On MariaDB and PostgreSQL every statement and every transaction's end is a round trip, and at a few
milliseconds of CPU per request those were a third of a request's cost (benchmarks/README.md,
``server_latency.py``). The counts are the same on every back end for the same code path, so they are
pinned here: a change that adds a statement or a transaction to a request fails this test and has to say
why. A request's reads share one read transaction (``Store.shared_reads``), ended by one rollback; the
session, the user, the role and group definitions and the user's project grants are one statement.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from starlette.testclient import TestClient

from sudoless.accounts import Accounts, Permission
from sudoless.config import Settings
from sudoless.flows.scheduler import Scheduler
from sudoless.server.app import create_app
from sudoless.server.sessions import COOKIE
from sudoless.store import Store
from support.round_trips import Trips, counting
from ui.history import seed

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
EXECUTIONS = 40


@dataclass
class World:
    store: Store
    client: TestClient
    session: str
    member: str


@pytest.fixture(params=["sqlite", "mariadb", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """A fresh database of each kind with two projects' history and a user who may read both (grants of
    their own; a member of groups costs a statement more, see below), logged in; no scheduler thread runs."""
    from support.services import database

    with database(request.param, tmp_path / "trips.db") as url:
        settings = Settings(home=tmp_path / "home", db_url=url)
        store = Store(url)
        try:
            seed(store, settings, tmp_path / "projects", executions=EXECUTIONS, projects=2, log_chunks=1)
            accounts = Accounts(store, settings, hasher=CHEAP)
            accounts.add_user("reader", "reader-pw", roles=("user",))
            accounts.add_user("member", "member-pw", roles=("user",), groups=("team",))
            for name, grantee, is_group in (("p00", "reader", False), ("p01", "reader", False), ("p01", "team", True)):
                project = store.projects.get(name=name)
                assert project is not None
                accounts.set_project_permission(project.id, grantee, is_group, Permission.READ)
            client = TestClient(create_app(settings, store, accounts, Scheduler(store, settings)))
            sessions = []
            for user in ("reader", "member"):
                body = client.post("/", data={"action": "login", "username": user, "password": f"{user}-pw"}).json()
                sessions.append(str(body["session.id"]))
            client.cookies.clear()
            yield World(store, client, *sessions)
        finally:
            store.close()


def ajax(world: World, path: str, session: str | None = None, **params: str) -> Trips:
    """One AJAX request's counts (after a first request, which may load code or warm caches)."""
    query = {**params, "session.id": session or world.session}
    assert "error" not in world.client.get(path, params=query).json()
    with counting(world.store.engine) as trips:
        answer = world.client.get(path, params=query)
    assert answer.status_code == 200 and "error" not in answer.json(), answer.text
    return trips


def page(world: World, path: str) -> Trips:
    """One UI request's counts (after a first one), the session in its cookie as a browser sends it."""
    world.client.cookies.set(COOKIE, world.session)
    try:
        assert world.client.get(path).status_code == 200
        with counting(world.store.engine) as trips:
            answer = world.client.get(path, follow_redirects=False)
    finally:
        world.client.cookies.clear()
    assert answer.status_code == 200, answer.text[:500]
    return trips


def api(world: World, path: str) -> Trips:
    """One JSON API request's counts (after a first one), the session as a bearer token as scripts send it."""
    headers = {"Authorization": f"Bearer {world.session}"}
    assert world.client.get(path, headers=headers).status_code == 200
    with counting(world.store.engine) as trips:
        answer = world.client.get(path, headers=headers)
    assert answer.status_code == 200, answer.text[:500]
    return trips


#: (statements, transactions) per request. The request's read transaction ends with one rollback: on MariaDB a
#: request costs statements + 1 round trips; on PostgreSQL, where reads need no transaction, statements alone
#: (before, statements + 2 per transaction: psycopg sends BEGIN). Before requests
#: shared their reads and the session was one statement (main at f13a394): fetchexecflow (7, 5),
#: fetchFlowExecutions and fetchflowgraph (5, 3), the executions page (8, 5), an execution's page (10, 8),
#: a project's page (9, 6).
EXPECTED = {
    "fetchexecflow": (3, 1),  # session, execution with its project, job runs (the flows: kept per version)
    "fetchFlowExecutions": (3, 1),  # session, project, the page with its total
    "fetchflowgraph": (2, 1),  # session, project (the flows: kept per version)
    "executions page": (3, 1),  # session, active projects, page with its count (the grants: with the session)
    "execution page": (4, 1),  # session, execution with its project, runs, notifications (attempts: if any)
    # session, project, the flows' outcomes with their last runs (before: two statements), schedules (the flows:
    # cached)
    "project page": (4, 1),
    # session, project, the latest runs with whether the flow is scheduled (before: two statements); the flows
    # and the shown run's job statuses are cached
    "flow page": (3, 1),
    # session, execution with its project, the job's attempts, the log's range with its size
    "fetchExecJobLogs": (4, 1),
    "UI job log": (4, 1),  # the same
    "fetchuserprojects": (3, 1),  # session, active projects, their grants (before: one statement per project)
    "UI job panel": (4, 1),  # session, execution with its project, job overrides, the job's recent attempts
}


def test_statements_and_round_trips_per_request(world: World) -> None:
    found = {
        "fetchexecflow": ajax(world, "/executor", ajax="fetchexecflow", execid=str(EXECUTIONS)),
        "fetchFlowExecutions": ajax(
            world, "/manager", ajax="fetchFlowExecutions", project="p01", flow="load", start="0", length="16"
        ),
        "fetchflowgraph": ajax(world, "/manager", ajax="fetchflowgraph", project="p00", flow="load"),
        "executions page": page(world, "/ui/executions"),
        "execution page": page(world, f"/ui/executions/{EXECUTIONS}"),
        "project page": page(world, "/ui/projects/p00"),
        "flow page": page(world, "/ui/projects/p00/flows/load"),
        "fetchExecJobLogs": ajax(
            world, "/executor", ajax="fetchExecJobLogs", execid=str(EXECUTIONS), jobId="load", offset="0", length="100"
        ),
        "UI job log": page(world, f"/ui/data/executions/{EXECUTIONS}/log?job=load&length=100"),
        "fetchuserprojects": ajax(world, "/index", ajax="fetchuserprojects"),
        "UI job panel": page(world, f"/ui/data/executions/{EXECUTIONS}/jobs/load"),
    }
    # PostgreSQL reads run in autocommit mode (Store.read): no transaction to end
    expected = {name: (n, 0 if world.store.dialect == "postgresql" else t) for name, (n, t) in EXPECTED.items()}
    shapes = {name: trips.shape() for name, trips in found.items()}
    assert shapes == expected, {name: trips.sql for name, trips in found.items() if shapes[name] != expected[name]}
    for trips in found.values():
        if trips.dialect == "mysql":  # the arithmetic of Trips.round_trips against what PyMySQL really sent
            assert trips.wire == trips.round_trips == trips.statements + 1
        elif trips.dialect == "postgresql":
            assert trips.round_trips == trips.statements


#: The JSON API's reads: the statements of the AJAX reads that answer the same, in one read transaction
#: (server/api/routing.py). Before (main at ad551f3) each statement was a transaction of its own, ended by its
#: own rollback (the session was read in a thread hop of its own, then the route's reads each began one):
#: (3, 3), (3, 3), (4, 4), (3, 3) and (2, 2), a round trip more per statement on MariaDB.
API_EXPECTED = {
    "execution": (3, 1),  # session, execution with its project, job runs
    "executions": (3, 1),  # session, project, the page with its total
    "job log": (4, 1),  # session, execution with its project, the job's attempts, the log's range with its size
    "flow": (3, 1),  # session, project, the flow's lock (the flows: kept per version)
    "projects": (2, 1),  # session, active projects (the grants: read with the session)
}


def test_statements_and_round_trips_per_json_api_request(world: World) -> None:
    found = {
        "execution": api(world, f"/api/v1/executions/{EXECUTIONS}"),
        "executions": api(world, "/api/v1/executions?project=p01&flow=load&offset=0&limit=16"),
        "job log": api(world, f"/api/v1/executions/{EXECUTIONS}/jobs/load/logs?length=100"),
        "flow": api(world, "/api/v1/projects/p00/flows/load"),
        "projects": api(world, "/api/v1/projects"),
    }
    expected = {name: (n, 0 if world.store.dialect == "postgresql" else t) for name, (n, t) in API_EXPECTED.items()}
    shapes = {name: trips.shape() for name, trips in found.items()}
    assert shapes == expected, {name: trips.sql for name, trips in found.items() if shapes[name] != expected[name]}


def test_a_request_without_a_valid_session_reads_once_and_is_refused(world: World) -> None:
    """The session read is the request's first statement whatever the session: an unknown id costs that one
    statement and its rollback, and gets Azkaban's answer."""
    with counting(world.store.engine) as trips:
        answer = world.client.get("/executor", params={"ajax": "fetchexecflow", "execid": "1", "session.id": "nope"})
    assert answer.json() == {"error": "session"}
    assert trips.shape() == (1, 0 if world.store.dialect == "postgresql" else 1)


def test_a_member_of_groups_costs_one_statement_more(world: World) -> None:
    """The grants to the user's groups are read by name once the user's row has given the names."""
    params = {"ajax": "fetchFlowExecutions", "project": "p01", "flow": "load", "start": "0", "length": "16"}
    trips = ajax(world, "/manager", session=world.member, **params)
    statements, transactions = EXPECTED["fetchFlowExecutions"]
    assert trips.shape() == (statements + 1, 0 if world.store.dialect == "postgresql" else transactions)
