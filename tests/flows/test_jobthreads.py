"""The execution's job threads: at most ``limit`` at once, reused, surviving a call that raises, closed for good."""

from __future__ import annotations

import threading
import time

import pytest

from sudoless.flows.jobthreads import JobThreads


def test_calls_run_on_at_most_limit_threads_which_are_reused() -> None:
    threads = JobThreads(2, "exec-7")
    seen: list[str] = []
    running = 0
    most = 0
    lock = threading.Lock()
    release = threading.Event()
    done = threading.Semaphore(0)

    def call() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            seen.append(threading.current_thread().name)
        release.wait(5)
        with lock:
            running -= 1
        done.release()

    for _ in range(5):
        threads.submit(call)
    # both threads hold a call before any is let go (on a loaded machine the first could otherwise run all
    # five before the second thread is scheduled): then a third call running at once would show in ``most``
    deadline = time.monotonic() + 5
    while most < 2 and time.monotonic() < deadline:
        time.sleep(0.001)
    release.set()
    for _ in range(5):
        assert done.acquire(timeout=5)
    # sequential calls after the burst take the idle threads, never a third one
    for _ in range(3):
        threads.submit(call)
        assert done.acquire(timeout=5)
    threads.shutdown()
    assert most == 2
    assert len(seen) == 8
    assert set(seen) <= {"exec-7_0", "exec-7_1"}


def test_a_call_that_raises_is_logged_and_the_thread_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    threads = JobThreads(1, "exec-8")
    ran = threading.Event()

    def broken() -> None:
        raise ValueError("a runner bug")

    threads.submit(broken)
    threads.submit(ran.set)
    assert ran.wait(5)
    threads.shutdown()
    assert "a runner bug" in caplog.text


def test_shutdown_lets_given_calls_finish_and_refuses_new_ones() -> None:
    threads = JobThreads(1, "exec-9")
    gate = threading.Event()
    finished = threading.Event()
    threads.submit(lambda: gate.wait(5))
    threads.submit(finished.set)
    threads.shutdown()
    gate.set()
    assert finished.wait(5)
    with pytest.raises(RuntimeError, match="stopped"):
        threads.submit(finished.set)
