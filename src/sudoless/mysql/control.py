"""Starting, stopping and inspecting an instance's server process.

Start refuses at once when the instance already runs (found by pid or by the data directory's locks),
clears what a crash left behind, checks the port with a real ``bind``, then starts ``mariadbd``/``mysqld``
with the instance's ``my.cnf`` as its first option and returns when the server accepts a connection. It
watches the child while waiting, so a server that died at once is reported at once with the end of its
error log, rather than after a timeout of polling a socket that will never appear.

Stop asks for a clean ``SHUTDOWN`` over the socket (no ``mysqladmin`` needed: a tarball's client package
may not have it), falls back to SIGTERM, which is also clean, and after the timeout kills with SIGKILL;
the result says which it took.

The instance's server is the process the pid file names when it is alive (a zombie is not: after a clean
shutdown the server lingers as one until its parent reaps it) and its command line names the instance's own
``my.cnf``. A server started some other way on the same data directory is found through the locks InnoDB
and Aria hold on ``ibdata1`` and ``aria_log_control``: ``F_GETLK`` names the holder at once, where a second
server would wait 30 seconds to find out.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Collection
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sudoless.errors import ConfigError, DaemonError, StateError
from sudoless.mysql.admin import connect
from sudoless.mysql.dist import server_environment
from sudoless.mysql.instance import Instance
from sudoless.mysql.layout import name_flag
from sudoless.mysql.ports import pick_port, port_is_free
from sudoless.processes import (
    command_line,
    is_alive,
    lock_holder,
    read_pid,
    start_daemon,
    start_ticks,
    uptime_seconds,
    wait_until_gone,
)

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
TAIL_LINES = 12
#: error-log text after which the server will not come up, or only after a 30-second wait for a lock.
_FATAL = ("Will retry for 30 seconds", "Unable to lock", "Address already in use", "too long (>")
#: files InnoDB and Aria keep locked while a server uses the data directory
LOCKED_FILES = ("ibdata1", "aria_log_control")


class ServerError(DaemonError):
    """The server did not initialise, start or stop; ``log_tail`` holds the last lines of its logs."""


class PortInUse(ServerError):
    """Another program listens on the instance's port: found by the probe before the start, or by the server
    itself when something took the port between the probe and its ``bind``.
    """


@dataclass(frozen=True)
class ServerStatus:
    """What ``sudoless mysql status`` reports. ``state``: running, stopped, or crashed (a pid file left
    by a server that no longer runs).
    """

    name: str
    state: str
    pid: int | None
    port: int
    bind_address: str
    socket: str
    flavour: str
    version: str
    uptime_seconds: float | None
    data_bytes: int
    datadir: str
    error_log: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Started:
    pid: int
    seconds: float
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Stopped:
    """``method``: SHUTDOWN, SIGTERM or SIGKILL, or None when the server was not running."""

    pid: int | None
    method: str | None
    seconds: float
    notes: tuple[str, ...]


def running_pid(instance: Instance) -> int | None:
    """The pid of the instance's server, found by its pid file or its data directory's locks; None if none runs."""
    pid = read_pid(instance.paths.pid_file)
    if pid is not None and runs_with_options(pid, instance.paths.my_cnf):
        return pid
    return datadir_lock_holder(instance.datadir)


def runs_with_options(pid: int, my_cnf: Path) -> bool:
    """Whether ``pid`` is a live process started with ``--defaults-file=my_cnf``."""
    arguments = command_line(pid)
    return arguments is not None and f"--defaults-file={my_cnf}".encode() in arguments and is_alive(pid)


def datadir_lock_holder(datadir: Path) -> int | None:
    """The pid of the process holding the data directory's InnoDB or Aria lock, if any."""
    for name in LOCKED_FILES:
        pid = lock_holder(datadir / name)
        if pid is not None:
            return pid
    return None


def server_command(instance: Instance, *extra: str) -> list[str]:
    """The server's argv: ``--defaults-file`` must come first or the server reads /etc/mysql too."""
    command = [str(instance.server), f"--defaults-file={instance.paths.my_cnf}"]
    if os.geteuid() == 0:
        command.append("--user=root")  # the server refuses to run as root without it
    return command + list(extra)


