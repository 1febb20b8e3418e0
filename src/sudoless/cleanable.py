"""What a cleaner offers and how it is removed: the sizes and safe removal that cleaners share.

Below :mod:`sudoless.clean`, which asks every cleaner (the flows' retention, the Spark cache): they build
:class:`Cleanable` values with these functions, and ``clean`` imports them, not the other way round.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Cleanable", "file_stats", "human_size", "remove_path", "tree_bytes"]


@dataclass(frozen=True)
class Cleanable:
    """One removable thing: its kind (``spark-archive``, ``spark-work``, ...), path, size and remover. The path
    of what is not a file (old logs in the database) is a line that says what it is. ``reclaim``, for rows
    in a database, runs after a removal and returns the bytes the database file then gave back to the disk."""

    kind: str
    path: Path | str
    bytes: int
    remove: Callable[[], bool] = field(repr=False, compare=False)
    reclaim: Callable[[], int] | None = field(default=None, repr=False, compare=False)


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
