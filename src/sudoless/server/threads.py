"""The threads that run the blocking part of a request (its database work, its rendering) off the event loop.

Starlette's ``run_in_threadpool`` hands a call to AnyIO's worker threads: a cancel scope, a capacity limiter
asked and released, a ``queue.Queue`` (a condition variable in Python) to wake the worker, and a future set
back on the loop. That cost 98 us of CPU per call under uvloop on this project's machine, one call at a time,
and 67 us with four at once (``benchmarks/README.md``), for a request whose whole CPU budget is about 2.5 ms. Here
a call goes on a ``queue.SimpleQueue`` (C) to one of at most ``limit`` threads
(:class:`sudoless.flows.jobthreads.JobThreads`), and its result comes back with one
``call_soon_threadsafe``: 31 and 10 us.

The caller's context variables travel with the call, as they do with ``run_in_threadpool``. A request whose
task is cancelled (the client went away) lets its call finish in its thread; the result is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable
from typing import Any, TypeVar

from sudoless.flows.jobthreads import JobThreads

__all__ = ["RequestThreads"]

T = TypeVar("T")


class RequestThreads:
    """At most ``limit`` daemon threads that :meth:`run` hands blocking calls to, started as needed."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._threads = JobThreads(self.limit, "sudoless-request", daemon=True)

    async def run(self, call: Callable[..., T], *args: Any) -> T:
        """``call(*args)`` in one of the threads; its result, or what it raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        context = contextvars.copy_context()

        def work() -> None:
            try:
                result = context.run(call, *args)
            except BaseException as exc:  # handed to the awaiting task, which raises it
                _settle(loop, future, None, exc)
            else:
                _settle(loop, future, result, None)

        self._threads.submit(work)
        return await future


def _settle(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], result: Any, exc: BaseException | None
) -> None:
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits for the result any more
        loop.call_soon_threadsafe(_set, future, result, exc)


def _set(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.done():  # cancelled while the call ran
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
