"""Sessions: stored in the database, expiring after inactivity, surviving a restart."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from accounts.support import CHEAP, Clock
from sudoless.accounts import SESSION_TTL_MS, Accounts, User
from sudoless.config import Settings
from sudoless.store import Store
from sudoless.store import tables as t
from sudoless.store.accounts import extending
from support.round_trips import counting

Unique = Callable[[str], str]
TTL = 60_000


@pytest.fixture
def short(store: Store, settings: Settings, clock: Clock) -> Accounts:
    """Accounts whose sessions live one minute."""
    return Accounts(store, settings, clock, session_ttl_ms=TTL, hasher=CHEAP)


@pytest.fixture
def user(short: Accounts, unique: Unique) -> User:
    return short.add_user(unique("sam"), "pw", groups=["g"])


def test_default_ttl_is_azkabans_coded_ten_hours(store: Store, settings: Settings):
    assert SESSION_TTL_MS == 36_000_000
    assert Accounts(store, settings).session_ttl_ms == SESSION_TTL_MS


def test_create_and_look_up(short: Accounts, user: User):
    session = short.create_session(user, "10.0.0.1")
    assert len(session) >= 43
    assert short.session_user(session) == user
    assert short.create_session(user, "10.0.0.1") != session  # a second login is a second session


@pytest.mark.parametrize("session", ["", "nope", "x" * 43, "'; DROP TABLE sessions; --"])
def test_unknown_ids_give_none(short: Accounts, session: str):
    assert short.session_user(session) is None


def test_expiry_slides_with_each_use(short: Accounts, user: User, clock: Clock):
    session = short.create_session(user, "10.0.0.1")
    for _ in range(5):  # used every 50 s for over four minutes: never expires
        clock.advance(TTL - 10_000)
        assert short.session_user(session) == user
    clock.advance(TTL - 1)
    assert short.session_user(session) == user
    clock.advance(TTL)  # a whole TTL of inactivity
    assert short.session_user(session) is None


def test_expires_exactly_after_ttl_of_inactivity(short: Accounts, user: User, clock: Clock):
    session = short.create_session(user, "10.0.0.1")
    clock.advance(TTL)
    assert short.session_user(session) is None


def test_end_session(short: Accounts, user: User):
    session = short.create_session(user, "10.0.0.1")
    other = short.create_session(user, "10.0.0.2")
    short.end_session(session)
    short.end_session(session)  # twice is fine
    assert short.session_user(session) is None
    assert short.session_user(other) == user


def test_sessions_survive_a_restart(db_url: str, settings: Settings, clock: Clock, unique: Unique):
    first = Store(db_url)
    try:
        accounts = Accounts(first, settings, clock, hasher=CHEAP)
        user = accounts.add_user(unique("ria"), "pw")
        session = accounts.create_session(user, "10.0.0.1")
    finally:
        first.close()
    second = Store(db_url)
    try:
        assert Accounts(second, settings, clock, hasher=CHEAP).session_user(session) == user
    finally:
        second.close()


def test_purge_removes_only_expired_sessions(short: Accounts, user: User, clock: Clock, store: Store):
    old = [short.create_session(user, "10.0.0.1") for _ in range(2)]
    clock.advance(TTL // 2)
    fresh = short.create_session(user, "10.0.0.1")
    clock.advance(TTL // 2)
    assert short.purge_expired_sessions() >= 2
    with store.read() as conn:
        left = conn.execute(
            sa.select(sa.func.count()).select_from(t.sessions).where(t.sessions.c.username == user.name)
        ).scalar_one()
    assert left == 1
    assert short.session_user(fresh) == user
    assert all(short.session_user(s) is None for s in old)


def test_the_database_holds_a_digest_not_the_session_id(short: Accounts, user: User, store: Store):
    session = short.create_session(user, "192.0.2.7")
    with store.read() as conn:
        rows = conn.execute(sa.select(t.sessions).where(t.sessions.c.username == user.name)).all()
    assert len(rows) == 1
    assert rows[0].id != session and session not in rows[0].id
    assert rows[0].ip == "192.0.2.7"
    assert rows[0].expires == rows[0].created_time + TTL


def test_while_one_request_extends_a_session_the_others_go_on_without_writing(
    short: Accounts, user: User, clock: Clock, store: Store
):
    """When a session's expiry fell due, every request of it in flight wrote the new expiry, one write after
    the other on the same row: a client with many requests in flight on one session stalled once a minute.
    Only the request that claims the extension writes; the others rely on their own read."""
    session = short.create_session(user, "10.0.0.1")
    with store.read() as conn:
        key, before = conn.execute(
            sa.select(t.sessions.c.id, t.sessions.c.expires).where(t.sessions.c.username == user.name)
        ).one()
    clock.advance(TTL // 2)  # the expiry is due for an extension
    with extending(key) as mine, counting(store.engine) as trips:  # another request is extending it now
        assert mine
        assert short.session_user(session) == user
    assert not [sql for sql in trips.sql if sql.lstrip().upper().startswith("UPDATE")], trips.sql
    with store.read() as conn:
        assert conn.execute(sa.select(t.sessions.c.expires).where(t.sessions.c.id == key)).scalar_one() == before
    assert short.session_user(session) == user  # no one else extends it: this request does
    with store.read() as conn:
        after = conn.execute(sa.select(t.sessions.c.expires).where(t.sessions.c.id == key)).scalar_one()
    assert after == clock() + TTL > before
    with extending(key) as mine:  # the claim ended with the block
        assert mine
