"""Writes ``sqlite_schema.sql`` (:mod:`sudoless.store.sqlite_schema`) from the migrations: ``./dev schema``.

A scratch SQLite database is migrated by Alembic from nothing to the newest revision, and its ``sqlite_master``
entries and rows are written out as SQL text; tests/flows/test_fresh_schema.py does the same and compares the
result with the committed file. Imports SQLAlchemy and Alembic: a tool for the people changing the schema, never
on a command's path.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from pathlib import Path

from sudoless.store.engine import create_engine, upgrade_with_alembic
from sudoless.store.sqlite_schema import HEADER, SCHEMA_FILE

__all__ = ["dump_schema", "main", "migrated_schema"]


def dump_schema(database: Path) -> str:
    """The text of :data:`SCHEMA_FILE` for ``database`` (one the migrations made): its ``sqlite_master`` entries
    in their order (the indexes SQLite makes for a key, which it names itself, are made again by their table's
    statement), then every row its tables hold, as ``INSERT`` statements."""
    connection = sqlite3.connect(database)
    try:
        objects = connection.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
            "ORDER BY rowid"
        ).fetchall()
        lines = [HEADER]
        for _kind, _name, sql in objects:
            lines.append(f"{sql};\n")
        for kind, name, _sql in objects:
            if kind != "table":
                continue
            quoted = '"' + name.replace('"', '""') + '"'
            columns = [row[1] for row in connection.execute(f"PRAGMA table_xinfo({quoted})") if row[6] == 0]
            names = [f'"{column}"' for column in columns]  # generated columns left out: they cannot be set
            quoting = ", ".join(f"quote({name})" for name in names)
            for row in connection.execute(f"SELECT {quoting} FROM {quoted}"):
                lines.append(f"INSERT INTO {quoted} ({', '.join(names)}) VALUES ({', '.join(row)});\n")
        return "".join(lines)
    finally:
        connection.close()


def migrated_schema() -> str:
    """:func:`dump_schema` of a scratch database that Alembic migrates from nothing to the newest revision."""
    with tempfile.TemporaryDirectory(prefix="sudoless-schema-") as scratch:
        database = Path(scratch) / "migrated.db"
        engine = create_engine(f"sqlite:///{database}")
        try:
            upgrade_with_alembic(engine)
        finally:
            engine.dispose()
        return dump_schema(database)


def main(argv: list[str] | None = None) -> int:
    """``./dev schema``: write :data:`SCHEMA_FILE` from the migrations (``--check``: only say whether it is
    current, exit 1 when not)."""
    args = sys.argv[1:] if argv is None else argv
    text = migrated_schema()
    current = SCHEMA_FILE.exists() and SCHEMA_FILE.read_text(encoding="utf-8") == text
    if "--check" in args:
        print(f"{SCHEMA_FILE}: {'current' if current else 'differs from the migrations: run ./dev schema'}")
        return 0 if current else 1
    if not current:
        SCHEMA_FILE.write_text(text, encoding="utf-8")
    print(f"{SCHEMA_FILE}: {'unchanged' if current else 'written'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
