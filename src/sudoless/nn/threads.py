"""How many threads BLAS (the matrix products under every layer) may use: one setting for the API and the CLI.

The networks here are small; on a shared machine OpenBLAS's extra threads spin while they wait for work and
made training steps several times slower than one thread. So ``fit``, ``evaluate`` and ``predict`` apply a
default of one thread (or ``OPENBLAS_NUM_THREADS`` when the environment sets it) the first time they run,
unless :func:`set_threads` chose a number before. The CLI passes ``--threads`` or the config's ``threads:``.

The environment variables only count before NumPy loads its BLAS; afterwards the count is changed through
``threadpoolctl``, which talks to the loaded library directly.
"""

from __future__ import annotations

from typing import Any

from sudoless.config import BLAS_THREAD_VARIABLES, blas_threads_in_environment, export
from sudoless.errors import InputError

_chosen: int | None = None
_limiter: Any = None


def default_threads() -> int:
    """``OPENBLAS_NUM_THREADS`` if the environment sets a positive number, else 1."""
    return blas_threads_in_environment() or 1


def set_threads(threads: int | None = None) -> int:
    """Let BLAS use ``threads`` threads (None: :func:`default_threads`) from now on; returns the number set."""
    global _chosen, _limiter
    count = default_threads() if threads is None else threads
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise InputError(f"threads must be a whole number of at least 1, got {threads!r}")
    for variable in BLAS_THREAD_VARIABLES:
        export(variable, str(count))
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # only the environment, which works if NumPy has not loaded BLAS yet
        pass
    else:
        _limiter = threadpool_limits(limits=count, user_api="blas")
    _chosen = count
    return count


def ensure_threads() -> int:
    """The thread count in force, applying the default once if nothing chose one yet."""
    return _chosen if _chosen is not None else set_threads(None)


def blas_threads() -> int | None:
    """What the loaded BLAS reports (the largest count over its libraries), None if that cannot be read."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [int(info["num_threads"]) for info in threadpool_info() if info.get("user_api") == "blas"]
    return max(counts) if counts else None
