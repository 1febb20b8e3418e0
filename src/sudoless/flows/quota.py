"""The quota of one execution directory: how much its jobs may write there while the flow runs.

A project version is bounded at upload (``project_max_mb``); what its jobs then write is not, and one job
that loops writing a file would fill the disk every other execution and the database share. The runner
asks :class:`DirQuota` after each job and on a timer; a measurement walks the directory (no hook on file
writes, which would need a FUSE mount or root) and counts each file once by inode, in disk blocks (what
fills a disk: a sparse file counts what it holds). The project's own files, already counted by its own
quota, are left out: they are the read-only files with other links (the cache's, :mod:`sudoless.flows.
workspace`). A file a job writes or replaces is its own and counts. Knowing them by their mode needs no
list made at the start, which would cost a walk per execution; a job could hide a file from the count by
making it read-only and linking it elsewhere, but a job that means to fill the disk writes to ``/tmp``
anyway: the quota is against runaway jobs, the disk's own quotas against hostile ones.

A walk costs a few microseconds per file. To keep the check cheap, the next walk after a job's end or the
timer waits at least :data:`COST_FACTOR` times as long as the last walk took, so a chain of short jobs does
not walk the directory after each of them; the end of the flow is always measured.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from sudoless.cleanable import human_size

#: seconds between two timed measurements while jobs run
CHECK_SECONDS = 2.0
#: measuring never takes more than about 1/COST_FACTOR of the runner's time
COST_FACTOR = 50.0
_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


def _walk_files(top: str) -> Iterator[os.stat_result]:
    """``lstat`` of every file (not folder) under ``top``, by scandir, entries that vanish skipped."""
    pending = [top]
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            pending.append(entry.path)
                        else:
                            yield entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue


def written_bytes(workdir: Path) -> int:
    """Disk bytes of the files under ``workdir`` but the shared read-only ones, each inode once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for st in _walk_files(str(workdir)):
        key = (st.st_dev, st.st_ino)
        if (st.st_nlink > 1 and not st.st_mode & _WRITE_BITS) or key in seen:
            continue
        seen.add(key)
        total += st.st_blocks * 512
    return total


class DirQuota:
    """``limit_mb`` MiB (0: no limit) for what the jobs of the execution at ``workdir`` write there."""

    def __init__(self, exec_id: int, workdir: Path, limit_mb: int) -> None:
        self.exec_id = exec_id
        self.workdir = workdir
        self.limit = max(0, limit_mb) << 20
        self.limit_mb = limit_mb
        self.last_walk = float("-inf")
        #: the last measurement (bytes) and what it cost (seconds), for the log and the benchmark
        self.used = 0
        self.cost = 0.0

    def exceeded(self, job_ended: bool = False, final: bool = False) -> str | None:
        """The reason the directory is over its quota (one line), or None. Measures when the timer is due,
        after a job ended (``job_ended``) unless the last walk was too recent for what it cost, and always at
        the end of the flow (``final``)."""
        if not self.limit:
            return None
        now = time.monotonic()
        wait = self.cost * COST_FACTOR if job_ended else max(CHECK_SECONDS, self.cost * COST_FACTOR)
        if not final and now < self.last_walk + wait:
            return None
        self.used = written_bytes(self.workdir)
        self.last_walk = time.monotonic()
        self.cost = self.last_walk - now
        if self.used <= self.limit:
            return None
        return (
            f"execution {self.exec_id}'s directory holds {human_size(self.used)} written by its jobs, over "
            f"its quota of {self.limit_mb} MiB (setting execution_dir_max_mb, SUDOLESS_EXECUTION_DIR_MAX_MB)"
        )
