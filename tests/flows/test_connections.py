"""Pooled connections to MariaDB and PostgreSQL that die while idle (a restart, a failover, ``wait_timeout``)
are replaced before use instead of failing the request that takes them."""

from __future__ import annotations

import threading
import uuid

import pytest
import sqlalchemy as sa

from sudoless.store import Store
from sudoless.store import engine as engines
from sudoless.store.driver import driver_rows
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


def test_reads_within_shared_reads_share_one_transaction(store: Store) -> None:
    """A request's reads: one connection, one transaction, one rollback at the end of the block; nested
    blocks join; another thread's reads are its own."""
    events: list[str] = []
    listener = (store.engine, "rollback", lambda _conn: events.append("rollback"))
    sa.event.listen(*listener)
    try:
        with store.shared_reads():
            with store.read() as first:
                first.execute(sa.text("SELECT 1"))
            with store.shared_reads(), store.read() as second:
                assert second is first
            elsewhere: list[sa.Connection] = []

            def read_in_a_thread() -> None:
                with store.read() as conn:
                    conn.execute(sa.text("SELECT 1"))
                    elsewhere.append(conn)

            worker = threading.Thread(target=read_in_a_thread)
            worker.start()
            worker.join()
            assert elsewhere[0] is not first
            assert events == ["rollback"]  # the thread's own read, ended on its own
            events.clear()
        assert events == ["rollback"]
        assert first.closed
    finally:
        sa.event.remove(*listener)


def test_a_write_within_shared_reads_is_seen_by_the_reads_after_it(store: Store) -> None:
    """The shared read transaction ends at a write, so that a request reads what it wrote (on MariaDB and
    PostgreSQL a snapshot taken before the write would not show it); a read block that holds the connection
    across the write keeps it until that block ends."""
    name = f"shared-{uuid.uuid4().hex[:8]}"
    with store.shared_reads():
        assert store.projects.get(name=name) is None
        store.projects.create(name, "d", "alice")
        assert store.projects.get(name=name) is not None
        other = f"{name}-2"
        with store.read() as conn:
            store.projects.create(other, "d", "alice")
            assert not conn.closed  # still this block's
            conn.execute(sa.text("SELECT 1"))
        assert conn.closed
        assert store.projects.get(name=other) is not None


def test_a_failed_read_within_shared_reads_leaves_the_next_read_a_fresh_transaction(store: Store) -> None:
    """PostgreSQL refuses every statement of a transaction after an error: the shared one ends with the
    failed read, and the next read begins anew, as separate reads did."""
    with store.shared_reads():
        with pytest.raises(sa.exc.SQLAlchemyError), store.read() as conn:
            conn.execute(sa.text("SELECT * FROM no_such_table"))
        with store.read() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1


@pytest.mark.parametrize("fresh_db", ["postgresql"], indirect=True)
def test_postgresql_reads_run_without_a_transaction_at_read_committed_only(fresh_db: tuple[str, str]) -> None:
    """At READ COMMITTED each statement takes its own snapshot, in a transaction or not: reads skip the BEGIN
    and ROLLBACK. A server whose default isolation is stricter gives a transaction's statements one
    snapshot, and there reads keep their transaction. Writes always have one."""
    from psycopg.pq import TransactionStatus

    _, url = fresh_db

    def status_in_read(store: Store) -> TransactionStatus:
        with store.read() as conn:
            conn.execute(sa.text("SELECT 1")).scalar_one()
            driver = conn.connection.driver_connection
            assert driver is not None
            return TransactionStatus(driver.info.transaction_status)

    store = Store(url)
    try:
        assert status_in_read(store) == TransactionStatus.IDLE
        with store.shared_reads():
            assert status_in_read(store) == TransactionStatus.IDLE
        with store.write() as conn:
            conn.execute(sa.text("SELECT 1"))
            assert conn.connection.driver_connection.info.transaction_status == TransactionStatus.INTRANS  # type: ignore[union-attr]
    finally:
        store.close()
    strict = sa.engine.make_url(url).update_query_dict(
        {"options": "-c default_transaction_isolation=repeatable\\ read"}
    )
    store = Store(strict.render_as_string(hide_password=False))
    try:
        assert status_in_read(store) == TransactionStatus.INTRANS
    finally:
        store.close()


