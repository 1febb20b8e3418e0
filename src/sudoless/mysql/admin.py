"""Talking to an instance as its administrator: connections over the socket, accounts and URLs.

Administration goes over the Unix socket, which works whatever address the server listens on. When the
socket's path is too long for ``connect`` (see :mod:`sudoless.mysql.layout`), the client opens the
socket's directory and connects through ``/proc/self/fd/N/mysqld.sock``, a short path to the same file.
Applications get a TCP URL instead: it needs no socket path at all.

Accounts made at init: ``root`` on localhost, 127.0.0.1 and ::1 with a random password, and ``sudoless``
(all privileges on database ``sudoless``) on localhost and ``%``. No anonymous users, no test database,
no ``root@<hostname>`` (with skip-name-resolve the server only warns about such accounts at each start).
"""

from __future__ import annotations

import os
import secrets
import string
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from sudoless.mysql.layout import SOCKET_PATH_MAX

if TYPE_CHECKING:
    import pymysql

APP_DATABASE = "sudoless"
APP_USER = "sudoless"
ROOT_HOSTS = ("localhost", "127.0.0.1", "::1")
APP_HOSTS = ("localhost", "%")
_ALPHABET = string.ascii_letters + string.digits


def random_password(length: int = 24) -> str:
    """Letters and digits only: the password goes into SQL files, option files and URLs unquoted."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


@contextmanager
def reachable_socket(socket: Path) -> Iterator[str]:
    """A path ``connect`` accepts for ``socket``, valid inside the ``with`` block."""
    if len(str(socket).encode()) <= SOCKET_PATH_MAX:
        yield str(socket)
        return
    fd = os.open(socket.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{socket.name}"
    finally:
        os.close(fd)


def connect(socket: Path, password: str, user: str = "root", timeout: float = 5.0) -> pymysql.Connection:
    """An autocommit connection over the socket; raises ``pymysql.err.OperationalError`` when refused."""
    import pymysql

    with reachable_socket(socket) as path:
        return pymysql.connect(
            unix_socket=path, user=user, password=password, connect_timeout=timeout, autocommit=True, charset="utf8mb4"
        )


def provisioning_sql(root_password: str, app_password: str, hostname: str) -> list[str]:
    """Statements that secure a fresh data directory (MariaDB's install-db made root passwordless on
    every local address; MySQL's --initialize-insecure on localhost only) and create the app account.
    """
    statements = ["DROP USER IF EXISTS ''@'localhost'"]
    if hostname and hostname not in ROOT_HOSTS:
        statements += [f"DROP USER IF EXISTS ''@'{hostname}'", f"DROP USER IF EXISTS 'root'@'{hostname}'"]
    for host in ROOT_HOSTS:
        statements += [
            f"CREATE USER IF NOT EXISTS 'root'@'{host}' IDENTIFIED BY '{root_password}'",
            f"ALTER USER 'root'@'{host}' IDENTIFIED BY '{root_password}'",
            f"GRANT ALL PRIVILEGES ON *.* TO 'root'@'{host}' WITH GRANT OPTION",
        ]
    statements += [
        "DROP DATABASE IF EXISTS test",
        f"CREATE DATABASE IF NOT EXISTS {APP_DATABASE} CHARACTER SET utf8mb4",
    ]
    for host in APP_HOSTS:
        statements += [
            f"CREATE USER IF NOT EXISTS '{APP_USER}'@'{host}' IDENTIFIED BY '{app_password}'",
            f"GRANT ALL PRIVILEGES ON {APP_DATABASE}.* TO '{APP_USER}'@'{host}'",
        ]
    return statements


def change_password(connection: pymysql.Connection, user: str, password: str) -> None:
    """Set ``user``'s password on every host it has an account for."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT Host FROM mysql.user WHERE User = %s", (user,))
        hosts = [row[0] for row in cursor.fetchall()]
        for host in hosts:
            cursor.execute("ALTER USER %s@%s IDENTIFIED BY %s", (user, host, password))


def sqlalchemy_url(host: str, port: int, user: str, password: str | None, database: str = "") -> str:
    """``mysql+pymysql://`` URL over TCP; IPv6 hosts in brackets; without a password when it is None."""
    shown = f"[{host}]" if ":" in host else host
    query = "?charset=utf8mb4" if database else ""
    secret = "" if password is None else f":{quote(password, safe='')}"
    return f"mysql+pymysql://{quote(user, safe='')}{secret}@{shown}:{port}/{database}{query}"


def client_options(socket: Path, host: str, port: int, password: str) -> str:
    """The ``[client]`` option file for the mysql/mariadb client: the socket when its path is short
    enough for the client, else TCP (root exists on 127.0.0.1 and ::1 too).
    """
    lines = [
        "# Written by sudoless: the root login of this instance. Readable by you only.",
        "[client]",
        "user = root",
        f"password = {password}",
    ]
    if len(str(socket).encode()) <= SOCKET_PATH_MAX:
        lines.append(f"socket = {socket}")
    else:
        lines += [f"host = {host}", f"port = {port}", "protocol = tcp"]
    return "\n".join(lines) + "\n"
