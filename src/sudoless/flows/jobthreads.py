"""The threads that run one execution's jobs: as many as it may run at once, started when needed, each taking
the next job from one queue, living as long as the execution.

A ``concurrent.futures.ThreadPoolExecutor`` did this before. For every job it built a ``Future`` (a condition
variable with its lock), took its two shutdown locks to submit, asked a ``threading.Semaphore`` (a condition
variable in Python) whether a thread was idle, set the future running and then done (two more rounds of its
condition), and released the semaphore again: Python-level locking on a chain's critical path, for a result
nobody reads (a job thread reports its end on the runner's event queue). Here a job is a call put on a
``queue.SimpleQueue`` (C), and the count of idle threads is an integer under one lock.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class JobThreads:
    """Up to ``limit`` threads named ``{name}_{n}`` that run what :meth:`submit` gives them, in order.

    ``daemon`` threads do not keep the process alive (the HTTP server's request threads,
    :mod:`sudoless.server.threads`, which live as long as the process)."""

    def __init__(self, limit: int, name: str, daemon: bool = False) -> None:
        self.limit = max(1, limit)
        self.name = name
        self.daemon = daemon
        self._work: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        #: threads waiting for work, or about to: each takes one call off the queue
        self._idle = 0
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, call: Callable[[], None]) -> None:
        """Run ``call()`` on an idle thread, on a new one while there are fewer than ``limit``, else on the first
        thread to finish its job. What it raises is logged (it should raise nothing: a job's failure is its
        result)."""
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name}: the execution's job threads have stopped")
            if self._idle:
                self._idle -= 1
            elif len(self._threads) < self.limit:
                thread = threading.Thread(
                    target=self._serve, name=f"{self.name}_{len(self._threads)}", daemon=self.daemon
                )
                self._threads.append(thread)
                thread.start()
        self._work.put(call)

    def shutdown(self) -> None:
        """Let each thread end once the calls given before are done; returns at once."""
        with self._lock:
            self._closed = True
            for _ in self._threads:
                self._work.put(None)

    def _serve(self) -> None:
        while (call := self._work.get()) is not None:
            try:
                call()
            except BaseException:  # a runner bug: said, and the thread stays for the next job
                log.exception("%s: a job thread's call raised", self.name)
            with self._lock:
                self._idle += 1
