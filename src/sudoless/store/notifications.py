"""The SQL of the notification queue: enqueue, claim due rows, record attempts, read them back.

Reached as ``store.notifications``; what a notification says and
how it is sent live in :mod:`sudoless.flows.notify`. A row is claimed with a conditional UPDATE that moves it
from ``pending`` (or from a ``sending`` whose lease ran out: its sender died) to ``sending`` under a token
of the claimer's own; the database re-checks the condition on the row it locks, so of several senders on one
database exactly one wins each row. The outcome is written back only by the holder of the token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from sudoless.store import tables as t
from sudoless.store.light.notifications import (
    FAILED,
    PENDING,
    SENDING,
    SENT,
    AttemptRecord,
    LightNotificationQueries,
    NewNotification,
    NotificationRecord,
    notification_record,
)

if TYPE_CHECKING:
    from sudoless.store import Store

__all__ = ["AttemptRecord", "NewNotification", "NotificationQueries", "NotificationRecord"]


class NotificationQueries(LightNotificationQueries):
    """Queries on the notification queue of one :class:`~sudoless.store.Store` (queueing and what a flow run
    reports are :class:`~sudoless.store.light.notifications.LightNotificationQueries`'s)."""

    store: Store

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
                    claimed.append(notification_record(row))
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
