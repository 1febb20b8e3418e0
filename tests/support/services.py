"""The database servers the tests use, and how a test says that a service it needs is missing.

MariaDB (127.0.0.1:3306, root, no password) and PostgreSQL (127.0.0.1:5432, trust) are used when they
answer; ``SUDOLESS_TEST_MARIADB`` and ``SUDOLESS_TEST_POSTGRES`` point elsewhere. Without one, its tests are
skipped with the reason, except under ``CI=true``, where a missing service fails the run: CI must never pass
by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

IN_CI = os.environ.get("CI", "").lower() == "true"

MARIADB_ADMIN = os.environ.get("SUDOLESS_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/")
POSTGRES_ADMIN = os.environ.get("SUDOLESS_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def unavailable(reason: str) -> None:
    """Skip with the reason, or fail under CI where every service must be present."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def create_database(kind: str) -> tuple[str, sa.Engine, str]:
    """Create a uniquely named database; return its URL, the admin engine and the name (for dropping)."""
    name = f"sudoless_test_{uuid.uuid4().hex[:10]}"
    admin_url = MARIADB_ADMIN if kind == "mariadb" else POSTGRES_ADMIN
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except Exception as exc:  # any driver error means the service is not usable here
        unavailable(f"{kind} at {admin_url} is not available: {exc.__class__.__name__}: {exc}")
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return url, admin, name


def drop_database(admin: sa.Engine, name: str, kind: str) -> None:
    with admin.connect() as conn:
        if kind == "postgresql":
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        else:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
    admin.dispose()


@contextmanager
def database(kind: str, sqlite_file: Path) -> Iterator[str]:
    """A fresh database of ``kind`` (``sqlite_file``, or a new database on the server), dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{sqlite_file}"
        return
    url, admin, name = create_database(kind)
    try:
        yield url
    finally:
        drop_database(admin, name, kind)
