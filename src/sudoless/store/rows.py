"""Turning result rows into records quickly: shared by the modules whose rows are read in bulk."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sudoless.store.status import Status

__all__ = ["status", "values"]

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
