"""Cron schedules that submit flow executions.

One :class:`Scheduler` per server process runs :meth:`Scheduler.run` in a thread; several processes may
share one database. Time comes from an injected clock (epoch ms), so tests move time instead of waiting.

Decisions, where Azkaban leaves room or we depart from it:

* **One schedule per flow, replaced in place.** :meth:`Scheduler.schedule` on a flow that already has a
  schedule updates that row and keeps its id, as Azkaban's ``scheduleCronFlow`` does. The cron, zone,
  options, user and submit time are replaced, the schedule is enabled again and its next fire time
  recomputed from now; its SLA settings and last fire time are kept (changing *when* a flow runs should
  not silently drop its alerting). A schedule with no fire time left keeps its row with ``next_fire=-1``.
* **Each slot fires at most once.** A tick reads the due schedules, then claims their slots in batches: one
  transaction locks the batch's rows, and moves on ``next_fire`` of those still at the slot it read; only
  the process that moved a row submits its slots. Two servers, or a server restarted mid-tick, never fire
  a slot twice. The price: a crash between the claim and the submission loses that batch's slots.
* **Misfires fire once, or not at all.** A slot that is due by at most the misfire threshold (default 60 s) fires as
  usual, and so does each later slot that is also due within it. When the oldest due slot is later than
  that (the server was down, or the schedule's project was busy for long), the missed slots are not run
  one by one: the schedule fires once, for the most recent missed slot, and continues from the first
  slot after now (Quartz's ``MISFIRE_INSTRUCTION_FIRE_ONCE_NOW``, Azkaban 4's ``backExecuteOnce``), or,
  for a schedule made with ``backExecuteOnce`` off (Azkaban's default for ``scheduleCronFlow``), not at
  all. The log says which slots were missed. A schedule with an end time (``endSchedTime``) has no fire
  after it. A disabled schedule does not fire; enabling it again starts from the
  next slot after now, so a pause never turns into a burst.
* **concurrentOption** is the submission's: ``skip`` (the default) refuses a slot while the flow still
  runs, and the scheduler logs the skip, as Azkaban does; ``ignore`` runs in parallel; ``pipeline`` is
  submitted and the runner makes it wait.

Each schedule may carry SLA rules (with alert addresses and a webhook); every execution it fires gets
a copy in its options. :mod:`sudoless.flows.sla` checks them: :meth:`Scheduler.check_slas` delegates
to its :class:`~sudoless.flows.sla.SlaChecker`, and :meth:`Scheduler.run` alternates ticks and checks.
"""

from __future__ import annotations

import builtins
import ctypes
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from multiprocessing.sharedctypes import RawValue
from typing import Any

from sudoless.config import Settings
from sudoless.errors import FlowLockedError, InputError, NotFoundError, PermissionDenied, StateError, SudolessError
from sudoless.flows.executions import FlowSubmission, load_version, submit_flows
from sudoless.flows.options import ExecutionOptions
from sudoless.flows.schedule import CronExpression, next_after, stamp
from sudoless.flows.sla import SlaChecker, SlaRule, parse_emails
from sudoless.outbound import WebhookHosts
from sudoless.store import Store
from sudoless.store.schedules import FireClaim, ProjectFlows, ScheduleRow, ShownSchedule

__all__ = ["MISFIRE_THRESHOLD_MS", "PREPARE_AHEAD_MS", "Schedule", "Scheduler", "sla_rules"]

log = logging.getLogger(__name__)

MISFIRE_THRESHOLD_MS = 60_000
#: how often the scheduler looks for execution directories past their retention.
RETENTION_EVERY_MS = 3_600_000
#: how far ahead of their slots :meth:`Scheduler.prepare` loads the projects of due schedules
PREPARE_AHEAD_MS = 60_000
#: Due schedules claimed, and their executions queued, per transaction: big enough that a burst costs a few
#: statements, small enough that the first executions of a burst are queued before the last are claimed.
FIRE_BATCH = 250
#: The ``schedules.cron`` column's width.
MAX_CRON_LENGTH = 255


