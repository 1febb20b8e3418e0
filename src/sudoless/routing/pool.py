"""Worker processes that hold one problem for a whole solve, so that a task only ships routes.

The problem (with its matrix, the costly part) is handed to each process once, when it starts
(:func:`worker_pool`); a task running in a worker reads it back with :func:`shared_problem`. The processes are
forked when the caller is single-threaded (a CLI run: nothing to copy); a process with other threads (the flow
runner, the server) starts them through a fork server instead, because a fork copies locks that other threads
may hold at that moment, and a child that waits on one never returns. Used by :mod:`sudoless.routing.cores`
(sectors) and :mod:`sudoless.routing.minmax` (capped probes).
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor

from sudoless.routing.model import Problem

_SHARED: dict[str, Problem] = {}


def _keep(problem: Problem) -> None:
    _SHARED["problem"] = problem


def shared_problem() -> Problem:
    """The problem a worker process was started with."""
    return _SHARED["problem"]


def start_method() -> str:
    return "fork" if threading.active_count() == 1 else "forkserver"


def worker_pool(problem: Problem, workers: int) -> ProcessPoolExecutor:
    """``workers`` processes that hold ``problem`` (see :func:`shared_problem`) for the pool's lifetime."""
    context = multiprocessing.get_context(start_method())
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_keep, initargs=(problem,))
