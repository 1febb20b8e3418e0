"""User-space MySQL and MariaDB: a database server for people without root, in one command.

An instance is a folder under ``SUDOLESS_HOME/mysql/NAME`` (see :mod:`sudoless.mysql.layout`) holding
the data, socket, pid file, logs and passwords of one server, which runs as the user, listens on
127.0.0.1 and reads no system option file. The server binary is found and identified by
:mod:`sudoless.mysql.binaries`; where the machine has none, :func:`install_mariadb` fetches one into
``SUDOLESS_HOME/mysql/dist`` without root (:mod:`sudoless.mysql.install`). :mod:`sudoless.mysql.lifecycle`
is the public surface used by ``sudoless mysql ...`` and by ``sudoless server --db managed`` (through
:func:`managed_url`).
"""

from __future__ import annotations

from sudoless.mysql.binaries import Binaries, Flavour, find_binaries
from sudoless.mysql.control import ServerError, ServerStatus, Started, Stopped
from sudoless.mysql.install import Installed, install_mariadb
from sudoless.mysql.instance import Instance, list_instances, load_instance
from sudoless.mysql.layout import DEFAULT_NAME
from sudoless.mysql.lifecycle import (
    destroy_instance,
    init_instance,
    instance_status,
    instance_url,
    managed_password_file,
    managed_url,
    set_password,
    start_instance,
    stop_instance,
)

__all__ = [
    "DEFAULT_NAME",
    "Binaries",
    "Flavour",
    "Installed",
    "Instance",
    "ServerError",
    "ServerStatus",
    "Started",
    "Stopped",
    "destroy_instance",
    "find_binaries",
    "init_instance",
    "install_mariadb",
    "instance_status",
    "instance_url",
    "list_instances",
    "load_instance",
    "managed_password_file",
    "managed_url",
    "set_password",
    "start_instance",
    "stop_instance",
]
