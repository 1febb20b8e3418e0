"""The SQL behind the scheduler: schedule rows, claiming a fire slot, and SLA bookkeeping on executions.

Reached as ``store.schedules``. Rows come back as plain values (JSON columns decoded to dicts); the
scheduler turns them into its own types, so this module knows nothing of cron or SLA semantics.

SLA misses have no table of their own: each execution records the misses already reported in its
``options`` JSON (``sla_missed``: rule key to message). The read-modify-write happens under a row lock
(``FOR UPDATE``; on SQLite the ``BEGIN IMMEDIATE`` write transaction), so two schedulers sharing a
database report each miss once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sudoless.store import tables as t
from sudoless.store.engine import inserted_id
from sudoless.store.executions import FLOW_SCHEDULES, ExecutionRecord, execution_records
from sudoless.store.rows import values
from sudoless.store.status import TERMINAL_FLOW, Status

if TYPE_CHECKING:
    from sudoless.store import Store

__all__ = [
    "FireClaim",
    "FlowSchedule",
    "ListedSchedule",
    "ProjectFlows",
    "ScheduleQueries",
    "ScheduleRow",
    "ShownSchedule",
]


@dataclass(frozen=True)
class ScheduleRow:
    """One row of ``schedules`` with its project's name; ``options`` and ``sla`` decoded from JSON."""

    id: int
    project_id: int
    project_name: str
    project_active: bool
    flow_id: str
    cron: str
    timezone: str
    enabled: bool
    options: dict[str, Any]
    sla: dict[str, Any] | None
    submit_user: str
    submit_time: int
    next_fire: int
    last_fire: int
    end_time: int = -1
    back_execute_once: bool = True


class ShownSchedule(NamedTuple):
    """A schedule as the schedules page shows it (:meth:`ScheduleQueries.shown`): a :class:`ScheduleRow`'s
    fields but the run options, which the page does not show (reading and decoding every schedule's options
    cost that page about a tenth of its CPU), and those that only the scheduler reads."""

    id: int
    project_id: int
    project_name: str
    flow_id: str
    cron: str
    timezone: str
    enabled: bool
    sla: dict[str, Any] | None
    submit_user: str
    next_fire: int
    last_fire: int


class ListedSchedule(NamedTuple):
    """A schedule as a list of them shows it (:meth:`ScheduleQueries.listed`)."""

    id: int
    project_id: int
    project_name: str
    flow_id: str
    cron: str
    submit_time: int


class FlowSchedule(NamedTuple):
    """A schedule as a project's page shows it beside its flow (:meth:`ScheduleQueries.of_flows`)."""

    flow_id: str
    cron: str
    timezone: str
    enabled: bool


@dataclass(frozen=True)
class FireClaim:
    """Move schedule ``schedule_id`` from fire time ``expected_next`` on to ``next_fire``, with ``last_fire``."""

    schedule_id: int
    expected_next: int
    next_fire: int
    last_fire: int


@dataclass(frozen=True)
class ProjectFlows:
    """The flows of a project's current version: flow id to (embedded, graph JSON)."""

    project_id: int
    version: int
    flows: dict[str, tuple[bool, dict[str, Any]]]


