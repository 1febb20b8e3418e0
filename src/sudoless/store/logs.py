"""The ``logs`` table: every log (a job attempt's, a flow's) as numbered byte chunks.

Reached as ``store.logs``. Reading a range takes two index seeks whatever the log's size. Retention works
on old executions' logs as a whole (:mod:`sudoless.flows.retention` decides what may go): only the ``logs``
rows go, the execution row and its job runs stay, as Azkaban's ``execution.logs.retention.ms`` removes
``execution_logs`` and keeps ``execution_flows``. An execution that is not finished never qualifies,
whatever its age, and the delete itself repeats that condition, so an execution listed while finished and
retried since keeps its logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa

from sudoless.store import statements as q
from sudoless.store import tables as t
from sudoless.store.light.logs import LightLogQueries, insert_chunk, insert_chunks
from sudoless.store.status import TERMINAL_FLOW

if TYPE_CHECKING:
    from sudoless.store import Store

__all__ = ["LogQueries", "insert_chunk", "insert_chunks"]

_KEY = "exec_id = :exec_id AND name = :name AND attempt = :attempt"
#: :meth:`LogQueries.page`'s statement: one row per chunk of the range, each with the log's size, or one row
#: with the size and no chunk (NULLs) when the range holds none.
_PAGE = (
    f"SELECT total.size, chunk.start_byte, chunk.data FROM (SELECT (SELECT end_byte FROM logs WHERE {_KEY} "
    "ORDER BY start_byte DESC LIMIT 1) AS size) total "
    "LEFT JOIN logs chunk ON chunk.exec_id = :exec_id AND chunk.name = :name AND chunk.attempt = :attempt "
    f"AND chunk.start_byte >= COALESCE((SELECT MAX(start_byte) FROM logs WHERE {_KEY} AND start_byte <= :offset), 0) "
    "AND chunk.start_byte < :end"
)

#: ids per DELETE statement: well under every back end's limit of bound parameters
_BATCH = 500


class LogQueries(LightLogQueries):
    """Queries on ``logs`` of one :class:`~sudoless.store.Store`; writing a log is
    :class:`~sudoless.store.light.logs.LightLogQueries`'s."""

    store: Store

    def size(self, exec_id: int, name: str, attempt: int) -> int:
        """Bytes written so far to a log (one index seek: the last chunk's end)."""
        c = t.logs.c
        key = (c.exec_id == exec_id, c.name == name, c.attempt == attempt)
        query = sa.select(c.end_byte).where(*key).order_by(c.start_byte.desc()).limit(1)
        with self.store.read() as conn:
            size = conn.execute(query).scalar()
        return int(size or 0)

    def read(self, exec_id: int, name: str, attempt: int, offset: int, length: int) -> bytes:
        """Bytes ``[offset, offset+length)`` of a log (:meth:`page` without the size)."""
        return self.page(exec_id, name, attempt, offset, length)[1] if length > 0 else b""

    def page(self, exec_id: int, name: str, attempt: int, offset: int, length: int) -> tuple[int, bytes]:
        """The log's size so far and its bytes ``[offset, offset+length)``, in one statement (a round trip
        on MySQL and PostgreSQL: a log page's reads were three of a request's six).

        Two index seeks, however many chunks the log has: the chunk holding ``offset`` is the last one
        starting at or before it (a descending seek on the primary key ``exec_id, name, attempt,
        start_byte``), and the range runs from that chunk's start, so the chunks before it are never
        scanned, which is what makes the end of a multi-GB log as quick to show as its start. The size is
        the last chunk's end, a third seek.
        """
        end = offset + max(length, 0)
        key = {"exec_id": exec_id, "name": name, "attempt": attempt, "offset": offset, "end": end}
        with self.store.read() as conn:
            rows = q.run(conn, _PAGE, key).all()
        size = int(rows[0][0] or 0)
        parts = []
        # the chunks come in no particular order (an ORDER BY made MariaDB copy them to a temporary table)
        for _, start, data in sorted((row for row in rows if row[1] is not None), key=lambda row: row[1]):
            lo = max(offset - start, 0)
            hi = min(end - start, len(data))
            if hi > lo:
                parts.append(bytes(data[lo:hi]))
        return size, b"".join(parts)

    def ended_before(self, cutoff_ms: int) -> list[tuple[int, int]]:
        """(execution id, bytes of its logs) of each finished execution that ended before ``cutoff_ms`` and
        still holds logs, oldest id first."""
        e, g = t.executions.c, t.logs.c
        query = (
            sa.select(e.id, sa.func.sum(g.end_byte - g.start_byte))
            .select_from(t.executions.join(t.logs, g.exec_id == e.id))
            .where(_finished_before(cutoff_ms))
            .group_by(e.id)
            .order_by(e.id)
        )
        with self.store.read() as conn:
            return [(int(exec_id), int(size or 0)) for exec_id, size in conn.execute(query)]

    def delete(self, exec_ids: Sequence[int], cutoff_ms: int) -> int:
        """Remove the logs of ``exec_ids`` that are still finished before ``cutoff_ms``; return how many
        executions' logs went."""
        e, g = t.executions.c, t.logs.c
        removed = 0
        for start in range(0, len(exec_ids), _BATCH):
            batch = list(exec_ids[start : start + _BATCH])
            with self.store.write() as conn:
                still = [
                    int(i)
                    for i in conn.execute(sa.select(e.id).where(e.id.in_(batch), _finished_before(cutoff_ms))).scalars()
                ]
                if still:
                    conn.execute(t.logs.delete().where(g.exec_id.in_(still)))
                removed += len(still)
        return removed


def _finished_before(cutoff_ms: int) -> sa.ColumnElement[bool]:
    e = t.executions.c
    ended = sa.case((e.end_time > 0, e.end_time), else_=e.update_time)
    return sa.and_(e.status.in_([s.value for s in TERMINAL_FLOW]), ended < cutoff_ms)
