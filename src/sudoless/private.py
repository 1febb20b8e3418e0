"""Files and folders only their owner may read: SUDOLESS_HOME, its database and the secrets kept in it.

The home holds password hashes, session keys, the admin password, TLS keys and database passwords. A home
that existed before sudoless first ran (with mode 0755, say), or a database SQLite created under a umask of
022, would let every local account read them. So sudoless makes them private at every start (folders 0700,
files 0600) and creates new secret files 0600 from the first byte (``os.open`` with the mode, never a chmod
afterwards). What it cannot make private, because another account owns it, is refused in one line: the
owner could read it or widen its mode again whatever sudoless does.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import stat
from pathlib import Path

from sudoless.errors import ConfigError

__all__ = ["SECRET_PATTERNS", "create_private", "private_dir", "private_file", "tighten_home", "write_private"]

#: What SUDOLESS_HOME holds that must stay private, as globs relative to the home. The home itself is made
#: 0700 too, so these are a second wall, for a home that is moved or shared by mistake.
SECRET_PATTERNS = (
    "config.toml",  # may hold db_password
    "sudoless.db",
    "sudoless.db-wal",
    "sudoless.db-shm",
    "sudoless.db-journal",
    "admin-password",
    "data/*/admin-password",
    "server-secret",
    "tls/server.key",
    "mysql/*/root.password",
    "mysql/*/sudoless.password",
    "mysql/*/client.cnf",
)

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _check_owner(path: Path, info: os.stat_result, what: str) -> None:
    if info.st_uid != os.geteuid():
        raise ConfigError(
            f"{path}: {what} belongs to {_owner_name(info.st_uid)}, not to you "
            f"({_owner_name(os.geteuid())}), so it cannot be kept private; use a SUDOLESS_HOME "
            "of your own (or have its owner remove it)"
        )


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) with the folder itself 0700, or make an existing one 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = path.stat()
    _check_owner(path, info, "the folder")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path


def private_file(path: Path) -> None:
    """Make an existing file readable by its owner only (0600 at most); a missing file is left missing."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    _check_owner(path, info, "the file")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, stat.S_IMODE(info.st_mode) & 0o700)


def create_private(path: Path) -> None:
    """Make sure ``path`` exists and is private: created empty with 0600 when missing (SQLite then keeps
    the database at that mode and gives its -wal and -shm files the same), tightened when it exists."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600))
    private_file(path)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only its owner can read, replacing ``path`` atomically."""
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)


def tighten_home(home: Path) -> Path:
    """Create or tighten SUDOLESS_HOME (0700) and every secret in it that exists (0600); returns ``home``."""
    private_dir(home)
    for pattern in SECRET_PATTERNS:
        for path in home.glob(pattern) if "*" in pattern else [home / pattern]:
            private_file(path)
    return home