class ScheduleQueries:
    """Schedule and SLA queries of one :class:`~sudoless.store.Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- reading ----------------------------------------------------------------------------------------

    def _select(self) -> sa.Select[Any]:
        s, p = t.schedules, t.projects
        return sa.select(s, p.c.name.label("project_name"), p.c.active.label("project_active")).join(
            p, p.c.id == s.c.project_id
        )

    def get(self, schedule_id: int) -> ScheduleRow | None:
        with self.store.read() as conn:
            row = conn.execute(self._select().where(t.schedules.c.id == schedule_id)).first()
        return _schedules([row])[0] if row else None

    def for_flow(self, project: str | int, flow_id: str) -> ScheduleRow | None:
        """The schedule of a flow of an active project, given by name or id."""
        query = self._select().where(
            t.projects.c.active.is_(True), _project_is(project), t.schedules.c.flow_id == flow_id
        )
        with self.store.read() as conn:
            row = conn.execute(query).first()
        return _schedules([row])[0] if row else None

    def count(self) -> int:
        """How many schedules the active projects have (what :meth:`all` would list, counted in the database:
        the status page shows the number only)."""
        with self.store.read() as conn:
            return int(conn.execute(_COUNT).scalar_one())

    def scheduled(self, project_id: int, flow_id: str) -> bool:
        """Whether a flow of an active project has a schedule (the flow page's button says "Schedule" or
        "Change schedule"), without reading and decoding the schedule."""
        with self.store.read() as conn:
            return conn.execute(FLOW_SCHEDULES, {"project_id": project_id, "flow_id": flow_id}).first() is not None

    def all(self, project: str | int | None = None) -> list[ScheduleRow]:
        """Schedules of active projects (of one project, by name or id, when given), oldest first."""
        params: dict[str, Any] = {}
        if project is None:
            query = _ALL
        elif isinstance(project, int):
            query, params = _ALL_OF_PROJECT, {"project_id": project}
        else:
            query = _ALL.where(_project_is(project))
        with self.store.read() as conn:
            return _schedules(conn.execute(query, params).all())

    def listed(self) -> list[ListedSchedule]:
        """What Azkaban's schedule list shows of each schedule of an active project, oldest first: a few
        columns, without decoding every schedule's options and SLA as :meth:`all` does."""
        with self.store.read() as conn:
            return [ListedSchedule(*row) for row in conn.execute(_LISTED)]

    def shown(self) -> list[ShownSchedule]:
        """The schedules of active projects as the schedules page shows them, oldest first (as :meth:`all`
        lists them)."""
        with self.store.read() as conn:
            rows = conn.execute(_SHOWN).all()
        return [
            ShownSchedule(
                int(ident),
                int(project_id),
                project_name,
                flow_id,
                cron,
                zone,
                bool(enabled),
                json.loads(sla) if sla else None,
                user,
                int(next_fire),
                int(last_fire),
            )
            for ident, project_id, project_name, flow_id, cron, zone, enabled, sla, user, next_fire, last_fire in rows
        ]

    def of_flows(self, project_id: int) -> dict[str, FlowSchedule]:
        """The schedules of an active project's flows, by flow (the newest where a flow has several, as
        :meth:`all` lists them), as its page shows them: four columns, no options or SLA decoded."""
        with self.store.read() as conn:
            rows = conn.execute(_OF_FLOWS, {"project_id": project_id}).all()
        return {flow: FlowSchedule(flow, cron, zone, bool(enabled)) for flow, cron, zone, enabled in rows}

    def due(self, now: int) -> list[ScheduleRow]:
        """Enabled schedules of active projects whose next fire time is at or before ``now``."""
        s = t.schedules
        query = (
            self._select()
            .where(
                s.c.enabled.is_(True),
                t.projects.c.active.is_(True),
                s.c.next_fire >= 0,
                s.c.next_fire <= now,
            )
            .order_by(s.c.next_fire, s.c.id)
        )
        with self.store.read() as conn:
            return _schedules(conn.execute(query).all())

    def next_due(self) -> int | None:
        """The earliest fire time of the schedules :meth:`due` would return once it comes; None if none."""
        s, p = t.schedules, t.projects
        query = (
            sa.select(sa.func.min(s.c.next_fire))
            .join(p, p.c.id == s.c.project_id)
            .where(s.c.enabled.is_(True), p.c.active.is_(True), s.c.next_fire >= 0)
        )
        with self.store.read() as conn:
            found = conn.execute(query).scalar()
        return None if found is None else int(found)

    def upcoming_versions(self, until: int) -> list[tuple[int, str, int]]:
        """(project id, name, current version) of the active projects with an enabled schedule due by
        ``until``: what the scheduler loads ahead of their slots."""
        s, p = t.schedules, t.projects
        query = (
            sa.select(p.c.id, p.c.name, p.c.version)
            .distinct()
            .join(s, s.c.project_id == p.c.id)
            .where(s.c.enabled.is_(True), p.c.active.is_(True), s.c.next_fire >= 0, s.c.next_fire <= until)
        )
        with self.store.read() as conn:
            return [(int(row.id), row.name, int(row.version or 0)) for row in conn.execute(query)]

    def project_flows(self, project_name: str) -> ProjectFlows | None:
        """The active project ``project_name`` and its current version's flows; None if there is no such project."""
        p, f = t.projects, t.project_flows
        with self.store.read() as conn:
            project = conn.execute(
                sa.select(p.c.id, p.c.version).where(p.c.name == project_name, p.c.active.is_(True))
            ).first()
            if project is None:
                return None
            rows = conn.execute(
                sa.select(f.c.flow_id, f.c.embedded, f.c.data).where(
                    f.c.project_id == project.id, f.c.version == project.version
                )
            ).all()
        return ProjectFlows(
            int(project.id),
            int(project.version),
            {row.flow_id: (bool(row.embedded), json.loads(row.data)) for row in rows},
        )

    # -- writing ----------------------------------------------------------------------------------------

    def upsert(self, project_id: int, flow_id: str, values: dict[str, Any]) -> int:
        """Insert the schedule of (project, flow), or update the existing one in place keeping its id.

        ``values`` holds column values; ``options`` and ``sla`` may be given as dicts. A schedule created
        concurrently by another process makes the insert fail on the unique key; the second attempt
        then updates that row.
        """
        values = _encode(values)
        s = t.schedules
        for attempt in range(2):
            try:
                with self.store.write() as conn:
                    existing = conn.execute(
                        self._lock(sa.select(s.c.id).where(s.c.project_id == project_id, s.c.flow_id == flow_id))
                    ).first()
                    if existing is not None:
                        conn.execute(s.update().where(s.c.id == existing.id).values(**values))
                        return int(existing.id)
                    result = conn.execute(s.insert().values(project_id=project_id, flow_id=flow_id, **values))
                    return inserted_id(result)
            except sa.exc.IntegrityError:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def update(self, schedule_id: int, values: dict[str, Any]) -> bool:
        """Set columns of one schedule; False when it does not exist."""
        with self.store.write() as conn:
            done = conn.execute(t.schedules.update().where(t.schedules.c.id == schedule_id).values(**_encode(values)))
        return done.rowcount == 1

    def delete(self, schedule_id: int) -> bool:
        with self.store.write() as conn:
            done = conn.execute(t.schedules.delete().where(t.schedules.c.id == schedule_id))
        return done.rowcount == 1

    def claim_fires(self, claims: Sequence[FireClaim]) -> set[int]:
        """Claim the due slots of many schedules in one transaction; the ids of the schedules claimed.

        This is the whole protocol: of several schedulers (or one that restarted) that saw the same due
        slot, exactly one moves the row on, and only that one submits the execution. The rows are read
        with a lock (``FOR UPDATE``, in id order so that two schedulers claiming overlapping sets queue
        rather than deadlock; SQLite's write transaction is exclusive already), and those still enabled at
        the fire time their claim expects move on in one UPDATE. A scheduler that saw the same slots waits
        for the lock and then finds them moved on: each slot has one winner.
        """
        if not claims:
            return set()
        s = t.schedules
        wanted = {claim.schedule_id: claim for claim in claims}
        with self.store.write() as conn:
            current = conn.execute(
                self._lock(
                    sa.select(s.c.id, s.c.next_fire)
                    .where(s.c.id.in_(sorted(wanted)), s.c.enabled.is_(True))
                    .order_by(s.c.id)
                )
            ).all()
            won = [wanted[int(row.id)] for row in current if int(row.next_fire) == wanted[int(row.id)].expected_next]
            if won:
                conn.execute(_move_on(won))
        return {claim.schedule_id for claim in won}

    # -- SLA bookkeeping --------------------------------------------------------------------------------

    def sla_candidates(self, finished_since: int) -> list[ExecutionRecord]:
        """Executions that carry SLA rules and are unfinished, or finished at or after ``finished_since``."""
        e = t.executions
        # "Unfinished" spelt as the statuses it means, and no ORDER BY: both halves of the OR are then
        # index searches (status, end_time) instead of a scan of every execution ever run, once a second.
        unfinished = [status.value for status in Status if status not in TERMINAL_FLOW]
        query = sa.select(e).where(sa.or_(e.c.status.in_(unfinished), e.c.end_time >= finished_since))
        with self.store.read() as conn:
            records = execution_records(conn.execute(query).all())
        return sorted((record for record in records if record.options.get("sla")), key=lambda r: r.id)

    def record_sla_miss(self, exec_id: int, key: str, message: str) -> bool:
        """Note that SLA rule ``key`` was missed by ``exec_id``; True only for the first caller."""
        with self.store.write() as conn:
            options = self._locked_options(conn, exec_id)
            missed = options.setdefault("sla_missed", {})
            if key in missed:
                return False
            missed[key] = message
            self._save_options(conn, exec_id, options)
        return True

    def _locked_options(self, conn: Connection, exec_id: int) -> dict[str, Any]:
        e = t.executions
        row = conn.execute(self._lock(sa.select(e.c.options).where(e.c.id == exec_id))).first()
        if row is None:
            from sudoless.errors import NotFoundError

            raise NotFoundError(f"Cannot find execution '{exec_id}'")
        options: dict[str, Any] = json.loads(row.options)
        return options

    def _save_options(self, conn: Connection, exec_id: int, options: dict[str, Any]) -> None:
        conn.execute(t.executions.update().where(t.executions.c.id == exec_id).values(options=json.dumps(options)))

    def _lock(self, query: sa.Select[Any]) -> sa.Select[Any]:
        # SQLite's write transactions are exclusive already (BEGIN IMMEDIATE) and it has no FOR UPDATE.
        return query if self.store.dialect == "sqlite" else query.with_for_update()


