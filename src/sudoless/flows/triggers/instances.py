"""Trigger instances: fired on a trigger's cron, waiting for dependencies, then running the flow or cancelled.

:class:`Triggers` is the library surface the scheduler, the AJAX servlets, the JSON API and the UI share.
Its :meth:`Triggers.tick` (called by the server's ``triggers`` thread, :meth:`Triggers.run`) does two things:

* **fires** each unpaused trigger whose slot is due, as the scheduler fires schedules: the slot is claimed
  with a conditional UPDATE, so two servers never fire it twice, and a server that was down fires once for
  the latest missed slot. Firing creates an instance: a copy of the trigger's dependencies, each RUNNING,
  and the longest wait (``maxWaitMins``) turned into milliseconds;
* **checks** each waiting instance: every ``trigger_check_seconds`` each dependency not yet met asks its
  type (:mod:`sudoless.flows.triggers.dependencies`); a met dependency stays SUCCEEDED. When all are met
  the flow is submitted as an ordinary execution (``source="trigger"``) and the instance is SUCCEEDED with
  the execution's id; when the wait runs out first, the instance and its waiting dependencies end CANCELLED
  with cause TIMEOUT. A user's kill ends it CANCELLED with cause MANUAL.

Everything is in the database, and an instance's clock is its start time there: a restarted server goes on
checking the instances it left, and times them out when their wait, counted from when they fired, is over.

The instance's *period* is the time from the trigger's previous cron slot to this one's; the ``flow``
dependency looks for a success of the other flow in it.
"""

from __future__ import annotations

import builtins
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sudoless.config import Settings
from sudoless.errors import InputError, NotFoundError, StateError, SudolessError
from sudoless.flows.executions import submit_flow
from sudoless.flows.formats.trigger import FlowTrigger
from sudoless.flows.schedule import CronExpression, next_after, stamp
from sudoless.flows.triggers.dependencies import CheckContext, get_type
from sudoless.flows.triggers.sync import sync_project_triggers, zone
from sudoless.store import Store
from sudoless.store.triggers import InstanceRow, TriggerRow

__all__ = ["TriggerInfo", "Triggers", "sync_project_triggers"]

log = logging.getLogger(__name__)

RUNNING, SUCCEEDED, CANCELLED = "RUNNING", "SUCCEEDED", "CANCELLED"


@dataclass(frozen=True)
class TriggerInfo:
    """A trigger as the APIs show it: its run state and its definition."""

    row: TriggerRow
    trigger: FlowTrigger

    def to_json(self) -> dict[str, Any]:
        return {
            "projectId": self.row.project_id,
            "projectName": self.row.project_name,
            "flowId": self.row.flow_id,
            "cronExpression": self.row.cron,
            "paused": self.row.paused,
            "nextFireTime": self.row.next_fire,
            "lastFireTime": self.row.last_fire,
            "submitUser": self.row.modified_by,
            "maxWaitMins": self.trigger.max_wait_mins,
            "dependencies": [d.to_json() for d in self.trigger.dependencies],
        }


def instance_json(row: InstanceRow) -> dict[str, Any]:
    """An instance in the shape of Azkaban's ``fetchTriggerInstances`` items, plus sudoless's reasons."""
    return {
        "triggerInstanceId": row.id,
        "projectId": row.project_id,
        "projectName": row.project_name,
        "projectVersion": row.project_version,
        "flowId": row.flow_id,
        "submitUser": row.submit_user,
        "cronExpression": row.cron,
        "slot": row.slot,
        "periodStart": row.period_start,
        "startTime": row.start_time,
        "endTime": row.end_time,
        "maxWaitMs": row.max_wait_ms,
        "status": row.status,
        "cancellationCause": row.cancel_cause,
        "message": row.message,
        "execId": row.exec_id if row.exec_id is not None else -1,
        "dependencies": [
            {
                "dependencyName": d.name,
                "dependencyType": d.type,
                "params": d.params,
                "dependencyStatus": d.status,
                "dependencyStartTime": d.start_time,
                "dependencyEndTime": d.end_time,
                "dependencyCancelCause": d.cancel_cause,
                "reason": d.reason,
                "lastChecked": d.checked_time,
            }
            for d in row.dependencies
        ],
    }


