"""What ``sudoless clean`` can remove from SUDOLESS_HOME, and removing it.

A cleaner is a function from the settings to the things it could remove (:class:`Cleanable`), each with its
size and a ``remove`` that returns False when the thing turned out to be in use and was kept. Cleaners never
offer anything a running process needs (a running cluster's folders, a cache entry an app holds). A new kind
of leftover is a new function in :data:`CLEANERS`; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sudoless.cleanable import Cleanable, human_size
from sudoless.config import Settings


@dataclass(frozen=True)
class CleanItem:
    """What :func:`clean` did with one :class:`Cleanable`: removed, or kept because it was in use."""

    kind: str
    path: Path | str
    bytes: int
    removed: bool
    #: bytes a database file shrank by once the rows were gone (SQLite keeps freed pages until compacted)
    reclaimed: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "path": str(self.path),
            "bytes": self.bytes,
            "removed": self.removed,
            "reclaimed_bytes": self.reclaimed,
        }


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

    @property
    def reclaimed_bytes(self) -> int:
        """Bytes the database files shrank by after their rows were removed."""
        return sum(item.reclaimed for item in self.items)

    def to_json(self) -> dict[str, object]:
        return {
            "dry_run": self.dry_run,
            "freed_bytes": self.freed_bytes,
            "reclaimed_bytes": self.reclaimed_bytes,
            "items": [item.to_json() for item in self.items],
            "notes": list(self.notes),
        }


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
        reclaimed = found.reclaim() if removed and found.reclaim is not None else 0
        items.append(CleanItem(found.kind, found.path, found.bytes, removed, reclaimed))
    notes = [
        f"{path}: {human_size(size)} of another database's executions and project cache, not judged; "
        "run `sudoless clean --db URL` with that database to clean it"
        for path, size in other_databases(settings)
    ]
    return CleanReport(items, dry_run, notes)
