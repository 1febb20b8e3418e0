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


#: :meth:`ExecutorQueries.active`'s statement, built once (the status pages read it on every view).
_ACTIVE = sa.select(t.executors).where(t.executors.c.active.is_(True)).order_by(t.executors.c.id)


class ExecutorQueries(LightExecutorQueries):
    """Queries on ``executors`` of one :class:`~sudoless.store.Store` (registering, beating and finding the
    orphans are :class:`~sudoless.store.light.executors.LightExecutorQueries`'s)."""

    store: Store

    def active(self) -> list[ExecutorRecord]:
        """Executors marked active (their heartbeat may still be stale; compare it with the clock)."""
        with self.store.read() as conn:
            rows = conn.execute(_ACTIVE).all()
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