class Triggers:
    """Fire, check, pause, resume and kill flow triggers of one store (see the module docstring)."""

    def __init__(self, store: Store, settings: Settings, clock: Callable[[], int] | None = None) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock or store.clock

    # -- reading ------------------------------------------------------------------------------------------

    def list(self, project_id: int | None = None) -> builtins.list[TriggerInfo]:
        return [TriggerInfo(row, self.definition(row)) for row in self.store.triggers.triggers(project_id)]

    def get(self, project_id: int, flow_id: str) -> TriggerInfo:
        row = self.store.triggers.trigger(project_id, flow_id)
        if row is None:
            raise NotFoundError(f"Flow {flow_id} of project {project_id} has no trigger")
        return TriggerInfo(row, self.definition(row))

    def _declared_wait(self, instance: InstanceRow) -> float:
        """The instance's maxWaitMins as its version's file says: servers sharing a database may scale
        minutes differently (``trigger_minute_seconds``), so the stored milliseconds are not read back."""
        graph = self.store.projects.flows(instance.project_id, instance.project_version).get(instance.flow_id) or {}
        wait = FlowTrigger.from_json(graph["trigger"]).max_wait_mins if graph.get("trigger") else None
        return wait if wait is not None else instance.max_wait_ms / 1000 / self.settings.trigger_minute_seconds

    def definition(self, row: TriggerRow) -> FlowTrigger:
        version = self.store.projects.current_version(row.project_id)
        graph = self.store.projects.flows(row.project_id, version).get(row.flow_id) or {}
        if not graph.get("trigger"):
            raise NotFoundError(f"Flow {row.flow_id} of project {row.project_name} has no trigger in version {version}")
        return FlowTrigger.from_json(graph["trigger"])

    def instance(self, instance_id: str) -> InstanceRow:
        row = self.store.triggers.instance(instance_id)
        if row is None:
            raise NotFoundError(f"Trigger instance {instance_id} does not exist")
        return row

    # -- acting -------------------------------------------------------------------------------------------

    def set_paused(self, project_id: int, flow_id: str, paused: bool, user: str) -> TriggerInfo:
        """Pause a trigger (no new instances; waiting ones go on) or resume it from the next slot after now."""
        info = self.get(project_id, flow_id)
        next_fire = None
        if not paused and info.row.paused:
            next_fire = next_after(CronExpression.parse(info.row.cron, zone(self.settings)), self.clock())
        self.store.triggers.set_paused(project_id, flow_id, paused, next_fire, user)
        log.info("trigger %s.%s %s by %s", info.row.project_name, flow_id, "paused" if paused else "resumed", user)
        return self.get(project_id, flow_id)

    def fire(
        self, project_id: int, flow_id: str, user: str | None = None, slot: int | None = None, now: int | None = None
    ) -> str:
        """Start an instance of the trigger at ``now`` (default: the clock) for ``slot`` (default: now); returns
        the instance id. ``user`` runs the flow (default: who uploaded the trigger's version)."""
        info = self.get(project_id, flow_id)
        now = self.clock() if now is None else now
        slot = now if slot is None else slot
        expression = CronExpression.parse(info.row.cron, zone(self.settings))
        wait = info.trigger.max_wait_mins
        instance_id = str(uuid.uuid4())
        self.store.triggers.create_instance(
            {
                "id": instance_id,
                "project_id": project_id,
                "project_name": info.row.project_name,
                "project_version": self.store.projects.current_version(project_id),
                "flow_id": flow_id,
                "submit_user": user or info.row.modified_by,
                "cron": info.row.cron,
                "slot": slot,
                "period_start": _previous_fire(expression, slot),
                "start_time": now,
                "end_time": -1,
                "max_wait_ms": -1 if wait is None else int(wait * self.settings.trigger_minute_seconds * 1000),
                "status": RUNNING,
                "cancel_cause": "NONE",
                "message": "",
                "exec_id": None,
            },
            [d.to_json() for d in info.trigger.dependencies],
        )
        log.info(
            "trigger %s.%s fired for %s: instance %s waits for %d dependencies",
            info.row.project_name,
            flow_id,
            stamp(slot),
            instance_id,
            len(info.trigger.dependencies),
        )
        self.check(self.instance(instance_id), now, force=True)
        return instance_id

    def kill(self, instance_id: str, user: str) -> InstanceRow:
        """End a waiting instance: CANCELLED, cause MANUAL; its flow does not run."""
        row = self.instance(instance_id)
        if row.status != RUNNING or not self.store.triggers.finish(
            instance_id, CANCELLED, "MANUAL", f"killed by {user}"
        ):
            status = self.instance(instance_id).status
            raise StateError(f"Trigger instance {instance_id} is not running (it is {status})")
        log.info("trigger instance %s of %s.%s killed by %s", instance_id, row.project_name, row.flow_id, user)
        return self.instance(instance_id)

    # -- the scheduler's step -------------------------------------------------------------------------------

    def tick(self, now_ms: int | None = None) -> builtins.list[str]:
        """Fire the due triggers and check the waiting instances; returns the ids of instances fired."""
        now = self.clock() if now_ms is None else now_ms
        fired = []
        for row in self.store.triggers.due(now):
            try:
                fired.extend(self._fire_due(row, now))
            except Exception:
                log.exception("trigger %s.%s: firing failed", row.project_name, row.flow_id)
        for instance in self.store.triggers.instances(running=True, limit=10_000):
            try:
                self.check(instance, now)
            except Exception:
                log.exception("trigger instance %s: check failed", instance.id)
        return fired

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        """:meth:`tick` every ``interval`` seconds until ``stop`` is set (the server's ``triggers`` thread, apart
        from the scheduler's, since a dependency check may wait seconds for an HTTP or SQL answer)."""
        while not stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("trigger tick failed; retrying in %g s", interval)
            stop.wait(interval)

    def _fire_due(self, row: TriggerRow, now: int) -> builtins.list[str]:
        expression = CronExpression.parse(row.cron, zone(self.settings))
        expected = row.next_fire
        following = next_after(expression, now)
        slot = _previous_fire(expression, following) if following >= 0 else expected
        slot = max(slot, expected)
        if not self.store.triggers.claim_fire(row.project_id, row.flow_id, expected, following, slot):
            return []
        if slot != expected:
            log.warning(
                "trigger %s.%s: missed slots from %s; firing once, for %s",
                row.project_name,
                row.flow_id,
                stamp(expected),
                stamp(slot),
            )
        return [self.fire(row.project_id, row.flow_id, slot=slot, now=now)]

    def check(self, instance: InstanceRow, now: int, force: bool = False) -> str:
        """Check the dependencies of a waiting instance that are due a check; run or time it out; returns
        its status afterwards."""
        if instance.status != RUNNING:
            return instance.status
        interval = int(self.settings.trigger_check_seconds * 1000)
        met = True
        for dep in instance.dependencies:
            if dep.status == SUCCEEDED:
                continue
            if dep.status != RUNNING:
                met = False
                continue
            if not force and dep.checked_time >= 0 and now - dep.checked_time < interval:
                met = False
                continue
            reason = self._check_one(instance, dep.type, dep.params)
            values: dict[str, Any] = {"checked_time": now, "reason": reason or ""}
            if reason is None:
                values.update(status=SUCCEEDED, end_time=now)
                log.info("trigger instance %s: dependency %s is met", instance.id, dep.name)
            else:
                met = False
            self.store.triggers.set_dependency(instance.id, dep.name, values)
        if met:
            return self._run(instance)
        if instance.max_wait_ms >= 0 and now >= instance.start_time + instance.max_wait_ms:
            waiting = [d.name for d in self.instance(instance.id).dependencies if d.status == RUNNING]
            message = (
                f"timed out after {self._declared_wait(instance):g} min waiting for "
                f"{', '.join(waiting) or 'dependencies'}"
            )
            if self.store.triggers.finish(instance.id, CANCELLED, "TIMEOUT", message):
                log.warning(
                    "trigger instance %s of %s.%s: %s", instance.id, instance.project_name, instance.flow_id, message
                )
            return CANCELLED
        return RUNNING

    def _check_one(self, instance: InstanceRow, type_name: str, params: Mapping[str, str]) -> str | None:
        kind = get_type(type_name)
        if kind is None:
            return f"unknown dependency type '{type_name}'"
        context = CheckContext(
            self.store, self.settings, instance.project_name, instance.flow_id, instance.slot, instance.period_start
        )
        try:
            return kind.check(params, context)
        except Exception as error:  # a plug-in's failure is a dependency not met, with the reason shown
            return f"check failed: {error.__class__.__name__}: {error}"

    def _run(self, instance: InstanceRow) -> str:
        """All dependencies are met: claim the instance and submit its flow."""
        if not self.store.triggers.finish(instance.id, SUCCEEDED, "NONE", "dependencies met"):
            return self.instance(instance.id).status
        try:
            exec_id = submit_flow(
                self.store,
                self.settings,
                instance.project_name,
                instance.flow_id,
                user=instance.submit_user,
                source="trigger",
            )
        except (StateError, InputError, NotFoundError, SudolessError) as error:
            # Azkaban marks such an instance with exec id -2 (the flow could not start); so do we, with why.
            self.store.triggers.set_exec_id(instance.id, -2, f"dependencies met; the flow did not start: {error}")
            log.error(
                "trigger instance %s: flow %s.%s did not start: %s",
                instance.id,
                instance.project_name,
                instance.flow_id,
                error,
            )
            return SUCCEEDED
        self.store.triggers.set_exec_id(instance.id, exec_id, f"dependencies met; execution {exec_id}")
        log.info("trigger instance %s: dependencies met, execution %d submitted", instance.id, exec_id)
        return SUCCEEDED


def _previous_fire(expression: CronExpression, slot: int) -> int:
    """The last fire time strictly before ``slot`` (the start of its period); 0 when there is none."""
    window = 60_000
    while window < 800 * 86_400_000:
        first = next_after(expression, slot - window - 1)
        if 0 <= first < slot:
            while 0 <= (following := next_after(expression, first)) < slot:
                first = following
            return first
        window *= 4
    return 0
