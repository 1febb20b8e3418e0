"""The flows tests' own databases.

The flows tests queue executions and run them with an executor of their own. The live server of
tests/server runs an executor too, on the shared ``db_url`` database, for the whole run of a back end; on that
database it could claim an execution a flows test has just queued (seen as a "skip" test failing in a long
run). Here ``db_url`` is overridden by a database per back end that no server uses.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.services import database


@pytest.fixture(scope="session", params=["sqlite", "mariadb", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One fresh database per back end for the flows tests, dropped at the end."""
    with database(request.param, tmp_path_factory.mktemp("flows-sqlite") / "sudoless.db") as url:
        yield url
