"""Reads run on the driver's cursor of a SQLAlchemy connection, for the statements on every request's path.

SQLAlchemy's execution (an execution context, a cursor result and its rows) costs as much CPU as PyMySQL's
whole round trip for a small result: for the session read every request of the server makes, 175,000 of
its 720,000 instructions (callgrind, MariaDB). :func:`driver_rows` compiles a statement once per dialect
and runs it through ``Connection._cursor_execute``, SQLAlchemy's own path for its special-case statements,
so that errors are still wrapped as SQLAlchemy's, a lost connection is still invalidated and cursor events
(the round-trip counts of the tests) still fire.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

__all__ = ["driver_rows"]

#: Statements compiled for the driver by :func:`driver_rows`: (id of the statement, dialect name) to the
#: statement (kept, so that its id stays its own) and its driver form.
_DRIVER_FORMS: dict[tuple[int, str], tuple[Any, tuple[str, tuple[str, ...] | None, dict[str, Any]]]] = {}


def driver_rows(conn: sa.Connection, statement: ClauseElement, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The rows of a read, run on the driver's cursor of ``conn`` in its current transaction: plain tuples of
    what the driver returns (no SQLAlchemy result processing: the caller converts what it needs). Statements
    with expanding (``IN``) parameters are refused: they need SQLAlchemy's rendering per call."""
    sql, order, fixed = _driver_form(statement, conn.dialect)
    values = {**fixed, **params}
    args: Any = values if order is None else tuple(values[name] for name in order)
    if not conn.in_transaction():
        # as SQLAlchemy's execution would (autobegin): its rollback then ends the read, not the pool's reset
        # (in autocommit mode, as reads on PostgreSQL are, neither sends anything)
        conn.begin()
    cursor = conn.connection.cursor()
    try:
        conn._cursor_execute(cursor, sql, args)
        try:
            return list(cursor.fetchall())
        except Exception as exc:
            conn._handle_dbapi_exception(exc, sql, args, cursor, None)
    finally:
        cursor.close()


def _driver_form(statement: ClauseElement, dialect: sa.Dialect) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
    """(SQL in the driver's parameter style, parameter names in order for a positional style, the parameters
    the statement fixes itself such as a LIMIT's) of ``statement`` on ``dialect``, compiled once."""
    key = (id(statement), dialect.name)
    found = _DRIVER_FORMS.get(key)
    if found is None or found[0] is not statement:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)  # a statement's, not DDL's
        if any(bind.expanding for bind in compiled.binds.values()):
            raise ValueError("driver_rows: a statement with expanding parameters needs SQLAlchemy's execution")
        order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup is not None else None
        fixed = {name: value for name, value in compiled.params.items() if value is not None}
        found = _DRIVER_FORMS[key] = (statement, (str(compiled), order, fixed))
    return found[1]
