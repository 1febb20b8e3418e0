"""Writing logs, as a flow run does: each log (a job attempt's, a flow's) is numbered byte chunks
(:mod:`sudoless.store.light`; :mod:`sudoless.store.logs` reads them and removes old ones)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sudoless.store import statements as q

if TYPE_CHECKING:
    from sudoless.store.local import Queryable

__all__ = ["LightLogQueries", "insert_chunk", "insert_chunks"]


def insert_chunk(conn: Any, exec_id: int, name: str, attempt: int, start: int, data: bytes) -> None:
    """Write one chunk in the caller's transaction."""
    insert_chunks(conn, exec_id, [(name, attempt, start, data)])


def insert_chunks(conn: Any, exec_id: int, chunks: Sequence[tuple[str, int, int, bytes]]) -> None:
    """Write chunks ``(name, attempt, start, data)`` in the caller's transaction, as one statement: the runner
    writes the log tails of the jobs that ended together with their rows, one chunk each."""
    rows = [
        {"exec_id": exec_id, "name": n, "attempt": a, "start_byte": s, "end_byte": s + len(d), "data": d}
        for n, a, s, d in chunks
    ]
    if rows:
        q.run(conn, q.INSERT_LOG, rows if len(rows) > 1 else rows[0])


class LightLogQueries:
    """What a flow run asks of ``logs``."""

    def __init__(self, store: Queryable) -> None:
        self.store = store

    def append(self, exec_id: int, name: str, attempt: int, start: int, data: bytes) -> None:
        with self.store.write() as conn:
            insert_chunk(conn, exec_id, name, attempt, start, data)

    def append_at_end(self, exec_id: int, name: str, attempt: int, data: bytes) -> int:
        """Append after whatever the log holds now, for logs with several writers (the flow log: the runner,
        the scheduler's SLA checks, crash recovery). Returns the offset written at."""
        for tries in range(5):
            try:
                with self.store.write() as conn:
                    key = {"exec_id": exec_id, "name": name, "attempt": attempt}
                    start = int(q.run(conn, q.LOG_END, key).scalar_one())
                    insert_chunk(conn, exec_id, name, attempt, start, data)
                    return start
            except self.store.integrity_errors:  # another writer took this offset first: read the end again
                if tries == 4:
                    raise
        raise AssertionError("unreachable")
