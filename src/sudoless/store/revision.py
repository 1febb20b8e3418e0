"""The schema's newest revision, read from the migration files' names: what a database is compared with before
use, without importing Alembic or SQLAlchemy."""

from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["MIGRATIONS", "REVISION_QUERY", "head_revision"]

MIGRATIONS = Path(__file__).with_name("migrations")
#: The revision a database's schema is at (Alembic's table; every back end, either store).
REVISION_QUERY = "SELECT version_num FROM alembic_version"


@functools.cache
def head_revision() -> str:
    """The newest migration: revision ids are the file names' numeric prefixes (0001_..., 0002_...)."""
    return max(p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))
