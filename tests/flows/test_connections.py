"""Pooled connections to MariaDB and PostgreSQL that die while idle (a restart, a failover, ``wait_timeout``)
are replaced before use instead of failing the request that takes them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from sudoless.store import Store
from sudoless.store import engine as engines
from support.services import MARIADB_ADMIN, POSTGRES_ADMIN

IDENTITY = {"mariadb": "SELECT CONNECTION_ID()", "postgresql": "SELECT pg_backend_pid()"}
KILL = {"mariadb": "KILL {}", "postgresql": "SELECT pg_terminate_backend({})"}


def kill_pooled_connection(store: Store, kind: str) -> None:
    """End the server side of the pool's one connection, from another session, as a server restart would."""
    with store.read() as conn:
        ident = conn.exec_driver_sql(IDENTITY[kind]).scalar()
    admin = sa.create_engine(MARIADB_ADMIN if kind == "mariadb" else POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(KILL[kind].format(int(ident)))
    admin.dispose()


@pytest.mark.parametrize("fresh_db", ["mariadb", "postgresql"], indirect=True)
def test_a_connection_killed_while_idle_is_replaced(fresh_db: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    kind, url = fresh_db
    monkeypatch.setattr(engines, "IDLE_PING_SECONDS", 0.0)  # every checkout counts as after an idle spell
    store = Store(url)
    try:
        kill_pooled_connection(store, kind)
        assert store.executions.latest(limit=5) == []
    finally:
        store.close()


@pytest.mark.parametrize("fresh_db", ["mariadb", "postgresql"], indirect=True)
def test_without_the_idle_check_the_dead_connection_fails_the_request(
    fresh_db: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: with the check out of reach, the same kill surfaces as an error."""
    kind, url = fresh_db
    monkeypatch.setattr(engines, "IDLE_PING_SECONDS", 1e9)
    store = Store(url)
    try:
        kill_pooled_connection(store, kind)
        with pytest.raises(sa.exc.OperationalError):
            store.executions.latest(limit=5)
    finally:
        store.close()


def test_a_read_ends_with_one_rollback_and_no_commit(store: Store) -> None:
    """A read transaction has nothing to commit: it is ended by the one rollback that closing it sends, and
    the pool, told the transaction is over, adds no second one (benchmarks/README.md: on MariaDB that was
    10 of a request's 18 round trips). A write still commits."""
    events: list[str] = []

    def on_reset(_dbapi: object, _record: object, state: sa.PoolResetState) -> None:
        events.append("reset (transaction already ended)" if state.transaction_was_reset else "reset: rollback")

    listeners = [
        (store.engine, "commit", lambda _conn: events.append("commit")),
        (store.engine, "rollback", lambda _conn: events.append("rollback")),
        (store.engine.pool, "reset", on_reset),
    ]
    for target, name, listener in listeners:
        sa.event.listen(target, name, listener)
    try:
        with store.read() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
            assert conn.execute(sa.text("SELECT 2")).scalar_one() == 2
        assert events == ["rollback", "reset (transaction already ended)"]
        events.clear()
        with store.write() as conn:
            conn.execute(sa.text("SELECT 1"))
        assert events[0] == "commit"
    finally:
        for target, name, listener in listeners:
            sa.event.remove(target, name, listener)