@pytest.mark.parametrize("fresh_db", ["mariadb"], indirect=True)
def test_a_connection_to_this_machine_skips_tls(fresh_db: tuple[str, str]) -> None:
    """PyMySQL builds an SSL context (the system's CA certificates, 50 ms of CPU) for every new connection
    to learn whether the server offers TLS; to a server on this machine the pool's connections go without."""
    kind, url = fresh_db
    if not engines._local_without_tls_options(sa.make_url(url)):
        pytest.skip(f"the {kind} test server is not on this machine")
    store = Store(url)
    try:
        connection = store.engine.raw_connection()
        try:
            assert connection.driver_connection.ssl is False
            assert not hasattr(connection.driver_connection, "ctx")
        finally:
            connection.close()
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("mysql+pymysql://u@127.0.0.1:3306/db", True),
        ("mysql+pymysql://u@localhost/db", True),
        ("mysql+pymysql://u@[::1]:3306/db", True),
        ("mysql+pymysql://u@/db?unix_socket=/run/mysqld/mysqld.sock", True),
        ("mysql+pymysql://u@db.example.org/db", False),
        ("mysql+pymysql://u@192.0.2.7/db", False),
        ("mysql+pymysql://u@127.0.0.1/db?ssl_ca=/etc/ca.pem", False),
    ],
)
def test_only_local_urls_without_tls_options_skip_tls(url: str, local: bool) -> None:
    """A remote server keeps PyMySQL's default (TLS when offered), and so does a URL that sets any ssl option."""
    assert engines._local_without_tls_options(sa.make_url(url)) is local


def test_driver_rows_return_what_sqlalchemy_returns_in_the_same_transaction(store: Store) -> None:
    """:func:`driver_rows` (the session read of every request) runs a statement on the driver's cursor,
    positional parameters on SQLite and named ones elsewhere, a LIMIT the statement fixes included, inside
    the read transaction it is given."""
    from sudoless.store import tables as t

    prefix = f"driver-{uuid.uuid4().hex[:8]}-"  # the database is shared with other tests
    with store.write() as conn:
        conn.execute(
            sa.insert(t.roles), [{"name": f"{prefix}{i}", "permissions": i, "modified_time": 0} for i in range(5)]
        )
    statement = (
        sa.select(t.roles.c.name, t.roles.c.permissions)
        .where(
            t.roles.c.name > sa.bindparam("prefix"),
            t.roles.c.name < sa.bindparam("after"),
            t.roles.c.permissions >= sa.bindparam("least"),
            t.roles.c.name != sa.bindparam("skip"),
        )
        .order_by(t.roles.c.name)
        .limit(3)
    )
    params = {"prefix": prefix, "after": f"{prefix}~", "least": 1, "skip": f"{prefix}2"}
    with store.shared_reads(), store.read() as conn:
        expected = [tuple(row) for row in conn.execute(statement, params)]
        assert driver_rows(conn, statement, params) == expected == [(f"{prefix}{i}", i) for i in (1, 3, 4)]
        assert driver_rows(conn, statement, params) == expected  # compiled once, run again


def test_driver_rows_raise_sqlalchemy_errors(store: Store) -> None:
    """A driver's error comes out as SQLAlchemy's (what the callers of a read handle), and the shared read
    after it starts afresh."""
    statement = sa.select(sa.literal_column("no_such_column")).select_from(sa.table("roles"))
    with pytest.raises(sa.exc.DBAPIError), store.shared_reads(), store.read() as conn:
        driver_rows(conn, statement, {})
    with store.read() as conn:
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1


@pytest.mark.parametrize("fresh_db", ["mariadb", "postgresql"], indirect=True)
def test_driver_rows_on_a_dead_connection_invalidate_it(
    fresh_db: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection found dead by a driver read is dropped from the pool, as SQLAlchemy's own execution drops
    it: the next read gets a new connection instead of failing too."""
    kind, url = fresh_db
    monkeypatch.setattr(engines, "IDLE_PING_SECONDS", 1e9)  # no ping: the read itself meets the dead connection
    store = Store(url)
    try:
        kill_pooled_connection(store, kind)
        with pytest.raises(sa.exc.OperationalError), store.read() as conn:
            driver_rows(conn, sa.select(sa.literal(1)), {})
        assert store.executions.latest(limit=5) == []
    finally:
        store.close()


def test_driver_rows_refuse_expanding_parameters(store: Store) -> None:
    from sudoless.store import tables as t

    statement = sa.select(t.roles.c.name).where(t.roles.c.name.in_(sa.bindparam("names", expanding=True)))
    with pytest.raises(ValueError, match="expanding"), store.read() as conn:
        driver_rows(conn, statement, {"names": ["a"]})