def _move_on(claims: Sequence[FireClaim]) -> sa.TextClause:
    """One UPDATE moving every claimed schedule's fire times on. Spelt as text, its values integers written
    out (nothing else can get in): an executemany was a round trip a row on MariaDB (pymysql batches only
    INSERTs; 1,000 claims took seconds under load), and SQLAlchemy built a CASE of 500 bound values in
    longer than the database ran it."""
    whens = {
        column: " ".join(f"WHEN {int(c.schedule_id)} THEN {int(getattr(c, column))}" for c in claims)
        for column in ("next_fire", "last_fire")
    }
    ids = ", ".join(str(int(c.schedule_id)) for c in claims)
    return sa.text(
        f"UPDATE {t.schedules.name} SET next_fire = CASE id {whens['next_fire']} END, "
        f"last_fire = CASE id {whens['last_fire']} END WHERE id IN ({ids})"
    )


_ACTIVE_SCHEDULES = t.schedules.join(t.projects, t.projects.c.id == t.schedules.c.project_id)
# Built once: building a select costs more than running one this small.
_COUNT = sa.select(sa.func.count()).select_from(_ACTIVE_SCHEDULES).where(t.projects.c.active.is_(True))


def _active_schedules(*columns: Any) -> sa.Select[Any]:
    """``columns`` of the schedules of active projects, by id."""
    return (
        sa.select(*columns)
        .select_from(_ACTIVE_SCHEDULES)
        .where(t.projects.c.active.is_(True))
        .order_by(t.schedules.c.id)
    )


