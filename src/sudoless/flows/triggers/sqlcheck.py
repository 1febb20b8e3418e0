"""The ``sql`` trigger dependency: does a read-only query on a database an admin named return a row?

Trigger files name a database (``database: warehouse``); the setting ``trigger_databases`` maps names to
SQLAlchemy URLs (``warehouse=postgresql://etl@db/warehouse,...``), so no URL or password is ever in a
project. The query gets only bound parameters: ``:slot`` and ``:period_start`` (the instance's, epoch ms)
and, for each param ``bind.NAME``, ``:NAME``. It runs in a transaction that the database itself keeps
read-only (``PRAGMA query_only`` on SQLite, ``SET TRANSACTION READ ONLY`` elsewhere) and that is rolled
back; the loader already refused anything but one SELECT or WITH statement.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from sudoless.config import Settings

__all__ = ["database_urls", "query_has_row"]


def database_urls(settings: Settings) -> dict[str, str]:
    """The named databases of ``trigger_databases``."""
    urls = {}
    for entry in settings.trigger_databases.split(","):
        name, sep, url = entry.strip().partition("=")
        if sep and name.strip() and url.strip():
            urls[name.strip()] = url.strip()
    return urls


@functools.lru_cache(maxsize=16)
def _engine(url: str) -> sa.Engine:
    # No pool: a check every few seconds does not need one, and no idle connection is left to the database.
    return sa.create_engine(url, poolclass=NullPool)


def query_has_row(settings: Settings, params: Mapping[str, str], slot: int, period_start: int) -> str | None:
    """None when the query returns a row, else why not."""
    name = params["database"].strip()
    url = database_urls(settings).get(name)
    if url is None:
        return (
            f"no database named '{name}' in the setting trigger_databases "
            f"(named: {', '.join(sorted(database_urls(settings))) or 'none'}); ask an admin to add it"
        )
    values: dict[str, object] = {"slot": slot, "period_start": period_start}
    values.update({key[len("bind.") :]: value for key, value in params.items() if key.startswith("bind.")})
    query = sa.text(params["query"].strip().rstrip(";"))
    engine = _engine(url)
    with engine.connect() as conn:
        try:
            # The first statement of the transaction (the driver begins it), so it binds the whole of it.
            conn.exec_driver_sql(
                "PRAGMA query_only = ON" if engine.dialect.name == "sqlite" else "SET TRANSACTION READ ONLY"
            )
            row = conn.execute(query, {k: v for k, v in values.items() if f":{k}" in params["query"]}).first()
        finally:
            conn.rollback()
    return None if row is not None else f"the query on {name} returned no row"
