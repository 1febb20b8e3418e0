"""A new SQLite database gets its schema from the table definitions, not by replaying the migrations.

That shortcut is only sound while the two give the same database: these tests build one each way and
compare every table's columns (type, nullability, default, key), foreign keys and indexes (columns and
uniqueness), and check that a database already holding tables still goes through Alembic.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from sudoless.store.engine import create_engine, current_revision, migrate, upgrade_with_alembic
from sudoless.store.revision import head_revision


def sqlite_schema(path: Path) -> dict[str, Any]:
    """Every table and index of ``path`` as SQLite reports it, in a comparable form."""
    connection = sqlite3.connect(path)
    try:
        schema: dict[str, Any] = {}
        objects = connection.execute(
            "SELECT type, name, tbl_name FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_%' AND type IN ('table', 'index')"
        ).fetchall()
        for kind, name, table in objects:
            if kind == "table":
                schema[name] = (
                    sorted(connection.execute(f"PRAGMA table_info('{name}')").fetchall()),
                    sorted(connection.execute(f"PRAGMA foreign_key_list('{name}')").fetchall()),
                )
            else:
                unique = {row[1]: row[2] for row in connection.execute(f"PRAGMA index_list('{table}')")}
                schema[name] = (table, connection.execute(f"PRAGMA index_info('{name}')").fetchall(), unique[name])
        return schema
    finally:
        connection.close()


def test_fresh_database_has_the_migrated_schema(tmp_path: Path) -> None:
    migrated = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    upgrade_with_alembic(migrated)
    fresh = create_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    migrate(fresh)
    assert current_revision(fresh) == current_revision(migrated) == head_revision()
    expected, got = sqlite_schema(tmp_path / "migrated.db"), sqlite_schema(tmp_path / "fresh.db")
    assert len(expected) > 40
    assert sorted(got) == sorted(expected)
    for name in expected:
        assert got[name] == expected[name], name


def test_fresh_database_is_created_without_importing_alembic(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom sudoless.store import Store\n"
        f"store = Store('sqlite:///{tmp_path / 'new.db'}')\n"
        "assert 'alembic' not in sys.modules, 'alembic imported'\n"
        "store = Store(store.url)\nassert 'alembic' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_database_with_tables_goes_through_alembic(tmp_path: Path) -> None:
    """A file that already holds tables but no revision is not overwritten by the shortcut."""
    path = tmp_path / "other.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE unrelated (x INTEGER)")
    connection.commit()
    connection.close()
    engine = create_engine(f"sqlite:///{path}")
    migrate(engine)
    assert current_revision(engine) == head_revision()
    assert "unrelated" in sqlite_schema(path)


def test_two_processes_creating_one_database_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    code = f"from sudoless.store import Store\nStore({url!r})\n"
    children = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for child in children:
        _, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
    assert current_revision(create_engine(url)) == head_revision()
    rows = sqlite3.connect(tmp_path / "race.db").execute("SELECT count(*) FROM alembic_version").fetchone()
    assert rows == (1,)


def test_long_column_types_per_dialect() -> None:
    """The chunk and document columns are LONGBLOB/LONGTEXT on MySQL and MariaDB (one dialect; their BLOB and
    TEXT stop at 64 KB) and the plain types elsewhere, as the migrations create them, resolved on demand."""
    from sqlalchemy.dialects import mysql, postgresql, sqlite
    from sqlalchemy.schema import CreateTable

    from sudoless.store.tables import metadata

    expected = {
        "mysql": ("LONGBLOB", "LONGTEXT"),
        "postgresql": ("BYTEA", "TEXT"),
        "sqlite": ("BLOB", "TEXT"),
    }
    dialects = {
        "mysql": mysql.dialect(),
        "postgresql": postgresql.dialect(),
        "sqlite": sqlite.dialect(),
    }
    for name, dialect in dialects.items():
        blob, text = expected[name]
        logs = str(CreateTable(metadata.tables["logs"]).compile(dialect=dialect))
        assert f"{blob} NOT NULL" in logs or f"{blob}," in logs or f"{blob}\n" in logs, (name, logs)
        if name == "mysql":
            assert "LONGTEXT" in str(CreateTable(metadata.tables["executions"]).compile(dialect=dialect)), name
