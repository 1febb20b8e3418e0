"""The background sender: delivers queued notifications, retries with back-off, records every attempt.

One :class:`Sender` runs in each server process (a thread) and ``sudoless flow run`` drains its execution's
messages before it exits; any number may share a database, as each row is claimed atomically
(:func:`sudoless.store.notifications.claim_due`). A failed attempt is retried after the next delay of
``backoff`` (10 s, 1 min, 5 min by default) until the row's attempts are used up, then the row is ``failed``
with its last error. A claim is a lease: a sender that dies mid-send leaves the row to be claimed again
after ``lease``. Nothing here raises into a flow: errors become attempt records and log lines.
"""

from __future__ import annotations

import http.client
import logging
import smtplib
import threading
import time
import uuid
from collections.abc import Callable, Sequence

from sudoless.config import Settings
from sudoless.errors import SudolessError
from sudoless.flows.notify.mail import MailServer, compose
from sudoless.outbound import WebhookHosts
from sudoless.store import Store
from sudoless.store import notifications as queue

__all__ = ["BACKOFF_SECONDS", "Sender"]

log = logging.getLogger(__name__)

BACKOFF_SECONDS = (10.0, 60.0, 300.0)


class Sender:
    """Sends due notifications of ``store`` through the settings' SMTP server and the webhook allowlist."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        backoff: Sequence[float] = BACKOFF_SECONDS,
        lease: float = 120.0,
        mail: MailServer | None = None,
        on_failure: Callable[[queue.NotificationRecord, str], None] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.backoff = tuple(backoff) or (0.0,)
        self.lease_ms = int(lease * 1000)
        self.mail = mail or MailServer.from_settings(settings)
        self.hosts = WebhookHosts.parse(settings.webhook_hosts)
        self.token = uuid.uuid4().hex
        #: told of each failed attempt (metrics, tests)
        self.on_failure = on_failure

    def send_due(self, exec_id: int | None = None) -> int:
        """Claim and send every row due now (of one execution, or all); returns how many were attempted."""
        done = 0
        while True:
            batch = self.store.notifications.claim_due(self.token, self.lease_ms, exec_id=exec_id)
            if not batch:
                return done
            for record in batch:
                self._attempt(record)
                done += 1

    def _attempt(self, record: queue.NotificationRecord) -> None:
        error = None
        try:
            self._deliver(record)
        except (SudolessError, OSError, smtplib.SMTPException, http.client.HTTPException, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a bug must not stop the sender; it is recorded like any failure
            log.exception("notification %d: unexpected error", record.id)
            error = f"{type(exc).__name__}: {exc}"
        retry_at = None
        if error is not None:
            used = record.attempts + 1
            if used < record.max_attempts:
                delay = self.backoff[min(used - 1, len(self.backoff) - 1)]
                retry_at = self.store.clock() + int(delay * 1000)
            log.warning(
                "notification %d (%s to %s) attempt %d failed%s: %s",
                record.id,
                record.channel,
                record.target,
                used,
                "; retrying" if retry_at else "; giving up",
                error,
            )
            if self.on_failure is not None:
                self.on_failure(record, error)
        if not self.store.notifications.record_attempt(record, self.token, error, retry_at):
            log.warning("notification %d: claim lost before its outcome was written", record.id)

    def _deliver(self, record: queue.NotificationRecord) -> None:
        payload = record.payload
        if record.channel == "email":
            self.mail.send(
                compose(payload["to"], payload["subject"], payload["text"], payload.get("html"), self.mail.sender)
            )
            return
        if record.channel == "webhook":
            status = self.hosts.post(record.target, payload["body"], self.settings.mail_timeout, "notification webhook")
        elif record.channel == "callback":
            body = payload.get("body")
            headers = {name: value for name, value in payload.get("headers") or []}
            if body is not None:
                headers.setdefault(
                    "Content-Type",
                    "application/json" if body.lstrip().startswith(("{", "[")) else "text/plain; charset=utf-8",
                )
            status = self.hosts.request(
                payload.get("method") or "GET",
                record.target,
                body.encode() if body is not None else None,
                headers,
                self.settings.mail_timeout,
                "job callback",
            )
        else:
            raise ValueError(f"unknown channel {record.channel!r}")
        if status >= 400:
            raise http.client.HTTPException(f"HTTP {status} from {record.target}")

    def drain(self, exec_id: int | None = None, timeout: float = 15.0) -> int:
        """Send what is due, waiting for retries that fall within ``timeout`` seconds; returns the number of
        rows still unsent (``sudoless flow run`` leaves those to a server)."""
        deadline = time.monotonic() + timeout
        while True:
            self.send_due(exec_id)
            due = self.store.notifications.next_due(exec_id)
            if due is None:
                return self.store.notifications.unsent_count(exec_id)
            wait = max(0.0, (due - self.store.clock()) / 1000)
            if time.monotonic() + wait > deadline:
                return self.store.notifications.unsent_count(exec_id)
            time.sleep(wait)

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Send due rows every ``interval`` seconds until ``stop`` is set (the server's thread)."""
        while not stop.is_set():
            try:
                self.send_due()
            except Exception:
                log.exception("notification sender failed; retrying in %g s", interval)
            stop.wait(interval)
