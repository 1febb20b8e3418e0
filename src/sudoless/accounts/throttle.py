"""Login throttling: slow down password guessing per user name and per client address.

Azkaban has no such limit; a server reachable from a shared network needs one. The rule is a sliding
window: after ``max_user_failures`` failed logins for one user name, or ``max_address_failures`` from one
address, within ``window_ms``, further attempts are refused without looking at the password until the
oldest of those failures leaves the window. Failures are rows in the database, so every server process
on the same database enforces the same limits. Refused attempts are not counted (otherwise an attacker
could keep a victim locked out for ever by trying once every few minutes).
"""

from __future__ import annotations

from collections.abc import Callable

from sudoless.errors import ThrottledError
from sudoless.flows.store.accounts import AccountRecords

#: Failed logins allowed for one user name within the window.
MAX_USER_FAILURES = 5
#: Failed logins allowed from one client address within the window (several users may share a NAT).
MAX_ADDRESS_FAILURES = 20
#: The sliding window, in milliseconds: five minutes.
FAILURE_WINDOW_MS = 5 * 60 * 1000

_SUBJECT_CHARS = 255


class LoginThrottle:
    """Counts failed logins in the database and refuses attempts over the limits."""

    def __init__(self, records: AccountRecords, clock: Callable[[], int],
                 max_user_failures: int = MAX_USER_FAILURES,
                 max_address_failures: int = MAX_ADDRESS_FAILURES,
                 window_ms: int = FAILURE_WINDOW_MS) -> None:
        self.records = records
        self.clock = clock
        self.limits = {"user": max_user_failures, "ip": max_address_failures}
        self.window_ms = window_ms

    def check(self, name: str, ip: str) -> None:
        """Raise :class:`ThrottledError` if the user name or the address is over its limit now."""
        now = self.clock()
        for kind, subject in (("user", name), ("ip", ip)):
            if not subject:
                continue
            limit = self.limits[kind]
            times = self.records.failure_times(kind, subject[:_SUBJECT_CHARS], now - self.window_ms)
            if len(times) >= limit:
                # The attempt count drops below the limit when this failure leaves the window.
                retry_at = times[len(times) - limit] + self.window_ms
                wait = _human_seconds(max(retry_at - now, 0))
                whom = f"for user '{name}'" if kind == "user" else f"from {ip}"
                raise ThrottledError(f"Too many failed logins {whom}; try again in {wait}.")

    def failed(self, name: str, ip: str) -> None:
        """Count one failed login against the user name and the address."""
        now = self.clock()
        subjects = [(kind, subject[:_SUBJECT_CHARS]) for kind, subject in (("user", name), ("ip", ip))
                    if subject]
        if subjects:
            self.records.record_failure(subjects, now, forget_before=now - self.window_ms)

    def succeeded(self, name: str) -> None:
        """A good password clears the user's failures (the address keeps its count)."""
        self.records.clear_failures("user", name[:_SUBJECT_CHARS])


def _human_seconds(ms: int) -> str:
    seconds = max(1, -(-ms // 1000))
    minutes, seconds = divmod(seconds, 60)
    if minutes and seconds:
        return f"{minutes} min {seconds} s"
    return f"{minutes} min" if minutes else f"{seconds} s"
