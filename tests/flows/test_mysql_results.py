"""The store's MariaDB connections read result sets through ``sudoless.store.mysql_results``, and what they
read is what PyMySQL itself reads: rows, types, descriptions, warnings and errors, on a real server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pymysql
import pytest
import sqlalchemy as sa

from sudoless.store import Store, mysql_results
from support.services import create_database, drop_database

#: Every kind of column the schema uses and more; values of each length prefix (1, 3 and 4 bytes: strings of
#: under 251, 251 to 65,535 and over 65,535 bytes), NULLs, non-ASCII text, bytes that are not UTF-8.
TABLE = """CREATE TABLE kinds (
    id INTEGER PRIMARY KEY, big BIGINT, small SMALLINT, tiny TINYINT, flag BOOLEAN, unsigned_big BIGINT UNSIGNED,
    money DECIMAL(12, 3), ratio DOUBLE, approx FLOAT, name VARCHAR(255), `condition` VARCHAR(32), body TEXT,
    long_body LONGTEXT, raw VARBINARY(64), blob_data LONGBLOB, day DATE, moment DATETIME(3), span TIME,
    doc JSON, chosen ENUM('a', 'b'), bits BIT(8)
) CHARACTER SET utf8mb4"""
ROWS: list[dict[str, Any]] = [
    {"id": 1},  # NULL in every other column
    {
        "id": 2,
        "big": -(2**62),
        "small": -300,
        "tiny": 7,
        "flag": True,
        "unsigned_big": 2**64 - 1,
        "money": "12345.678",
        "ratio": 1.5e300,
        "approx": 0.25,
        "name": "Zoë 北京 🚀",
        "condition": "all_done",
        "body": "x" * 300,
        "long_body": "é" * 70_000,
        "raw": b"\x00\xff\xfe\x80",
        "blob_data": bytes(range(256)) * 300,
        "day": "2026-12-07",
        "moment": "2026-12-07 16:38:25.123",
        "span": "-12:30:01",
        "doc": '{"a": [1, "ß"]}',
        "chosen": "b",
        "bits": b"\x05",
    },
    {"id": 3, "name": "", "body": "", "raw": b"", "long_body": "y" * 250, "ratio": 0.0, "flag": False},
    {"id": 4, "name": "n" * 251, "body": "z" * 65_535, "long_body": "w" * 65_536},
]
QUERIES = [
    "SELECT * FROM kinds ORDER BY id",
    "SELECT id, name AS renamed, k.body FROM kinds k WHERE id > 1 ORDER BY id DESC",
    "SELECT * FROM kinds WHERE id = 42",  # no row
    "SELECT COUNT(*), MAX(big), SUM(money), GROUP_CONCAT(name ORDER BY id) FROM kinds",
    "SELECT 1, 'a' UNION ALL SELECT 2, NULL",
    "SELECT CAST('12abc' AS INTEGER)",  # a warning
    "SELECT NOW() IS NOT NULL, CONVERT('é' USING latin1), _binary 'x'",
]


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    url, admin, name = create_database("mariadb")
    try:
        with sa.create_engine(url).begin() as conn:
            conn.exec_driver_sql(TABLE)
            for row in ROWS:
                columns = ", ".join(f"`{column}`" for column in row)
                values = ", ".join(f"%({column})s" for column in row)
                conn.exec_driver_sql(f"INSERT INTO kinds ({columns}) VALUES ({values})", row)
        yield url
    finally:
        drop_database(admin, name, "mariadb")


def connect(url: str, cls: type[pymysql.connections.Connection]) -> pymysql.connections.Connection:
    parsed = sa.make_url(url)
    return cls(
        host=parsed.host,
        port=parsed.port or 3306,
        user=parsed.username,
        database=parsed.database,
        charset="utf8mb4",
        ssl_disabled=True,
    )


def read(connection: pymysql.connections.Connection, sql: str) -> tuple[Any, ...]:
    with connection.cursor() as cursor:
        count = cursor.execute(sql)
        return count, cursor.description, cursor.fetchall(), cursor.warning_count, connection.server_status


def test_every_answer_is_pymysqls(mariadb_url: str) -> None:
    plain, fast = connect(mariadb_url, pymysql.connections.Connection), connect(mariadb_url, mysql_results.Connection)
    try:
        for _ in range(2):  # the second time from the kept column descriptions
            for sql in QUERIES:
                assert read(fast, sql) == read(plain, sql), sql
        assert read(fast, "SELECT CAST('12abc' AS INTEGER)")[3] == 1
    finally:
        plain.close()
        fast.close()


def test_descriptions_kept_are_bounded(mariadb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mysql_results, "DESCRIPTIONS_KEPT", 3)
    plain, fast = connect(mariadb_url, pymysql.connections.Connection), connect(mariadb_url, mysql_results.Connection)
    try:
        for sql in QUERIES:
            assert read(fast, sql) == read(plain, sql), sql
            assert all(len(kept) <= 3 for kept in mysql_results._DESCRIPTIONS.values())
    finally:
        plain.close()
        fast.close()


def test_errors_are_pymysqls_and_the_connection_goes_on(mariadb_url: str) -> None:
    plain, fast = connect(mariadb_url, pymysql.connections.Connection), connect(mariadb_url, mysql_results.Connection)
    try:
        for bad in ("SELECT nope FROM kinds", "SELECT * FROM missing", "INSERT INTO kinds (id) VALUES (1)"):
            raised = []
            for connection in (plain, fast):
                with pytest.raises(pymysql.MySQLError) as caught:
                    read(connection, bad)
                raised.append((type(caught.value), caught.value.args))
            assert raised[0] == raised[1], bad
            assert read(fast, QUERIES[0]) == read(plain, QUERIES[0])
        with fast.cursor() as cursor:  # statements without a result set take PyMySQL's own path
            assert cursor.execute("UPDATE kinds SET tiny = 1 WHERE id = 3") == 1
    finally:
        plain.close()
        fast.close()


def test_the_stores_connections_are_the_faster_ones(mariadb_url: str) -> None:
    store = Store(mariadb_url)
    try:
        connection = store.engine.raw_connection()
        try:
            assert isinstance(connection.driver_connection, mysql_results.Connection)
        finally:
            connection.close()
        assert store.executions.latest(limit=5) == []
    finally:
        store.close()


def test_an_unknown_pymysql_is_used_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(pymysql.connections.MySQLResult, "_read_rowdata_packet")
    assert mysql_results.connection_class() is pymysql.connections.Connection


@pytest.mark.parametrize("version", [(1, 1, 2, "final", 0), (1, 2, 0, "final", 0), (1, 3, 0, "final", 0)])
def test_a_pymysql_release_it_was_not_tested_with_is_used_as_it_is(
    monkeypatch: pytest.MonkeyPatch, version: tuple[object, ...]
) -> None:
    """PyMySQL 1.1 has the methods this module overrides but not the read timeout it keeps: every read would
    fail there, so only the releases it was tested with get the faster reader."""
    monkeypatch.setattr(pymysql, "VERSION", version)
    assert mysql_results.connection_class() is pymysql.connections.Connection
    monkeypatch.setattr(pymysql, "VERSION", (1, 2, 4, "final", 0))
    assert mysql_results.connection_class() is mysql_results.Connection
