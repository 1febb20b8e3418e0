"""Waiting for something another thread or process does: poll until it holds, or fail saying what was seen.

A test that waits for a server, a runner or a mail to arrive polls; it must neither sleep a fixed time (slow,
and flaky under load) nor loop on its own (each loop had its own deadline and a bare "timed out" message).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    probe: Callable[[], T],
    until: Callable[[T], object] | object = bool,
    *,
    timeout: float = 20.0,
    interval: float = 0.05,
    what: str = "",
    ignoring: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``probe`` until ``until(value)`` is true (or, when ``until`` is not callable, until the value equals
    it) and return that value; after ``timeout`` seconds fail the test with ``what`` (or the probe's name) and
    the last value seen.

    Exceptions of the types in ``ignoring`` (a server not listening yet) count as "not yet"; the last one is
    shown if the deadline passes. Any other exception propagates at once.
    """
    holds = until if callable(until) else until.__eq__
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = probe()
        except ignoring as exc:
            last = exc
        else:
            if holds(value):
                return value
            last = value
        if time.monotonic() >= deadline:
            wanted = "" if callable(until) else f" (wanted {until!r})"
            raise AssertionError(
                f"{what or _describe(probe)}{wanted}: not reached within {timeout:g} s; last seen: {last!r}"
            )
        time.sleep(interval)


def _describe(probe: Callable[[], object]) -> str:
    """The probe's source line (a lambda says more than its name), or its name."""
    try:
        return inspect.getsource(probe).strip()
    except (OSError, TypeError):
        return getattr(probe, "__qualname__", repr(probe))
