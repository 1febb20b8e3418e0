"""The parts of ``sudoless.mysql`` that need no server: finding and identifying binaries in every layout,
socket paths over the limit, ports, option files, locks. Fake servers are shell scripts that answer
``--version`` the way the real ones do.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sudoless.config import Settings
from sudoless.errors import InputError, NotFoundError, StateError
from sudoless.mysql import Flavour, find_binaries, init_instance
from sudoless.mysql.admin import client_options, provisioning_sql, reachable_socket, sqlalchemy_url
from sudoless.mysql.binaries import HOW_TO_GET, NoServerError, find_server
from sudoless.mysql.control import datadir_lock_holder, runs_with_options, server_command
from sudoless.mysql.dist import library_dirs, server_environment
from sudoless.mysql.instance import Instance, server_options, with_port
from sudoless.mysql.layout import SOCKET_PATH_MAX, check_name, socket_option
from sudoless.mysql.ports import client_host, pick_port, port_is_free

MYSQL_8 = "/opt/mysql/bin/mysqld  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)"
MARIADB_11 = "bin/mariadbd  Ver 11.4.2-MariaDB for linux-systemd on x86_64 (MariaDB Server)"


def executable(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def fake_server(root: Path, relative: str, version_line: str) -> Path:
    return executable(root / relative, f"echo '{version_line}'")


def test_mysql_tarball_layout(tmp_path: Path) -> None:
    base = tmp_path / "mysql-8.0.36-linux-glibc2.28-x86_64"
    fake_server(base, "bin/mysqld", MYSQL_8)
    executable(base / "bin/mysql", "true")
    (base / "lib/plugin").mkdir(parents=True)
    (base / "share/english").mkdir(parents=True)
    (base / "share/english/errmsg.sys").write_bytes(b"")
    found = find_binaries(base)
    assert (found.flavour, found.version, found.basedir) == (Flavour.MYSQL, "8.0.36", base)
    assert found.install_db is None
    assert found.client == base / "bin/mysql"
    assert found.plugin_dir == base / "lib/plugin"
    assert found.messages_dir == base / "share"


def test_mariadb_bintar_layout(tmp_path: Path) -> None:
    base = tmp_path / "mariadb-11.4.2-linux-systemd-x86_64"
    fake_server(base, "bin/mariadbd", MARIADB_11)
    executable(base / "scripts/mariadb-install-db", "true")
    found = find_binaries(base)
    assert (found.flavour, found.version) == (Flavour.MARIADB, "11.4.2")
    assert found.install_db == base / "scripts/mariadb-install-db"
    assert found.label == "MariaDB 11.4.2"


def test_debian_package_unpacked_with_dpkg_x(tmp_path: Path) -> None:
    root = tmp_path / "mdbx"
    fake_server(root, "usr/sbin/mariadbd", "mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu")
    executable(root / "usr/bin/mariadb-install-db", "true")
    executable(root / "usr/bin/mariadb", "true")
    (root / "usr/lib/mysql/plugin").mkdir(parents=True)
    (root / "usr/share/mysql/english").mkdir(parents=True)
    (root / "usr/share/mysql/english/errmsg.sys").write_bytes(b"")
    found = find_binaries(root)  # the dpkg -x root is accepted as well as root/usr
    assert found.basedir == root / "usr"
    assert found.server == root / "usr/sbin/mariadbd"
    assert found.plugin_dir == root / "usr/lib/mysql/plugin"
    assert found.messages_dir == root / "usr/share/mysql"


def test_mariadb_without_install_db_says_what_is_missing(tmp_path: Path) -> None:
    fake_server(tmp_path, "bin/mariadbd", MARIADB_11)
    with pytest.raises(NotFoundError, match="mariadb-install-db is not in"):
        find_binaries(tmp_path)


def test_empty_basedir_says_how_to_get_a_server(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError) as caught:
        find_binaries(tmp_path)
    assert HOW_TO_GET in str(caught.value)
    assert "\n" not in str(caught.value)


def test_search_path_then_basedir_from_the_binary(tmp_path: Path) -> None:
    base = tmp_path / "opt/mysql"
    fake_server(base, "bin/mysqld", MYSQL_8)
    found = find_binaries(search_path=str(base / "bin"))
    assert found.basedir == base


def test_nothing_on_the_path_or_in_system_dirs(tmp_path: Path) -> None:
    with pytest.raises(NoServerError, match="no MySQL or MariaDB server found .*run 'sudoless mysql install'"):
        find_binaries(search_path=str(tmp_path), system_dirs=())


def test_search_path_setting_hides_the_system_dirs(tmp_path: Path) -> None:
    """SUDOLESS_MYSQL_PATH replaces PATH and /usr/sbin: a machine with a system server looks bare."""
    hidden = Settings(home=tmp_path / "home", mysql_path=str(tmp_path))
    with pytest.raises(NoServerError, match=f"on the search path '{tmp_path}'"):
        find_server(hidden)


def test_installed_distribution_comes_first_and_gets_its_libraries(tmp_path: Path) -> None:
    """What 'sudoless mysql install' left in the home beats PATH and /usr/sbin, the newest version first,
    and the libraries it fetched are on LD_LIBRARY_PATH of everything the server runs."""
    settings = Settings(home=tmp_path / "home")
    dist = settings.home / "mysql" / "dist"
    for version in ("10.6.2", "10.11.19", "10.9.1"):
        root = dist / version
        fake_server(root, "usr/sbin/mariadbd", f"mariadbd  Ver {version}-MariaDB-0+deb12u1 for debian-linux-gnu")
        executable(root / "usr/bin/mariadb-install-db", "true")
    (dist / ".partial-10.12.1-abcd" / "usr/sbin").mkdir(parents=True)  # an install in progress is never used
    newest = dist / "10.11.19"
    (newest / "sudoless-dist.json").write_text(json.dumps({"library_dirs": ["usr/lib/x86_64-linux-gnu"]}))
    found = find_server(settings)
    assert (found.version, found.basedir) == ("10.11.19", newest / "usr")
    assert library_dirs(found.basedir) == [newest / "usr/lib/x86_64-linux-gnu"]
    assert server_environment(found.basedir)["LD_LIBRARY_PATH"].split(os.pathsep)[0] == str(
        newest / "usr/lib/x86_64-linux-gnu"
    )
    assert library_dirs(dist / "10.6.2" / "usr") == []
    with pytest.raises(InputError, match="'dist' is reserved"):
        check_name("dist")


def test_system_mariadbd_is_found_without_sbin_on_path() -> None:
    if not Path("/usr/sbin/mariadbd").exists():
        pytest.skip("no /usr/sbin/mariadbd on this machine")
    found = find_binaries(search_path="/usr/local/bin:/usr/bin:/bin")
    assert found.server == Path("/usr/sbin/mariadbd")
    assert found.flavour is Flavour.MARIADB
    assert found.basedir == Path("/usr")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("mysqld  Ver 5.6.51 for Linux on x86_64 (MySQL Community Server (GPL))", "needs MySQL 5.7.6 or newer"),
        ("just some program 1.0", "does not look like a MySQL or MariaDB server"),
    ],
)
def test_unusable_servers_are_refused(tmp_path: Path, line: str, message: str) -> None:
    fake_server(tmp_path, "bin/mysqld", line)
    with pytest.raises(InputError, match=message):
        find_binaries(tmp_path)


def test_missing_shared_library_gets_a_hint(tmp_path: Path) -> None:
    executable(
        tmp_path / "bin/mysqld",
        "echo 'mysqld: error while loading shared libraries: libaio.so.1: cannot "
        "open shared object file: No such file or directory' >&2; exit 127",
    )
    with pytest.raises(InputError, match="libaio.so.1t64"):
        find_binaries(tmp_path)


def test_short_socket_path_stays_absolute(tmp_path: Path) -> None:
    sock = tmp_path / "i" / "run" / "mysqld.sock"
    assert socket_option(sock, tmp_path / "i" / "data") == str(sock)


def test_long_socket_path_becomes_relative_to_the_datadir(tmp_path: Path) -> None:
    root = tmp_path / ("x" * 120) / "i"
    assert socket_option(root / "run/mysqld.sock", root / "data") == "../run/mysqld.sock"


def test_socket_path_that_cannot_be_shortened(tmp_path: Path) -> None:
    root = tmp_path / ("x" * 120) / "i"
    with pytest.raises(InputError, match="over the system's limit"):
        socket_option(root / "run/mysqld.sock", tmp_path / ("y" * 120) / "data")


def test_reachable_socket_connects_to_a_long_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / ("d" * 110)
    directory.mkdir()
    monkeypatch.chdir(directory)
    with socket.socket(socket.AF_UNIX) as server:
        server.bind("s.sock")  # relative: the absolute path is too long to bind
        server.listen()
        long_path = directory / "s.sock"
        assert len(str(long_path)) > SOCKET_PATH_MAX
        with reachable_socket(long_path) as path, socket.socket(socket.AF_UNIX) as client:
            client.connect(path)


def test_ports_in_use_and_taken_are_skipped() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert not port_is_free("127.0.0.1", port)
    first = pick_port("127.0.0.1", ())
    assert first != 3306
    assert pick_port("127.0.0.1", {first}) != first
    assert client_host("0.0.0.0") == "127.0.0.1"
    assert client_host("::") == "::1"


def test_instance_names_are_checked() -> None:
    assert check_name("etl-2") == "etl-2"
    for bad in ("", "../x", "a b", "x" * 40, "-x"):
        with pytest.raises(InputError):
            check_name(bad)


def _instance(tmp_path: Path, flavour: Flavour = Flavour.MARIADB, version: str = "10.11.19") -> Instance:
    root = tmp_path / "mysql" / "t"
    return Instance(
        name="t",
        root=root,
        datadir=root / "data",
        owns_datadir=True,
        flavour=flavour,
        version=version,
        server=Path("/usr/sbin/mariadbd"),
        basedir=Path("/usr"),
        install_db=None,
        client=None,
        plugin_dir=Path("/usr/lib/mysql/plugin"),
        messages_dir=None,
        port=3310,
        bind_address="127.0.0.1",
        socket_option=str(root / "run/mysqld.sock"),
        created="now",
    )


def test_option_file_keeps_everything_in_the_instance_folder(tmp_path: Path) -> None:
    instance = _instance(tmp_path)
    text = server_options(instance)
    assert text.splitlines()[3] == "[mysqld]"
    for line in (
        "bind-address = 127.0.0.1",
        "port = 3310",
        f"secure-file-priv = {instance.root}/files",
        f"plugin-dir = {instance.root}/plugins",
        f"pid-file = {instance.root}/run/mysqld.pid",
        f"log-error = {instance.root}/log/error.log",
        f"tmpdir = {instance.root}/tmp",
        "skip-name-resolve",
        "innodb-log-file-size = 16M",
    ):
        assert line in text.splitlines()
    assert "lc-messages-dir" not in text
    assert "port = 3999" in with_port(text, 3999).splitlines()
    mysql8 = server_options(_instance(tmp_path, Flavour.MYSQL, "8.0.36"))
    assert "mysqlx = OFF" in mysql8 and "innodb-log-file-size" not in mysql8
    assert "mysqlx" not in server_options(_instance(tmp_path, Flavour.MYSQL, "5.7.44"))


def test_option_file_comes_first_on_the_command_line(tmp_path: Path) -> None:
    instance = _instance(tmp_path)
    command = server_command(instance, "--initialize-insecure")
    assert command[1] == f"--defaults-file={instance.root}/my.cnf"
    assert command[-1] == "--initialize-insecure"
    assert ("--user=root" in command) == (os.geteuid() == 0)


def test_instance_round_trips_through_json(tmp_path: Path) -> None:
    instance = _instance(tmp_path)
    assert Instance.from_json(instance.to_json()) == instance


def test_provisioning_removes_hostname_and_anonymous_accounts() -> None:
    statements = provisioning_sql("R00t", "App1", "node17")
    text = "\n".join(statements)
    assert "DROP USER IF EXISTS 'root'@'node17'" in text
    assert "DROP USER IF EXISTS ''@'localhost'" in text
    for host in ("localhost", "127.0.0.1", "::1"):
        assert f"ALTER USER 'root'@'{host}' IDENTIFIED BY 'R00t'" in text
    assert "GRANT ALL PRIVILEGES ON sudoless.* TO 'sudoless'@'%'" in text
    assert "'root'@'localhost'" not in "\n".join(
        s for s in provisioning_sql("a", "b", "localhost") if s.startswith("DROP")
    )


def test_urls_and_client_options(tmp_path: Path) -> None:
    expected = "mysql+pymysql://sudoless:p%40ss@127.0.0.1:3310/sudoless?charset=utf8mb4"
    assert sqlalchemy_url("127.0.0.1", 3310, "sudoless", "p@ss", "sudoless") == expected
    assert sqlalchemy_url("::1", 3310, "root", "x") == "mysql+pymysql://root:x@[::1]:3310/"
    short = client_options(tmp_path / "s.sock", "127.0.0.1", 3310, "pw")
    assert f"socket = {tmp_path}/s.sock" in short
    long = client_options(tmp_path / ("x" * 120) / "s.sock", "127.0.0.1", 3310, "pw")
    assert "port = 3310" in long and "socket" not in long


def test_datadir_lock_holder_names_the_process_holding_the_datadir(tmp_path: Path) -> None:
    (tmp_path / "ibdata1").write_bytes(b"\0" * 16)
    assert datadir_lock_holder(tmp_path) is None
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import fcntl, os, sys, time\n"
                f"fd = os.open({str(tmp_path / 'ibdata1')!r}, os.O_RDWR)\n"
                "fcntl.lockf(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(60)\n"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert datadir_lock_holder(tmp_path) == holder.pid
        assert not runs_with_options(holder.pid, tmp_path / "my.cnf")
    finally:
        holder.kill()
        holder.wait()
    assert datadir_lock_holder(tmp_path) is None


def test_failed_init_leaves_nothing_behind(tmp_path: Path) -> None:
    base = tmp_path / "mariadb"
    fake_server(base, "bin/mariadbd", MARIADB_11)
    executable(base / "scripts/mariadb-install-db", "echo 'Installation of system tables failed!'; exit 1")
    settings = Settings(home=tmp_path / "home")
    datadir = tmp_path / "elsewhere"
    with pytest.raises(StateError, match="mariadb-install-db failed with exit code 1"):
        init_instance(settings, "t", basedir=base, datadir=datadir)
    assert not (settings.home / "mysql" / "t").exists()
    assert not datadir.exists()
