"""Fixtures for the accounts tests: Accounts on the shared store with a hand-moved clock; unique names.

The ``store`` database is shared by every test of a run, so each test invents its own user, group and
address names instead of cleaning tables other tests may be using.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from accounts.support import CHEAP, Clock
from sudoless.accounts import Accounts
from sudoless.config import Settings
from sudoless.store import Store


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def unique() -> Callable[[str], str]:
    """``unique("alice")`` → ``alice_3f9c0a1b``: a name this test alone uses."""
    suffix = uuid.uuid4().hex[:8]
    return lambda base: f"{base}_{suffix}"


@pytest.fixture
def accounts(store: Store, settings: Settings, clock: Clock) -> Accounts:
    return Accounts(store, settings, clock, hasher=CHEAP)
