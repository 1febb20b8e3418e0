"""The ``executors`` table: each process that runs flows registers, beats its heart, and is found gone.

Reached as ``store.executors``. An execution whose executor is gone (its process died on this host, or it
fell silent elsewhere) is an orphan that crash recovery picks up.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from sudoless.processes import is_alive
from sudoless.store import statements as q
from sudoless.store import tables as t
from sudoless.store.engine import inserted_id
from sudoless.store.executions import ExecutionRecord, execution_records
from sudoless.store.status import TERMINAL_FLOW

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


class ExecutorQueries:
    """Queries on ``executors`` of one :class:`~sudoless.store.Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def register(self) -> int:
        now = self.store.clock()
        with self.store.write() as conn:
            result = conn.execute(
                t.executors.insert().values(
                    host=socket.gethostname(), pid=os.getpid(), started=now, heartbeat=now, active=True
                )
            )
            return inserted_id(result)

    def heartbeat(self, executor_id: int, active: bool = True) -> None:
        with self.store.write() as conn:
            q.run(conn, q.HEARTBEAT, {"now": self.store.clock(), "active": active, "executor_id": executor_id})

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

    def orphaned_executions(self, timeout_ms: int) -> list[ExecutionRecord]:
        """Unfinished executions whose executor is gone: its process died on this host, or it went silent."""
        e, x = t.executions, t.executors
        host = socket.gethostname()
        now = self.store.clock()
        query = (
            sa.select(e, x.c.host.label("x_host"), x.c.pid.label("x_pid"), x.c.heartbeat, x.c.active.label("x_active"))
            .join(x, x.c.id == e.c.executor_id)
            .where(e.c.status.not_in([s.value for s in TERMINAL_FLOW]))
        )
        with self.store.read() as conn:
            rows = conn.execute(query).all()
        orphans = []
        for row in rows:
            if row.x_host == host:
                gone = not row.x_active or not is_alive(row.x_pid)  # a zombie executor has died
            else:
                gone = now - row.heartbeat > timeout_ms
            if gone:
                orphans.append(row)
        return execution_records(orphans)
