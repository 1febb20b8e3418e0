"""Helpers shared by the query modules: turning result rows into records quickly (for the modules whose rows
are read in bulk) and a portable upsert (here, not in one of them, so that using it loads no other)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sudoless.store.status import Status

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Connection

__all__ = ["status", "upsert", "values"]

_STATUSES = {status.value: status for status in Status}


def values(rows: Sequence[Any], columns: tuple[str, ...]) -> list[dict[str, Any]]:
    """``columns`` of each result row: by position when the rows start with them (a select of the whole
    table, the usual case), else by name. Reading a row's attributes by name costs about 1.5 us each, which
    made turning rows into records dearer than the queries that fetched them."""
    if not rows:
        return []
    if rows[0]._fields[: len(columns)] == columns:
        return [dict(zip(columns, row, strict=False)) for row in rows]
    return [{name: getattr(row, name) for name in columns} for row in rows]


def status(value: str) -> Status:
    """The stored status string as a :class:`Status` (a dict lookup, cheaper than the enum's own)."""
    return _STATUSES.get(value) or Status(value)


def upsert(conn: Connection, table: sa.Table, key: dict[str, Any], values: dict[str, Any]) -> None:
    """Update the row with ``key`` or insert it; portable across SQLite, MySQL/MariaDB and PostgreSQL.

    MySQL counts matched rather than changed rows here because SQLAlchemy's PyMySQL dialect sets the
    FOUND_ROWS client flag, so an update that changes nothing still reports 1.
    """
    where = [table.c[name] == value for name, value in key.items()]
    if not conn.execute(table.update().where(*where).values(**values)).rowcount:
        conn.execute(table.insert().values(**key, **values))
