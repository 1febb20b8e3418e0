"""The notification queue as a flow run uses it: queueing its messages, counting those not sent yet and
reporting what was sent; and the records (:mod:`sudoless.store.light`; :mod:`sudoless.store.notifications`
claims and sends them)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sudoless.store import statements as q

if TYPE_CHECKING:
    from sudoless.store.local import Queryable

__all__ = [
    "FAILED",
    "PENDING",
    "SENDING",
    "SENT",
    "AttemptRecord",
    "LightNotificationQueries",
    "NewNotification",
    "NotificationRecord",
    "notification_record",
]

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"


@dataclass(frozen=True)
class NewNotification:
    """A message to queue: ``target`` is the recipients (e-mail) or the URL (webhook, callback)."""

    exec_id: int | None
    event: str
    channel: str
    target: str
    payload: dict[str, Any]
    max_attempts: int


@dataclass(frozen=True)
class NotificationRecord:
    id: int
    exec_id: int | None
    event: str
    channel: str
    target: str
    payload: dict[str, Any]
    status: str
    attempts: int
    max_attempts: int
    created_time: int
    next_attempt: int
    sent_time: int
    last_error: str | None


@dataclass(frozen=True)
class AttemptRecord:
    notification_id: int
    exec_id: int | None
    time: int
    channel: str
    target: str
    outcome: str
    error: str | None


class LightNotificationQueries:
    """What a flow run asks of the notification queue."""

    def __init__(self, store: Queryable) -> None:
        self.store = store

    def enqueue(self, items: Sequence[NewNotification], due: int | None = None) -> list[int]:
        """Queue ``items`` as pending, due at ``due`` (default now); returns their ids."""
        now = self.store.clock()
        ids = []
        with self.store.write() as conn:
            for item in items:
                row = {
                    "exec_id": item.exec_id,
                    "event": item.event,
                    "channel": item.channel,
                    "target": item.target,
                    "payload": json.dumps(item.payload),
                    "status": PENDING,
                    "attempts": 0,
                    "max_attempts": item.max_attempts,
                    "created_time": now,
                    "next_attempt": now if due is None else due,
                    "claim_token": None,
                    "claim_until": -1,
                    "sent_time": -1,
                    "last_error": None,
                }
                ids.append(q.insert(conn, q.insert_statement("notifications", tuple(row)), row))
        return ids

    def for_execution(self, exec_id: int) -> list[NotificationRecord]:
        """The notifications of one execution, oldest first."""
        with self.store.read() as conn:
            rows = q.run(conn, q.NOTIFICATIONS_OF, {"exec_id": exec_id}).all()
        return [notification_record(row) for row in rows]

    def attempts(self, exec_id: int) -> list[AttemptRecord]:
        """Every attempt to send a notification of one execution, in order."""
        with self.store.read() as conn:
            rows = q.run(conn, q.ATTEMPTS_OF, {"exec_id": exec_id}).all()
        return [
            AttemptRecord(
                int(r.notification_id), r.exec_id, int(r.attempt_time), r.channel, r.target, r.outcome, r.error
            )
            for r in rows
        ]

    def unsent_count(self, exec_id: int | None = None) -> int:
        """Rows still waiting to be sent (pending or being sent), of one execution or all."""
        key = {"pending": PENDING, "sending": SENDING, "exec_id": exec_id}
        with self.store.read() as conn:
            return int(q.run(conn, q.UNSENT if exec_id is None else q.UNSENT_OF, key).scalar_one())


def notification_record(row: Any) -> NotificationRecord:
    return NotificationRecord(
        id=int(row.id),
        exec_id=row.exec_id,
        event=row.event,
        channel=row.channel,
        target=row.target,
        payload=json.loads(row.payload),
        status=row.status,
        attempts=int(row.attempts),
        max_attempts=int(row.max_attempts),
        created_time=int(row.created_time),
        next_attempt=int(row.next_attempt),
        sent_time=int(row.sent_time),
        last_error=row.last_error,
    )
