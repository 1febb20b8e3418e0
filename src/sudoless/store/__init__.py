"""The application database: projects, executions, job runs, logs, schedules, accounts and settings.

Every SQL statement sudoless runs lives under this package, and it depends on no other part of sudoless
but errors, configuration and private files: the flow runner, the accounts and the server depend on it.
A :class:`Store` holds the connection pool; each table group is reached through one small query class
per noun, an attribute of the store (``store.projects``, ``store.executions``, ``store.job_runs``,
``store.logs``, ...). Statements are built with SQLAlchemy Core, or, for those a flow run executes, written
once as SQL text with named parameters (:mod:`.statements`); values are always bound parameters. A local flow
run on a SQLite home at the newest schema reaches it through :func:`run_store_for` without SQLAlchemy
(:mod:`.local`). Write transactions are short; nothing holds a transaction open while a job runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, cast

from sudoless.errors import StoreError
from sudoless.store.local import now_ms, open_local

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from sudoless.config import Settings
    from sudoless.store.accounts import AccountQueries
    from sudoless.store.executions import ExecutionQueries
    from sudoless.store.executors import ExecutorQueries
    from sudoless.store.imports import ImportQueries
    from sudoless.store.job_runs import JobRunQueries
    from sudoless.store.logs import LogQueries
    from sudoless.store.metrics import MetricQueries
    from sudoless.store.notifications import NotificationQueries
    from sudoless.store.project_settings import ProjectSettingQueries
    from sudoless.store.projects import ProjectQueries
    from sudoless.store.schedules import ScheduleQueries
    from sudoless.store.tokens import TokenQueries
    from sudoless.store.triggers import TriggerQueries

__all__ = ["Store", "now_ms", "open_store", "run_store_for", "store_for"]


class Store:
    """The database of one sudoless installation (or of several executors sharing it).

    The query classes are made on first use and imported then, so a command that only reads projects
    does not load the scheduler's or the accounts' SQL.
    """

    def __init__(
        self,
        url: str,
        clock: Callable[[], int] = now_ms,
        migrate_schema: bool = True,
        password: str | None = None,
        request_threads: int | None = None,
    ) -> None:
        """``request_threads``: how many threads of the process may serve requests at once (the server's
        :attr:`~sudoless.config.Settings.request_threads`); the pool keeps a connection for each and some
        for the other threads (:func:`~sudoless.store.engine.create_engine`)."""
        import sqlalchemy as sa  # here, not with the package: a local flow run never imports it (store.local)

        from sudoless.store.engine import REQUEST_THREADS, create_engine, migrate

        self.url = url
        self.integrity_errors: tuple[type[Exception], ...] = (sa.exc.IntegrityError,)
        self.engine = create_engine(url, password, request_threads or REQUEST_THREADS)
        self.clock = clock
        self.dialect = self.engine.dialect.name
        self._shared = _SharedRead()
        #: whether reads run without a transaction (see :meth:`read`); known once a connection was made
        self._autocommit_reads: bool | None = None
        if migrate_schema:
            migrate(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed at the end of the block (rolled back on an exception).

        Within :meth:`shared_reads`, the shared read transaction ends before the write begins and again
        after it commits, so that the reads that follow see the write."""
        shared = self._shared
        shared.end_unless_in_use()
        try:
            with self.engine.connect() as conn:
                conn.info["write"] = True
                try:
                    with conn.begin():
                        yield conn
                finally:
                    conn.info["write"] = False
        finally:
            shared.end_unless_in_use()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: one snapshot for every statement in the block, ended by a rollback.

        A read has nothing to commit. Ending it with COMMIT cost a round trip on MySQL and PostgreSQL, and
        the pool then sent a ROLLBACK as it took the connection back: two round trips where the rollback
        that closing an open transaction sends is enough (SQLAlchemy then skips the pool's reset), which on
        MariaDB was 10 of the 18 round trips of a ``fetchFlowExecutions`` request (benchmarks/README.md).

        On PostgreSQL at its default isolation, READ COMMITTED, a transaction gives its statements no common
        snapshot (each statement takes its own), so a read there runs in autocommit mode instead: the same
        answers without the BEGIN and ROLLBACK that psycopg would send, two round trips per read.

        Within :meth:`shared_reads` (in the same thread), the block joins the one read transaction of
        the whole block instead of opening its own.
        """
        shared = self._shared
        if not shared.active:
            with self.engine.connect() as conn:
                self._begin_read(conn)
                yield conn
            return
        if shared.connection is None:
            shared.connection = self.engine.connect()
            self._begin_read(shared.connection)
        shared.depth += 1
        try:
            yield shared.connection
        except BaseException:
            # A failed statement may leave the transaction unusable (PostgreSQL refuses every statement
            # after an error until the rollback): the next read starts afresh, as it would on its own.
            shared.stale = True
            raise
        finally:
            shared.depth -= 1
            if shared.stale:
                shared.end_unless_in_use()

    def _begin_read(self, conn: Connection) -> None:
        if self._autocommit_reads is None:  # the dialect learnt the server's default on the first connection
            level = str(conn.dialect.default_isolation_level or "")
            self._autocommit_reads = self.dialect == "postgresql" and level.upper() == "READ COMMITTED"
        if self._autocommit_reads:
            conn.execution_options(isolation_level="AUTOCOMMIT")
        else:
            conn.begin()

    @contextmanager
    def shared_reads(self) -> Iterator[None]:
        """Let every :meth:`read` of this thread within the block share one connection and one read
        transaction, ended by one rollback when the block ends: for a request of the HTTP server.

        Each read on its own checks a connection out of the pool and ends its transaction with a rollback,
        on MySQL one round trip per read, and a request makes three to five reads (the session, the project,
        the execution, its job runs). Shared, they cost one (on PostgreSQL none, see :meth:`read`). A
        :meth:`write` in the block ends the shared transaction first and the reads after it begin a new one,
        so a request still reads what it wrote. Nested blocks join the outer one; other threads (the
        executor, the scheduler) are not affected.
        """
        shared = self._shared
        if shared.active:
            yield
            return
        shared.active = True
        try:
            yield
        finally:
            shared.active = False
            shared.stale = True
            shared.end_unless_in_use()

    def ping(self) -> None:
        """A round trip to the database; raises when it does not answer."""
        import sqlalchemy as sa

        with self.read() as conn:
            conn.execute(sa.text("SELECT 1")).scalar_one()

    def database_up(self) -> bool:
        """True when the database answers a trivial query."""
        import sqlalchemy as sa

        try:
            self.ping()
        except sa.exc.SQLAlchemyError:
            return False
        return True

    def reclaim_space(self, online: bool = False) -> int:
        """After a purge: compact a SQLite file so the deleted rows' space returns to the disk; the bytes it
        shrank by (:func:`~sudoless.store.engine.reclaim_sqlite_space`). ``online``: only in small steps
        that other processes' writers fit between (:func:`~sudoless.store.engine.release_free_pages`), never
        a VACUUM, for the server. MySQL and PostgreSQL reuse freed space within their own files, so 0 there."""
        from sudoless.store.engine import reclaim_sqlite_space, release_free_pages

        if self.dialect != "sqlite":
            return 0
        return release_free_pages(self.engine) if online else reclaim_sqlite_space(self.engine)

    # -- one query class per noun -----------------------------------------------------------------------

    @cached_property
    def projects(self) -> ProjectQueries:
        """Projects, their versions and audit events (:mod:`sudoless.store.projects`)."""
        from sudoless.store.projects import ProjectQueries

        return ProjectQueries(self)

    @cached_property
    def project_settings(self) -> ProjectSettingQueries:
        """Proxy users, flow locks, job overrides, sandbox grants (:mod:`sudoless.store.project_settings`)."""
        from sudoless.store.project_settings import ProjectSettingQueries

        return ProjectSettingQueries(self)

    @cached_property
    def executions(self) -> ExecutionQueries:
        """Executions: queue, claim, state, history (:mod:`sudoless.store.executions`)."""
        from sudoless.store.executions import ExecutionQueries

        return ExecutionQueries(self)

    @cached_property
    def job_runs(self) -> JobRunQueries:
        """Each node's attempts (:mod:`sudoless.store.job_runs`)."""
        from sudoless.store.job_runs import JobRunQueries

        return JobRunQueries(self)

    @cached_property
    def logs(self) -> LogQueries:
        """Job and flow logs (:mod:`sudoless.store.logs`)."""
        from sudoless.store.logs import LogQueries

        return LogQueries(self)

    @cached_property
    def executors(self) -> ExecutorQueries:
        """The processes that run flows (:mod:`sudoless.store.executors`)."""
        from sudoless.store.executors import ExecutorQueries

        return ExecutorQueries(self)

    @cached_property
    def schedules(self) -> ScheduleQueries:
        """Schedule rows and SLA bookkeeping (:mod:`sudoless.store.schedules`)."""
        from sudoless.store.schedules import ScheduleQueries

        return ScheduleQueries(self)

    @cached_property
    def triggers(self) -> TriggerQueries:
        """Flow triggers, their instances and dependencies (:mod:`sudoless.store.triggers`)."""
        from sudoless.store.triggers import TriggerQueries

        return TriggerQueries(self)

    @cached_property
    def notifications(self) -> NotificationQueries:
        """The notification queue (:mod:`sudoless.store.notifications`)."""
        from sudoless.store.notifications import NotificationQueries

        return NotificationQueries(self)

    @cached_property
    def accounts(self) -> AccountQueries:
        """Users, roles, groups, grants, sessions, login failures (:mod:`sudoless.store.accounts`)."""
        from sudoless.store.accounts import AccountQueries

        return AccountQueries(self)

    @cached_property
    def tokens(self) -> TokenQueries:
        """API tokens (:mod:`sudoless.store.tokens`)."""
        from sudoless.store.tokens import TokenQueries

        return TokenQueries(self)

    @cached_property
    def imports(self) -> ImportQueries:
        """The Azkaban import's ledger and writes (:mod:`sudoless.store.imports`)."""
        from sudoless.store.imports import ImportQueries

        return ImportQueries(self)

    @cached_property
    def metrics(self) -> MetricQueries:
        """The aggregates ``/metrics`` reads (:mod:`sudoless.store.metrics`)."""
        from sudoless.store.metrics import MetricQueries

        return MetricQueries(self)


class _SharedRead(threading.local):
    """The read transaction that one thread's reads share within :meth:`Store.shared_reads`."""

    def __init__(self) -> None:
        self.active = False
        self.connection: Connection | None = None
        #: how many :meth:`Store.read` blocks use ``connection`` now
        self.depth = 0
        #: the transaction must end as soon as no read block uses it
        self.stale = False

    def end_unless_in_use(self) -> None:
        """End the shared transaction (one rollback) unless a read block is using it; then only mark it
        to end when that block is over (a write inside a read block: that read's snapshot is already
        taken, as it was before reads were shared)."""
        if self.connection is None:
            self.stale = False
            return
        if self.depth > 0:
            self.stale = True
            return
        connection, self.connection, self.stale = self.connection, None, False
        connection.close()


def open_store(url: str, password: str | None = None, request_threads: int | None = None) -> Store:
    """Open (and migrate) the store, turning driver errors into one clear line; ``password`` is used when
    the URL has none, ``request_threads`` sizes the pool (:class:`Store`)."""
    import sqlalchemy as sa

    try:
        return Store(url, password=password, request_threads=request_threads)
    except sa.exc.SQLAlchemyError as exc:
        shown = sa.engine.make_url(url).render_as_string() if "://" in url else url
        raise StoreError(f"cannot open database {shown}: {exc.__class__.__name__}: {exc}") from None


def store_for(settings: Settings) -> Store:
    """The store ``settings`` name, with the password of ``SUDOLESS_DB_PASSWORD_FILE`` (or config.toml)
    when the database URL has none, its pool sized for the server's request threads."""
    from sudoless.config import database_password

    return open_store(settings.database_url, database_password(settings), settings.request_threads)


def run_store_for(settings: Settings) -> Store:
    """The store for a local flow run: without SQLAlchemy when the database is a SQLite file at the newest
    schema (:class:`~sudoless.store.local.LocalStore`, which hands anything beyond a run's queries to a full
    store it opens then), else :func:`store_for`'s, which creates or migrates the database."""
    url = settings.database_url
    local = open_local(url, lambda: Store(url, migrate_schema=False))
    # A LocalStore stands in for a Store: the queries of a run are its own, the rest the full store's.
    return cast("Store", local) if local is not None else store_for(settings)
