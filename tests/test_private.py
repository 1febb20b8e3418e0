"""SUDOLESS_HOME, its database and its secrets are private (0700/0600) whatever existed before and whatever
the umask, and database passwords need not be on a command line (issue 17, items 8 and 9).

Everything runs the real ``sudoless`` command in a subprocess, with umask 022 as most accounts have it.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from server.test_serve import Running
from sudoless.config import Settings, database_password, ensure_home, load_settings
from sudoless.errors import ConfigError
from sudoless.store import store_for
from support.services import MARIADB_ADMIN, create_database, drop_database, unavailable

SUDOLESS = Path(sys.executable).with_name("sudoless")
SECRETS = (
    "admin-password",
    "server-secret",
    "tls/server.key",
    "mysql/default/root.password",
    "mysql/default/sudoless.password",
    "mysql/default/client.cnf",
    "config.toml",
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sudoless(home: Path, *args: str, umask: int = 0o022, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SUDOLESS_")}
    return subprocess.run(
        [str(SUDOLESS), *args],
        env={**clean, "SUDOLESS_HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=120,
        umask=umask,
        check=False,
    )


def one_line(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def open_home(tmp_path: Path) -> Path:
    """A home as an older sudoless or a careless mkdir left it: 0755, database and secrets 0644."""
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    with sqlite3.connect(home / "sudoless.db") as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE leftover (i INTEGER)")
    for name in ("sudoless.db-wal", "sudoless.db-shm", *SECRETS):
        path = home / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("[sudoless]\n" if name == "config.toml" else "secret\n")
    for path in home.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return home


def assert_private(home: Path) -> None:
    assert mode(home) == 0o700
    for name in ("sudoless.db", *SECRETS):
        # an older home's admin-password has moved into the default database's folder
        path = Settings(home=home).admin_password_file if name == "admin-password" else home / name
        assert mode(path) == 0o600, name
    for name in ("sudoless.db-wal", "sudoless.db-shm"):
        if (home / name).exists():
            assert mode(home / name) == 0o600, name


def test_the_cli_makes_an_open_home_private(tmp_path: Path) -> None:
    home = open_home(tmp_path)
    result = sudoless(home, "user", "list", "--json")
    assert result.returncode == 0, result.stderr
    assert_private(home)


def test_the_server_makes_an_open_home_private(tmp_path: Path) -> None:
    home = open_home(tmp_path)
    os.unlink(home / "sudoless.db")  # the server creates its database itself, here under umask 022
    os.unlink(home / "sudoless.db-wal")
    os.unlink(home / "sudoless.db-shm")
    server = Running(home)
    try:
        # while it runs, SQLite's -wal and -shm files exist: they take the database's mode
        assert (home / "sudoless.db-wal").exists()
        assert_private(home)
    finally:
        code, err = server.stop()
    assert code == 0, err


@pytest.mark.parametrize("umask", [0o000, 0o022])
def test_a_new_database_is_0600_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    home = tmp_path / "home"
    assert sudoless(home, "user", "list", umask=umask).returncode == 0
    assert (mode(home), mode(home / "sudoless.db")) == (0o700, 0o600)
    elsewhere = tmp_path / "other" / "team.db"  # a SQLite URL of the user's choice is private too
    assert sudoless(home, "user", "list", "--db", f"sqlite:///{elsewhere}", umask=umask).returncode == 0
    assert mode(elsewhere) == 0o600


def _as(uid: int, call: Callable[[], object]) -> str:
    """Run ``call`` in a child process switched to ``uid`` (no exec: the same code, another account);
    returns what it raised, or "" when it returned."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns to pytest
        message = ""
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            call()
        except BaseException as exc:  # reported to the parent, which asserts on it
            message = f"{type(exc).__name__}: {exc}"
        os.write(write, message.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        message = pipe.read()
    os.waitpid(pid, 0)
    return message


@pytest.mark.rootless
def test_what_another_account_owns_is_refused() -> None:
    from support.osuser import created_user

    with created_user("slp") as user:
        # a home owned by someone else: its owner could read everything, so sudoless refuses to use it
        theirs = user.home / "shared-home"
        theirs.mkdir()
        os.chown(theirs, user.uid, user.uid)
        one_line(sudoless(theirs, "user", "list"), str(theirs), f"belongs to {user.name}", "SUDOLESS_HOME")
        # the user's own home with a secret root left in it (0644): the user cannot tighten it
        home = user.home / ".sudoless"
        home.mkdir(mode=0o755)
        os.chown(home, user.uid, user.uid)
        (home / "admin-password").write_text("root's\n")
        os.chmod(home / "admin-password", 0o644)
        raised = _as(user.uid, lambda: ensure_home(Settings(home=home)))
        assert raised.startswith("ConfigError: ") and "admin-password" in raised and "belongs to root" in raised
        assert mode(home) == 0o700  # what it could tighten, it did


# -- database passwords off the command line ------------------------------------------------------------------


@pytest.fixture
def mariadb_user() -> Iterator[tuple[str, str]]:
    """A database and a user with a password on the real MariaDB; yields (URL without password, password)."""
    name = f"sl_pw_{uuid.uuid4().hex[:8]}"
    password = "p@ss:w/rd " + uuid.uuid4().hex[:6]  # characters a URL would have to escape
    try:
        admin = sa.create_engine(MARIADB_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
            conn.exec_driver_sql(f"CREATE USER '{name}'@'%%' IDENTIFIED BY %s", (password,))
            conn.exec_driver_sql(f"GRANT ALL ON {name}.* TO '{name}'@'%%'")
    except Exception as exc:  # any driver error means the service is not usable here
        unavailable(f"mariadb at {MARIADB_ADMIN} is not available: {exc.__class__.__name__}: {exc}")
    host = sa.engine.make_url(MARIADB_ADMIN)
    try:
        yield f"mysql://{name}@{host.host}:{host.port or 3306}/{name}", password
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
            conn.exec_driver_sql(f"DROP USER IF EXISTS '{name}'@'%%'")
        admin.dispose()


def test_the_password_comes_from_a_private_file(tmp_path: Path, mariadb_user: tuple[str, str]) -> None:
    url, password = mariadb_user
    home = tmp_path / "home"
    secret = tmp_path / "db.password"
    secret.write_text(password + "\n")
    os.chmod(secret, 0o600)
    works = sudoless(home, "user", "list", "--json", "--db", url, SUDOLESS_DB_PASSWORD_FILE=str(secret))
    assert works.returncode == 0 and works.stderr == "", works.stderr
    # SUDOLESS_DB works the same way
    assert sudoless(home, "user", "list", SUDOLESS_DB=url, SUDOLESS_DB_PASSWORD_FILE=str(secret)).returncode == 0
    # without the password, MariaDB refuses: the file is what made it work
    one_line(sudoless(home, "user", "list", "--db", url), "Access denied")
    # a file others can read is refused, saying how to fix it
    os.chmod(secret, 0o644)
    one_line(
        sudoless(home, "user", "list", "--db", url, SUDOLESS_DB_PASSWORD_FILE=str(secret)),
        str(secret),
        f"chmod 600 {secret}",
    )
    one_line(
        sudoless(home, "user", "list", "--db", url, SUDOLESS_DB_PASSWORD_FILE=str(tmp_path / "nope")),
        "SUDOLESS_DB_PASSWORD_FILE",
        "nope",
    )


def test_a_password_in_the_url_works_and_warns(tmp_path: Path, mariadb_user: tuple[str, str]) -> None:
    url, password = mariadb_user
    with_password = sa.engine.make_url(url).set(password=password).render_as_string(hide_password=False)
    result = sudoless(tmp_path / "home", "user", "list", "--json", "--db", with_password)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "ps" in lines[0] and "SUDOLESS_DB_PASSWORD_FILE" in lines[0], lines
    assert password not in result.stderr


def test_the_password_can_live_in_the_config_file(tmp_path: Path, mariadb_user: tuple[str, str]) -> None:
    url, password = mariadb_user
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(f'[sudoless]\ndb_url = "{url}"\ndb_password = "{password}"\n')
    os.chmod(home / "config.toml", 0o644)
    assert sudoless(home, "user", "list").returncode == 0
    assert mode(home / "config.toml") == 0o600  # it holds a password: tightened at start
    settings = load_settings({"SUDOLESS_HOME": str(home)})
    assert password not in repr(settings)
    store = store_for(settings)
    try:
        assert store.engine.url.password == password and password not in str(store.engine.url)
    finally:
        store.close()


def test_postgresql_gets_the_password_of_the_file(tmp_path: Path) -> None:
    """Trust authentication ignores passwords, so this checks what reaches the driver."""
    url, admin, name = create_database("postgresql")
    secret = tmp_path / "pg.password"
    secret.write_text("hunter2\nsecond line ignored\n")
    os.chmod(secret, 0o600)
    settings = Settings(home=tmp_path / "home", db_url=url, db_password_file=str(secret))
    try:
        store = store_for(settings)
        try:
            assert store.engine.url.password == "hunter2"
            with store.engine.connect() as conn:
                assert conn.exec_driver_sql("SELECT 1").scalar() == 1
        finally:
            store.close()
    finally:
        drop_database(admin, name, "postgresql")
    os.chmod(secret, 0o640)
    with pytest.raises(ConfigError, match="chmod 600"):
        database_password(settings)
