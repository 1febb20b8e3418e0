"""A local flow run's store: the SQLite database of a home, through Python's ``sqlite3`` and no SQLAlchemy.

Importing SQLAlchemy is about half of a one-job ``sudoless flow run``'s CPU (benchmarks/README.md,
cold_start.py). :func:`open_local` gives such a run a :class:`LocalStore` when the database is a plain SQLite
file whose schema is already the newest (one query: the stored revision against the migrations' head), or a
new one, which it creates from the SQL text generated from the migrations (:mod:`sudoless.store.sqlite_schema`,
as the full store creates one); for anything else (an older schema that must be migrated, MySQL/MariaDB or
PostgreSQL, a URL with options) it gives None and the run opens the full :class:`~sudoless.store.Store`, which
migrates.

A :class:`LocalStore` runs the queries of :mod:`sudoless.store.light`, the same methods and the same SQL text
(:mod:`sudoless.store.statements`) the full store runs, on connections tuned as the full store tunes its own
(:data:`SQLITE_PRAGMAS`, ``BEGIN IMMEDIATE`` for writes), so the rows a run stores are the same either way
(tests/flows/test_local_store.py compares them). Whatever else a run may ask (a method no light class has,
another query class, the engine) is answered by a full store opened on the same file at first need.
"""

from __future__ import annotations

import importlib
import sqlite3
import threading
import time
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from sudoless.private import create_private, private_file
from sudoless.store.statements import TextConnection

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from sudoless.store import Store

__all__ = ["SQLITE_PRAGMAS", "LocalConnection", "LocalStore", "Queryable", "open_local", "prepare_sqlite_file"]

#: Set on every SQLite connection, by either store. ``auto_vacuum`` first: a new file must be told before
#: anything else (WAL mode included) writes its header, so that freed pages can go back to the disk a few at a
#: time (``release_free_pages``) instead of by a VACUUM holding the write lock while it copies the whole file;
#: on an existing file it takes effect at a VACUUM (``sudoless clean``'s), which converts the file.
SQLITE_PRAGMAS = (
    "PRAGMA auto_vacuum=INCREMENTAL",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA foreign_keys=ON",
)
#: The query classes of a flow run (:mod:`sudoless.store.light`), by the store's attribute (which is also
#: their module's name).
LIGHT_QUERIES = {
    "projects": "LightProjectQueries",
    "project_settings": "LightProjectSettingQueries",
    "executions": "LightExecutionQueries",
    "job_runs": "LightJobRunQueries",
    "logs": "LightLogQueries",
    "executors": "LightExecutorQueries",
    "triggers": "LightTriggerQueries",
    "notifications": "LightNotificationQueries",
}
#: Seconds the driver waits for a lock (as the busy timeout above).
LOCK_TIMEOUT = 30


def now_ms() -> int:
    """The store's default clock: epoch milliseconds."""
    return int(time.time() * 1000)


def prepare_sqlite_file(database: Path) -> None:
    """Create a SQLite database file 0600 (and its folder 0700), or make an existing one 0600 with its -wal,
    -shm and -journal files: it holds the password hashes."""
    database.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    create_private(database)
    for suffix in ("-wal", "-shm", "-journal"):
        private_file(database.with_name(database.name + suffix))


class Queryable(Protocol):
    """What the query classes of :mod:`sudoless.store.light` use of a store: either store has it."""

    dialect: str
    clock: Callable[[], int]
    integrity_errors: tuple[type[Exception], ...]

    def read(self) -> AbstractContextManager[Any]: ...

    def write(self) -> AbstractContextManager[Any]: ...


class _Dialect(NamedTuple):
    """The two facts about the back end a query method asks a connection (as SQLAlchemy's dialect has them)."""

    name: str = "sqlite"
    supports_sane_multi_rowcount: bool = True


@cache
def _row_type(names: tuple[str, ...]) -> Any:
    """Rows with attributes by column name and a ``_fields`` tuple, as SQLAlchemy's rows (``COUNT(*)`` and
    the like are renamed, as they are only read by position)."""
    return namedtuple("Row", names, rename=True)


