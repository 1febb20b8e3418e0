"""``sudoless mysql`` as an unprivileged user the test creates, on this machine's real ``mariadbd``: init,
start, data through a clean restart and a ``kill -9``, every trap the issue lists with its one-line
message and exit code 2, ``managed_url``, and the flow store's tests against the instance.

Needs root (to create the user) and a MariaDB or MySQL server binary; CI has both (``./dev test``
installs Debian's mariadb-server package there). The system server on port 3306 is never touched: the
instances pick their ports from 3307 up, probing each with ``bind``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pymysql
import pytest
import sqlalchemy as sa

from sudoless.config import Settings
from sudoless.errors import SudolessError
from sudoless.mysql import (
    destroy_instance,
    find_binaries,
    init_instance,
    instance_status,
    start_instance,
    stop_instance,
)
from sudoless.mysql.ports import pick_port
from support.eventually import eventually
from support.osuser import explain, try_as_user
from support.services import unavailable

if TYPE_CHECKING:
    from mysql.conftest import Cli

pytestmark = [pytest.mark.rootless, pytest.mark.slow, pytest.mark.services]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def server_binary() -> None:
    try:
        find_binaries(search_path="/usr/local/bin:/usr/bin:/bin")
    except SudolessError as exc:
        unavailable(f"no usable MariaDB/MySQL server binary ({exc}); install Debian's mariadb-server package")


@pytest.fixture(scope="module")
def running(cli: Cli) -> Iterator[dict[str, Any]]:
    """The user's default instance, initialised and started; yields ``status --json``."""
    created = cli.json("mysql init")
    assert created["server"] == "/usr/sbin/mariadbd" or Path(created["server"]).name in ("mariadbd", "mysqld")
    cli.ok("mysql start")
    yield cli.status()
    cli("mysql stop")


def _connect(url: str, **extra: Any) -> pymysql.Connection:
    parsed = sa.engine.make_url(url)
    return pymysql.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password or "",
        database=parsed.database,
        autocommit=True,
        connect_timeout=10,
        **extra,
    )


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on ``port``, from /proc/net/tcp{,6}."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_runs_as_the_user_on_loopback_only(cli: Cli, running: dict[str, Any]) -> None:
    user = cli.user
    assert running["state"] == "running", running
    pid, port = running["pid"], running["port"]
    assert port != 3306
    status_lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    uid_line = next(line for line in status_lines if line.startswith("Uid:"))
    assert uid_line.split()[1] == str(user.uid), uid_line
    assert Path(os.readlink(f"/proc/{pid}/exe")).name in ("mariadbd", "mysqld")
    arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert arguments[1].startswith(b"--defaults-file="), arguments
    assert b"--user=root" not in arguments
    assert _listening_addresses(port) == {"0100007F"}, "the server must listen on 127.0.0.1 only"
    # mariadbd is in /usr/sbin, not on a normal user's PATH: init found it anyway
    assert try_as_user(user, "command -v mariadbd mysqld", 30).returncode != 0
    root = user.home / ".sudoless" / "mysql" / "default"
    assert root.stat().st_mode & 0o777 == 0o700
    for secret in ("root.password", "sudoless.password", "client.cnf"):
        info = (root / secret).stat()
        assert (info.st_mode & 0o777, info.st_uid) == (0o600, user.uid), secret
    for part in ("run/mysqld.sock", "run/mysqld.pid", "log/error.log", "data/ibdata1"):
        assert (root / part).exists(), part
    not_owned = [str(p) for p in root.rglob("*") if p.lstat().st_uid != user.uid]
    assert not not_owned, not_owned


