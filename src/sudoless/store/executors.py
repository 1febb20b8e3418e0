"""The ``executors`` table: each process that runs flows registers, beats its heart, and is found gone.

Reached as ``store.executors``. An execution whose executor is gone (its process died on this host, or it
fell silent elsewhere) is an orphan that crash recovery picks up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from sudoless.store import tables as t
from sudoless.store.light.executors import LightExecutorQueries

if TYPE_CHECKING:
    from sudoless.store import Store

__all__ = ["ExecutorQueries", "ExecutorRecord"]


@dataclass(frozen=True)
class ExecutorRecord:
    id: int
    host: str
    pid: int
    started: int
    heartbeat: int
    active: bool


class ExecutorQueries(LightExecutorQueries):
    """Queries on ``executors`` of one :class:`~sudoless.store.Store` (registering, beating and finding the
    orphans are :class:`~sudoless.store.light.executors.LightExecutorQueries`'s)."""

    store: Store

    def active(self) -> list[ExecutorRecord]:
        """Executors marked active (their heartbeat may still be stale; compare it with the clock)."""
        x = t.executors
        with self.store.read() as conn:
            rows = conn.execute(sa.select(x).where(x.c.active.is_(True)).order_by(x.c.id)).all()
        return [
            ExecutorRecord(
                id=int(r.id),
                host=r.host,
                pid=int(r.pid),
                started=int(r.started),
                heartbeat=int(r.heartbeat),
                active=bool(r.active),
            )
            for r in rows
        ]
