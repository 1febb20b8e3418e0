"""The request threads: a call's result or exception comes back to the awaiting task, the caller's context
variables travel with it, at most ``limit`` threads run calls at once, and none of them runs on the loop."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from sudoless.server.threads import RequestThreads

WHO: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")
T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """``main`` on an event loop of its own, in a thread of its own: as a server's loop runs, and whatever a
    test run earlier in this process left in the main thread: the browser tests' session-wide Playwright
    (``tests/ui/conftest.py``) keeps the main thread's loop marked running until the session ends, and
    ``asyncio.run`` then refuses there, as it did in the CI's pytest worker."""
    with ThreadPoolExecutor(1, thread_name_prefix="test-loop") as pool:
        return pool.submit(asyncio.run, main).result(timeout=60)


def test_results_exceptions_and_context_come_back() -> None:
    threads = RequestThreads(2)

    def add(a: int, b: int) -> tuple[int, str, str]:
        return a + b, WHO.get(), threading.current_thread().name

    def fail() -> None:
        raise ValueError("no such flow")

    async def main() -> tuple[tuple[int, str, str], str]:
        WHO.set("alice")
        found = await threads.run(add, 2, 3)
        with pytest.raises(ValueError, match="no such flow"):
            await threads.run(fail)
        return found, threading.current_thread().name

    (total, who, ran_on), loop_thread = run(main())
    assert (total, who) == (5, "alice")
    assert ran_on.startswith("sudoless-request_") and ran_on != loop_thread


def test_at_most_limit_calls_run_at_once() -> None:
    threads = RequestThreads(3)
    lock = threading.Lock()
    running = most = 0
    gate = threading.Event()

    def call(index: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        gate.wait(5)
        with lock:
            running -= 1
        return index

    async def main() -> list[int]:
        calls = [asyncio.ensure_future(threads.run(call, i)) for i in range(10)]
        deadline = time.monotonic() + 5  # until three hold a call (a loaded machine starts threads late)
        while most < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # time for a fourth to start, were the limit not kept
        gate.set()
        return list(await asyncio.gather(*calls))

    assert run(main()) == list(range(10))
    assert most == 3


def test_a_cancelled_request_lets_its_call_finish() -> None:
    threads = RequestThreads(1)
    started, finish, finished = threading.Event(), threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        finish.wait(5)
        finished.set()
        return "late"

    async def main() -> str:
        task = asyncio.ensure_future(threads.run(slow))
        while not started.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        finish.set()
        assert await asyncio.to_thread(finished.wait, 5)
        return await threads.run(lambda: "next")  # the thread is free again

    assert run(main()) == "next"
