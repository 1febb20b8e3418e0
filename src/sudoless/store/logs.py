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

from sudoless.store import tables as t
from sudoless.store.light.logs import LightLogQueries, insert_chunk, insert_chunks
from sudoless.store.status import TERMINAL_FLOW

if TYPE_CHECKING:
    from sudoless.store import Store

__all__ = ["LogQueries", "insert_chunk", "insert_chunks"]

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
        """Bytes ``[offset, offset+length)`` of a log in two index seeks, however many chunks it has.

        The chunk holding ``offset`` is the last one starting at or before it (found from the primary key
        ``exec_id, name, attempt, start_byte`` by a descending seek); the range then runs from that chunk's
        start, so the chunks before it are never scanned, which is what makes the end of a multi-GB log as
        quick to show as its start.
        """
        if length <= 0:
            return b""
        c = t.logs.c
        key = (c.exec_id == exec_id, c.name == name, c.attempt == attempt)
        end = offset + length
        first = sa.select(c.start_byte).where(*key, c.start_byte <= offset).order_by(c.start_byte.desc()).limit(1)
        with self.store.read() as conn:
            start = conn.execute(first).scalar()
            rows = conn.execute(
                sa.select(c.start_byte, c.data)
                .where(*key, c.start_byte >= (start if start is not None else 0), c.start_byte < end)
                .order_by(c.start_byte)
            ).all()
        parts = []
        for row in rows:
            lo = max(offset - row.start_byte, 0)
            hi = min(end - row.start_byte, len(row.data))
            if hi > lo:
                parts.append(bytes(row.data[lo:hi]))
        return b"".join(parts)

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