class LocalResult:
    """A statement's outcome, read at once: its rows (few, on a flow run's path), and the counts."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self.rowcount = cursor.rowcount
        self.lastrowid = cursor.lastrowid
        if cursor.description is None:
            self.rows: list[Any] = []
        else:
            row = _row_type(tuple(column[0] for column in cursor.description))
            self.rows = [row._make(values) for values in cursor.fetchall()]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)

    def all(self) -> list[Any]:
        return self.rows

    def first(self) -> Any:
        return self.rows[0] if self.rows else None

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def scalar_one(self) -> Any:
        if len(self.rows) != 1:
            raise sqlite3.DatabaseError(f"expected one row, got {len(self.rows)}")
        return self.rows[0][0]

    def scalars(self) -> list[Any]:
        return [row[0] for row in self.rows]


class LocalConnection(TextConnection):
    """One ``sqlite3`` connection, tuned as the full store tunes its own, running the SQL text of
    :mod:`sudoless.store.statements` as it is (``:name`` parameters are sqlite3's own style)."""

    dialect = _Dialect()

    def __init__(self, database: Path) -> None:
        # autocommit at the driver: the transactions begin and end where the store says (as the full store's)
        self.driver = sqlite3.connect(database, timeout=LOCK_TIMEOUT, isolation_level=None, check_same_thread=False)
        for pragma in SQLITE_PRAGMAS:
            self.driver.execute(pragma)

    def execute(
        self, statement: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None
    ) -> LocalResult:
        if isinstance(params, list):
            return LocalResult(self.driver.executemany(statement, params))
        return LocalResult(self.driver.execute(statement, params or {}))

    def execute_positional(self, statement: str, rows: Sequence[Sequence[Any]]) -> LocalResult:
        return LocalResult(self.driver.executemany(statement, rows))


class LocalStore:
    """A home's SQLite database for one local flow run, without SQLAlchemy (see the module's docstring).

    Connections are pooled (a thread takes an idle one or opens one), so the runner's threads and a read
    inside another transaction each have their own, as with the full store's pool.
    """

    dialect = "sqlite"
    integrity_errors: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)

    def __init__(self, database: Path, url: str, full: Callable[[], Store], clock: Callable[[], int] = now_ms) -> None:
        self.database = database
        self.url = url
        self.clock = clock
        self._open_full = full
        self._idle: list[LocalConnection] = []
        self._lock = threading.Lock()
        prepare_sqlite_file(database)

    @contextmanager
    def _connection(self) -> Iterator[LocalConnection]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = LocalConnection(self.database)
        try:
            yield conn
        finally:
            with self._lock:
                self._idle.append(conn)

    @contextmanager
    def write(self) -> Iterator[LocalConnection]:
        """A write transaction (``BEGIN IMMEDIATE``: two writers queue instead of deadlocking on upgrade)."""
        with self._connection() as conn:
            conn.driver.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.driver.execute("COMMIT")
            finally:  # an error (the COMMIT's own included) leaves nothing open for the connection's next user
                if conn.driver.in_transaction:
                    conn.driver.execute("ROLLBACK")

    @contextmanager
    def read(self) -> Iterator[LocalConnection]:
        """A read transaction: one snapshot for the block, ended by a rollback (it has nothing to commit)."""
        with self._connection() as conn:
            conn.driver.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.driver.in_transaction:  # SQLite may have ended it already after an error
                    conn.driver.execute("ROLLBACK")

    def create_schema(self) -> str | None:
        """Create the newest schema in the database if it is empty (:mod:`sudoless.store.sqlite_schema`); the
        revision the database is at then (another process may have created it meanwhile), or None when it holds
        tables but no revision (the full store decides what to do with it) or cannot be written."""
        from sudoless.store.revision import REVISION_QUERY
        from sudoless.store.sqlite_schema import create_schema

        try:
            with self._connection() as conn:
                create_schema(conn.driver)
            with self.read() as conn:
                revision = conn.execute(REVISION_QUERY).scalar()
        except sqlite3.Error:
            return None
        return str(revision) if revision is not None else None

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.driver.close()
        if "full" in self.__dict__:
            self.full.close()

    @cached_property
    def full(self) -> Store:
        """The full store on the same file, opened when something beyond a flow run's queries is asked."""
        return self._open_full()

    def __getattr__(self, name: str) -> Any:
        """A flow run's query class (:data:`LIGHT_QUERIES`), made on first use and backed by the full store's
        class of the same noun for the methods it has not; anything else a :class:`~sudoless.store.Store` has
        (its engine, the accounts' or schedules' queries, ...) comes from :attr:`full`."""
        if name.startswith("__") or name == "full":
            raise AttributeError(name)
        if name not in LIGHT_QUERIES:
            return getattr(self.full, name)
        light = getattr(importlib.import_module(f"sudoless.store.light.{name}"), LIGHT_QUERIES[name])
        queries = _Backed(light(self), lambda: getattr(self.full, name))
        self.__dict__[name] = queries  # found there from now on, without this method
        return queries


class _Backed:
    """A light query class, with every method it has not taken from the full store's class of the same noun."""

    def __init__(self, light: object, full: Callable[[], object]) -> None:
        self._light = light
        self._full = full

    def __getattr__(self, name: str) -> Any:
        try:
            return getattr(self._light, name)
        except AttributeError:
            return getattr(self._full(), name)


def open_local(url: str, full: Callable[[], Store], clock: Callable[[], int] = now_ms) -> LocalStore | None:
    """A :class:`LocalStore` for ``url`` when it names a plain SQLite file (``sqlite:///PATH``, no options) with
    the newest schema, or none yet: a missing or empty file is created (0600) with the schema generated from the
    migrations (:func:`~sudoless.store.sqlite_schema.create_schema`, as the full store creates one). Else None,
    and the caller opens the full store, which migrates an older schema (or refuses a file that is not a
    database). ``full`` opens the full store on the same file (without migrating), for what the local one
    lacks."""
    from sudoless.datadir import plain_sqlite_path
    from sudoless.store.revision import REVISION_QUERY, head_revision

    path = plain_sqlite_path(url)
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    database = Path(path)
    if database.exists() and not database.is_file():
        return None
    store = LocalStore(database, url, full, clock)  # creates the file 0600 (and its folder 0700) when missing
    try:
        with store.read() as conn:
            revision = conn.execute(REVISION_QUERY).scalar()
    except sqlite3.OperationalError:  # no revision table: a new database, or tables of some other origin
        revision = store.create_schema()
    except sqlite3.Error:  # not a database
        revision = None
    if revision != head_revision():
        store.close()
        return None
    return store
