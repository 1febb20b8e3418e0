"""The ``executors`` rows a flow run keeps: each process that runs flows registers, beats its heart, and
finds the executions of executors that are gone (:mod:`sudoless.store.light`; :mod:`sudoless.store.executors`
has the rest)."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING

from sudoless.processes import is_alive
from sudoless.store import statements as q
from sudoless.store.light.executions import ExecutionRecord, execution_records

if TYPE_CHECKING:
    from sudoless.store.local import Queryable

__all__ = ["LightExecutorQueries"]


class LightExecutorQueries:
    """What a flow run asks of ``executors``."""

    def __init__(self, store: Queryable) -> None:
        self.store = store

    def register(self) -> int:
        params = {"host": socket.gethostname(), "pid": os.getpid(), "now": self.store.clock()}
        with self.store.write() as conn:
            return q.insert(conn, q.REGISTER, params)

    def heartbeat(self, executor_id: int, active: bool = True) -> None:
        with self.store.write() as conn:
            q.run(conn, q.HEARTBEAT, {"now": self.store.clock(), "active": active, "executor_id": executor_id})

    def orphaned_executions(self, timeout_ms: int) -> list[ExecutionRecord]:
        """Unfinished executions whose executor is gone: its process died on this host, or it went silent."""
        host = socket.gethostname()
        now = self.store.clock()
        with self.store.read() as conn:
            rows = q.run(conn, q.WITH_EXECUTOR).all()
        orphans = []
        for row in rows:
            if row.x_host == host:
                gone = not row.x_active or not is_alive(row.x_pid)  # a zombie executor has died
            else:
                gone = now - row.heartbeat > timeout_ms
            if gone:
                orphans.append(row)
        return execution_records(orphans)
