"""Writing to a raw file descriptor, for the hot paths that skip a file object (a job's properties file, its
log's copy, a project version's files): a buffered file object's set-up, flush and close cost more than the
one ``os.write`` such a short write needs.
"""

from __future__ import annotations

import os

__all__ = ["write_all"]


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``: one ``os.write`` when the kernel takes it whole, as it does for a regular
    file; the rest after a partial write (a signal, a nearly full disk), as a file object's write would."""
    written = os.write(fd, data)
    if written < len(data):
        view = memoryview(data)[written:]
        while view:
            view = view[os.write(fd, view) :]
