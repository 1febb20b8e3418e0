"""Login throttling by (user, address) pair and by address, with a doubling wait, on every database."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

import pytest

from accounts.support import CHEAP, Clock
from sudoless.accounts import Accounts
from sudoless.accounts.throttle import ADDRESS_MEMORY_MS, MAX_WAIT_MS, PAIR_MEMORY_MS, Rule
from sudoless.config import Settings
from sudoless.errors import AuthError, ThrottledError
from sudoless.store import Store

Unique = Callable[[str], str]


def _address(unique: Unique, which: str = "") -> str:
    """An address no other test of the run uses (the database is shared); ``which`` tells a test's apart."""
    digits = hashlib.sha256(unique(which).encode()).hexdigest()
    return "10." + ".".join(str(int(digits[i : i + 2], 16)) for i in (0, 2, 4))


def _fail(accounts: Accounts, name: str, ip: str, times: int = 1) -> None:
    for _ in range(times):
        with pytest.raises(AuthError, match="Incorrect Login") as caught:
            accounts.authenticate(name, "wrong", ip)
        assert not isinstance(caught.value, ThrottledError)


def _refused(accounts: Accounts, name: str, ip: str, wait: str, password: str = "right") -> None:
    with pytest.raises(ThrottledError, match=rf"for user '{name}' from {ip}; try again in {wait}\.$") as caught:
        accounts.authenticate(name, password, ip)
    assert "Incorrect Login" not in str(caught.value)  # the azkaban client retries only on that text


def test_rule_doubles_the_wait_up_to_the_cap():
    rule = Rule(free=5, memory_ms=1)
    assert [rule.wait_ms(n) for n in range(4, 9)] == [0, 1000, 2000, 4000, 8000]
    assert rule.wait_ms(14) == 512_000 and rule.wait_ms(15) == MAX_WAIT_MS
    assert rule.wait_ms(10_000) == MAX_WAIT_MS


def test_five_failures_slow_the_pair_down_and_the_wait_doubles(accounts: Accounts, clock: Clock, unique: Unique):
    name, ip = unique("gina"), _address(unique)
    accounts.add_user(name, "right")
    _fail(accounts, name, ip, 4)
    _fail(accounts, name, ip)  # the fifth failure starts a wait of one second
    _refused(accounts, name, ip, "1 s")
    for seconds in (1, 2, 4, 8):
        clock.advance(seconds * 1000)
        _fail(accounts, name, ip)
        _refused(accounts, name, ip, f"{seconds * 2} s")
    clock.advance(16_000)
    assert accounts.authenticate(name, "right", ip).name == name
    _fail(accounts, name, ip, 4)  # a good password reset the pair


def test_the_wait_is_capped_at_fifteen_minutes(accounts: Accounts, clock: Clock, unique: Unique):
    name, ip = unique("hugo"), _address(unique)
    accounts.add_user(name, "right")
    _fail(accounts, name, ip, 5)
    for _ in range(12):
        clock.advance(MAX_WAIT_MS)
        _fail(accounts, name, ip)
    _refused(accounts, name, ip, "15 min")
    clock.advance(MAX_WAIT_MS - 1000)
    _refused(accounts, name, ip, "1 s")
    clock.advance(1000)
    assert accounts.authenticate(name, "right", ip).name == name


def test_a_locked_pair_does_not_stop_the_user_from_another_address(accounts: Accounts, clock: Clock, unique: Unique):
    name, attacker, owner = unique("admin"), _address(unique, "attacker"), _address(unique, "owner")
    accounts.add_user(name, "right", roles=["admin"])
    _fail(accounts, name, attacker, 5)
    for seconds in (1, 2, 4, 8, 16, 32):
        clock.advance(seconds * 1000)
        _fail(accounts, name, attacker)
    _refused(accounts, name, attacker, "1 min 4 s")
    assert accounts.authenticate(name, "right", owner).name == name


def test_refused_attempts_do_not_extend_the_wait(accounts: Accounts, clock: Clock, unique: Unique):
    name, ip = unique("hal"), _address(unique)
    accounts.add_user(name, "right")
    _fail(accounts, name, ip, 5)
    for seconds in (1, 2):
        clock.advance(seconds * 1000)
        _fail(accounts, name, ip)  # seven failures: a wait of four seconds
    for _ in range(3):
        clock.advance(1000)
        with pytest.raises(ThrottledError):
            accounts.authenticate(name, "wrong", ip)
    clock.advance(1000)
    assert accounts.authenticate(name, "right", ip).name == name