def spawn(instance: Instance, *extra: str) -> subprocess.Popen[bytes]:
    """Start the server in its own session, so that it outlives us and ignores our terminal's Ctrl-C."""
    for directory in instance.paths.private_dirs:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return start_daemon(
        server_command(instance, *extra),
        instance.paths.server_output,
        cwd=instance.root,
        env=server_environment(instance.basedir),
    )


def log_size(instance: Instance) -> int:
    try:
        return instance.paths.error_log.stat().st_size
    except FileNotFoundError:
        return 0


def log_tail(instance: Instance, offset: int = 0, lines: int = TAIL_LINES) -> str:
    """The last lines the server logged since ``offset``, or its stdout/stderr if the log is silent."""
    for path, start in ((instance.paths.error_log, offset), (instance.paths.server_output, 0)):
        try:
            with open(path, "rb") as log:
                log.seek(start)
                text = log.read().decode(errors="replace").strip()
        except FileNotFoundError:
            continue
        if text:
            return "\n".join(text.splitlines()[-lines:])
    return ""


def wait_ready(
    instance: Instance, process: subprocess.Popen[bytes], password: str, timeout: float, offset: int
) -> None:
    """Return once the server accepts a connection over its socket; raise :class:`ServerError` with the
    log's last lines when it exits, hits a fatal condition, or is not ready within ``timeout``.
    """
    import pymysql

    deadline = time.monotonic() + timeout
    while True:
        code = process.poll()
        if code is not None:
            tail = log_tail(instance, offset)
            raise _start_error(instance, f"exited with code {code} while starting", tail)
        if instance.paths.socket.exists():
            try:
                connect(instance.paths.socket, password, timeout=2.0).close()
                return
            except pymysql.err.OperationalError as exc:
                if exc.args and exc.args[0] in (1045, 1698):
                    return  # it accepted the connection; the password is another matter
        tail = log_tail(instance, offset)
        fatal = any(marker in tail for marker in _FATAL)
        if fatal or time.monotonic() >= deadline:
            _terminate(process)
            tail = log_tail(instance, offset)
            what = "failed to start" if fatal else f"did not accept connections within {timeout:.0f} s"
            raise _start_error(instance, what, tail)
        time.sleep(0.05)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _start_error(instance: Instance, what: str, tail: str) -> ServerError:
    error = PortInUse if "Address already in use" in tail else ServerError
    return error(_failure(instance, what, tail), tail)


def _failure(instance: Instance, what: str, tail: str) -> str:
    where = f"see {instance.paths.error_log}"
    if "Address already in use" in tail:
        return (
            f"instance '{instance.name}' {what}: port {instance.port} on {instance.bind_address} is in use; "
            f"start it with --port N to move it ({where})"
        )
    if "Will retry for 30 seconds" in tail or "Unable to lock" in tail:
        return f"instance '{instance.name}' {what}: another server is using {instance.datadir} ({where})"
    if "too long (>" in tail:
        return f"instance '{instance.name}' {what}: its socket path is too long for this system ({where})"
    hint = ""
    if "Permission denied" in tail or "errno: 13" in tail:
        hint = (
            "; if the file permissions are right, an AppArmor profile may confine this binary (see dmesg): "
            "a server unpacked into your home directory is not confined"
        )
    return f"{instance.label} instance '{instance.name}' {what} ({where}){hint}"


def clear_stale(instance: Instance) -> str | None:
    """Remove the pid file, socket and socket lock a dead server left; a note saying so, if there was one."""
    paths = instance.paths
    pid = read_pid(paths.pid_file)
    left = [
        p
        for p in (paths.pid_file, paths.socket, paths.socket.with_name(paths.socket.name + ".lock"))
        if p.exists() or p.is_symlink()
    ]
    for path in left:
        path.unlink(missing_ok=True)
    if paths.pid_file in left:
        who = f"pid {pid}" if pid is not None else "an unreadable pid"
        return (
            f"removed the stale pid file of instance '{instance.name}' ({who} is not running: the server "
            "crashed or was killed; InnoDB recovers at start)"
        )
    return None


