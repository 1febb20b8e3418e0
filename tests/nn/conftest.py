"""Fixtures for the NumPy network tests: one BLAS thread for the whole run.

These models are small, and on a shared two-core machine an extra OpenBLAS thread that spins while waiting
made training steps up to ten times slower.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def one_blas_thread() -> Iterator[None]:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
