"""A new SQLite database gets its schema from SQL text generated from the migrations, not by replaying them.

That shortcut is only sound while the text is what the migrations give: these tests regenerate it and compare it
with the committed file (``sudoless/store/sqlite_schema.sql``), and check that a database created from it, by
either store, is the migrated one: ``sqlite_master`` entry for entry, the pragmas a file keeps, the revision
row; that the full store then opens it without migrating, that two processes creating one file at once leave
one schema, and that a database already holding tables still goes through Alembic. The table definitions
(:mod:`sudoless.store.tables`, which SQLAlchemy's statements use on every back end) are compared with the
migrations too, column by column and index by index.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sudoless.store import Store
from sudoless.store import engine as engine_module
from sudoless.store.engine import create_engine, current_revision, migrate, upgrade_with_alembic
from sudoless.store.local import LocalStore, open_local
from sudoless.store.revision import head_revision
from sudoless.store.schema_generator import migrated_schema
from sudoless.store.sqlite_schema import SCHEMA_FILE, schema_statements


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


#: What a SQLite file keeps of its settings, beside its schema.
FILE_PRAGMAS = ("auto_vacuum", "journal_mode", "user_version", "application_id", "encoding", "page_size")


def exact_schema(path: Path) -> tuple[list[tuple[Any, ...]], dict[str, Any], list[tuple[Any, ...]]]:
    """``sqlite_master`` in its order (the text of every statement, the indexes SQLite made for keys), the
    file's pragmas and the revision rows of ``path``."""
    connection = sqlite3.connect(path)
    try:
        master = connection.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid").fetchall()
        pragmas = {name: connection.execute(f"PRAGMA {name}").fetchone()[0] for name in FILE_PRAGMAS}
        return master, pragmas, connection.execute("SELECT * FROM alembic_version").fetchall()
    finally:
        connection.close()


def migrated_database(path: Path) -> Path:
    migrated = create_engine(f"sqlite:///{path}")
    upgrade_with_alembic(migrated)
    migrated.dispose()
    return path


def test_the_committed_schema_is_what_the_migrations_give() -> None:
    """A migration added without ``./dev schema`` fails here (and the file is never edited by hand)."""
    assert SCHEMA_FILE.read_text(encoding="utf-8") == migrated_schema(), "run ./dev schema"
    statements = schema_statements()
    assert sum(s.startswith("CREATE TABLE") for s in statements) > 25
    assert statements[-1] == f'INSERT INTO "alembic_version" ("version_num") VALUES (\'{head_revision()}\')'


@pytest.mark.parametrize("by", ["local", "full"])
def test_a_new_database_is_the_migrated_one(tmp_path: Path, by: str) -> None:
    expected = exact_schema(migrated_database(tmp_path / "migrated.db"))
    url = f"sqlite:///{tmp_path / 'new' / 'fresh.db'}"
    if by == "local":
        store = open_local(url, lambda: Store(url, migrate_schema=False))
        assert isinstance(store, LocalStore)
        store.close()
    else:
        Store(url).close()
    master, pragmas, revision = exact_schema(tmp_path / "new" / "fresh.db")
    assert len(master) > 60
    assert master == expected[0]
    assert pragmas == expected[1] and pragmas["auto_vacuum"] == 2 and pragmas["journal_mode"] == "wal"
    assert revision == expected[2] == [(head_revision(),)]


def test_the_full_store_opens_a_locally_created_database_without_migrating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    store = open_local(url, lambda: Store(url, migrate_schema=False))
    assert store is not None
    store.close()

    def refuse(_engine: Any) -> None:
        raise AssertionError("migrated a database created at the newest revision")

    monkeypatch.setattr(engine_module, "upgrade_with_alembic", refuse)
    monkeypatch.setattr(engine_module, "_create_fresh", refuse)
    full = Store(url)
    assert full.projects.active() == []
    full.close()


def test_the_table_definitions_are_the_migrated_schema(tmp_path: Path) -> None:
    """SQLAlchemy's statements are built on :mod:`sudoless.store.tables`: it must describe what the migrations
    make (columns with type, nullability, default and key; foreign keys; indexes with columns and uniqueness)."""
    from sudoless.store.tables import metadata

    migrated = migrated_database(tmp_path / "migrated.db")
    defined = create_engine(f"sqlite:///{tmp_path / 'defined.db'}")
    with defined.begin() as connection:
        metadata.create_all(connection)
    defined.dispose()
    expected, got = sqlite_schema(migrated), sqlite_schema(tmp_path / "defined.db")
    del expected["alembic_version"]  # the migrations' own bookkeeping, not a table of sudoless
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
    """A file that already holds tables but no revision is not overwritten by the shortcut: the local store
    leaves it to the full one, whose migrations keep the table."""
    path = tmp_path / "other.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE unrelated (x INTEGER)")
    connection.commit()
    connection.close()
    url = f"sqlite:///{path}"
    assert open_local(url, lambda: Store(url, migrate_schema=False)) is None
    assert list(sqlite_schema(path)) == ["unrelated"]
    engine = create_engine(url)
    migrate(engine)
    assert current_revision(engine) == head_revision()
    assert "unrelated" in sqlite_schema(path)


def test_processes_creating_one_database_at_once(tmp_path: Path) -> None:
    """Two local flow runs' stores and two full ones start on a new file together: one creates it, the others
    wait for its write lock and find it made."""
    url = f"sqlite:///{tmp_path / 'race.db'}"
    local = (
        "from sudoless.store import Store\nfrom sudoless.store.local import open_local\n"
        f"store = open_local({url!r}, lambda: Store({url!r}, migrate_schema=False))\n"
        "assert store is not None\nstore.close()\n"
    )
    full = f"from sudoless.store import Store\nStore({url!r})\n"
    children = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
        for code in (local, full, local, full)
    ]
    for child in children:
        _, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
    assert current_revision(create_engine(url)) == head_revision()
    rows = sqlite3.connect(tmp_path / "race.db").execute("SELECT count(*) FROM alembic_version").fetchone()
    assert rows == (1,)
    expected = exact_schema(migrated_database(tmp_path / "migrated.db"))
    assert exact_schema(tmp_path / "race.db") == expected


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
