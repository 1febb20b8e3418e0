"""Spark's disk caches under SUDOLESS_HOME, kept under a size cap, and what ``sudoless clean`` removes of Spark.

Two kinds of entry share one cap (the ``spark_cache_mb`` setting, ``SUDOLESS_SPARK_CACHE_MB``): packed venvs
in ``spark/archives`` (written by :func:`sudoless.spark.pack.pack_env`, each some hundreds of MB) and archives
unpacked for local masters in ``spark/unpacked``. Using an entry sets its mtime to now (:func:`mark_used`);
:func:`trim` then removes the least recently used entries until the cache fits, never the entries the caller
is using and never one another process holds: :func:`in_use` takes a shared ``flock`` on an entry for as long
as an app runs from it, and an entry is removed only under an exclusive one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sudoless.cleanable import Cleanable, remove_path, tree_bytes
from sudoless.config import Settings
from sudoless.processes import is_alive

#: suffixes of scratch names: ``NAME.PID.partial`` while written, ``NAME.PID.removing`` while removed.
SCRATCH_SUFFIXES = (".partial", ".removing")


def archives_dir(home: Path) -> Path:
    return home / "spark" / "archives"


def unpacked_dir(home: Path) -> Path:
    return home / "spark" / "unpacked"


def cap_bytes(settings: Settings) -> int:
    return max(settings.spark_cache_mb, 0) << 20


@dataclass(frozen=True)
class CacheEntry:
    """One cached archive or unpacked folder, its size and when it was last used (epoch seconds)."""

    path: Path
    bytes: int
    used: float


def _scratch(name: str) -> bool:
    return name.endswith(SCRATCH_SUFFIXES)


def entries(home: Path) -> list[CacheEntry]:
    """Every complete cache entry, least recently used first."""
    found = []
    for path in _listing(home):
        if not _scratch(path.name):
            with contextlib.suppress(FileNotFoundError):
                found.append(CacheEntry(path, tree_bytes(path), path.lstat().st_mtime))
    return sorted(found, key=lambda entry: (entry.used, entry.path.name))


def _listing(home: Path) -> Iterator[Path]:
    """Everything in the two cache folders: entries and the scratch names of unfinished writes or removals."""
    for folder in (archives_dir(home), unpacked_dir(home)):
        if folder.is_dir():
            yield from folder.iterdir()


def mark_used(path: Path) -> None:
    """Record a use of the entry at ``path`` (its mtime becomes now), which moves it to the back of the queue."""
    os.utime(path)


@contextlib.contextmanager
def in_use(paths: Iterable[Path]) -> Iterator[None]:
    """Hold the entries at ``paths`` (a shared lock each) so that no :func:`trim` or clean removes them."""
    held: list[int] = []
    try:
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                fd = os.open(path, os.O_RDONLY)
                held.append(fd)
                fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        for fd in held:
            os.close(fd)


def remove_unless_held(path: Path) -> bool:
    """Remove the entry at ``path`` unless a process holds it (:func:`in_use`); True when it was removed."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return True
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        remove_path(path)
        return True
    finally:
        os.close(fd)


def trim(home: Path, cap: int, keep: Iterable[Path] = ()) -> list[CacheEntry]:
    """Remove the least recently used entries until the cache holds at most ``cap`` bytes, sparing ``keep``
    and held entries (so the cache can stay over the cap when those alone exceed it). Returns the removed."""
    spared = {Path(path).absolute() for path in keep}
    cached = entries(home)
    total = sum(entry.bytes for entry in cached)
    removed = []
    for entry in cached:
        if total <= cap:
            break
        if entry.path.absolute() in spared or not remove_unless_held(entry.path):
            continue
        total -= entry.bytes
        removed.append(entry)
    return removed


def _stale_scratch(home: Path) -> list[Path]:
    """Scratch folders and files whose writing or removing process has died (a crash or a kill)."""
    stale = []
    for path in _listing(home):
        if _scratch(path.name):
            pid = path.name.rsplit(".", 2)[-2]
            if not (pid.isdigit() and is_alive(int(pid))):
                stale.append(path)
    return stale


def spark_cleanables(settings: Settings) -> list[Cleanable]:
    """Spark's removable leftovers: every cache entry not held by a running app, dead processes' scratch
    files, and the work folders and logs of a local cluster that is not running (none while it runs)."""
    from sudoless.spark.cluster import cluster_dir, cluster_running, remove_stopped

    home = settings.home
    found = [
        Cleanable(
            "spark-archive" if entry.path.parent == archives_dir(home) else "spark-unpacked",
            entry.path,
            entry.bytes,
            partial(remove_unless_held, entry.path),
        )
        for entry in entries(home)
    ]
    for path in _stale_scratch(home):
        found.append(Cleanable("spark-scratch", path, tree_bytes(path), partial(_remove, path)))
    if not cluster_running(settings):
        root = cluster_dir(settings)
        for kind, path in (("spark-work", root / "work"), ("spark-logs", root / "logs")):
            if path.is_dir() and any(path.iterdir()):
                found.append(Cleanable(kind, path, tree_bytes(path), partial(remove_stopped, settings, path)))
    return found


def _remove(path: Path) -> bool:
    remove_path(path)
    return True
