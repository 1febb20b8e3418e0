"""The connection pool of a server process: its request threads never leave the executor and the scheduler
without a pooled connection, and at a low rate the same connections serve every request.

A request holds its connection from its first read to its end (``Store.shared_reads``). With a pool of one
connection per request thread, a saturated server left the executor only overflow connections, opened for
it and closed again as the pool filled up. The pool keeps connections for the other threads too
(``store.engine.BACKGROUND_CONNECTIONS``); the evidence is counted from the pool's own events, not timed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from sudoless.config import Settings
from sudoless.flows.executions import submit_flow
from sudoless.flows.executor import Executor
from sudoless.flows.options import ExecutionOptions
from sudoless.flows.upload import upload_project
from sudoless.store import Store, store_for
from sudoless.store import engine as engines
from sudoless.store.status import Status

REQUEST_THREADS = 4
IDENTITY = {"mariadb": "SELECT CONNECTION_ID()", "postgresql": "SELECT pg_backend_pid()"}
#: a fan-out, so that the executor's job threads write at the same time
FLOW = "nodes:\n" + "".join(
    f"  - name: {name}\n    type: command\n    config: {{command: echo {name}}}\n    dependsOn: [{parents}]\n"
    for name, parents in (
        ("start", ""),
        ("left", "start"),
        ("middle", "start"),
        ("right", "start"),
        ("end", "left, middle, right"),
    )
)


@dataclass
class PoolUse:
    """What the pool did while :func:`watching` ran."""

    #: connections opened to the database
    opened: int = 0
    #: connections closed (an overflow connection given back to a full pool is closed)
    closed: int = 0
    #: checkouts made while more connections were out than the pool keeps: overflow connections, and the
    #: only case in which a thread can wait for one (once the overflow is used up too)
    past_size: int = 0


@contextmanager
def watching(pool: sa.pool.QueuePool) -> Iterator[PoolUse]:
    use = PoolUse()

    def opened(*_: object) -> None:
        use.opened += 1

    def closed(*_: object) -> None:
        use.closed += 1

    def checkout(*_: object) -> None:
        if pool.checkedout() > pool.size():
            use.past_size += 1

    listeners = [("connect", opened), ("close", closed), ("checkout", checkout)]
    for name, listener in listeners:
        sa.event.listen(pool, name, listener)
    try:
        yield use
    finally:
        for name, listener in listeners:
            sa.event.remove(pool, name, listener)


@contextmanager
def requests_in_flight(store: Store, threads: int) -> Iterator[None]:
    """``threads`` requests, each past its first read and holding its connection as a request does, until
    the block ends."""
    release = threading.Event()
    holding = threading.Barrier(threads + 1, timeout=60)

    def request() -> None:
        with store.shared_reads():
            store.executions.latest(limit=1)
            holding.wait()
            release.wait(60)

    workers = [threading.Thread(target=request, name=f"request-{n}") for n in range(threads)]
    for worker in workers:
        worker.start()
    try:
        holding.wait()
        yield
    finally:
        release.set()
        for worker in workers:
            worker.join(60)


def saturated_run(url: str, home: Path) -> tuple[PoolUse, Status, int]:
    """A flow run by the executor while every request thread holds its connection: what the pool did, the
    run's end, and the pool's size."""
    settings = Settings(home=home, db_url=url, server_threads=REQUEST_THREADS, parallel=3)
    store = store_for(settings)
    try:
        project = home.parent / "fanout"
        project.mkdir(parents=True)
        (project / "fanout.project").write_text("azkaban-flow-version: 2.0\n")
        (project / "fanout.flow").write_text(FLOW)
        upload_project(store, settings, project, "tester")
        exec_id = submit_flow(store, settings, "fanout", "fanout", ExecutionOptions(parallel=3), "tester")
        pool = store.engine.pool
        assert isinstance(pool, sa.pool.QueuePool)
        with watching(pool) as use:
            with requests_in_flight(store, REQUEST_THREADS):
                assert pool.checkedout() == REQUEST_THREADS
                executor = Executor(store, settings, max_flows=1)
                try:
                    status = executor.claim_and_run(exec_id)
                finally:
                    executor.stop(wait=False)
            assert status is not None
            assert {run.status for run in store.job_runs.of(exec_id)} == {Status.SUCCEEDED}
        return use, status, pool.size()
    finally:
        store.close()


@pytest.mark.parametrize("fresh_db", ["mariadb", "postgresql"], indirect=True)
def test_the_executor_runs_a_flow_on_pooled_connections_while_every_request_thread_holds_one(
    fresh_db: tuple[str, str], tmp_path: Path
) -> None:
    kind, url = fresh_db
    use, status, size = saturated_run(url, tmp_path / "home")
    print(f"{kind}, pool of {size}: {use}")
    assert status == Status.SUCCEEDED
    assert size == REQUEST_THREADS + engines.BACKGROUND_CONNECTIONS
    assert use.past_size == 0, use
    assert use.closed == 0, use
    assert use.opened <= size, use


@pytest.mark.parametrize("fresh_db", ["mariadb", "postgresql"], indirect=True)
def test_a_pool_of_one_connection_per_request_thread_pushes_the_executor_onto_overflow_connections(
    fresh_db: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: the pool as it was sized before (one connection per request thread, none besides)."""
    kind, url = fresh_db
    monkeypatch.setattr(engines, "BACKGROUND_CONNECTIONS", 0)
    use, status, size = saturated_run(url, tmp_path / "home")
    print(f"{kind}, pool of {size}: {use}")
    assert status == Status.SUCCEEDED
    assert size == REQUEST_THREADS
    assert use.past_size > 0, use
    assert use.closed > 0, use  # given back to a full pool: opened for a few uses only


@pytest.mark.parametrize("fresh_db", ["mariadb", "postgresql"], indirect=True)
def test_one_request_after_another_reuses_the_connection_given_back_last(fresh_db: tuple[str, str]) -> None:
    """LIFO: after a burst opened three connections, requests one at a time all get the same one, so the
    others age and only it is checked for staleness (a ping after an idle spell). A FIFO pool would turn
    through all three."""
    kind, url = fresh_db
    store = Store(url, request_threads=2)
    try:
        with store.engine.connect() as a, store.engine.connect() as b, store.engine.connect() as c:
            burst = {conn.exec_driver_sql(IDENTITY[kind]).scalar() for conn in (a, b, c)}
        assert len(burst) == 3
        used = []
        for _ in range(6):
            with store.shared_reads(), store.read() as conn:
                used.append(conn.exec_driver_sql(IDENTITY[kind]).scalar())
        assert len(set(used)) == 1 and used[0] in burst, used
    finally:
        store.close()
