"""Old executions' logs as a whole: which finished executions ended before a time and still hold logs, how
many bytes those logs take, and removing them (the log half of retention, :mod:`sudoless.flows.retention`).

Only the ``logs`` rows go: the execution row, its job runs (statuses, times, properties) stay, as Azkaban's
``execution.logs.retention.ms`` removes ``execution_logs`` and keeps ``execution_flows``. An execution that
is not finished never qualifies, whatever its age, and the delete itself repeats that condition, so an
execution listed while finished and retried since keeps its logs.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from sudoless.store import Store
from sudoless.store import tables as t
from sudoless.store.status import TERMINAL_FLOW

__all__ = ["delete_logs", "logs_ended_before"]

#: ids per DELETE statement: well under every back end's limit of bound parameters
_BATCH = 500


def _finished_before(cutoff_ms: int) -> sa.ColumnElement[bool]:
    e = t.executions.c
    ended = sa.case((e.end_time > 0, e.end_time), else_=e.update_time)
    return sa.and_(e.status.in_([s.value for s in TERMINAL_FLOW]), ended < cutoff_ms)


def logs_ended_before(store: Store, cutoff_ms: int) -> list[tuple[int, int]]:
    """(execution id, bytes of its logs) of each finished execution that ended before ``cutoff_ms`` and
    still holds logs, oldest id first."""
    e, g = t.executions.c, t.logs.c
    query = (sa.select(e.id, sa.func.sum(g.end_byte - g.start_byte))
             .select_from(t.executions.join(t.logs, g.exec_id == e.id))
             .where(_finished_before(cutoff_ms)).group_by(e.id).order_by(e.id))
    with store.read() as conn:
        return [(int(exec_id), int(size or 0)) for exec_id, size in conn.execute(query)]


def delete_logs(store: Store, exec_ids: Sequence[int], cutoff_ms: int) -> int:
    """Remove the logs of ``exec_ids`` that are still finished before ``cutoff_ms``; return how many
    executions' logs went."""
    e, g = t.executions.c, t.logs.c
    removed = 0
    for start in range(0, len(exec_ids), _BATCH):
        batch = list(exec_ids[start:start + _BATCH])
        with store.write() as conn:
            still = [int(i) for i in conn.execute(sa.select(e.id).where(e.id.in_(batch),
                                                                          _finished_before(cutoff_ms))).scalars()]
            if still:
                conn.execute(t.logs.delete().where(g.exec_id.in_(still)))
            removed += len(still)
    return removed
