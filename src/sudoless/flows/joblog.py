"""Job and flow logs, streamed into the store as they are written.

A :class:`LogWriter` buffers bytes and appends them to the store as a chunk when the buffer reaches the
chunk size or has waited a second, so a running job's log is readable (and survives a crash of the
runner) within about a second, while a multi-GB log never sits in memory.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from sudoless.descriptors import write_all
from sudoless.store import Store


def log_line(job: str, message: str, level: str = "INFO", when: float | None = None) -> bytes:
    """One line in Azkaban's layout: ``dd-MM-yyyy HH:mm:ss zzz <job> <LEVEL> - <message>``."""
    return f"{_stamp(int(time.time() if when is None else when))} UTC {job} {level} - {message}\n".encode()


@functools.lru_cache(maxsize=8)  # a job writes three lines or more, mostly within one second
def _stamp(second: int) -> str:
    return f"{datetime.fromtimestamp(second, UTC):%d-%m-%Y %H:%M:%S}"


class LogWriter:
    """Appends to one log (``name`` = nested job id, ``""`` for the flow log) of one attempt."""

    def __init__(
        self,
        store: Store,
        exec_id: int,
        name: str,
        attempt: int,
        chunk_bytes: int = 64 * 1024,
        max_delay: float = 1.0,
        shared: bool = False,
        copy: str | Path | None = None,
    ) -> None:
        self.store = store
        self.exec_id = exec_id
        self.name = name
        self.attempt = attempt
        self.chunk_bytes = chunk_bytes
        self.max_delay = max_delay
        #: a shared log has other writers: each chunk goes after whatever is there at that moment
        self.shared = shared
        self.offset = 0
        self._buffer = bytearray()
        self._since = 0.0
        self._lock = threading.Lock()
        #: a file that receives the same bytes as they are written (a job's ``azkaban.job.log.file``), for
        #: a job or a tool that reads the log from the execution folder as Azkaban's keep it there
        #: its descriptor, written with os.write: a buffered file object (made, written, flushed at every line,
        #: closed) cost more than the writes themselves, and each line reaches the file at once either way
        self._copy: int | None = None
        if copy is not None:
            self._copy = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o666)

    def write(self, data: bytes) -> None:
        with self._lock:
            if not self._buffer:
                self._since = time.monotonic()
            self._buffer += data
            if self._copy is not None:  # one write a line
                write_all(self._copy, data)
            if len(self._buffer) >= self.chunk_bytes:
                self._flush_locked()

    def line(self, message: str, level: str = "INFO") -> None:
        self.write(log_line(self.name or "flow", message, level))

    def flush_if_due(self) -> None:
        with self._lock:
            if self._buffer and time.monotonic() - self._since >= self.max_delay:
                self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def take(self) -> tuple[int, bytes]:
        """Hand over the unwritten tail ``(offset, data)`` for the caller to store in its own transaction."""
        with self._lock:
            if self._copy is not None:
                os.close(self._copy)
                self._copy = None
            start, data = self.offset, bytes(self._buffer)
            self._buffer.clear()
            self.offset += len(data)
            return start, data

    def _flush_locked(self) -> None:
        while self._buffer:
            chunk = bytes(self._buffer[: self.chunk_bytes])
            if self.shared:
                self.offset = self.store.logs.append_at_end(self.exec_id, self.name, self.attempt, chunk)
            else:
                self.store.logs.append(self.exec_id, self.name, self.attempt, self.offset, chunk)
            self.offset += len(chunk)
            del self._buffer[: len(chunk)]
