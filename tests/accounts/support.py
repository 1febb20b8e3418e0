"""Helpers for the accounts tests: a clock tests move by hand and a cheap Argon2 cost."""

from __future__ import annotations

from argon2 import PasswordHasher

from sudoless.store import now_ms

#: Argon2id with the smallest cost: the tests check behaviour, not the hashing cost.
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class Clock:
    """Epoch milliseconds that move only when a test says so."""

    def __init__(self, start: int | None = None) -> None:
        self.now = now_ms() if start is None else start

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms
