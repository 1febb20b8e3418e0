"""Ring all-reduce over plain TCP sockets, for the barrier engine's per-step gradient exchange.

Spark's own ``BarrierTaskContext.allGather`` answers no faster than about a second (the JVM polls the barrier
coordinator with ``Thread.sleep(1000)``, in ``BarrierTaskContext.runBarrier`` of Spark's core), so it only
exchanges addresses once; every step's sum then travels around a ring of sockets among the tasks, as gloo and
Horovod do.

The vector is cut into ``size`` chunks. In ``size - 1`` reduce-scatter rounds each rank passes one chunk to
its successor and adds the chunk it receives from its predecessor; in ``size - 1`` all-gather rounds the
finished chunks travel round the ring. Each rank sends ``2 (size-1)/size`` of the vector per call whatever
the ring size, which is the bandwidth-optimal pattern. Every chunk is summed in one fixed order by one rank
and then copied, so all ranks end with bit-identical results: replicas that apply the same optimiser step to
them stay identical.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from sudoless.errors import SudolessError

Array = np.ndarray


class CollectiveError(SudolessError):
    """A peer of the ring closed its connection or did not answer in time; the barrier stage must restart."""

    exit_code = 1


@dataclass
class RingStats:
    """Time spent inside :meth:`Ring.allreduce` and bytes sent, for the benchmark's overhead split."""

    calls: int = 0
    seconds: float = 0.0
    bytes_sent: int = 0
    per_call: list[float] = field(default_factory=list)


def listen(host: str = "") -> socket.socket:
    """A listening socket on a free port of ``host`` (every interface by default)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, 0))
    server.listen(4)
    return server


def _tune(sock: socket.socket) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        sock.setsockopt(socket.SOL_SOCKET, option, 4 << 20)


class Ring:
    """One rank's place in the ring: a connection to its successor and one from its predecessor.

    ``addresses[r]`` is ``host:port`` of rank r's listener. Rank r connects to rank r+1 and accepts from rank
    r-1; the accepted peer says its rank first, so a stray connection cannot take the predecessor's place.
    """

    def __init__(self, rank: int, addresses: list[str], server: socket.socket, timeout: float = 120.0) -> None:
        self.rank, self.size = rank, len(addresses)
        self.stats = RingStats()
        self._sender: threading.Thread | None = None
        self._outbox: queue.Queue[memoryview | None] = queue.Queue()
        self._send_error: BaseException | None = None
        if self.size == 1:
            server.close()
            return
        host, port = addresses[(rank + 1) % self.size].rsplit(":", 1)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.next = socket.create_connection((host, int(port)), timeout=timeout)
                break
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise CollectiveError(
                        f"rank {rank}: cannot reach rank {(rank + 1) % self.size} at {host}:{port}: {exc}"
                    ) from None
                time.sleep(0.05)
        _tune(self.next)
        self.next.sendall(struct.pack("!i", rank))
        server.settimeout(timeout)
        expected = (rank - 1) % self.size
        while True:
            try:
                peer, _ = server.accept()
            except OSError as exc:
                raise CollectiveError(f"rank {rank}: rank {expected} did not connect: {exc}") from None
            peer.settimeout(timeout)
            header = self._read_exact(peer, 4)
            if struct.unpack("!i", header)[0] == expected:
                break
            peer.close()
        server.close()
        _tune(peer)
        self.prev = peer
        self._sender = threading.Thread(target=self._send_loop, name=f"ring-send-{rank}", daemon=True)
        self._sender.start()

    @staticmethod
    def _read_exact(sock: socket.socket, size: int) -> bytes:
        data = bytearray(size)
        view = memoryview(data)
        got = 0
        while got < size:
            n = sock.recv_into(view[got:])
            if n == 0:
                raise CollectiveError("a peer closed its connection during the all-reduce")
            got += n
        return bytes(data)

    def _recv_into(self, target: Array) -> None:
        view = target.data.cast("B")
        got, size = 0, view.nbytes
        while got < size:
            try:
                n = self.prev.recv_into(view[got:])
            except OSError as exc:
                raise CollectiveError(f"rank {self.rank}: receive failed: {exc}") from None
            if n == 0:
                raise CollectiveError(f"rank {self.rank}: rank {(self.rank - 1) % self.size} closed the ring")
            got += n

    def _send_loop(self) -> None:
        while True:
            item = self._outbox.get()
            if item is None:
                return
            try:
                self.next.sendall(item)
            except OSError as exc:  # reported to the caller on its next receive or send
                self._send_error = exc
                return

    def _send(self, chunk: Array) -> None:
        if self._send_error is not None:
            raise CollectiveError(f"rank {self.rank}: send failed: {self._send_error}")
        self._outbox.put(np.ascontiguousarray(chunk).data.cast("B"))
        self.stats.bytes_sent += chunk.nbytes

    def allreduce(self, vector: Array) -> Array:
        """Sum ``vector`` (1-D, contiguous) over all ranks, in place; returns it."""
        started = time.perf_counter()
        if self.size > 1:
            bounds = np.linspace(0, vector.size, self.size + 1).astype(np.int64)
            chunks = [vector[bounds[i] : bounds[i + 1]] for i in range(self.size)]
            scratch = np.empty(max(c.size for c in chunks), vector.dtype)
            # Sends go to the sender thread before the matching receive, so two ranks that both send a large
            # chunk cannot block each other; copies, because the chunks change while a send may be in flight.
            for step in range(self.size - 1):
                self._send(chunks[(self.rank - step) % self.size].copy())
                into = chunks[(self.rank - step - 1) % self.size]
                buffer = scratch[: into.size]
                self._recv_into(buffer)
                into += buffer
            for step in range(self.size - 1):
                self._send(chunks[(self.rank - step + 1) % self.size].copy())
                self._recv_into(chunks[(self.rank - step) % self.size])
        elapsed = time.perf_counter() - started
        self.stats.calls += 1
        self.stats.seconds += elapsed
        self.stats.per_call.append(elapsed)
        return vector

    def close(self) -> None:
        if self.size == 1:
            return
        self._outbox.put(None)
        if self._sender is not None:
            self._sender.join(timeout=10)
        for sock in (self.next, self.prev):
            with contextlib.suppress(OSError):
                sock.close()
