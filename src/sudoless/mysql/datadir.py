"""Initialising a data directory, the way each flavour needs it, with no moment of passwordless access.

MariaDB: ``mariadb-install-db`` with the instance's ``my.cnf`` and an ``--extra-file`` that sets the
passwords and creates the ``sudoless`` database and user in the same bootstrap run. That file must begin
with ``FLUSH PRIVILEGES``: bootstrap runs with the grant tables off, and account statements fail with
error 1290 until they are loaded. ``mariadbd`` has no ``--initialize``; given one, it fails and leaves
InnoDB and Aria files behind, which is why the flavour is detected first and a failed init is wiped.

Bootstrap DDL syncs about a thousand times (the DDL log, Aria, .frm files); at a few milliseconds per
sync on a busy shared disk that was 4-5 s of a 5 s init here. So MariaDB's bootstrap runs with
``--debug-no-sync``, and afterwards every file and directory it wrote is fsynced, in parallel, which lets
the filesystem batch them into one journal commit: the same durability at the end, in about 1 s.

MySQL: ``mysqld --initialize-insecure`` (root without a password, since ``--initialize`` would hide an
expired one in the error log), then one start with networking off, so the passwordless root is reachable
only through the socket in the private instance folder while the accounts are set, then a shutdown.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sudoless.mysql.admin import connect, provisioning_sql
from sudoless.mysql.binaries import Flavour
from sudoless.mysql.control import (
    ServerError,
    log_size,
    log_tail,
    server_command,
    server_environment,
    spawn,
    wait_ready,
)
from sudoless.mysql.instance import Instance
from sudoless.private import write_private

INIT_TIMEOUT = 300.0


def initialise(instance: Instance, root_password: str, app_password: str, timeout: float = INIT_TIMEOUT) -> None:
    """Create the system tables in the (empty) data directory and the accounts; the server is left stopped."""
    if instance.flavour is Flavour.MARIADB:
        _initialise_mariadb(instance, root_password, app_password, timeout)
    else:
        _initialise_mysql(instance, root_password, app_password, timeout)


def _run(instance: Instance, what: str, command: list[str], timeout: float) -> None:
    offset = log_size(instance)
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=instance.root,
            env=server_environment(instance.basedir),
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        tail = log_tail(instance, offset)
        raise ServerError(
            f"{what} did not finish within {timeout:.0f} s (see {instance.paths.error_log})", tail
        ) from None
    if done.returncode != 0:
        output = "\n".join((done.stdout + done.stderr).strip().splitlines()[-8:])
        tail = "\n".join(part for part in (output, log_tail(instance, offset)) if part)
        raise ServerError(f"{what} failed with exit code {done.returncode} (see {instance.paths.error_log})", tail)


def _supported_flags(install_db: Path, basedir: Path) -> set[str]:
    """The options this install-db knows: 10.2 and 10.3 lack the ones that make root safe from the start."""
    done = subprocess.run(
        [str(install_db), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=server_environment(basedir),
        stdin=subprocess.DEVNULL,
    )
    wanted = ("--auth-root-authentication-method", "--skip-test-db")
    return {flag for flag in wanted if flag in done.stdout + done.stderr}


def _initialise_mariadb(instance: Instance, root_password: str, app_password: str, timeout: float) -> None:
    assert instance.install_db is not None
    sql = instance.paths.tmp / "provision.sql"
    statements = ["FLUSH PRIVILEGES", *provisioning_sql(root_password, app_password, os.uname().nodename)]
    write_private(sql, "".join(f"{statement};\n" for statement in statements))
    flags = _supported_flags(instance.install_db, instance.basedir)
    command = [
        str(instance.install_db),
        f"--defaults-file={instance.paths.my_cnf}",
        f"--basedir={instance.basedir}",
        f"--datadir={instance.datadir}",
        "--skip-name-resolve",
        f"--extra-file={sql}",
    ]
    if "--auth-root-authentication-method" in flags:
        command.append("--auth-root-authentication-method=normal")
    if "--skip-test-db" in flags:
        command.append("--skip-test-db")
    # Never --user, even as root (where bootstrap runs fine without it): with --user, install-db chowns the
    # installation's auth_pam_tool_dir, a system file we must not touch.
    command.append("--debug-no-sync")  # passed on to the bootstrap server; see the module docstring
    try:
        _run(instance, instance.install_db.name, command, timeout)
    finally:
        sql.unlink(missing_ok=True)
    sync_tree(instance.datadir)


def sync_tree(root: Path) -> None:
    """fsync every file and directory under ``root``, and ``root``'s own entry in its parent."""
    directories: list[Path] = [root.parent]
    files: list[Path] = []
    for current, _, names in os.walk(root):
        directories.append(Path(current))
        files.extend(Path(current, name) for name in names)
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(_fsync, files))
        list(pool.map(_fsync, directories))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _initialise_mysql(instance: Instance, root_password: str, app_password: str, timeout: float) -> None:
    import pymysql

    _run(
        instance,
        f"{instance.server.name} --initialize-insecure",
        server_command(instance, "--initialize-insecure"),
        timeout,
    )
    offset = log_size(instance)
    process = spawn(instance, "--skip-networking")
    try:
        wait_ready(instance, process, "", timeout, offset)
        connection = connect(instance.paths.socket, "")
        with connection.cursor() as cursor:
            for statement in provisioning_sql(root_password, app_password, os.uname().nodename):
                cursor.execute(statement)
            cursor.execute("SHUTDOWN")
        with contextlib.suppress(pymysql.err.Error, OSError):  # the server closes its end as it shuts down
            connection.close()
        process.wait(timeout=timeout)
    except BaseException:
        if process.poll() is None:
            process.kill()
            process.wait()
        raise
    if process.returncode not in (0, None):
        tail = log_tail(instance, offset)
        raise ServerError(
            f"{instance.server.name} did not shut down cleanly after setting up accounts "
            f"(exit code {process.returncode}; see {instance.paths.error_log})",
            tail,
        )
