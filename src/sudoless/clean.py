"""What ``sudoless clean`` can remove from SUDOLESS_HOME, and removing it.

A cleaner is a function from the settings to the things it could remove (:class:`Cleanable`), each with its
size and a ``remove`` that returns False when the thing turned out to be in use and was kept. Cleaners never
offer anything a running process needs (a running cluster's folders, a cache entry an app holds). A new kind
of leftover is a new function in :data:`CLEANERS`; nothing else changes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sudoless.config import Settings


@dataclass(frozen=True)
class Cleanable:
    """One removable thing: its kind (``spark-archive``, ``spark-work``, ...), path, size and remover. The path
    of what is not a file (old logs in the database) is a line that says what it is."""

    kind: str
    path: Path | str
    bytes: int
    remove: Callable[[], bool] = field(repr=False, compare=False)


@dataclass(frozen=True)
class CleanItem:
    """What :func:`clean` did with one :class:`Cleanable`: removed, or kept because it was in use."""

    kind: str
    path: Path | str
    bytes: int
    removed: bool

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "path": str(self.path), "bytes": self.bytes, "removed": self.removed}


@dataclass(frozen=True)
class CleanReport:
    items: list[CleanItem]
    dry_run: bool
    #: what was seen and left alone because nothing here can judge it, one line each
    notes: list[str] = field(default_factory=list)

    @property
    def freed_bytes(self) -> int:
        """Bytes removed, or with ``dry_run`` the bytes that would be."""
        return sum(item.bytes for item in self.items if item.removed or self.dry_run)

    def to_json(self) -> dict[str, object]:
        return {
            "dry_run": self.dry_run,
            "freed_bytes": self.freed_bytes,
            "items": [item.to_json() for item in self.items],
            "notes": list(self.notes),
        }


def human_size(count: int) -> str:
    """``1.3 GB``, ``686.0 MB``, ``12.0 KB``, ``512 B``: decimal units, as ``du -h --si`` and file managers."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"


def tree_bytes(path: Path) -> int:
    """The bytes of the files under ``path`` (or of the file itself), links not followed, each file once."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return 0
    if not path.is_dir() or path.is_symlink():
        return st.st_size
    seen: set[tuple[int, int]] = set()
    total = 0
    for st in file_stats(path):
        if (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total


def file_stats(path: Path) -> Iterator[os.stat_result]:
    """``lstat`` of every file under the folder ``path``; files that vanish meanwhile are skipped."""
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                yield os.lstat(os.path.join(folder, name))
            except FileNotFoundError:
                continue


def _writable_and_retry(function: Callable[[str], object], name: str, _: object) -> None:
    """rmtree's error handler: an archive may hold read-only folders (0555), whose entries cannot be
    removed until the folder is writable again; anything else that fails stays for the next clean."""
    with contextlib.suppress(OSError):
        os.chmod(os.path.dirname(name), 0o700)
        if os.path.isdir(name) and not os.path.islink(name):
            os.chmod(name, 0o700)
        function(name)


def remove_path(path: Path) -> None:
    """Remove a file or a folder tree; a folder is first renamed aside (``NAME.PID.removing``), so no
    half-removed folder is ever left under its own name for a reader to take as complete."""
    if path.is_dir() and not path.is_symlink():
        doomed = path.with_name(f"{path.name}.{os.getpid()}.removing")
        path.replace(doomed)
        shutil.rmtree(doomed, onerror=_writable_and_retry)
    else:
        path.unlink(missing_ok=True)


def _spark(settings: Settings) -> Iterable[Cleanable]:
    from sudoless.spark.cache import spark_cleanables

    return spark_cleanables(settings)


def _flows(settings: Settings) -> Iterable[Cleanable]:
    from sudoless.flows.retention import all_flow_cleanables

    return all_flow_cleanables(settings)


#: every cleaner, in the order its findings are listed.
CLEANERS: list[Callable[[Settings], Iterable[Cleanable]]] = [_flows, _spark]


def find_cleanable(settings: Settings) -> list[Cleanable]:
    """Everything the cleaners offer now, nothing removed."""
    return [item for cleaner in CLEANERS for item in cleaner(settings)]


def clean(settings: Settings, dry_run: bool = False) -> CleanReport:
    """Remove what the cleaners offer (with ``dry_run``, only report it), and note the other databases'
    folders in the home, which only their own database can judge."""
    from sudoless.flows.retention import other_databases

    items = []
    for found in find_cleanable(settings):
        removed = False if dry_run else found.remove()
        items.append(CleanItem(found.kind, found.path, found.bytes, removed))
    notes = [f"{path}: {human_size(size)} of another database's executions and project cache, not judged; "
             "run `sudoless clean --db URL` with that database to clean it"
             for path, size in other_databases(settings)]
    return CleanReport(items, dry_run, notes)
