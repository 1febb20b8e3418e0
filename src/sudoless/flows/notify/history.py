"""What was sent about an execution: its notifications with every attempt, for ``flow show`` and the web UI."""

from __future__ import annotations

from typing import Any

from sudoless.store import Store

__all__ = ["execution_notifications"]


def execution_notifications(store: Store, exec_id: int) -> list[dict[str, Any]]:
    """The execution's notifications, oldest first, each with its attempts (time, outcome, error). The attempts
    are read only when there are notifications: most executions have none, and the execution page asks on
    every view."""
    notifications = store.notifications.for_execution(exec_id)
    if not notifications:
        return []
    tries: dict[int, list[dict[str, Any]]] = {}
    for attempt in store.notifications.attempts(exec_id):
        tries.setdefault(attempt.notification_id, []).append(
            {"time": attempt.time, "outcome": attempt.outcome, "error": attempt.error}
        )
    return [
        {
            "id": row.id,
            "event": row.event,
            "channel": row.channel,
            "target": row.target,
            "status": row.status,
            "attempts": tries.get(row.id, []),
            "createdTime": row.created_time,
            "sentTime": row.sent_time,
            "lastError": row.last_error,
        }
        for row in notifications
    ]
