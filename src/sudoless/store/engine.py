"""Database engines for the three supported back ends, and schema migration with Alembic.

SQLite is tuned for a scheduler's write pattern: WAL (readers never block the writer), a busy timeout,
``synchronous=NORMAL`` (durable across process crashes, which is what ``kill -9`` tests), and write
transactions that start with ``BEGIN IMMEDIATE`` so two writers queue instead of deadlocking on upgrade.
"""

from __future__ import annotations

import ipaddress
import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from sudoless.errors import StoreError
from sudoless.store.local import SQLITE_PRAGMAS, prepare_sqlite_file
from sudoless.store.revision import MIGRATIONS, REVISION_QUERY, head_revision


def inserted_id(result: sa.CursorResult[Any]) -> int:
    """The integer key the database gave the row an INSERT made (SQLAlchemy types it as optional, for
    statements that insert nothing or several rows)."""
    key = result.inserted_primary_key
    if key is None:
        raise StoreError("the database returned no key for the inserted row")
    return int(key[0])


def normalise_url(url: str) -> str:
    """Pick the drivers sudoless ships (PyMySQL, psycopg 3) when the URL names only the database."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("mysql", "mariadb") and parsed.get_driver_name() in ("", "mysqldb"):
        parsed = parsed.set(drivername=f"{backend}+pymysql")
    elif backend == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend in ("mysql", "mariadb") and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed.render_as_string(hide_password=False)


#: The server's request threads on MySQL/MariaDB and PostgreSQL when nothing says otherwise
#: (:attr:`sudoless.config.Settings.request_threads`).
REQUEST_THREADS = 16
#: Pooled connections beyond one per request thread, for the threads of the process that serve no request:
#: the executor's claim loop, its heartbeat and the flows it runs, the scheduler, the trigger loop, the
#: notification sender, the session purge. A request holds its connection from its first read to its end
#: (:meth:`Store.shared_reads`), so with a pool of exactly one per request thread a saturated server left
#: those threads only overflow connections: opened for the purpose, and closed again once the pool is full.
BACKGROUND_CONNECTIONS = 8
#: Connections opened beyond the pool when more threads than that want one at once (many flows writing
#: together); a thread waits for a connection only once these are in use too.
OVERFLOW_CONNECTIONS = 16


def create_engine(url: str, password: str | None = None, request_threads: int = REQUEST_THREADS) -> Engine:
    """An engine for ``url``; ``password`` is used when the URL has none (read from a password file, see
    :func:`sudoless.config.database_password`), so that it never has to be on a command line. A SQLite
    database is created 0600 and an existing one made 0600 with its -wal and -shm files: it holds the
    password hashes.

    On MySQL/MariaDB and PostgreSQL the pool keeps ``request_threads`` + :data:`BACKGROUND_CONNECTIONS`
    connections (opened as they are first needed), and hands out the one most recently given back (LIFO):
    at a low request rate the same few connections serve every request and the rest stay idle, where a FIFO
    pool turns through all of them, so that each had sat idle for longer than :data:`IDLE_PING_SECONDS`
    and cost a ping before use."""
    try:
        url = normalise_url(url)
        parsed = make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise StoreError(
            f"database URL {url!r} is not valid ({exc}); use sqlite:///PATH, "
            "mysql://USER@HOST/DB with SUDOLESS_DB_PASSWORD_FILE, or postgresql://USER@HOST/DB"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            prepare_sqlite_file(Path(parsed.database))
        engine = sa.create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=8, max_overflow=16
        )
        _tune_sqlite(engine)
        return engine
    if password is not None and parsed.password is None:
        parsed = parsed.set(password=password)  # a URL object: the password is never rendered into a string
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() in ("mysql", "mariadb"):
        # MariaDB intersects two indexes of executions (a project's and a status's, say) and then sorts
        # every row of the intersection, where walking one index in id order stops after the page: with
        # 1,000,000 executions, 0.9 s against 0.03 s for a flow's last successful run. Set once per
        # connection, as the driver connects (no round trip of its own).
        connect_args["init_command"] = "SET SESSION optimizer_switch='index_merge_intersection=off'"
        if _local_without_tls_options(parsed):
            connect_args["ssl_disabled"] = True
    engine = sa.create_engine(
        parsed,
        pool_size=max(1, request_threads) + BACKGROUND_CONNECTIONS,
        max_overflow=OVERFLOW_CONNECTIONS,
        pool_use_lifo=True,
        pool_recycle=3600,
        connect_args=connect_args,
    )
    _ping_when_idle(engine)
    if parsed.get_backend_name() in ("mysql", "mariadb") and parsed.get_driver_name() == "pymysql":
        _read_results_faster(engine)
    return engine


def _read_results_faster(engine: Engine) -> None:
    """Connect with :class:`sudoless.store.mysql_results.Connection`: PyMySQL's connection, reading result sets
    with a third to a half of the instructions (every request of the server reads a few)."""
    from sudoless.store.mysql_results import connection_class

    connection = connection_class()

    @event.listens_for(engine, "do_connect")
    def on_connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        return connection(*cargs, **cparams)


def _local_without_tls_options(url: sa.URL) -> bool:
    """Whether a MySQL/MariaDB URL names a server on this machine (a loopback address, ``localhost`` or a Unix
    socket) and sets no ``ssl*`` option.

    Given no TLS option, PyMySQL (1.2 on) tries TLS where the server offers it, and builds an SSL context for
    every new connection to find out: loading the system's CA certificates cost 50 ms of CPU per connection
    here against 0.6 ms for the rest of the connect, so each connection the pool opened under load stalled
    the requests for that long. Traffic that never leaves the machine gains nothing from TLS, so such
    connections go without; a URL with any ``ssl*`` option is left to PyMySQL, and so is a remote server.
    """
    if any(key.startswith("ssl") for key in url.query):
        return False
    if "unix_socket" in url.query or url.host in (None, "", "localhost"):
        return True
    try:
        return ipaddress.ip_address(url.host.strip("[]")).is_loopback
    except ValueError:
        return False


#: A pooled connection unused for longer than this is checked with a round trip before it is handed out.
IDLE_PING_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """Check connections that sat idle before use, and only those.

    A database restart, a failover or ``wait_timeout`` leaves dead connections in the pool, and a dead one
    must not fail the request that takes it. SQLAlchemy's ``pool_pre_ping`` pings on every checkout: on
    MariaDB that was 40% of a ``fetchexecflow`` request's CPU (5.0 against 3.0 ms, benchmarks/README.md).
    A connection in steady use has just proven itself; one idle for seconds is pinged first, and a failed
    ping makes the pool replace it (raising DisconnectionError on checkout is SQLAlchemy's protocol).
    """

    @event.listens_for(engine, "checkin")
    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since <= IDLE_PING_SECONDS:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            dbapi_connection.rollback()
        except Exception as exc:
            raise sa.exc.DisconnectionError(f"pooled connection is gone: {exc}") from exc


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (the documented recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: sa.Connection) -> None:
        mode = "BEGIN IMMEDIATE" if connection.info.get("write") else "BEGIN"
        # On the driver's connection: through exec_driver_sql, the BEGIN of every transaction cost about
        # as much as the query it was for.
        driver = connection.connection.driver_connection
        assert driver is not None  # a connection that is being used has its driver's connection
        driver.execute(mode)


#: Pages given back per write transaction by :func:`release_free_pages` (1 MiB of 4 KiB pages): a step holds
#: the write lock for milliseconds.
RELEASE_STEP_PAGES = 256
#: The pause between two steps, long beside a step, so that other processes' writers waiting on their busy
#: timeout get the lock in between.
RELEASE_PAUSE_SECONDS = 0.05
#: Passive checkpoints tried at the end: the file shrinks only at one that copies the WAL's last frames while
#: nothing commits (later, a writer's automatic checkpoint may do it too).
CHECKPOINT_TRIES = 20


def _sqlite_files(engine: Engine) -> list[Path]:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return []
    return [Path(database), Path(database + "-wal")]


def release_free_pages(
    engine: Engine, step_pages: int = RELEASE_STEP_PAGES, pause: float = RELEASE_PAUSE_SECONDS
) -> int:
    """Give a SQLite file's free pages back to the file system while other processes go on writing; the
    bytes the database file shrank by. 0 for a file made before auto_vacuum=INCREMENTAL (only a VACUUM can
    convert it: ``sudoless clean``) or another database.

    Each ``PRAGMA incremental_vacuum(step_pages)`` is a write transaction of its own (autocommit, through
    ``executescript``: the module's ``execute`` steps a pragma once, which frees one page), so no writer
    waits longer than a step; closing PASSIVE checkpoints, which never wait for anybody, let the file shrink
    once one of them copies the WAL's last frames back.
    """
    files = _sqlite_files(engine)
    if not files:
        return 0
    before = files[0].stat().st_size
    connection = engine.raw_connection()
    try:
        driver = connection.driver_connection
        assert driver is not None

        def row(sql: str) -> tuple[Any, ...]:  # read to the end: a statement left open keeps a read snapshot
            return tuple(driver.execute(sql).fetchall()[0])

        if row("PRAGMA auto_vacuum")[0] != 2:
            return 0
        free = row("PRAGMA freelist_count")[0]
        while free > 0:
            driver.executescript(f"PRAGMA incremental_vacuum({int(step_pages)});")
            free, was = row("PRAGMA freelist_count")[0], free
            if free >= was:  # nothing more to give back (another writer took the pages)
                break
            time.sleep(pause)
        # SQLite cuts the file at a checkpoint that copies the WAL's last frames with no commit coming in
        # meanwhile; under other writers that may take a few tries
        page = row("PRAGMA page_size")[0]
        for _ in range(CHECKPOINT_TRIES):
            row("PRAGMA wal_checkpoint(PASSIVE)")
            if files[0].stat().st_size <= row("PRAGMA page_count")[0] * page:
                break
            time.sleep(pause)
    except sqlite3.Error as exc:  # "database is locked" past the busy timeout: the pages stay free for reuse
        raise StoreError(f"{files[0]}: the freed pages were not given back to the disk ({exc})") from None
    finally:
        connection.close()
    return max(0, before - files[0].stat().st_size)


def reclaim_sqlite_space(engine: Engine) -> int:
    """Give the pages of deleted rows back to the file system; the bytes the database file shrank by.

    SQLite keeps freed pages in the file for reuse, so removing a gigabyte of old logs alone frees no disk
    space. A file made with ``auto_vacuum=INCREMENTAL`` gives them back in steps
    (:func:`release_free_pages`); an older one is rebuilt by ``VACUUM``, which also makes it incremental
    (the connection asked for it, :func:`_tune_sqlite`). The WAL checkpoint that follows truncates both
    files. Neither may run inside a transaction: this goes through a driver connection in autocommit
    (:func:`_tune_sqlite` leaves the driver so), never through :meth:`Store.write`. 0 for an in-memory
    database.
    """
    files = _sqlite_files(engine)
    if not files:
        return 0

    def size() -> int:
        return sum(path.stat().st_size for path in files if path.exists())

    # the file as it was before the purge (the purge's own writes sit in the WAL until a checkpoint), against
    # the file and the WAL once compacted and truncated
    before = files[0].stat().st_size
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        if cursor.execute("PRAGMA auto_vacuum").fetchall()[0][0] == 2:  # read to the end: no snapshot kept
            release_free_pages(engine, pause=0.0)
        else:
            cursor.execute("VACUUM")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        cursor.close()
    except sqlite3.Error as exc:  # e.g. "database is locked" past the busy timeout
        raise StoreError(
            f"{files[0]}: the rows are removed but the file was not compacted ({exc}); run the command again "
            "when nothing else writes to the database"
        ) from None
    finally:
        connection.close()
    return max(0, before - size())


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            return connection.exec_driver_sql(REVISION_QUERY).scalar()
    except sa.exc.OperationalError as exc:
        if "no such table" in str(exc) or "doesn't exist" in str(exc):
            return None
        raise StoreError(f"cannot reach the database at {engine.url.render_as_string()}: {exc.orig}") from None
    except sa.exc.ProgrammingError:
        return None


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; cheap when it is already there (one query, no Alembic
    import), and an empty SQLite database gets the schema without Alembic (:func:`_create_fresh`)."""
    revision = current_revision(engine)
    if revision == head_revision():
        return
    if revision is None and engine.dialect.name == "sqlite" and _create_fresh(engine):
        return
    upgrade_with_alembic(engine)
    if revision is not None:
        vacuum_rewritten(engine, revision)


#: Tables a migration rewrites on PostgreSQL, by revision: 0014 adds a STORED generated column to
#: ``executions``. A rewritten table has an empty visibility map, so an index-only scan reads the heap for
#: every entry (``fetchFlowExecutions`` on a million executions: 40 ms to 760 ms) until the next VACUUM, and
#: autovacuum does not count a rewrite as changes: it may not come for a long while.
VACUUM_AFTER = {"0014": ("executions",)}


def vacuum_rewritten(engine: Engine, revision: str) -> None:
    """``VACUUM (ANALYZE)`` the tables that the migrations after ``revision`` rewrote, on PostgreSQL (outside
    a transaction, as VACUUM must be); seconds for a million rows, once."""
    if engine.dialect.name != "postgresql":
        return
    names = sorted({name for after, tables in VACUUM_AFTER.items() if revision < after for name in tables})
    if not names:
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for name in names:
            connection.exec_driver_sql(f"VACUUM (ANALYZE) {name}")  # a name from VACUUM_AFTER, never input


def upgrade_with_alembic(engine: Engine) -> None:
    """Replay the migrations from the database's revision to the newest."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.connect() as connection:
            connection.info["write"] = True
            try:
                with connection.begin():
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
            finally:
                connection.info["write"] = False
    except sa.exc.OperationalError as exc:
        raise StoreError(f"cannot reach the database at {engine.url.render_as_string()}: {exc.orig}") from None


def _create_fresh(engine: Engine) -> bool:
    """Create the newest schema in an empty SQLite database from the SQL text generated from the migrations
    (:mod:`.sqlite_schema`), without Alembic: the database is the one replaying every migration gives, byte for
    byte in ``sqlite_master`` (tests/flows/test_fresh_schema.py), and a local flow run creates a new home's the
    same way without SQLAlchemy. Returns False, leaving the work to Alembic, when the database is not empty
    once the write lock is held (another process got there first, or the file holds tables of some other
    origin).
    """
    from sudoless.store.sqlite_schema import create_schema

    connection = engine.raw_connection()  # the driver's own, in autocommit mode (_tune_sqlite)
    try:
        driver = connection.driver_connection
        assert driver is not None  # a connection just checked out has its driver's connection
        return create_schema(driver)
    finally:
        connection.close()
