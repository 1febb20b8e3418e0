"""A gzip writer that compresses on several threads and still gives the same bytes for the same input.

The input is cut into fixed 1 MiB blocks; each block is deflated on its own with the previous 32 KiB as
its preset dictionary (as pigz does), so the result is one ordinary gzip member, about as small as a
single-threaded one. zlib releases the GIL, so threads give real parallelism. Block boundaries do not
depend on the number of threads, and the header carries mtime 0 and no file name, so the output is a
function of the input alone.
"""

from __future__ import annotations

import struct
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

from sudoless.processes import usable_cpus

BLOCK = 1 << 20
WINDOW = 32 * 1024
_HEADER = b"\x1f\x8b\x08\x00" + b"\0\0\0\0" + b"\x00\xff"  # deflate, no flags, mtime 0, xfl 0, OS unknown


def _deflate(block: bytes, dictionary: bytes, level: int, last: bool) -> bytes:
    compressor = (
        zlib.compressobj(level, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, dictionary)
        if dictionary
        else zlib.compressobj(level, zlib.DEFLATED, -15, 9)
    )
    return compressor.compress(block) + compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


class ParallelGzipWriter:
    """A write-only file object; ``close()`` writes the trailer but leaves ``target`` open."""

    def __init__(self, target: BinaryIO, level: int = 6, threads: int | None = None) -> None:
        self._target = target
        self._level = level
        self._pool = ThreadPoolExecutor(max_workers=threads or min(8, usable_cpus()))
        self._pending: deque[Future[bytes]] = deque()
        self._buffer = bytearray()
        self._previous_tail = b""
        self._crc = 0
        self._size = 0
        self._limit = 2 * (threads or min(8, usable_cpus())) + 2
        target.write(_HEADER)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._buffer += data
        while len(self._buffer) > BLOCK:  # keep one block back: only the last block may be finished
            self._submit(bytes(self._buffer[:BLOCK]), last=False)
            del self._buffer[:BLOCK]
        return len(data)

    def _submit(self, block: bytes, last: bool) -> None:
        self._crc = zlib.crc32(block, self._crc)
        self._size += len(block)
        self._pending.append(self._pool.submit(_deflate, block, self._previous_tail, self._level, last))
        self._previous_tail = block[-WINDOW:]
        while len(self._pending) > self._limit:
            self._target.write(self._pending.popleft().result())

    def close(self) -> None:
        self._submit(bytes(self._buffer), last=True)
        self._buffer.clear()
        while self._pending:
            self._target.write(self._pending.popleft().result())
        self._target.write(struct.pack("<II", self._crc & 0xFFFFFFFF, self._size & 0xFFFFFFFF))
        self._pool.shutdown()

    def flush(self) -> None:
        """tarfile calls this; blocks are written as they complete."""