def start(instance: Instance, timeout: float = START_TIMEOUT, taken_ports: Collection[int] = ()) -> Started:
    """Start the server and wait until it accepts connections (see the module docstring)."""
    pid = running_pid(instance)
    if pid is not None:
        raise StateError(
            f"MySQL instance '{instance.name}' is already running (pid {pid}, port {instance.port}); "
            f"stop it first with 'sudoless mysql stop{name_flag(instance.name)}'"
        )
    notes = [note for note in (clear_stale(instance),) if note]
    if not port_is_free(instance.bind_address, instance.port):
        free = pick_port(instance.bind_address, {instance.port, *taken_ports})
        raise PortInUse(
            f"port {instance.port} on {instance.bind_address} is in use by another program, so "
            f"instance '{instance.name}' cannot start; stop that program, or move the instance with "
            f"'sudoless mysql start{name_flag(instance.name)} --port {free}'"
        )
    if os.geteuid() == 0:
        notes.append("running as root: the server runs with --user=root (an unprivileged account is safer)")
    password = instance.root_password()
    began = time.monotonic()
    offset = log_size(instance)
    process = spawn(instance)
    wait_ready(instance, process, password, timeout, offset)
    pid = read_pid(instance.paths.pid_file) or process.pid
    return Started(pid=pid, seconds=time.monotonic() - began, notes=tuple(notes))


def stop(instance: Instance, timeout: float = STOP_TIMEOUT) -> Stopped:
    """Stop the server: SHUTDOWN, else SIGTERM; SIGKILL once ``timeout`` has passed."""
    pid = running_pid(instance)
    if pid is None:
        note = clear_stale(instance)
        return Stopped(pid=None, method=None, seconds=0.0, notes=(note,) if note else ())
    ticks = start_ticks(pid)
    began = time.monotonic()
    method = "SHUTDOWN" if _shutdown(instance) else "SIGTERM"
    if method == "SIGTERM":
        _signal(pid, signal.SIGTERM)
    notes: list[str] = []
    if not wait_until_gone(pid, ticks, timeout):
        _signal(pid, signal.SIGKILL)
        if not wait_until_gone(pid, ticks, 10.0):
            raise StateError(f"instance '{instance.name}': pid {pid} survived SIGKILL; check 'ps -p {pid}'")
        notes.append(
            f"the server did not stop within {timeout:.0f} s of {method}, so it was killed with SIGKILL; "
            "InnoDB recovers at the next start"
        )
        method = "SIGKILL"
        clear_stale(instance)
    return Stopped(pid=pid, method=method, seconds=time.monotonic() - began, notes=tuple(notes))


def _shutdown(instance: Instance) -> bool:
    """Ask for a clean shutdown over the socket; False when the server cannot be asked."""
    import pymysql

    try:
        connection = connect(instance.paths.socket, instance.root_password(), timeout=5.0)
    except (pymysql.err.Error, OSError, ConfigError):
        return False
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHUTDOWN")
        return True
    except (pymysql.err.Error, OSError):
        return False
    finally:
        with contextlib.suppress(pymysql.err.Error, OSError):  # the server closes its end as it shuts down
            connection.close()


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass  # it exited between our check and the signal: what we wanted
    except PermissionError:
        raise StateError(f"pid {pid} belongs to another user; it cannot be this instance's server") from None


def status(instance: Instance) -> ServerStatus:
    pid = running_pid(instance)
    stale = pid is None and read_pid(instance.paths.pid_file) is not None
    state = "running" if pid is not None else "crashed" if stale else "stopped"
    data_bytes = directory_bytes(instance.datadir) if instance.datadir.is_dir() else 0
    return ServerStatus(
        name=instance.name,
        state=state,
        pid=pid,
        port=instance.port,
        bind_address=instance.bind_address,
        socket=str(instance.paths.socket),
        flavour=instance.flavour.value,
        version=instance.version,
        uptime_seconds=uptime_seconds(pid) if pid is not None else None,
        data_bytes=data_bytes,
        datadir=str(instance.datadir),
        error_log=str(instance.paths.error_log),
    )


def directory_bytes(root: Path) -> int:
    """Disk space used under ``root`` (allocated blocks, as ``du`` counts them: quotas count those)."""
    total = 0
    pending = [root]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                else:
                    total += entry.stat(follow_symlinks=False).st_blocks * 512
    return total
