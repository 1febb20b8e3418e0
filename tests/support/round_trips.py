"""Counting what a block of code asks of the database: statements, transactions, and the round trips they cost.

The counts come from SQLAlchemy's events, the same on every back end, so a test can pin them for SQLite,
MariaDB and PostgreSQL alike. What they cost on the wire differs by driver, and :attr:`Trips.round_trips`
says it: PyMySQL sends each statement and each COMMIT or ROLLBACK (MySQL begins a transaction by itself);
psycopg also sends a BEGIN before a transaction's first statement. On MariaDB the commands PyMySQL really
sent are counted too (:attr:`Trips.wire`, every command including pings), a check on that arithmetic.

Events from every thread count: use it where no other thread uses the engine (an application built with
``create_app`` over a scheduler that was not started runs none). Shared by the tests and by
``benchmarks/round_trips.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa


@dataclass
class Trips:
    """What was asked of one engine while :func:`counting` ran."""

    dialect: str
    statements: int = 0
    #: transactions begun (SQLAlchemy's ``begin``: a BEGIN on the wire only with psycopg)
    begins: int = 0
    #: commits and rollbacks, the pool's reset included when it rolls back
    ends: int = 0
    #: commands PyMySQL sent (MariaDB only; None elsewhere)
    wire: int | None = None
    sql: list[str] = field(default_factory=list)

    @property
    def round_trips(self) -> int:
        """Messages to the database server that wait for its answer (on SQLite: calls into the library)."""
        return self.statements + self.ends + (self.begins if self.dialect != "mysql" else 0)

    def shape(self) -> tuple[int, int]:
        """(statements, transactions): the same on every back end for the same code path."""
        return self.statements, self.ends


@contextmanager
def counting(engine: sa.Engine) -> Iterator[Trips]:
    """Count the statements, transactions and (on MariaDB) driver commands of the block on ``engine``."""
    trips = Trips(engine.dialect.name)
    wrapped: list[Any] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        trips.statements += 1
        trips.sql.append(sql)

    def autocommit(conn: sa.Connection) -> bool:
        # SQLAlchemy still tells a transaction's begin and end on a connection in autocommit mode, where the
        # driver sends nothing (psycopg's rollback outside a transaction is a no-op)
        return conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"

    def begin(conn: sa.Connection) -> None:
        if not autocommit(conn):
            trips.begins += 1

    def end(conn: sa.Connection) -> None:
        if not autocommit(conn):
            trips.ends += 1

    def reset(_dbapi: Any, _record: Any, state: sa.PoolResetState) -> None:
        if not state.transaction_was_reset and not state.terminate_only:
            trips.ends += 1

    def checkout(dbapi: Any, _record: Any, _proxy: Any) -> None:
        # PyMySQL sends every command (query, ping, quit) through this one method of the connection
        send = getattr(dbapi, "_execute_command", None)
        if send is None or "_execute_command" in vars(dbapi):
            return

        def counted(*args: Any, **kwargs: Any) -> Any:
            trips.wire = (trips.wire or 0) + 1
            return send(*args, **kwargs)

        dbapi._execute_command = counted
        wrapped.append(dbapi)

    listeners: list[tuple[Any, str, Callable[..., None]]] = [
        (engine, "before_cursor_execute", statement),
        (engine, "begin", begin),
        (engine, "commit", end),
        (engine, "rollback", end),
        (engine.pool, "reset", reset),
    ]
    if engine.dialect.name == "mysql":
        trips.wire = 0
        listeners.append((engine.pool, "checkout", checkout))
    for target, name, listener in listeners:
        # first in line: the store's own checkout listener may ping the connection, which counts
        sa.event.listen(target, name, listener, insert=True)
    try:
        yield trips
    finally:
        for target, name, listener in listeners:
            sa.event.remove(target, name, listener)
        for dbapi in wrapped:
            del dbapi._execute_command
