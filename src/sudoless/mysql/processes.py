"""Telling whether an instance's server runs, from ``/proc`` and the data directory's locks.

A pid file is only a hint: after ``kill -9`` or a reboot it names a dead process, or a live one that
reused the number. A process counts as the instance's server when it is alive and not a zombie (after a
clean shutdown the server lingers as a zombie until its parent, often PID 1, reaps it) and its command
line names the instance's own ``my.cnf``. A server started some other way on the same data directory is
found through the locks InnoDB and Aria hold on ``ibdata1`` and ``aria_log_control``: ``F_GETLK`` names
the holder at once, where a second server would wait 30 seconds to find out.
"""

from __future__ import annotations

import fcntl
import os
import struct
import time
from pathlib import Path

_FLOCK = "hhqqi4x"  # struct flock on Linux: type, whence, start, len, pid
LOCKED_FILES = ("ibdata1", "aria_log_control")


def read_pid(pid_file: Path) -> int | None:
    try:
        text = pid_file.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return raw[raw.rindex(")") + 2:].split()  # the name in parentheses may itself hold spaces


def is_alive(pid: int) -> bool:
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def start_ticks(pid: int) -> int | None:
    """When the process started, in clock ticks since boot: with the pid, it identifies one process."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields is not None else None


def uptime_seconds(pid: int) -> float | None:
    ticks = start_ticks(pid)
    if ticks is None:
        return None
    since_boot = float(Path("/proc/uptime").read_text().split()[0])
    # whole hundredths: both figures come in 10 ms steps, and further digits are float noise (0.31999999999993634)
    return round(max(0.0, since_boot - ticks / os.sysconf("SC_CLK_TCK")), 2)


def runs_with_options(pid: int, my_cnf: Path) -> bool:
    """Whether ``pid`` is a live process started with ``--defaults-file=my_cnf``."""
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    return f"--defaults-file={my_cnf}".encode() in arguments and is_alive(pid)


def lock_holder(datadir: Path) -> int | None:
    """The pid of the process holding the data directory's InnoDB or Aria lock, if any."""
    for name in LOCKED_FILES:
        try:
            fd = os.open(datadir / name, os.O_RDONLY)
        except (FileNotFoundError, PermissionError):
            continue
        try:
            query = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
            kind, _, _, _, pid = struct.unpack(_FLOCK, fcntl.fcntl(fd, fcntl.F_GETLK, query))
        finally:
            os.close(fd)
        if kind != fcntl.F_UNLCK and pid > 0 and is_alive(pid):
            return pid
    return None


def wait_until_gone(pid: int, ticks: int | None, timeout: float) -> bool:
    """Wait for the process to exit (zombies count as gone); False if it still runs after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        if not is_alive(pid) or start_ticks(pid) != ticks:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


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
