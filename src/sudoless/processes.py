"""Processes: whether one still runs, its process group, and daemons that outlive the command starting them.

One answer about liveness for the whole package (MySQL, Spark's daemons, the runner's jobs, the store's
executors): a process is alive while it exists and is not a zombie. A zombie has exited and only waits for
its parent to collect its status (after a clean shutdown a server lingers so until its parent, often PID 1,
reaps it), so it runs nothing, holds no lock and serves no port.

A pid alone is only a hint: after ``kill -9`` or a reboot a pid file names a dead process, or a live one that
reused the number. The pid together with the process's start time (:func:`start_ticks`) names one process.

Jobs and daemons start in a session (and process group) of their own, so that one ``killpg`` reaches
everything they started, and a terminal's Ctrl-C does not reach them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import struct
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

#: seconds between SIGTERM and SIGKILL when a job's process group is stopped
GRACE_SECONDS = 5.0

_FLOCK = "hhqqi4x"  # struct flock on Linux: type, whence, start, len, pid


def usable_cpus() -> int:
    """The CPUs this process may run on, which sizes every pool of workers in the package.

    ``os.cpu_count()`` counts the machine's CPUs, but on a shared server or cluster node the scheduler (Slurm,
    a cgroup cpuset, ``taskset``) often pins a user's job to a few of them: one worker per machine CPU would
    then crowd several processes onto each allowed CPU. The affinity mask is what the kernel will actually
    give; ``os.process_cpu_count()`` says the same from Python 3.13, which the package does not require.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity call on this platform
        return os.cpu_count() or 1


def read_pid(pid_file: Path) -> int | None:
    """The pid a pid file holds; None when it is missing or holds no number."""
    try:
        text = pid_file.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name, from the state on; None when unreadable."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw[raw.rindex(")") + 2 :].split()  # the name in parentheses may itself hold spaces


def is_alive(pid: int) -> bool:
    """Whether ``pid`` is a running process: it exists (another user's counts) and is not a zombie."""
    if pid <= 0:  # 0 and negative numbers name process groups to kill(), never one process
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    # /proc may hide other users' processes (hidepid): existing and unreadable is alive
    fields = _stat_fields(pid)
    return fields is None or fields[0] not in ("Z", "X")


def start_ticks(pid: int) -> int | None:
    """When the process started, in clock ticks since boot: with the pid, it identifies one process."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields is not None else None


def is_running(pid: int, ticks: int | None) -> bool:
    """Whether the process that had ``pid`` and started at ``ticks`` still runs (not a newcomer with its pid)."""
    return is_alive(pid) and start_ticks(pid) == ticks


def uptime_seconds(pid: int) -> float | None:
    """Seconds since the process started; None when it is gone."""
    ticks = start_ticks(pid)
    if ticks is None:
        return None
    since_boot = float(Path("/proc/uptime").read_text().split()[0])
    # whole hundredths: both figures come in 10 ms steps, and further digits are float noise (0.31999999999993634)
    return round(max(0.0, since_boot - ticks / os.sysconf("SC_CLK_TCK")), 2)


def command_line(pid: int) -> list[bytes] | None:
    """The process's argv as the kernel holds it; None when it is gone or hidden from us."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def wait_until_gone(pid: int, ticks: int | None, timeout: float) -> bool:
    """Wait for the process to exit (a zombie has); False if it still runs after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while is_running(pid, ticks):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def lock_holder(path: Path) -> int | None:
    """The live process holding a write-excluding POSIX lock on ``path`` (``F_GETLK``: no waiting), if any."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, PermissionError):
        return None
    try:
        query = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        kind, _, _, _, pid = struct.unpack(_FLOCK, fcntl.fcntl(fd, fcntl.F_GETLK, query))
    finally:
        os.close(fd)
    return pid if kind != fcntl.F_UNLCK and pid > 0 and is_alive(pid) else None


def signal_group(pgid: int, signum: int) -> bool:
    """Send ``signum`` to the process group ``pgid``; False when the group has no member left."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    return True


def kill_group(pgid: int, grace: float = GRACE_SECONDS, reap: Callable[[], object] | None = None) -> None:
    """SIGTERM the group, then SIGKILL whatever is left after ``grace`` seconds.

    ``reap`` (the leader's ``Popen.poll``) collects the leader once it exits: an unreaped leader is a
    zombie that still counts as a member of its group, so without it every kill would wait the whole grace.
    """
    if not signal_group(pgid, signal.SIGTERM):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if reap is not None:
            reap()
        if not signal_group(pgid, 0):
            return
        time.sleep(0.05)
    signal_group(pgid, signal.SIGKILL)


def kill_session(pgid: int) -> bool:
    """SIGKILL the group ``pgid`` if its leader still leads the session it started (see
    :func:`start_daemon`); a pid reused by an unrelated process does not, and is left alone. True if sent."""
    try:
        if os.getsid(pgid) != pgid:
            return False
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is an exited child of ours, so that it does not linger as a zombie;
    nothing for another's process or one still running."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def start_daemon(
    argv: Sequence[str], output: Path, *, cwd: Path, env: Mapping[str, str], append: bool = False
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a session of its own, stdin closed and its output into the file ``output`` (appended
    to, or replaced): it outlives the command that started it and ignores that terminal's Ctrl-C."""
    with open(output, "ab" if append else "wb") as out:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
        )
