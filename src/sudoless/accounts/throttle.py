"""Login throttling: slow password guessing down without letting anyone lock another person out.

Azkaban has no such limit; a server reachable from a shared network needs one. A limit keyed on the user
name alone would let anyone lock the admin out from anywhere by failing five times, so the limits are
keyed on what an attacker controls:

- **one address, one user name**: after ``pair_failures`` failed logins, every further attempt of that
  pair waits, counted from its latest failure: 1 s, then 2 s, 4 s ... doubling per failure up to 15 min.
  A good password resets the pair. The same user logging in from another address is not slowed at all.
- **one address, any user names** (password spraying): after ``address_failures`` failures within the
  last hour, the address waits the same way. A good password does not reset it (an attacker would log in
  to an account of their own between guesses); other addresses are not affected.

Refused attempts are not counted, so the wait never grows by merely asking. Failures are rows in the
database (``login_failures``), so every server process on one database (``--workers N``, several hosts)
enforces the same limits. Each lock is logged as a warning on the ``sudoless.accounts.throttle`` logger,
which ``sudoless server`` writes to its standard error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sudoless.errors import ThrottledError
from sudoless.store.accounts import AccountQueries

log = logging.getLogger(__name__)

#: Failed logins one address may make for one user name before its attempts are slowed down.
PAIR_FAILURES = 5
#: Failed logins one address may make within an hour, for any names, before it is slowed down (a NAT
#: may hide several people, who all mistype now and then).
ADDRESS_FAILURES = 20
#: The first wait; each further failure doubles it ...
FIRST_WAIT_MS = 1000
#: ... up to this cap: 15 minutes.
MAX_WAIT_MS = 15 * 60 * 1000
#: How long a pair's failures count without a good password: a day.
PAIR_MEMORY_MS = 24 * 60 * 60 * 1000
#: How long an address's failures count: an hour.
ADDRESS_MEMORY_MS = 60 * 60 * 1000

_SUBJECT_CHARS = 255


@dataclass(frozen=True)
class Rule:
    """``free`` failures within ``memory_ms`` cost nothing; each one after that doubles the wait."""

    free: int
    memory_ms: int

    def wait_ms(self, failures: int) -> int:
        """How long to wait after the latest of ``failures`` failed logins before the next attempt."""
        if failures < self.free:
            return 0
        return min(MAX_WAIT_MS, FIRST_WAIT_MS << min(failures - self.free, 40))


def pair_subject(name: str, ip: str) -> str:
    """The stored key of one (user name, address) pair: the address first, so a cut keeps it whole."""
    return f"{ip} {name}"[:_SUBJECT_CHARS]


class LoginThrottle:
    """Counts failed logins in the database and refuses attempts that come before their wait is over."""

    def __init__(
        self,
        records: AccountQueries,
        clock: Callable[[], int],
        pair_failures: int = PAIR_FAILURES,
        address_failures: int = ADDRESS_FAILURES,
    ) -> None:
        self.records = records
        self.clock = clock
        self.pair = Rule(pair_failures, PAIR_MEMORY_MS)
        self.address = Rule(address_failures, ADDRESS_MEMORY_MS)

    def _subjects(self, name: str, ip: str) -> list[tuple[str, str, Rule]]:
        return [("pair", pair_subject(name, ip), self.pair), ("ip", ip[:_SUBJECT_CHARS], self.address)]

    def check(self, name: str, ip: str) -> None:
        """Raise :class:`ThrottledError` if the pair or the address must still wait."""
        now = self.clock()
        for kind, subject, rule in self._subjects(name, ip):
            times = self.records.failure_times(kind, subject, now - rule.memory_ms)
            wait_ms = rule.wait_ms(len(times))
            # Never more than the rule's wait, even after a failure stamped in the future (a clock set back,
            # or another host's clock ahead of this one).
            remaining = min(times[-1] + wait_ms - now, wait_ms) if times else 0
            if remaining > 0:
                wait = _human_seconds(remaining)
                whom = f"for user '{name}' from {ip}" if kind == "pair" else f"from {ip}"
                raise ThrottledError(f"Too many failed logins {whom}; try again in {wait}.")

    def failed(self, name: str, ip: str) -> None:
        """Count one failed login against the pair and the address; log a lock if one starts."""
        now = self.clock()
        subjects = self._subjects(name, ip)
        self.records.record_failure(
            [(kind, subject) for kind, subject, _ in subjects],
            now,
            forget_before=now - max(self.pair.memory_ms, self.address.memory_ms),
        )
        for kind, subject, rule in subjects:
            failures = len(self.records.failure_times(kind, subject, now - rule.memory_ms))
            wait = rule.wait_ms(failures)
            if wait:
                whom = f"user '{name}' from {ip}" if kind == "pair" else f"address {ip} (any user)"
                log.warning("login locked for %s for %s after %d failed logins", whom, _human_seconds(wait), failures)

    def succeeded(self, name: str, ip: str) -> None:
        """A good password clears the pair's failures (the address keeps its count)."""
        self.records.clear_failures("pair", pair_subject(name, ip))

    def release(self, name: str) -> None:
        """Clear every pair of one user name, from all addresses (a new password was set)."""
        self.records.clear_failures("pair", f" {name}", suffix=True)


def _human_seconds(ms: int) -> str:
    seconds = max(1, -(-ms // 1000))
    minutes, seconds = divmod(seconds, 60)
    if minutes and seconds:
        return f"{minutes} min {seconds} s"
    return f"{minutes} min" if minutes else f"{seconds} s"