def test_pair_failures_are_forgotten_after_a_day(accounts: Accounts, clock: Clock, unique: Unique):
    name, ip = unique("judy"), _address(unique)
    accounts.add_user(name, "right")
    _fail(accounts, name, ip, 4)
    clock.advance(PAIR_MEMORY_MS)
    _fail(accounts, name, ip, 4)  # the first four no longer count
    assert accounts.authenticate(name, "right", ip).name == name


def test_a_new_password_releases_every_pair_of_the_user(accounts: Accounts, unique: Unique):
    name, other, ip = unique("kate_a"), unique("kate_b"), _address(unique)
    for who in (name, other):
        accounts.add_user(who, "right")
    _fail(accounts, name, ip, 5)
    _fail(accounts, other, ip, 5)
    accounts.set_password(name, "new")
    assert accounts.authenticate(name, "new", ip).name == name
    _refused(accounts, other, ip, "1 s")  # another user's pair is untouched


def test_many_names_from_one_address_slow_that_address_only(accounts: Accounts, clock: Clock, unique: Unique):
    """Password spraying: twenty failures within an hour, over any names, slow the address down."""
    ip, elsewhere = _address(unique), _address(unique, "elsewhere")
    victim = unique("victim")
    accounts.add_user(victim, "right")
    for i in range(19):
        _fail(accounts, unique(f"guess{i}"), ip)
    assert accounts.authenticate(victim, "right", ip).name == victim  # and it does not reset the address
    _fail(accounts, unique("guess19"), ip)
    with pytest.raises(ThrottledError, match=rf"^Too many failed logins from {ip}; try again in 1 s\.$"):
        accounts.authenticate(victim, "right", ip)
    clock.advance(1000)
    _fail(accounts, unique("guess20"), ip)
    with pytest.raises(ThrottledError, match="try again in 2 s"):
        accounts.authenticate(victim, "right", ip)
    assert accounts.authenticate(victim, "right", elsewhere).name == victim
    clock.advance(ADDRESS_MEMORY_MS)
    assert accounts.authenticate(victim, "right", ip).name == victim


def test_a_lock_is_logged(accounts: Accounts, unique: Unique, caplog: pytest.LogCaptureFixture):
    name, ip = unique("lars"), _address(unique)
    with caplog.at_level(logging.WARNING, logger="sudoless.accounts.throttle"):
        _fail(accounts, name, ip, 4)
        assert not caplog.records
        _fail(accounts, name, ip)
    assert [r.getMessage() for r in caplog.records] == [
        f"login locked for user '{name}' from {ip} for 1 s after 5 failed logins"
    ]


def test_throttle_is_shared_by_two_processes_on_one_database(
    db_url: str, settings: Settings, clock: Clock, unique: Unique
):
    first, second = Store(db_url), Store(db_url)
    try:
        a = Accounts(first, settings, clock, hasher=CHEAP)
        b = Accounts(second, settings, clock, hasher=CHEAP)
        name, ip = unique("kim"), _address(unique)
        a.add_user(name, "right")
        _fail(a, name, ip, 3)
        _fail(b, name, ip, 2)
        for accounts in (a, b):
            _refused(accounts, name, ip, "1 s")
    finally:
        first.close()
        second.close()


def test_limits_are_constructor_parameters(store: Store, settings: Settings, clock: Clock, unique: Unique):
    strict = Accounts(store, settings, clock, hasher=CHEAP, max_pair_failures=1, max_address_failures=2)
    name, ip = unique("lee"), _address(unique)
    strict.add_user(name, "right")
    _fail(strict, name, ip)
    _refused(strict, name, ip, "1 s")
    clock.advance(1000)
    _fail(strict, unique("other"), ip)
    with pytest.raises(ThrottledError, match=f"from {ip}; try again in 1 s"):
        strict.authenticate(name, "right", ip)


def test_a_clock_set_back_never_makes_the_wait_longer_than_the_rule(accounts: Accounts, clock: Clock, unique: Unique):
    """Failures stamped in the future (a clock set back, a host whose clock runs ahead) still wait 1 s."""
    name, ip = unique("otto"), _address(unique)
    accounts.add_user(name, "right")
    _fail(accounts, name, ip, 5)
    clock.advance(-3_600_000)
    _refused(accounts, name, ip, "1 s")
