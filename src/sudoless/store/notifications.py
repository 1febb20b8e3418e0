"""The SQL of the notification queue: enqueue, claim due rows, record attempts, read them back.

Reached as ``store.notifications``; what a notification says and
how it is sent live in :mod:`sudoless.flows.notify`. A row is claimed with a conditional UPDATE that moves it
from ``pending`` (or from a ``sending`` whose lease ran out: its sender died) to ``sending`` under a token
of the claimer's own; the database re-checks the condition on the row it locks, so of several senders on one
database exactly one wins each row. The outcome is written back only by the holder of the token.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from sudoless.store import statements as q
from sudoless.store import tables as t
from sudoless.store.engine import inserted_id

if TYPE_CHECKING:
    from sudoless.store import Store

__all__ = ["AttemptRecord", "NewNotification", "NotificationQueries", "NotificationRecord"]

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


class NotificationQueries:
    """Queries on the notification queue of one :class:`~sudoless.store.Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def enqueue(self, items: Sequence[NewNotification], due: int | None = None) -> list[int]:
        """Queue ``items`` as pending, due at ``due`` (default now); returns their ids."""
        now = self.store.clock()
        ids = []
        with self.store.write() as conn:
            for item in items:
                result = conn.execute(
                    t.notifications.insert().values(
                        exec_id=item.exec_id,
                        event=item.event,
                        channel=item.channel,
                        target=item.target,
                        payload=json.dumps(item.payload),
                        status=PENDING,
                        attempts=0,
                        max_attempts=item.max_attempts,
                        created_time=now,
                        next_attempt=now if due is None else due,
                        claim_token=None,
                        claim_until=-1,
                        sent_time=-1,
                        last_error=None,
                    )
                )
                ids.append(inserted_id(result))
        return ids

    def claim_due(
        self, token: str, lease_ms: int, limit: int = 20, exec_id: int | None = None
    ) -> list[NotificationRecord]:
        """Claim up to ``limit`` due rows for ``token`` (see the module docstring) for ``lease_ms``."""
        n = t.notifications
        now = self.store.clock()
        query = sa.select(n.c.id).where(_claimable(now)).order_by(n.c.next_attempt, n.c.id).limit(limit)
        if exec_id is not None:
            query = query.where(n.c.exec_id == exec_id)
        with self.store.read() as conn:
            candidates = list(conn.execute(query).scalars())
        claimed = []
        for candidate in candidates:
            with self.store.write() as conn:
                done = conn.execute(
                    n.update()
                    .where(n.c.id == candidate, _claimable(now))
                    .values(status=SENDING, claim_token=token, claim_until=now + lease_ms)
                )
                if done.rowcount == 1:
                    row = conn.execute(sa.select(n).where(n.c.id == candidate)).one()
                    claimed.append(_notification(row))
        return claimed

    def record_attempt(self, record: NotificationRecord, token: str, error: str | None, retry_at: int | None) -> bool:
        """Write the outcome of one attempt by the holder of ``token``: sent (``error`` None), retried at
        ``retry_at``, or failed for good (``retry_at`` None). False when the claim was lost meanwhile."""
        n = t.notifications
        now = self.store.clock()
        if error is None:
            values: dict[str, Any] = {"status": SENT, "sent_time": now, "last_error": None}
        elif retry_at is not None:
            values = {"status": PENDING, "next_attempt": retry_at, "last_error": error}
        else:
            values = {"status": FAILED, "last_error": error}
        values.update(attempts=n.c.attempts + 1, claim_token=None, claim_until=-1)
        with self.store.write() as conn:
            done = conn.execute(n.update().where(n.c.id == record.id, n.c.claim_token == token).values(**values))
            if done.rowcount != 1:
                return False
            conn.execute(
                t.notification_attempts.insert().values(
                    notification_id=record.id,
                    exec_id=record.exec_id,
                    attempt_time=now,
                    channel=record.channel,
                    target=record.target,
                    outcome="sent" if error is None else "error",
                    error=error,
                )
            )
        return True

    def for_execution(self, exec_id: int) -> list[NotificationRecord]:
        """The notifications of one execution, oldest first."""
        n = t.notifications
        with self.store.read() as conn:
            rows = conn.execute(sa.select(n).where(n.c.exec_id == exec_id).order_by(n.c.id)).all()
        return [_notification(row) for row in rows]

    def attempts(self, exec_id: int) -> list[AttemptRecord]:
        """Every attempt to send a notification of one execution, in order."""
        a = t.notification_attempts
        with self.store.read() as conn:
            rows = conn.execute(sa.select(a).where(a.c.exec_id == exec_id).order_by(a.c.id)).all()
        return [
            AttemptRecord(
                int(r.notification_id), r.exec_id, int(r.attempt_time), r.channel, r.target, r.outcome, r.error
            )
            for r in rows
        ]

    def unsent_count(self, exec_id: int | None = None) -> int:
        """Rows still waiting to be sent (pending or being sent), of one execution or all."""
        n = t.notifications
        with self.store.read() as conn:
            if exec_id is not None:  # a run's own question, asked as it ends (sudoless.store.statements)
                key = {"pending": PENDING, "sending": SENDING, "exec_id": exec_id}
                return int(q.run(conn, q.UNSENT_OF, key).scalar_one())
            query = sa.select(sa.func.count()).select_from(n).where(n.c.status.in_([PENDING, SENDING]))
            return int(conn.execute(query).scalar_one())

    def next_due(self, exec_id: int | None = None) -> int | None:
        """When the next pending row of one execution (or any) is due, epoch ms; None when none is pending."""
        n = t.notifications
        query = sa.select(sa.func.min(n.c.next_attempt)).where(n.c.status == PENDING)
        if exec_id is not None:
            query = query.where(n.c.exec_id == exec_id)
        with self.store.read() as conn:
            value = conn.execute(query).scalar()
        return None if value is None else int(value)


def _claimable(now: int) -> sa.ColumnElement[bool]:
    n = t.notifications.c
    return sa.or_(
        sa.and_(n.status == PENDING, n.next_attempt <= now), sa.and_(n.status == SENDING, n.claim_until < now)
    )


def _notification(row: Any) -> NotificationRecord:
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