# -- values ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """A flow's cron schedule. Times are epoch ms; ``next_fire`` -1 = no fire time left, ``last_fire``
    -1 = never fired (it holds the slot fired, not the moment the tick ran)."""

    id: int
    project_id: int
    project_name: str
    flow_id: str
    cron: str
    timezone: str
    enabled: bool
    options: ExecutionOptions
    sla: tuple[SlaRule, ...]
    sla_emails: tuple[str, ...]
    webhook: str | None
    submit_user: str
    submit_time: int
    next_fire: int
    last_fire: int
    #: Azkaban's endSchedTime: no slot after it fires (-1: none)
    end_time: int = -1
    #: Azkaban's backExecuteOnce: slots missed beyond the misfire threshold run once (True) or are skipped
    back_execute_once: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project_id": self.project_id,
            "project_name": self.project_name,
            "flow_id": self.flow_id,
            "cron": self.cron,
            "timezone": self.timezone,
            "enabled": self.enabled,
            "options": self.options.to_json(),
            "sla": [rule.to_json() for rule in self.sla],
            "sla_emails": list(self.sla_emails),
            "webhook": self.webhook,
            "submit_user": self.submit_user,
            "submit_time": self.submit_time,
            "next_fire": self.next_fire,
            "last_fire": self.last_fire,
            "end_time": self.end_time,
            "back_execute_once": self.back_execute_once,
        }


# -- the scheduler --------------------------------------------------------------------------------------------


class Scheduler:
    """Creates and changes schedules, fires the due ones (:meth:`tick`) and checks SLAs (:meth:`check_slas`).

    ``clock`` returns epoch ms (default ``store.clock``). ``sla_lookback_ms`` bounds how long after its end
    a finished execution is still checked, which matters only after the scheduler was down;
    ``webhook_timeout`` (seconds) is the SLA webhook's.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        clock: Callable[[], int] | None = None,
        misfire_threshold_ms: int = MISFIRE_THRESHOLD_MS,
        sla_lookback_ms: int = 3_600_000,
        webhook_timeout: float = 5.0,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock or store.clock
        self.misfire_threshold_ms = misfire_threshold_ms
        self.webhook_hosts = WebhookHosts.parse(settings.webhook_hosts)
        self.sla_checker = SlaChecker(store, self.clock, webhook_timeout, sla_lookback_ms, self.webhook_hosts, settings)
        self._retention_due = 0
        #: project id -> the version :meth:`prepare` loaded
        self._prepared: dict[int, int] = {}
        #: time.monotonic() of the latest pass of :meth:`run` (0: never), in memory shared with processes
        #: forked after this (the server's HTTP workers), so that any of them can tell the scheduler is alive.
        self.beat = RawValue(ctypes.c_double, 0.0)
        self.interval = 1.0
        from sudoless.flows.triggers.instances import Triggers  # it submits flows, as this module does

        #: flow triggers: their own loop (:meth:`Triggers.run`), so a slow dependency check never delays a slot
        self.triggers = Triggers(store, settings, self.clock)

    # -- schedules ------------------------------------------------------------------------------------------

    def schedule(
        self,
        project_name: str,
        flow_id: str,
        cron: str,
        timezone: str | None = None,
        options: ExecutionOptions | None = None,
        user: str = "sudoless",
        start_ms: int | None = None,
        end_ms: int = -1,
        back_execute_once: bool = True,
    ) -> Schedule:
        """Schedule ``flow_id`` with a Quartz ``cron`` in ``timezone``, replacing its existing schedule.

        ``timezone`` None is the server's (the ``timezone`` setting, Azkaban's ``default.timezone.id``).
        ``end_ms`` (epoch ms, -1 none) is Azkaban's ``endSchedTime``: no slot after it fires.
        ``back_execute_once`` is Azkaban's ``backExecuteOnce``: slots missed by more than the misfire
        threshold (the scheduler was down) run once, for the latest of them, or (False, Azkaban's
        default) are skipped.

        SLA rules in ``options.sla`` become the schedule's SLA; without them an existing SLA is kept.
        ``start_ms`` (epoch ms) makes the first fire the first slot at or after it instead of after now:
        a period schedule converted to cron starts at its first time, not one period earlier.
        A locked flow cannot be scheduled (:class:`FlowLockedError`), as in Azkaban.
        """
        expression = CronExpression.parse(cron, timezone or self.settings.zone)
        if len(expression.text) > MAX_CRON_LENGTH:
            raise InputError(
                f"cron expression of {len(expression.text)} characters: at most {MAX_CRON_LENGTH} "
                "are stored; shorten the lists in it (ranges and steps say the same in less)"
            )
        now = self.clock()
        unbounded = next_after(expression, now if start_ms is None or start_ms <= now else start_ms - 1)
        first = _until(unbounded, end_ms)
        if first < 0 <= unbounded:
            raise InputError(
                f"end time {stamp(end_ms)} is before the first fire time {stamp(unbounded)}; "
                "the schedule would never run (give a later endSchedTime)"
            )
        if first < 0:
            raise InputError(
                f"cron expression '{expression.text}' has no fire time after {stamp(now)}; "
                "it would never run (check the year field)"
            )
        project = self._project(project_name)
        if flow_id not in project.flows or project.flows[flow_id][0]:
            raise NotFoundError(f"Flow {flow_id} cannot be found in project {project_name}")
        if self.store.project_settings.flow_lock(project.project_id, flow_id) is not None:
            raise FlowLockedError(f"Flow {flow_id} in project {project_name} is locked.")
        options = options or ExecutionOptions(parallel=self.settings.parallel)
        # notification webhooks (the flow's and the request's) must go to listed hosts: refused now, clearly
        notify = project.flows[flow_id][1].get("notify") or {}
        for url in (*(notify.get("webhooks") or ()), *options.webhooks):
            self.webhook_hosts.check(url, "notify.webhooks URL")
        values: dict[str, Any] = {
            "cron": expression.text,
            "timezone": expression.tz.key,
            "enabled": True,
            "submit_user": user,
            "submit_time": now,
            "next_fire": first,
            "end_time": end_ms,
            "back_execute_once": back_execute_once,
            "options": replace(options, sla=(), sla_emails=(), sla_webhook=None).to_json(),
        }
        if options.sla:
            rules = tuple(SlaRule.from_json(rule) for rule in options.sla)
            if options.sla_webhook:
                self.webhook_hosts.check(options.sla_webhook, "SLA webhook")
            self._check_jobs(project, flow_id, rules)
            values["sla"] = _sla_json(rules, options.sla_emails, options.sla_webhook)
        schedule_id = self.store.schedules.upsert(project.project_id, flow_id, values)
        log.info(
            "scheduled %s.%s (schedule %d) with '%s' in %s; next fire %s",
            project_name,
            flow_id,
            schedule_id,
            expression.text,
            expression.tz.key,
            stamp(first),
        )
        return self.get(schedule_id)

    def remove(self, schedule_id: int) -> Schedule:
        """Delete a schedule; returns what it was."""
        schedule = self.get(schedule_id)
        if not self.store.schedules.delete(schedule_id):
            raise NotFoundError(f"Schedule with ID {schedule_id} does not exist")
        log.info("removed schedule %d of %s.%s", schedule_id, schedule.project_name, schedule.flow_id)
        return schedule

    def get(self, schedule_id: int) -> Schedule:
        row = self.store.schedules.get(schedule_id)
        if row is None:
            raise NotFoundError(f"Schedule with ID {schedule_id} does not exist")
        return _schedule(row)

    def for_flow(self, project_name: str | int, flow_id: str) -> Schedule | None:
        """The schedule of a flow, by project name (or id); None when the flow has none."""
        row = self.store.schedules.for_flow(project_name, flow_id)
        return _schedule(row) if row else None

    def list(self, project_name: str | int | None = None) -> builtins.list[Schedule]:
        """Schedules of active projects (of one project, by name or id), oldest first."""
        return [_schedule(row) for row in self.store.schedules.all(project_name)]

    def set_enabled(self, schedule_id: int, enabled: bool) -> Schedule:
        """Pause or resume a schedule; resuming continues from the next slot after now."""
        schedule = self.get(schedule_id)
        values: dict[str, Any] = {"enabled": enabled}
        if enabled and not schedule.enabled:
            values["next_fire"] = _until(
                next_after(CronExpression.parse(schedule.cron, schedule.timezone), self.clock()), schedule.end_time
            )
        self.store.schedules.update(schedule_id, values)
        return self.get(schedule_id)

    def set_sla(
        self,
        schedule_id: int,
        rules: Iterable[SlaRule | str | Mapping[str, Any]],
        emails: Iterable[str] | str = (),
        webhook: str | None = None,
    ) -> Schedule:
        """Replace the SLA of a schedule; no rules, emails or webhook removes it.

        Rules may be :class:`SlaRule`, Azkaban setting strings or JSON; ``emails`` may be one string split
        on commas, semicolons and whitespace, as Azkaban's ``slaEmails``. Job rules must name a job of
        the flow (nested ids for embedded flows).
        """
        schedule = self.get(schedule_id)
        parsed = tuple(_rule(rule) for rule in rules)
        if parsed:
            self._check_jobs(self._project(schedule.project_name), schedule.flow_id, parsed)
        addresses = parse_emails(emails)
        if webhook is not None and not webhook.strip():
            webhook = None
        if webhook is not None:
            self.webhook_hosts.check(webhook, "SLA webhook")  # an http(s) URL to a host an admin listed
        sla = (
            _sla_json(parsed, addresses, webhook.strip() if webhook else None)
            if parsed or addresses or webhook
            else None
        )
        self.store.schedules.update(schedule_id, {"sla": sla})
        return self.get(schedule_id)

    def job_ids(self, schedule_id: int) -> builtins.list[str]:
        """The nested ids of every job of the scheduled flow (Azkaban's ``slaInfo`` ``allJobNames``)."""
        schedule = self.get(schedule_id)
        return _job_ids(self._project(schedule.project_name), schedule.flow_id)

    def _project(self, project_name: str) -> ProjectFlows:
        project = self.store.schedules.project_flows(project_name)
        if project is None:
            raise NotFoundError(f"Project {project_name} does not exist")
        return project

    def _check_jobs(self, project: ProjectFlows, flow_id: str, rules: Iterable[SlaRule]) -> None:
        jobs = set(_job_ids(project, flow_id))
        for rule in rules:
            if rule.job and rule.job not in jobs:
                raise InputError(
                    f"SLA rule for job '{rule.job}': flow {flow_id} has no such job "
                    f"(jobs: {', '.join(sorted(jobs)) or 'none'}; embedded ones as sub:job)"
                )

    # -- firing ---------------------------------------------------------------------------------------------

    def tick(self, now_ms: int | None = None) -> builtins.list[int]:
        """Fire every enabled schedule that is due at ``now_ms`` (default: the clock); the exec ids submitted.

        In batches of :data:`FIRE_BATCH`: each batch's slots are claimed in one transaction and their
        executions queued in one more (:func:`~sudoless.flows.executions.submit_flows`), so a thousand
        schedules due in the same second cost a few dozen statements, not several transactions each.
        """
        now = self.clock() if now_ms is None else now_ms
        plans: builtins.list[_Plan] = []
        for row in self.store.schedules.due(now):
            try:
                plans.append(self._plan(row, now))
            except Exception:
                log.exception("schedule %d (%s.%s): firing failed", row.id, row.project_name, row.flow_id)
        submitted: builtins.list[int] = []
        for start in range(0, len(plans), FIRE_BATCH):
            batch = plans[start : start + FIRE_BATCH]
            try:
                won = self.store.schedules.claim_fires([plan.claim for plan in batch])
            except Exception:
                log.exception("scheduler: claiming %d due schedules failed; they stay due", len(batch))
                continue
            fires: builtins.list[tuple[_Plan, int]] = []
            for plan in batch:
                if plan.row.id not in won:
                    log.debug("%s: slot %s was claimed elsewhere", plan.name, stamp(plan.claim.expected_next))
                    continue
                for level, message, *args in plan.notes:
                    log.log(level, message, plan.name, *args)
                fires.extend((plan, slot) for slot in plan.slots)
            submitted.extend(self._submit(fires))
        return submitted

    def _plan(self, row: ScheduleRow, now: int) -> _Plan:
        """What firing ``row`` at ``now`` means: the slots to fire, where its fire times move on to (one
        claim for them all) and what to log once the claim is won."""
        name = f"schedule {row.id} ({row.project_name}.{row.flow_id})"
        try:
            expression = _parsed(row.cron, row.timezone)
        except InputError as error:
            log.error("%s: stored expression no longer parses (%s); it will not fire until rescheduled", name, error)
            return _Plan(row, name, FireClaim(row.id, row.next_fire, -1, row.last_fire), [], [])
        slots: builtins.list[int] = []
        notes: builtins.list[tuple[Any, ...]] = []
        expected, last = row.next_fire, row.last_fire
        threshold = self.misfire_threshold_ms / 1000
        while 0 <= expected <= now:
            late = now - expected > self.misfire_threshold_ms
            if late:
                slot = _latest_fire(expression, expected, now)
                following = next_after(expression, now)
            else:
                slot, following = expected, next_after(expression, expected)
            following = _until(following, row.end_time)
            if late:  # what the log says of it (only then: stamping each slot of a burst costs)
                missed = (stamp(expected), stamp(slot), threshold)
                if not row.back_execute_once:
                    text = "skipped, as backExecuteOnce is off; next fire %s"
                    notes.append((logging.WARNING, _MISSED + text, *missed, stamp(following)))
                    expected = following
                    continue
                if slot != expected:
                    text = "firing once, for %s; next fire %s"
                    notes.append((logging.WARNING, _MISSED + text, *missed, stamp(slot), stamp(following)))
                else:
                    text = "%s: slot %s is late by %g s (misfire threshold %g s); firing it once now"
                    notes.append((logging.WARNING, text, stamp(slot), (now - slot) / 1000, threshold))
            slots.append(slot)
            last, expected = slot, following
        return _Plan(row, name, FireClaim(row.id, row.next_fire, expected, last), slots, notes)

    def _submit(self, fires: builtins.list[tuple[_Plan, int]]) -> builtins.list[int]:
        """Queue the executions of claimed slots in one batch; the exec ids. A slot refused (a run in
        progress with ``skip``, a locked flow, an owner without WRITE) is logged and over."""
        requests: builtins.list[tuple[_Plan, int, FlowSubmission]] = []
        for plan, slot in fires:
            row = plan.row
            options = ExecutionOptions.from_json(row.options)
            rules, emails, webhook = _sla_parts(row.sla)
            if rules:
                options = replace(
                    options, sla=tuple(rule.to_json() for rule in rules), sla_emails=emails, sla_webhook=webhook
                )
            try:
                self._check_owner(row, options)
            except PermissionDenied as error:
                log.error(
                    "%s: slot %s refused: the schedule's owner '%s' has no WRITE on project %s any more, and "
                    "its runtime properties change what jobs run (%s); reschedule it without them, or grant "
                    "WRITE again",
                    plan.name,
                    stamp(slot),
                    row.submit_user,
                    row.project_name,
                    error,
                )
                continue
            except Exception:
                log.exception("%s: slot %s not run", plan.name, stamp(slot))
                continue
            submission = FlowSubmission(
                row.project_id, row.project_name, row.flow_id, options, row.submit_user, source="schedule"
            )
            requests.append((plan, slot, submission))
        if not requests:
            return []
        try:
            outcomes = submit_flows(self.store, self.settings, [request for _, _, request in requests])
        except Exception:
            # the batch's transaction failed: each alone, so that one bad request does not cost the others
            log.exception("scheduler: queueing %d executions at once failed; queueing them one by one", len(requests))
            outcomes = []
            for _, _, request in requests:
                try:
                    outcomes.extend(submit_flows(self.store, self.settings, [request]))
                except Exception as error:  # noqa: BLE001 - logged below, with the slot it cost
                    outcomes.append(error)
        submitted: builtins.list[int] = []
        for (plan, slot, _), outcome in zip(requests, outcomes, strict=True):
            if isinstance(outcome, StateError):
                # concurrentOption=skip with a run in progress lands here, as do the per-flow run cap and
                # a project without an uploaded version: the slot is over either way.
                log.warning("%s: slot %s skipped: %s", plan.name, stamp(slot), outcome)
            elif isinstance(outcome, SudolessError):
                log.error("%s: slot %s not run: %s", plan.name, stamp(slot), outcome)
            elif isinstance(outcome, Exception):
                log.error("%s: slot %s not run", plan.name, stamp(slot), exc_info=outcome)
            else:
                log.info("%s: fired slot %s as execution %d", plan.name, stamp(slot), outcome)
                submitted.append(outcome)
        return submitted

    def _check_owner(self, row: ScheduleRow, options: ExecutionOptions) -> None:
        """PermissionDenied when the schedule's runtime properties change what a job runs and its owner (the
        user who saved it) has no WRITE on the project now: a right lost since must not keep working through
        a schedule. An owner that is no account of this database has no WRITE."""
        if not options.runtime:
            return
        from sudoless.accounts.permissions import Permission
        from sudoless.accounts.users import Accounts
        from sudoless.flows.overrides import check_runtime

        accounts = Accounts(self.store, self.settings)
        try:
            owner = accounts.get_user(row.submit_user)
        except NotFoundError:
            writes = False
        else:
            writes = accounts.has_permission(owner, row.project_id, Permission.WRITE)
        if not writes:
            version = self.store.projects.current_version(row.project_id)
            if version:
                check_runtime(
                    self.store, self.settings, row.project_id, version, row.project_name, row.flow_id, options.runtime
                )

    def prepare(self, now_ms: int | None = None) -> builtins.list[int]:
        """Load the versions of the projects with a schedule due within :data:`PREPARE_AHEAD_MS` (unpacked
        and parsed once per process, :mod:`sudoless.flows.versions`), so that their slots find them ready;
        the project ids loaded now. The first firing of a project after a start or an upload otherwise
        pays for it in its slot: 50 projects took seconds on a loaded machine (benchmarks/README.md)."""
        now = self.clock() if now_ms is None else now_ms
        loaded: builtins.list[int] = []
        for project_id, name, version in self.store.schedules.upcoming_versions(now + PREPARE_AHEAD_MS):
            if not version or self._prepared.get(project_id) == version:
                continue
            try:
                load_version(self.store, self.settings, project_id, version, name)
            except (SudolessError, OSError) as error:  # its slot will say so, as it did without this
                log.debug("project %s version %d could not be loaded ahead: %s", name, version, error)
            self._prepared[project_id] = version
            loaded.append(project_id)
        return loaded

    # -- SLA ------------------------------------------------------------------------------------------------

    def check_slas(self, now_ms: int | None = None) -> builtins.list[str]:
        """Report SLA misses not reported before (once per execution and rule); returns their descriptions."""
        return self.sla_checker.check(now_ms)

    # -- retention ------------------------------------------------------------------------------------------

    def enforce_retention(self, now_ms: int | None = None) -> builtins.list[int]:
        """Remove finished executions' directories older than ``execution_dir_retention_days`` and their logs
        older than ``execution_log_retention_days``, at most once per :data:`RETENTION_EVERY_MS`; returns the
        executions whose directory went."""
        from sudoless.flows.retention import remove_expired_logs, remove_expired_workdirs

        now = self.clock() if now_ms is None else now_ms
        if now < self._retention_due:
            return []
        self._retention_due = now + RETENTION_EVERY_MS
        removed = remove_expired_workdirs(self.store, self.settings, now)
        if removed:
            log.info("removed the directories of %d executions past their retention", len(removed))
        logs = remove_expired_logs(self.store, self.settings, now)
        if logs:
            log.info("removed the logs of %d executions past their retention", len(logs))
        return removed

    # -- the loop -------------------------------------------------------------------------------------------

    def alive(self) -> bool:
        """Whether :meth:`run` made a pass recently (within three intervals, and at most 30 s ago)."""
        last = self.beat.value
        return last > 0 and time.monotonic() - last <= max(30.0, 3 * self.interval)

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Tick, load the projects of coming slots (:meth:`prepare`) and check SLAs every ``interval`` seconds
        until ``stop`` is set; errors are logged, not raised.

        Between passes it sleeps until the next slot when that comes sooner than ``interval``, so a slot
        fires as it falls due rather than up to ``interval`` later (the target: within 1 s of the slot).
        """
        log.info("scheduler running every %g s", interval)
        self.interval = interval
        checked = float("-inf")
        while not stop.is_set():
            self.beat.value = time.monotonic()
            steps: builtins.list[tuple[str, Callable[[], object]]] = [("tick", self.tick)]
            if time.monotonic() - checked >= interval:
                checked = time.monotonic()
                steps += [
                    ("preparation", self.prepare),
                    ("SLA check", self.check_slas),
                    ("retention", self.enforce_retention),
                ]
            for name, step in steps:
                try:
                    step()
                except Exception:
                    log.exception("scheduler %s failed; retrying in %g s", name, interval)
            stop.wait(self._until_next_slot(interval))
        log.info("scheduler stopped")

    def _until_next_slot(self, interval: float) -> float:
        """Seconds to sleep: until the earliest fire time when it is in the next ``interval``, else
        ``interval``; a schedule still due after a tick (it failed, and logged why) waits ``interval``."""
        try:
            upcoming = self.store.schedules.next_due()
        except Exception:
            log.exception("scheduler: reading the next fire time failed")
            return interval
        if upcoming is None:
            return interval
        wait = (upcoming - self.clock()) / 1000
        # a millisecond more: the event's wait runs on the monotonic clock, the slot on the wall clock
        return interval if wait <= 0 else min(wait + 0.001, interval)


# -- helpers --------------------------------------------------------------------------------------------------


#: stored expressions parsed once per process, not once per firing (a thousand due at once took 0.2 s)
_parsed = functools.lru_cache(maxsize=4096)(CronExpression.parse)

_MISSED = "%s: missed its slots from %s to %s (late by more than the misfire threshold of %g s); "


@dataclass(frozen=True)
class _Plan:
    """A due schedule's firing in one tick: its claim, the slots to fire once it is won, and the log lines
    (level, message, arguments after the schedule's name) that go with them."""

    row: ScheduleRow
    name: str
    claim: FireClaim
    slots: builtins.list[int]
    notes: builtins.list[tuple[Any, ...]]


def _rule(rule: SlaRule | str | Mapping[str, Any]) -> SlaRule:
    if isinstance(rule, SlaRule):
        return rule
    return SlaRule.parse(rule) if isinstance(rule, str) else SlaRule.from_json(rule)


def _sla_json(rules: Iterable[SlaRule], emails: Iterable[str], webhook: str | None) -> dict[str, Any]:
    return {"rules": [rule.to_json() for rule in rules], "emails": list(emails), "webhook": webhook}


def sla_rules(row: ScheduleRow | ShownSchedule) -> tuple[SlaRule, ...]:
    """A stored schedule's SLA rules, for a reader that needs no more of it (the schedules page lists rows
    without turning each one's options into :class:`ExecutionOptions`)."""
    return _sla_parts(row.sla)[0]


def _sla_parts(data: Mapping[str, Any] | None) -> tuple[tuple[SlaRule, ...], tuple[str, ...], str | None]:
    if not data:
        return (), (), None
    rules = tuple(SlaRule.from_json(rule) for rule in data.get("rules") or ())
    return rules, tuple(data.get("emails") or ()), data.get("webhook") or None


def _until(fire: int, end_ms: int) -> int:
    """``fire``, or -1 (no fire left) when it is after the schedule's end time."""
    return -1 if end_ms >= 0 and fire > end_ms else fire


def _schedule(row: ScheduleRow) -> Schedule:
    rules, emails, webhook = _sla_parts(row.sla)
    return Schedule(
        id=row.id,
        project_id=row.project_id,
        project_name=row.project_name,
        flow_id=row.flow_id,
        cron=row.cron,
        timezone=row.timezone,
        enabled=row.enabled,
        options=ExecutionOptions.from_json(row.options),
        sla=rules,
        sla_emails=emails,
        webhook=webhook,
        submit_user=row.submit_user,
        submit_time=row.submit_time,
        next_fire=row.next_fire,
        last_fire=row.last_fire,
        end_time=row.end_time,
        back_execute_once=row.back_execute_once,
    )


def _job_ids(project: ProjectFlows, flow_id: str) -> builtins.list[str]:
    ids: builtins.list[str] = []

    def walk(current: str, prefix: str) -> None:
        for node in project.flows[current][1]["nodes"]:
            ids.append(prefix + node["name"])
            if node.get("subflow") in project.flows:
                walk(node["subflow"], f"{prefix}{node['name']}:")

    if flow_id in project.flows:
        walk(flow_id, "")
    return ids


def _latest_fire(expression: CronExpression, earliest: int, now: int) -> int:
    """The last fire time in ``[earliest, now]`` (``earliest`` is one), without walking every slot between.

    Looks back from ``now`` over windows that double in size until one holds a fire time, then walks
    forward inside that window only: a per-second schedule after a week of downtime costs a few steps.
    """
    window = 1000
    while True:
        after = max(now - window, earliest - 1)
        slot = next_after(expression, after)
        if 0 <= slot <= now:
            break
        if after == earliest - 1:
            return earliest
        window *= 2
    while 0 <= (following := next_after(expression, slot)) <= now:
        slot = following
    return slot
