"""Fixtures for the server tests: one live server per database back end for the whole run.

The ``db_url`` database is shared by every test of a run, so tests invent their own project and user
names (:func:`server.live.unique`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from server.live import Client, LiveServer, server_settings, start_live
from sudoless.store import Store


@pytest.fixture(scope="session")
def live(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    store = Store(db_url)
    server = start_live(server_settings(tmp_path_factory.mktemp("server-home"), db_url), store)
    yield server
    server.stop()
    store.close()


@pytest.fixture
def admin(live: LiveServer) -> Client:
    """The live server's admin, freshly logged in (session as a parameter unless a test moves it)."""
    return live.as_admin()
