"""The life of an instance: init, start, stop, passwd, destroy, each under the instance's lock, and
:func:`managed_url`, which does whatever is missing so that the caller gets a database to connect to.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sudoless.config import Settings
from sudoless.errors import InputError, StateError
from sudoless.mysql import control
from sudoless.mysql.admin import APP_USER, change_password, client_options, connect, random_password
from sudoless.mysql.binaries import find_server
from sudoless.mysql.datadir import INIT_TIMEOUT, initialise
from sudoless.mysql.instance import Instance, exists, list_instances, load_instance, save, server_options, with_port
from sudoless.mysql.layout import (
    DEFAULT_NAME,
    instance_lock,
    instance_paths,
    name_flag,
    socket_option,
)
from sudoless.mysql.ports import check_bind_address, pick_port, port_is_free
from sudoless.private import write_private

log = logging.getLogger(__name__)
USERS = ("root", APP_USER)


def init_instance(
    settings: Settings,
    name: str = DEFAULT_NAME,
    *,
    basedir: Path | None = None,
    datadir: Path | None = None,
    port: int | None = None,
    bind_address: str = "127.0.0.1",
    timeout: float = INIT_TIMEOUT,
) -> Instance:
    """Create an instance: find and identify the server (:func:`~sudoless.mysql.binaries.find_server`), lay
    out the folder, pick a free port when none is given, initialise the data directory with random root and
    ``sudoless`` passwords. The server is left stopped. A failed init leaves nothing behind.
    """
    with instance_lock(settings, name):
        return _init(
            settings, name, basedir=basedir, datadir=datadir, port=port, bind_address=bind_address, timeout=timeout
        )


def _init(
    settings: Settings,
    name: str,
    *,
    basedir: Path | None = None,
    datadir: Path | None = None,
    port: int | None = None,
    bind_address: str = "127.0.0.1",
    timeout: float = INIT_TIMEOUT,
) -> Instance:
    check_bind_address(bind_address)
    paths = instance_paths(settings, name)
    if paths.meta.exists():
        raise StateError(
            f"MySQL instance '{name}' already exists in {paths.root}; use it, pick another --name, "
            f"or remove it with 'sudoless mysql destroy{name_flag(name)}'"
        )
    if paths.root.exists():
        shutil.rmtree(paths.root)  # an init that was interrupted: it never wrote instance.json
    binaries = find_server(settings, basedir)
    data = Path(os.path.abspath(datadir.expanduser())) if datadir is not None else paths.data
    owns_datadir = not data.exists()
    if not owns_datadir and (not data.is_dir() or any(data.iterdir())):
        raise InputError(
            f"--datadir {data} is not an empty directory; give a new or empty one (sudoless never "
            "initialises over existing files)"
        )
    socket = socket_option(paths.socket, data)
    others = {other.port: other.name for other in list_instances(settings) if other.name != name}
    chosen = port is not None
    port = _choose_port(bind_address, port, others)
    instance = Instance(
        name=name,
        root=paths.root,
        datadir=data,
        owns_datadir=owns_datadir,
        flavour=binaries.flavour,
        version=binaries.version,
        server=binaries.server,
        basedir=binaries.basedir,
        install_db=binaries.install_db,
        client=binaries.client,
        plugin_dir=binaries.plugin_dir,
        messages_dir=binaries.messages_dir,
        port=port,
        bind_address=bind_address,
        socket_option=socket,
        created=_now(),
        port_settled=chosen,
    )
    try:
        paths.root.mkdir(mode=0o700, parents=True)
        for directory in (*paths.private_dirs, data):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if binaries.plugin_dir is not None:
            paths.plugins.symlink_to(binaries.plugin_dir, target_is_directory=True)
        if binaries.messages_dir is not None:
            paths.messages.symlink_to(binaries.messages_dir, target_is_directory=True)
        paths.my_cnf.write_text(server_options(instance))
        root_password, app_password = random_password(), random_password()
        write_private(paths.root_password, root_password + "\n")
        write_private(paths.app_password, app_password + "\n")
        write_private(paths.client_cnf, client_options(paths.socket, instance.host, port, root_password))
        initialise(instance, root_password, app_password, timeout)
        save(instance)
    except BaseException:
        shutil.rmtree(paths.root, ignore_errors=True)
        if owns_datadir:
            shutil.rmtree(data, ignore_errors=True)
        elif data.is_dir():  # it was empty before: make it so again, for the next attempt
            for entry in data.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        raise
    log.info("initialised %s instance '%s' in %s", instance.label, name, paths.root)
    return instance


def _choose_port(bind_address: str, port: int | None, others: dict[int, str]) -> int:
    if port is None:
        return pick_port(bind_address, others)
    if port in others:
        raise InputError(
            f"port {port} belongs to MySQL instance '{others[port]}'; choose another --port, or leave "
            "it out to pick a free one"
        )
    if not port_is_free(bind_address, port):
        raise InputError(
            f"port {port} on {bind_address} is in use; choose another --port, or leave it out to pick a free one"
        )
    return port


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def start_instance(
    settings: Settings, name: str = DEFAULT_NAME, *, port: int | None = None, timeout: float = control.START_TIMEOUT
) -> control.Started:
    """Start the server, moving it to ``port`` first when given; returns once it accepts connections."""
    with instance_lock(settings, name):
        instance = load_instance(settings, name)
        others = {other.port: other.name for other in list_instances(settings) if other.name != name}
        if port is not None and port != instance.port:
            instance = _move(instance, port, others)
        return _start(instance, others, timeout)[1]


#: how often a first start moves to another free port when other programs keep taking the one it picked
FIRST_START_TRIES = 5


def _start(instance: Instance, others: dict[int, str], timeout: float) -> tuple[Instance, control.Started]:
    """Start the server; an instance whose picked port was never served moves to a free port when another
    program took it (see :attr:`Instance.port_settled`). Returns the instance as it now is.
    """
    notes: list[str] = []
    for _ in range(FIRST_START_TRIES):
        if not instance.port_settled and not port_is_free(instance.bind_address, instance.port):
            taken = instance.port
            instance = _move(instance, pick_port(instance.bind_address, {taken, *others}), others, settled=False)
            notes.append(
                f"port {taken} on {instance.bind_address}, picked at init, was taken by another program before "
                f"instance '{instance.name}' first started; it now listens on port {instance.port}"
            )
        try:
            started = control.start(instance, timeout, taken_ports=others)
        except control.PortInUse:
            if instance.port_settled:
                raise
            continue
        if not instance.port_settled:
            instance = replace(instance, port_settled=True)
            save(instance)
        return instance, replace(started, notes=(*notes, *started.notes))
    raise control.PortInUse(
        f"instance '{instance.name}' could not start: {FIRST_START_TRIES} free ports in a row were taken by "
        f"other programs before its server could listen; start it with 'sudoless mysql "
        f"start{name_flag(instance.name)} --port N'"
    )


def _move(instance: Instance, port: int, others: dict[int, str], settled: bool = True) -> Instance:
    pid = control.running_pid(instance)
    if pid is not None:
        raise StateError(
            f"MySQL instance '{instance.name}' is running (pid {pid}) on port {instance.port}; stop "
            "it before moving it to another port"
        )
    _choose_port(instance.bind_address, port, others)
    moved = replace(instance, port=port, port_settled=settled)
    paths = moved.paths
    paths.my_cnf.write_text(with_port(paths.my_cnf.read_text(), port))
    write_private(paths.client_cnf, client_options(paths.socket, moved.host, port, moved.root_password()))
    save(moved)
    return moved


def stop_instance(
    settings: Settings, name: str = DEFAULT_NAME, *, timeout: float = control.STOP_TIMEOUT
) -> control.Stopped:
    with instance_lock(settings, name):
        return control.stop(load_instance(settings, name), timeout)


def instance_status(settings: Settings, name: str = DEFAULT_NAME) -> control.ServerStatus:
    return control.status(load_instance(settings, name))


def destroy_instance(
    settings: Settings, name: str = DEFAULT_NAME, *, timeout: float = control.STOP_TIMEOUT
) -> Instance:
    """Stop the server if it runs and delete the instance folder, and the data directory if sudoless made it."""
    with instance_lock(settings, name):
        instance = load_instance(settings, name)
        control.stop(instance, timeout)
        shutil.rmtree(instance.root)
        if instance.owns_datadir and instance.datadir.exists() and not instance.datadir.is_relative_to(instance.root):
            shutil.rmtree(instance.datadir)
        return instance


def set_password(settings: Settings, name: str = DEFAULT_NAME, user: str = "root", password: str | None = None) -> str:
    """Give ``root`` or ``sudoless`` a new password (random unless given) and store it; returns it."""
    import pymysql

    if user not in USERS:
        raise InputError(f"--user {user!r}: sudoless manages the passwords of {' and '.join(USERS)}")
    if password is not None and not password:
        raise InputError("the new password is empty")
    with instance_lock(settings, name):
        instance = load_instance(settings, name)
        if control.running_pid(instance) is None:
            raise StateError(
                f"MySQL instance '{name}' is not running; start it first ('sudoless mysql "
                f"start{name_flag(name)}'): the server itself changes passwords"
            )
        new = password if password is not None else random_password()
        try:
            connection = connect(instance.paths.socket, instance.root_password())
        except pymysql.err.OperationalError as exc:
            raise StateError(
                f"instance '{name}' refused the root password in {instance.paths.root_password}: {exc.args[-1]}"
            ) from None
        try:
            change_password(connection, user, new)
        finally:
            connection.close()
        paths = instance.paths
        write_private(paths.root_password if user == "root" else paths.app_password, new + "\n")
        if user == "root":
            write_private(paths.client_cnf, client_options(paths.socket, instance.host, instance.port, new))
        return new


def instance_url(settings: Settings, name: str = DEFAULT_NAME, admin: bool = False, password: bool = True) -> str:
    return load_instance(settings, name).url(admin=admin, password=password)


def managed_password_file(settings: Settings, name: str = DEFAULT_NAME) -> Path:
    """The 0600 file with the password of the ``sudoless`` user of :func:`managed_url`."""
    return instance_paths(settings, name).app_password


def managed_url(settings: Settings, name: str = DEFAULT_NAME, password: bool = True) -> str:
    """The SQLAlchemy URL of the user's own instance (database and user ``sudoless``), creating it when it
    does not exist and starting it when it is stopped; ``sudoless server --db managed`` uses this, without
    the password (``password=False``) and with :func:`managed_password_file`.
    """
    with instance_lock(settings, name):
        if not exists(settings, name):
            log.warning("creating MySQL instance '%s' in %s", name, instance_paths(settings, name).root)
            _init(settings, name)
        instance = load_instance(settings, name)
        if control.running_pid(instance) is None:
            others = {other.port: other.name for other in list_instances(settings) if other.name != name}
            instance, started = _start(instance, others, control.START_TIMEOUT)
            for note in started.notes:
                log.warning("%s", note)
            log.warning(
                "started %s instance '%s' (pid %d) on %s:%d",
                instance.label,
                name,
                started.pid,
                instance.bind_address,
                instance.port,
            )
        return instance.url(password=password)
