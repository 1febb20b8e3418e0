"""The database reads behind ``/metrics``: small aggregate queries, each served by an index.

Every server process sharing the database answers them alike, so a scrape of any one of them sees the
whole installation (:mod:`sudoless.server.metrics` says which values come from here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from sudoless.store import tables as t
from sudoless.store.status import Status

if TYPE_CHECKING:
    from sudoless.store import Store

__all__ = ["Finished", "LIVE", "MetricQueries"]

#: statuses of an execution whose runner still works (its jobs may be RUNNING).
LIVE = (Status.RUNNING, Status.PAUSED, Status.FAILED_FINISHING, Status.KILLING)


@dataclass(frozen=True)
class Finished:
    """One finished execution or job attempt: what the duration histograms count."""

    id: int
    status: str
    start_time: int
    end_time: int


class MetricQueries:
    """The aggregates of one :class:`~sudoless.store.Store` that ``/metrics`` reads."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def executions_by_status(self) -> dict[str, int]:
        e = t.executions
        with self.store.read() as conn:
            return {
                str(s): int(n) for s, n in conn.execute(sa.select(e.c.status, sa.func.count()).group_by(e.c.status))
            }

    def running_jobs(self) -> int:
        """Job attempts RUNNING in live executions (the executions' status index, then job_runs' primary key)."""
        e, j = t.executions, t.job_runs
        live = sa.select(e.c.id).where(e.c.status.in_([s.value for s in LIVE]))
        with self.store.read() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(j)
                    .where(j.c.exec_id.in_(live), j.c.status == Status.RUNNING.value)
                ).scalar_one()
            )

    def executions_from(self, first_id: int, also: Sequence[int]) -> list[Finished]:
        """Executions numbered ``first_id`` or higher, and those of ``also``, by id (the primary key): an
        unfinished one has ``end_time`` -1. Reading by id, not by end time, counts every execution once whatever
        the clocks that wrote the end times (another host's, or a test's) say."""
        e = t.executions
        columns = (e.c.id, e.c.status, e.c.start_time, e.c.end_time)
        with self.store.read() as conn:
            rows = list(conn.execute(sa.select(*columns).where(e.c.id >= first_id)))
            for start in range(0, len(also), 500):
                rows += conn.execute(sa.select(*columns).where(e.c.id.in_(also[start : start + 500])))
        return sorted(
            (Finished(int(r.id), str(r.status), int(r.start_time), int(r.end_time)) for r in rows), key=lambda f: f.id
        )

    def finished_jobs(self, exec_ids: Sequence[int]) -> list[Finished]:
        """The finished job attempts of ``exec_ids`` (``id`` is the execution's)."""
        j = t.job_runs
        found: list[Finished] = []
        with self.store.read() as conn:
            for start in range(0, len(exec_ids), 500):
                rows = conn.execute(
                    sa.select(j.c.exec_id, j.c.status, j.c.start_time, j.c.end_time).where(
                        j.c.exec_id.in_(exec_ids[start : start + 500]), j.c.start_time >= 0, j.c.end_time >= 0
                    )
                )
                found.extend(Finished(int(r.exec_id), str(r.status), int(r.start_time), int(r.end_time)) for r in rows)
        return found

    def schedule_slots(self) -> list[tuple[str, str, int]]:
        """(project, flow, next slot in epoch ms) of every enabled schedule that has a slot left."""
        s, p = t.schedules, t.projects
        with self.store.read() as conn:
            return [
                (str(r.name), str(r.flow_id), int(r.next_fire))
                for r in conn.execute(
                    sa.select(p.c.name, s.c.flow_id, s.c.next_fire)
                    .join(p, p.c.id == s.c.project_id)
                    .where(s.c.enabled.is_(True), s.c.next_fire >= 0)
                )
            ]

    def login_failures_since(self, since: int) -> int:
        """Failed logins after ``since``: each failure writes one row of kind ``ip`` (the throttle's)."""
        f = t.login_failures
        with self.store.read() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(f).where(f.c.failed_at > since, f.c.kind == "ip")
                ).scalar_one()
            )

    def executors_alive(self, since: int) -> int:
        """Executors (embedded or ``sudoless executor``) whose heartbeat is newer than ``since``."""
        x = t.executors
        with self.store.read() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(x).where(x.c.active.is_(True), x.c.heartbeat > since)
                ).scalar_one()
            )

    def notifications_failed(self) -> dict[str, int]:
        """Notifications given up on after their last attempt, by channel (the queue's status index)."""
        n = t.notifications
        with self.store.read() as conn:
            return {
                str(c): int(k)
                for c, k in conn.execute(
                    sa.select(n.c.channel, sa.func.count()).where(n.c.status == "failed").group_by(n.c.channel)
                )
            }

    def notifications_waiting(self) -> int:
        """Notifications not sent yet: due, waiting for a retry, or being sent."""
        n = t.notifications
        with self.store.read() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(n).where(n.c.status.in_(("pending", "sending")))
                ).scalar_one()
            )
