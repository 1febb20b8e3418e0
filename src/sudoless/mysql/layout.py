"""The instance folder: everything one server needs, in ``SUDOLESS_HOME/mysql/NAME`` and nowhere else.

::

    NAME/
      instance.json       what sudoless knows: binaries, flavour, version, port, data directory
      my.cnf              the server's only option file (passed first, so /etc/mysql never leaks in)
      client.cnf          [client] options with the root password, for the mysql/mariadb client (0600)
      root.password       the root password (0600)
      sudoless.password   the password of the ``sudoless`` user (0600)
      data/               the data directory, unless ``--datadir`` put it elsewhere
      run/                socket and pid file
      log/                error log, and the server's stdout/stderr
      tmp/                the server's tmpdir
      files/              secure-file-priv: the only place LOAD DATA / SELECT INTO OUTFILE may touch
      plugins ->          link to the installation's plugin directory
      messages ->         link to the installation's error-message directory

A Unix socket path may not exceed 107 bytes on Linux (103 on macOS and the BSDs); home directories on
clusters are often deep enough to pass that. The server then gets a socket path relative to its data
directory (it changes into it at start-up), and sudoless's own clients reach the socket through
``/proc/self/fd`` (see :mod:`sudoless.mysql.admin`).
"""

from __future__ import annotations

import fcntl
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sudoless.config import Settings, ensure_home
from sudoless.errors import InputError

DEFAULT_NAME = "default"
#: the folder of servers ``sudoless mysql install`` fetched, beside the instances; no instance may take its name.
DIST_NAME = "dist"
SOCKET_PATH_MAX = 103 if sys.platform == "darwin" or "bsd" in sys.platform else 107
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")


@dataclass(frozen=True)
class InstancePaths:
    """Where each part of an instance lives (the data directory may be elsewhere: see the instance)."""

    root: Path

    @property
    def meta(self) -> Path:
        return self.root / "instance.json"

    @property
    def my_cnf(self) -> Path:
        return self.root / "my.cnf"

    @property
    def client_cnf(self) -> Path:
        return self.root / "client.cnf"

    @property
    def root_password(self) -> Path:
        return self.root / "root.password"

    @property
    def app_password(self) -> Path:
        return self.root / "sudoless.password"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def socket(self) -> Path:
        return self.run / "mysqld.sock"

    @property
    def pid_file(self) -> Path:
        return self.run / "mysqld.pid"

    @property
    def log(self) -> Path:
        return self.root / "log"

    @property
    def error_log(self) -> Path:
        return self.log / "error.log"

    @property
    def server_output(self) -> Path:
        return self.log / "server.out"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def files(self) -> Path:
        return self.root / "files"

    @property
    def plugins(self) -> Path:
        return self.root / "plugins"

    @property
    def messages(self) -> Path:
        return self.root / "messages"

    @property
    def private_dirs(self) -> tuple[Path, ...]:
        return (self.run, self.log, self.tmp, self.files)


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InputError(
            f"instance name {name!r}: use 1-32 letters, digits, '-' or '_', starting with a letter or digit"
        )
    if name == DIST_NAME:
        raise InputError(
            f"instance name {name!r} is reserved for the servers 'sudoless mysql install' fetches; "
            "choose another --name"
        )
    return name


def name_flag(name: str) -> str:
    """`` --name NAME`` for commands shown in messages, or nothing for the default instance."""
    return "" if name == DEFAULT_NAME else f" --name {name}"


def instances_dir(settings: Settings) -> Path:
    return settings.home / "mysql"


def distributions_dir(settings: Settings) -> Path:
    return instances_dir(settings) / DIST_NAME


def instance_paths(settings: Settings, name: str) -> InstancePaths:
    return InstancePaths(instances_dir(settings) / check_name(name))


def socket_option(socket: Path, datadir: Path) -> str:
    """The ``socket`` value for my.cnf: the absolute path when short enough, else a path relative to the
    data directory (verified on MariaDB 10.11: the server resolves it after changing into the datadir).
    """
    absolute = str(socket)
    if len(absolute.encode()) <= SOCKET_PATH_MAX:
        return absolute
    relative = os.path.relpath(socket, datadir)
    if len(relative.encode()) <= SOCKET_PATH_MAX:
        return relative
    raise InputError(
        f"the socket path {socket} is {len(absolute.encode())} bytes, over the system's limit of "
        f"{SOCKET_PATH_MAX}, and the data directory {datadir} is too far from it for a relative "
        "path; use a shorter SUDOLESS_HOME or a --datadir next to it"
    )


@contextmanager
def instance_lock(settings: Settings, name: str) -> Iterator[None]:
    """Serialise init, start, stop and destroy of one instance across processes (a server and a CLI may
    both call :func:`sudoless.mysql.managed_url` at once). The lock file lives beside the instance folder,
    so it exists before init and survives destroy.
    """
    check_name(name)
    ensure_home(settings)
    directory = instances_dir(settings)
    directory.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(directory / f".{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