def test_secure_defaults(cli: Cli, running: dict[str, Any]) -> None:
    admin_url = cli.ok("mysql url --root --with-password").stdout.strip()
    with pytest.raises(pymysql.err.OperationalError) as refused:
        pymysql.connect(host="127.0.0.1", port=running["port"], user="root", password="", connect_timeout=10)
    assert refused.value.args[0] == 1045
    with _connect(admin_url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM mysql.user WHERE User = ''")
        assert cursor.fetchone() == (0,)
        cursor.execute("SELECT @@secure_file_priv, @@bind_address, @@character_set_server, @@skip_name_resolve")
        files, bind, charset, skip = cursor.fetchone()
        assert files.rstrip("/").endswith("/mysql/default/files")
        assert (bind, charset, skip) == ("127.0.0.1", "utf8mb4", 1)
        cursor.execute("SHOW DATABASES")
        assert "test" not in {row[0] for row in cursor.fetchall()}


def test_data_survives_a_clean_restart_and_kill_9(cli: Cli, running: dict[str, Any]) -> None:
    url = cli.ok("mysql url --with-password").stdout.strip()
    assert url.startswith("mysql+pymysql://sudoless:") and url.endswith("/sudoless?charset=utf8mb4")
    # by default no password: it stays in its 0600 file, which SUDOLESS_DB_PASSWORD_FILE names
    shown = cli.json("mysql url")
    assert shown["url"].startswith("mysql+pymysql://sudoless@") and shown["url"] == url.replace(
        url[len("mysql+pymysql://sudoless") : url.index("@")], ""
    )
    assert Path(shown["password_file"]).stat().st_mode & 0o777 == 0o600
    with _connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE obs (id INT PRIMARY KEY, label VARCHAR(20)) ENGINE=InnoDB")
        cursor.execute("INSERT INTO obs VALUES (1, 'before stop'), (2, 'ünïcode')")

    stopped = cli.json("mysql stop")
    assert stopped["method"] == "SHUTDOWN", stopped
    assert cli.status()["state"] == "stopped"
    assert "is not running" in cli.ok("mysql stop").stdout

    started = cli.json("mysql start")
    assert started["state"] == "running" and started["seconds"] < 30
    with _connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT id, label FROM obs ORDER BY id")
        assert cursor.fetchall() == ((1, "before stop"), (2, "ünïcode"))
        cursor.execute("INSERT INTO obs VALUES (3, 'before kill')")

    os.kill(started["pid"], signal.SIGKILL)
    eventually(lambda: cli.status()["state"], "crashed", timeout=10, interval=0.2, what="the killed server's status")
    restarted = cli.ok("mysql start")
    assert "stale pid file" in restarted.stderr, restarted.stderr
    with _connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM obs")
        assert cursor.fetchone() == (3,)

    # a pid file naming some other live process is stale too
    stopped = cli.json("mysql stop")
    assert stopped["method"] == "SHUTDOWN"
    (cli.user.home / ".sudoless/mysql/default/run/mysqld.pid").write_text("1\n")
    assert cli.status()["state"] == "crashed"
    assert "stale pid file" in cli.ok("mysql start").stderr


def test_second_start_fails_at_once(cli: Cli, running: dict[str, Any]) -> None:
    began = time.monotonic()
    message = cli.fails("mysql start")
    assert "is already running" in message and time.monotonic() - began < 10
    # without its pid file, the server is still found: it holds the data directory's locks
    pid_file = cli.user.home / ".sudoless/mysql/default/run/mysqld.pid"
    pid = pid_file.read_text().strip()
    pid_file.unlink()
    began = time.monotonic()
    message = cli.fails("mysql start")
    assert f"is already running (pid {pid}" in message and time.monotonic() - began < 10
    assert cli.status()["pid"] == int(pid)


def test_flow_store_suite_passes_against_the_instance(cli: Cli, running: dict[str, Any]) -> None:
    admin_url = cli.ok("mysql url --root --with-password").stdout.strip()
    env = {**os.environ, "SUDOLESS_TEST_MARIADB": admin_url}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "tests/flows/test_runner_oracles.py",
        "-k",
        "mariadb",
        "-q",
        "-p",
        "no:cacheprovider",
        "-x",
    ]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, explain("flow tests against the instance", result)
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary and "error" not in summary, summary


