"""The folder of SUDOLESS_HOME that belongs to one database: ``data/<key>``.

Execution directories, the project cache and the admin password are named by ids and facts of one
database (execution 1, project 3 version 2, the first admin). One home can serve several databases one
after the other (the default SQLite file, then ``--db managed``, then a shared PostgreSQL), and their ids
overlap, so each database gets a folder of its own, named by :func:`database_key`: a readable part and a
hash of what identifies the database (SQLite: the file; others: dialect, host, port, database name). The
password never takes part, so changing it keeps the folder.

Homes of older versions kept these files at the top level; :func:`migrate_layout` moves them under the
default SQLite database's folder, the database they belonged to unless the user always gave ``--db``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = ["OLD_LAYOUT", "data_root", "database_dir", "database_key", "default_sqlite_url", "migrate_layout"]

#: what homes before the per-database folders kept at their top level
OLD_LAYOUT = ("executions", "projects", "admin-password")
_DEFAULT_PORTS = {"mysql": 3306, "postgresql": 5432, "mssql": 1433, "oracle": 1521}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_USERINFO_PASSWORD = re.compile(r"(//[^/:@]*):[^@/]*@")


def default_sqlite_url(home: Path) -> str:
    """The database of a home without ``db_url``: SQLite at ``home/sudoless.db``."""
    return f"sqlite:///{home / 'sudoless.db'}"


def data_root(home: Path) -> Path:
    return home / "data"


def database_key(url: str, home: Path) -> str:
    """A folder name for the database at ``url``: ``<readable>-<hash>``, the same for every spelling of the
    same database (driver, user, password and options left out), different for different databases.

    A SQLite file inside ``home`` is named relative to it, so that a home moved elsewhere keeps its folders.
    """
    plain = plain_sqlite_path(url)
    if plain is not None:  # parsed here: a local flow run never imports SQLAlchemy (sudoless.store.local)
        return _sqlite_key(plain, home)
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # the store says what is wrong with it; still never hash a password
        return _key("db", _USERINFO_PASSWORD.sub(r"\1@", url))
    dialect = parsed.get_backend_name()
    if dialect == "mariadb":
        dialect = "mysql"  # one server, two dialect names
    if dialect == "sqlite":
        return _sqlite_key(parsed.database or "", home)
    port = parsed.port or _DEFAULT_PORTS.get(dialect, 0)
    host = parsed.host or ""
    socket = parsed.query.get("unix_socket") or parsed.query.get("host") or ""
    database = parsed.database or ""
    identity = "\n".join((dialect, host, str(port), database, str(socket)))
    return _key(f"{dialect}-{host or 'local'}-{port}-{database}", identity)


def plain_sqlite_path(url: str) -> str | None:
    """The file of a plain SQLite URL (``sqlite:///PATH``: no driver, options or escapes), as SQLAlchemy reads
    it; None for any other URL."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or any(c in url for c in "?%#"):
        return None
    return url[len(prefix) :]


def _sqlite_key(name: str, home: Path) -> str:
    if name in ("", ":memory:") or name.startswith("file:"):
        return _key("sqlite-memory", name or ":memory:")
    path = Path(os.path.abspath(Path(name).expanduser()))
    root = Path(os.path.abspath(home))
    identity = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    return _key(f"sqlite-{path.name}", identity)


def _key(readable: str, identity: str) -> str:
    digest = hashlib.sha256(identity.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f"{_UNSAFE.sub('_', readable).strip('._-')[:48] or 'db'}-{digest}"


def database_dir(home: Path, url: str) -> Path:
    """``home/data/<key>``: where the files named by ids of the database at ``url`` live."""
    return data_root(home) / database_key(url, home)


def migrate_layout(home: Path) -> Path | None:
    """Move a home's top-level ``executions``, ``projects`` and ``admin-password`` (older versions) into the
    default SQLite database's folder; returns that folder when something moved.

    Nothing moves when that folder exists already (the new layout is in use). The files go through a fixed
    staging folder renamed into place at the end, so an interrupted move is finished by the next start
    and nothing is lost or overwritten.
    """
    old = [home / name for name in OLD_LAYOUT if os.path.lexists(home / name)]
    target = database_dir(home, default_sqlite_url(home))
    staging = target.with_name(f".moving-{target.name}")
    if target.exists() or not (old or staging.exists()):
        return None
    from sudoless.private import private_dir

    private_dir(staging)
    for path in old:
        os.rename(path, staging / path.name)
    staging.rename(target)
    log.warning(
        "moved %s from %s to %s (one folder per database)", ", ".join(p.name for p in old) or "files", home, target
    )
    return target