_ALL = _active_schedules(
    t.schedules, t.projects.c.name.label("project_name"), t.projects.c.active.label("project_active")
)
_ALL_OF_PROJECT = _ALL.where(t.schedules.c.project_id == sa.bindparam("project_id"))
_s = t.schedules.c
_LISTED = _active_schedules(_s.id, _s.project_id, t.projects.c.name, _s.flow_id, _s.cron, _s.submit_time)

#: :meth:`ScheduleQueries.shown`'s statement, built once.
_SHOWN = _active_schedules(
    _s.id,
    _s.project_id,
    t.projects.c.name,
    _s.flow_id,
    _s.cron,
    _s.timezone,
    _s.enabled,
    _s.sla,
    _s.submit_user,
    _s.next_fire,
    _s.last_fire,
)
#: :meth:`ScheduleQueries.of_flows`' statement, built once.
_OF_FLOWS = _active_schedules(_s.flow_id, _s.cron, _s.timezone, _s.enabled).where(
    _s.project_id == sa.bindparam("project_id")
)


def _project_is(project: str | int) -> sa.ColumnElement[bool]:
    return t.projects.c.id == project if isinstance(project, int) else t.projects.c.name == project


def _encode(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    for key in ("options", "sla"):
        if key in out and out[key] is not None and not isinstance(out[key], str):
            out[key] = json.dumps(out[key])
    return out


#: A schedule row's columns as :meth:`ScheduleQueries._select` reads them, in order.
_COLUMNS = (*t.schedules.c.keys(), "project_name", "project_active")


def _schedules(rows: Sequence[Any]) -> list[ScheduleRow]:
    """Result rows as :class:`ScheduleRow`s, their columns taken by position (reading a row's attributes by
    name cost the schedules page more than its queries)."""
    return [_schedule(row) for row in values(rows, _COLUMNS)]


def _schedule(row: Mapping[str, Any]) -> ScheduleRow:
    return ScheduleRow(
        id=int(row["id"]),
        project_id=int(row["project_id"]),
        project_name=row["project_name"],
        project_active=bool(row["project_active"]),
        flow_id=row["flow_id"],
        cron=row["cron"],
        timezone=row["timezone"],
        enabled=bool(row["enabled"]),
        options=json.loads(row["options"]),
        sla=json.loads(row["sla"]) if row["sla"] else None,
        submit_user=row["submit_user"],
        submit_time=int(row["submit_time"]),
        next_fire=int(row["next_fire"]),
        last_fire=int(row["last_fire"]),
        end_time=int(row["end_time"]),
        back_execute_once=bool(row["back_execute_once"]),
    )
