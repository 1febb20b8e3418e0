"""The database as one gzipped JSON-lines file per table, read in one snapshot and written back anywhere.

The dump goes through SQLAlchemy, so it needs no ``mysqldump`` or ``pg_dump`` binary and a backup of one
dialect restores into another (SQLite to PostgreSQL, MariaDB to SQLite). Every table is read in a single
read transaction: SQLite's in WAL mode is a snapshot by itself; MySQL/MariaDB and PostgreSQL run it at
REPEATABLE READ, where every statement of the transaction sees the database as of its first read. So the
tables agree with each other even while flows run and write.

Each file starts with a line holding the column names; each further line is one row as a JSON list.
Bytes (project archives, logs) are written as ``{"$b": "<base64>"}``, which no text column can hold.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from sudoless.store import tables as t

if TYPE_CHECKING:
    from sudoless.store import Store

#: rows are written back in statements of at most this many rows and about this many bytes, which stays
#: well below MySQL's smallest max_allowed_packet (4 MiB) for the chunk tables.
_BATCH_ROWS = 500
_BATCH_BYTES = 2 << 20

Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class TableDump:
    """One table's file in a backup: its name, rows and file name."""

    table: str
    rows: int
    file: str


def tables() -> list[sa.Table]:
    """Every table of the schema, parents before children."""
    return list(t.metadata.sorted_tables)


def dump(store: Store, folder: Path, progress: Progress | None = None) -> tuple[str | None, list[TableDump]]:
    """Write every table of ``store`` into ``folder`` from one snapshot; returns the schema revision and
    what was written. ``progress(table, rows so far)`` is called as rows are written."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[TableDump] = []
    with _snapshot(store) as conn:
        revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        for table in tables():
            name = f"{table.name}.jsonl.gz"
            rows = 0
            stored = _stored(table)
            columns = [c.name for c in stored]
            with gzip.open(folder / name, "wt", encoding="utf-8", compresslevel=1) as out:
                out.write(json.dumps(columns) + "\n")
                ordered = sa.select(*stored).order_by(*table.primary_key.columns)
                for row in conn.execution_options(stream_results=True, yield_per=200).execute(ordered):
                    out.write(json.dumps([_encode(v) for v in row], separators=(",", ":")) + "\n")
                    rows += 1
                    if progress is not None and rows % 200 == 0:
                        progress(table.name, rows)
            if progress is not None:
                progress(table.name, rows)
            written.append(TableDump(table.name, rows, name))
    return (str(revision) if revision is not None else None), written


class _snapshot:  # noqa: N801 - used as a context manager, like a function
    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> sa.Connection:
        conn = self.store.engine.connect()
        if self.store.dialect in ("mysql", "mariadb", "postgresql"):
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        self.conn = conn
        self.transaction = conn.begin()
        return conn

    def __exit__(self, *exc: object) -> None:
        self.transaction.rollback()  # a read: nothing to commit
        self.conn.close()


def _stored(table: sa.Table) -> list[sa.Column[Any]]:
    """The columns a backup holds: not the generated ones (``executions.duration``), which the database
    computes and refuses values for."""
    return [c for c in table.columns if c.computed is None]


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of one table file, as column -> value."""
    with gzip.open(path, "rt", encoding="utf-8") as source:
        columns = json.loads(source.readline())
        for line in source:
            yield dict(zip(columns, (_decode(v) for v in json.loads(line)), strict=True))


def nonempty_tables(store: Store) -> list[str]:
    """Tables of ``store`` that hold at least one row."""
    found = []
    with store.read() as conn:
        for table in tables():
            if conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is not None:
                found.append(table.name)
    return found


def load(store: Store, folder: Path, dumps: list[TableDump], replace: bool, progress: Progress | None = None) -> None:
    """Write the dumped tables into ``store`` in one transaction; with ``replace``, its rows go first."""
    by_name = {table.name: table for table in tables()}
    with store.write() as conn:
        if replace:
            for table in reversed(tables()):
                conn.execute(table.delete())
        for item in dumps:
            table = by_name[item.table]
            batch: list[dict[str, Any]] = []
            size = done = 0
            generated = {c.name for c in table.columns if c.computed is not None}
            for row in read_rows(folder / item.file):
                for name in generated.intersection(row):
                    del row[name]
                batch.append(row)
                size += sum(len(v) for v in row.values() if isinstance(v, (bytes, str)))
                if len(batch) >= _BATCH_ROWS or size >= _BATCH_BYTES:
                    conn.execute(table.insert(), batch)
                    done += len(batch)
                    batch, size = [], 0
                    if progress is not None:
                        progress(table.name, done)
            if batch:
                conn.execute(table.insert(), batch)
                done += len(batch)
            if progress is not None:
                progress(table.name, done)
        if store.dialect == "postgresql":
            _reset_sequences(conn)


def _reset_sequences(conn: sa.Connection) -> None:
    """PostgreSQL's id sequences do not move on inserts that give the id: set each past the largest id."""
    for table in tables():
        column = table.autoincrement_column
        if column is None:
            continue
        quote = conn.dialect.identifier_preparer.quote
        name, col = quote(table.name), quote(column.name)
        conn.execute(
            sa.text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), COALESCE(MAX({col}), 1), "
                f"MAX({col}) IS NOT NULL) FROM {name}"
            ),
            {"table": name, "column": column.name},
        )


def _encode(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$b": base64.b64encode(bytes(value)).decode("ascii")}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        return base64.b64decode(value["$b"])
    return value