def test_port_in_use_at_init_and_at_start(cli: Cli, running: dict[str, Any]) -> None:
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", pick_port("127.0.0.1", {running["port"]})))
        busy.listen()
        taken = busy.getsockname()[1]
        assert "is in use" in cli.fails(f"mysql init --name clash --port {taken}")
        assert "belongs to MySQL instance 'default'" in cli.fails(f"mysql init --name clash --port {running['port']}")
        clash = cli.json("mysql init --name clash")  # picks a free port by itself
        assert clash["port"] not in (taken, running["port"], 3306)
        assert clash["port_settled"] is False
    # another program takes the picked port before the first start: the instance moves, and says so
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", clash["port"]))
        busy.listen()
        first = cli.json("mysql start --name clash")
    assert first["state"] == "running" and first["port"] not in (clash["port"], running["port"], 3306)
    assert f"port {clash['port']} on 127.0.0.1, picked at init, was taken" in first["notes"][0]
    assert f"listens on port {first['port']}" in first["notes"][0]
    assert f"port = {first['port']}" in (cli.user.home / ".sudoless/mysql/clash/my.cnf").read_text()
    cli.ok("mysql stop --name clash")
    # once it has served, clients may know its port: a taken port is an error that says what to do
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", first["port"]))
        busy.listen()
        message = cli.fails("mysql start --name clash")
        assert f"port {first['port']} on 127.0.0.1 is in use by another program" in message
        assert "--port" in message
        elsewhere = pick_port("127.0.0.1", {running["port"], first["port"]})
        moved = cli.json(f"mysql start --name clash --port {elsewhere}")
        assert moved["port"] == elsewhere and moved["state"] == "running"
    names = {entry["name"]: entry["state"] for entry in cli.json("mysql list")}
    assert names == {"default": "running", "clash": "running"}
    # a server that cannot start: start says why, with the end of the error log
    cli.ok("mysql stop --name clash")
    with open(cli.user.home / ".sudoless/mysql/clash/my.cnf", "a") as options:
        options.write("no-such-option = 1\n")
    failed = cli("mysql start --name clash")
    assert failed.returncode == 2, explain("start with a bad option", failed)
    assert "unknown variable 'no-such-option=1'" in failed.stderr
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith("sudoless: ") and "exited with code" in last, failed.stderr
    assert "pass --yes" in cli.fails("mysql destroy --name clash")
    destroyed = cli.json("mysql destroy --name clash --yes")
    assert not Path(destroyed["removed"][0]).exists()


def test_socket_path_over_the_limit(cli: Cli) -> None:
    home = f"{cli.user.home}/{'x' * 90}/h"
    assert len(f"{home}/mysql/long/run/mysqld.sock") > 107
    cli.ok("mysql init --name long", home)
    started = cli.json("mysql start --name long", home)
    assert started["state"] == "running"
    options = Path(home, "mysql/long/my.cnf").read_text()
    assert "socket = ../run/mysqld.sock" in options.splitlines()
    cli.ok("mysql passwd --name long", home)  # sudoless's own client reaches the long socket
    shown = cli.ok("mysql shell --name long -- -N -e 'SELECT CURRENT_USER()'", home)
    assert shown.stdout.strip() == "root@127.0.0.1"
    assert cli.json("mysql stop --name long", home)["method"] == "SHUTDOWN"
    far = f"{cli.user.home}/{'y' * 100}/data"
    assert "over the system's limit" in cli.fails(f"mysql init --name far --datadir {far}", home)
    cli.ok("mysql destroy --name long --yes", home)


def test_missing_binary_and_unusable_datadir(cli: Cli) -> None:
    home = f"{cli.user.home}/h-missing"
    cli.python("import os; os.makedirs(os.path.expanduser('~/empty-basedir'))")
    message = cli.fails(f"mysql init --basedir {cli.user.home}/empty-basedir", home)
    assert "holds no mariadbd or mysqld" in message and "sudoless mysql install" in message and "--basedir" in message
    cli.python("import os; os.makedirs(os.path.expanduser('~/full')); open(os.path.expanduser('~/full/x'), 'w')")
    assert "is not an empty directory" in cli.fails(f"mysql init --datadir {cli.user.home}/full", home)
    assert "no MySQL instance 'default'" in cli.fails("mysql start", home)
    assert not Path(home, "mysql", "default").exists()


def test_managed_url_creates_starts_and_reuses(cli: Cli) -> None:
    home = f"{cli.user.home}/h-managed"
    code = (
        "from sudoless.config import load_settings\nfrom sudoless.mysql import managed_url\n"
        "print(managed_url(load_settings()))"
    )
    url = cli.python(code, home).strip().splitlines()[-1]
    with _connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE t (i INT)")
        cursor.execute("SELECT DATABASE(), CURRENT_USER()")
        assert cursor.fetchone() == ("sudoless", "sudoless@%")
    began = time.monotonic()
    assert cli.python(code, home).strip().splitlines()[-1] == url
    assert time.monotonic() - began < 30
    cli.ok("mysql destroy --yes", home)


def test_as_root_the_server_gets_user_root(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        unavailable("needs root: it checks what sudoless does when run as root")
    settings = Settings(home=tmp_path / "home")
    instance = init_instance(settings, "asroot")
    try:
        started = start_instance(settings, "asroot")
        arguments = Path(f"/proc/{started.pid}/cmdline").read_bytes().split(b"\0")
        assert b"--user=root" in arguments
        assert any("as root" in note for note in started.notes)
        assert instance_status(settings, "asroot").state == "running"
        assert stop_instance(settings, "asroot").method == "SHUTDOWN"
    finally:
        destroy_instance(settings, "asroot")
    assert not instance.root.exists()
