"""The SQL behind flow triggers: each trigger's run state, its instances and their dependencies.

Reached as ``store.triggers``. Rows come back as frozen values; :mod:`sudoless.flows.triggers.instances`
holds the semantics. Two servers sharing a database never both act on one slot or one instance: firing
claims the slot with a conditional UPDATE (schedules claim theirs in batches, under a row lock), and an
instance leaves RUNNING only through :meth:`TriggerQueries.finish`, whose UPDATE is conditional on it still
being RUNNING.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from sudoless.store import tables as t
from sudoless.store.light.triggers import LightTriggerQueries
from sudoless.store.status import Status

if TYPE_CHECKING:
    from sudoless.store import Store

__all__ = ["DependencyRow", "InstanceRow", "TriggerQueries", "TriggerRow"]


@dataclass(frozen=True)
class TriggerRow:
    project_id: int
    project_name: str
    flow_id: str
    cron: str
    paused: bool
    next_fire: int
    last_fire: int
    modified_time: int
    modified_by: str


@dataclass(frozen=True)
class DependencyRow:
    instance_id: str
    name: str
    type: str
    params: dict[str, str]
    status: str
    start_time: int
    end_time: int
    cancel_cause: str
    reason: str
    checked_time: int


@dataclass(frozen=True)
class InstanceRow:
    id: str
    project_id: int
    project_name: str
    project_version: int
    flow_id: str
    submit_user: str
    cron: str
    slot: int
    period_start: int
    start_time: int
    end_time: int
    max_wait_ms: int
    status: str
    cancel_cause: str
    message: str
    exec_id: int | None
    dependencies: tuple[DependencyRow, ...] = ()


class TriggerQueries(LightTriggerQueries):
    """Trigger queries of one :class:`~sudoless.store.Store` (an upload's sync of a project's triggers is
    :class:`~sudoless.store.light.triggers.LightTriggerQueries`'s)."""

    store: Store

    # -- triggers ---------------------------------------------------------------------------------------

    def _select(self) -> sa.Select[Any]:
        f, p = t.flow_triggers, t.projects
        return (
            sa.select(f, p.c.name.label("project_name")).join(p, p.c.id == f.c.project_id).where(p.c.active.is_(True))
        )

    def triggers(self, project_id: int | None = None) -> list[TriggerRow]:
        """Triggers of active projects (of one project), by project name and flow."""
        query = self._select().order_by(t.projects.c.name, t.flow_triggers.c.flow_id)
        if project_id is not None:
            query = query.where(t.flow_triggers.c.project_id == project_id)
        with self.store.read() as conn:
            return [_trigger(row) for row in conn.execute(query)]

    def trigger(self, project_id: int, flow_id: str) -> TriggerRow | None:
        f = t.flow_triggers
        with self.store.read() as conn:
            row = conn.execute(self._select().where(f.c.project_id == project_id, f.c.flow_id == flow_id)).first()
        return _trigger(row) if row else None

    def due(self, now: int) -> list[TriggerRow]:
        f = t.flow_triggers
        query = self._select().where(f.c.paused.is_(False), f.c.next_fire >= 0, f.c.next_fire <= now)
        with self.store.read() as conn:
            return [_trigger(row) for row in conn.execute(query.order_by(f.c.next_fire))]

    def remove_project(self, project_id: int, message: str) -> None:
        """A deleted project's triggers go, and its waiting instances end CANCELLED (cause MANUAL)."""
        f, i, d = t.flow_triggers, t.trigger_instances, t.trigger_dependencies
        now = self.store.clock()
        with self.store.write() as conn:
            conn.execute(f.delete().where(f.c.project_id == project_id))
            waiting = list(
                conn.execute(sa.select(i.c.id).where(i.c.project_id == project_id, i.c.status == "RUNNING")).scalars()
            )
            if waiting:
                conn.execute(
                    i.update()
                    .where(i.c.id.in_(waiting), i.c.status == "RUNNING")
                    .values(status="CANCELLED", cancel_cause="MANUAL", message=message, end_time=now)
                )
                conn.execute(
                    d.update()
                    .where(d.c.instance_id.in_(waiting), d.c.status == "RUNNING")
                    .values(status="CANCELLED", cancel_cause="MANUAL", end_time=now)
                )

    def set_paused(self, project_id: int, flow_id: str, paused: bool, next_fire: int | None, user: str) -> bool:
        f = t.flow_triggers
        values: dict[str, Any] = {"paused": paused, "modified_time": self.store.clock(), "modified_by": user}
        if next_fire is not None:
            values["next_fire"] = next_fire
        with self.store.write() as conn:
            done = conn.execute(f.update().where(f.c.project_id == project_id, f.c.flow_id == flow_id).values(**values))
        return done.rowcount == 1

    def claim_fire(self, project_id: int, flow_id: str, expected: int, following: int, slot: int) -> bool:
        """Move an unpaused trigger's next fire from ``expected`` to ``following``; True for the one winner."""
        f = t.flow_triggers
        with self.store.write() as conn:
            done = conn.execute(
                f.update()
                .where(
                    f.c.project_id == project_id,
                    f.c.flow_id == flow_id,
                    f.c.next_fire == expected,
                    f.c.paused.is_(False),
                )
                .values(next_fire=following, last_fire=slot)
            )
        return done.rowcount == 1

    # -- instances --------------------------------------------------------------------------------------

    def create_instance(self, values: Mapping[str, Any], dependencies: Sequence[Mapping[str, Any]]) -> None:
        with self.store.write() as conn:
            conn.execute(t.trigger_instances.insert().values(**values))
            if dependencies:
                conn.execute(
                    t.trigger_dependencies.insert(),
                    [
                        {
                            "instance_id": values["id"],
                            "name": d["name"],
                            "type": d["type"],
                            "params": json.dumps(dict(d["params"])),
                            "status": "RUNNING",
                            "start_time": values["start_time"],
                            "end_time": -1,
                            "cancel_cause": "NONE",
                            "reason": "",
                            "checked_time": -1,
                        }
                        for d in dependencies
                    ],
                )

    def instance(self, instance_id: str) -> InstanceRow | None:
        found = self.instances(ids=[instance_id])
        return found[0] if found else None

    def instances(
        self,
        project_id: int | None = None,
        flow_id: str | None = None,
        running: bool | None = None,
        ids: Sequence[str] | None = None,
        exec_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[InstanceRow]:
        """Instances newest first, each with its dependencies; ``running`` keeps those (not) still waiting."""
        i = t.trigger_instances
        query = sa.select(i).order_by(i.c.start_time.desc(), i.c.id).limit(limit).offset(offset)
        if project_id is not None:
            query = query.where(i.c.project_id == project_id)
        if flow_id is not None:
            query = query.where(i.c.flow_id == flow_id)
        if running is not None:
            query = query.where(i.c.status == "RUNNING" if running else i.c.status != "RUNNING")
        if ids is not None:
            query = query.where(i.c.id.in_(list(ids)))
        if exec_id is not None:
            query = query.where(i.c.exec_id == exec_id)
        d = t.trigger_dependencies
        with self.store.read() as conn:
            rows = conn.execute(query).all()
            deps: dict[str, list[DependencyRow]] = {}
            if rows:
                for dep in conn.execute(
                    sa.select(d).where(d.c.instance_id.in_([r.id for r in rows])).order_by(d.c.instance_id, d.c.name)
                ):
                    deps.setdefault(dep.instance_id, []).append(_dependency(dep))
        return [_instance(row, deps.get(row.id, [])) for row in rows]

    def set_dependency(self, instance_id: str, name: str, values: Mapping[str, Any]) -> None:
        d = t.trigger_dependencies
        with self.store.write() as conn:
            conn.execute(
                d.update()
                .where(d.c.instance_id == instance_id, d.c.name == name, d.c.status == "RUNNING")
                .values(**values)
            )

    def finish(self, instance_id: str, status: str, cause: str, message: str, exec_id: int | None = None) -> bool:
        """Move a RUNNING instance to ``status``; its still-running dependencies end CANCELLED with ``cause``
        (or, for a SUCCEEDED instance, stay as they are). True only for the caller that moved it."""
        i, d = t.trigger_instances, t.trigger_dependencies
        now = self.store.clock()
        with self.store.write() as conn:
            done = conn.execute(
                i.update()
                .where(i.c.id == instance_id, i.c.status == "RUNNING")
                .values(status=status, cancel_cause=cause, message=message, end_time=now, exec_id=exec_id)
            )
            if done.rowcount != 1:
                return False
            conn.execute(
                d.update()
                .where(d.c.instance_id == instance_id, d.c.status == "RUNNING")
                .values(status="CANCELLED", cancel_cause=cause, end_time=now)
            )
        return True

    def set_exec_id(self, instance_id: str, exec_id: int | None, message: str = "") -> None:
        i = t.trigger_instances
        with self.store.write() as conn:
            conn.execute(i.update().where(i.c.id == instance_id).values(exec_id=exec_id, message=message))

    # -- the cross-flow dependency ----------------------------------------------------------------------

    def succeeded_since(self, project_name: str, flow_id: str, since: int) -> int | None:
        """The newest execution of an active project's flow that SUCCEEDED and was submitted at or after
        ``since`` (epoch ms); None when there is none."""
        e, p = t.executions, t.projects
        query = (
            sa.select(e.c.id)
            .join(p, p.c.id == e.c.project_id)
            .where(
                p.c.name == project_name,
                p.c.active.is_(True),
                e.c.flow_id == flow_id,
                e.c.status == Status.SUCCEEDED.value,
                e.c.submit_time >= since,
            )
            .order_by(e.c.id.desc())
            .limit(1)
        )
        with self.store.read() as conn:
            found = conn.execute(query).scalar()
        return None if found is None else int(found)


def _trigger(row: Any) -> TriggerRow:
    return TriggerRow(
        project_id=int(row.project_id),
        project_name=row.project_name,
        flow_id=row.flow_id,
        cron=row.cron,
        paused=bool(row.paused),
        next_fire=int(row.next_fire),
        last_fire=int(row.last_fire),
        modified_time=int(row.modified_time),
        modified_by=row.modified_by,
    )


def _dependency(row: Any) -> DependencyRow:
    return DependencyRow(
        instance_id=row.instance_id,
        name=row.name,
        type=row.type,
        params=json.loads(row.params),
        status=row.status,
        start_time=int(row.start_time),
        end_time=int(row.end_time),
        cancel_cause=row.cancel_cause,
        reason=row.reason,
        checked_time=int(row.checked_time),
    )


def _instance(row: Any, deps: Sequence[DependencyRow]) -> InstanceRow:
    return InstanceRow(
        id=row.id,
        project_id=int(row.project_id),
        project_name=row.project_name,
        project_version=int(row.project_version),
        flow_id=row.flow_id,
        submit_user=row.submit_user,
        cron=row.cron,
        slot=int(row.slot),
        period_start=int(row.period_start),
        start_time=int(row.start_time),
        end_time=int(row.end_time),
        max_wait_ms=int(row.max_wait_ms),
        status=row.status,
        cancel_cause=row.cancel_cause,
        message=row.message,
        exec_id=None if row.exec_id is None else int(row.exec_id),
        dependencies=tuple(deps),
    )
