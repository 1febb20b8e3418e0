"""Cron schedules that submit flow executions, and the SLA rules checked against what they submit.

One :class:`Scheduler` per server process runs :meth:`Scheduler.run` in a thread; several processes may
share one database. Time comes from an injected clock (epoch ms), so tests move time instead of waiting.

Decisions, where Azkaban leaves room or we depart from it:

* **One schedule per flow, replaced in place.** :meth:`Scheduler.schedule` on a flow that already has a
  schedule updates that row and keeps its id, as Azkaban's ``scheduleCronFlow`` does. The cron, zone,
  options, user and submit time are replaced, the schedule is enabled again and its next fire time
  recomputed from now; its SLA settings and last fire time are kept (changing *when* a flow runs should
  not silently drop its alerting). A schedule with no fire time left keeps its row with ``next_fire=-1``.
* **Each slot fires at most once.** A tick reads the due schedules, then claims each slot with a
  conditional UPDATE (``WHERE id=? AND next_fire=<slot>``) that moves ``next_fire`` on; only the process
  whose UPDATE changed the row submits. Two servers, or a server restarted mid-tick, never fire a slot
  twice. The price: a crash between the claim and the submission loses that one slot.
* **Misfires fire once.** A slot that is due by at most the misfire threshold (default 60 s) fires as
  usual, and so does each later slot that is also due within it. When the oldest due slot is later than
  that (the server was down, or the schedule's project was busy for long), the missed slots are not run
  one by one: the schedule fires once, for the most recent missed slot, and continues from the first
  slot after now (Quartz's ``MISFIRE_INSTRUCTION_FIRE_ONCE_NOW``, Azkaban 4's ``backExecuteOnce``). The
  log says which slots were missed. A disabled schedule does not fire; enabling it again starts from the
  next slot after now, so a pause never turns into a burst.
* **concurrentOption** is the submission's: ``skip`` (the default) refuses a slot while the flow still
  runs, and the scheduler logs the skip, as Azkaban does; ``ignore`` runs in parallel; ``pipeline`` is
  submitted and the runner makes it wait.

SLA rules belong to a schedule and travel in the options of every execution it fires (``sla``,
``sla_emails``, ``sla_webhook``), so a check needs the execution alone. A rule is measured from the
execution's start (an execution that has not started is not checked) and is decided

* at the deadline (start + duration) while the flow runs: missed unless its target (the flow, or the job
  by nested id, latest attempt) had finished (``FINISH``) or succeeded (``SUCCESS``) by then;
* as soon as the flow ends, when that is earlier: the outcome is known then, so a flow that fails
  within a ``SUCCESS`` window is reported at once instead of at the deadline.

A miss is reported once per (execution, rule), however many schedulers check: it is recorded in the
execution's options under a row lock. It is logged (Python log now; the execution's flow log once the
execution has ended, because the runner owns the flow log's byte offsets while it runs and a second
writer would collide with them); ``EMAIL`` and ``WEBHOOK`` rules alert: the JSON description is POSTed to
the schedule's webhook if it has one (5 s timeout; failures are logged, never raised). sudoless sends no
mail itself: the addresses are in the log line and the webhook payload, for a relay. ``KILL`` cancels the
execution; for a job rule too, the whole execution is cancelled (a job cannot be killed alone).
"""

from __future__ import annotations

import builtins
import http.client
import json
import logging
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sudoless.config import Settings
from sudoless.errors import InputError, NotFoundError, StateError, SudolessError
from sudoless.flows.executions import submit_flow
from sudoless.flows.joblog import LogWriter
from sudoless.flows.model import FINISHED, SUCCEEDED_LIKE, TERMINAL_FLOW, Status
from sudoless.flows.options import ExecutionOptions
from sudoless.flows.schedule import CronExpression
from sudoless.flows.store import ExecutionRecord, JobRunRecord, Store
from sudoless.flows.store.schedules import ProjectFlows, ScheduleRow

__all__ = ["MISFIRE_THRESHOLD_MS", "SLA_ACTIONS", "Schedule", "Scheduler", "SlaRule"]

log = logging.getLogger(__name__)

MISFIRE_THRESHOLD_MS = 60_000
SLA_ACTIONS = ("EMAIL", "KILL", "WEBHOOK")
_SLA_KINDS = {"SUCCESS": "SUCCESS", "SUCCEED": "SUCCESS", "FINISH": "FINISH"}
_DURATION = re.compile(r"([0-9]+):([0-9]+)")
_EMAIL_SEPARATORS = re.compile(r"[\s,;]+")


# -- values ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SlaRule:
    """``job`` (``""`` = the whole flow, else a nested job id) must succeed (``SUCCESS``) or finish
    (``FINISH``) within ``duration_ms`` of the execution's start; if not, ``actions`` happen.

    ``kind`` also accepts Azkaban's ``SUCCEED``; actions are a subset of ``EMAIL``, ``KILL``, ``WEBHOOK``,
    at least one. Construction normalises case and order and raises :class:`InputError` on bad values.
    """

    job: str
    kind: str
    duration_ms: int
    actions: tuple[str, ...]

    def __post_init__(self) -> None:
        kind = _SLA_KINDS.get(str(self.kind).strip().upper())
        if kind is None:
            raise InputError(f"SLA rule type {self.kind!r}: use SUCCESS (must succeed within) or FINISH "
                             "(must finish within)")
        if isinstance(self.duration_ms, bool) or not isinstance(self.duration_ms, int) or self.duration_ms < 0:
            raise InputError(f"SLA duration {self.duration_ms!r}: expected a whole number of milliseconds >= 0")
        given = self.actions.split(",") if isinstance(self.actions, str) else list(self.actions)
        names = {str(action).strip().upper() for action in given}
        unknown = sorted(names - set(SLA_ACTIONS))
        if unknown:
            raise InputError(f"SLA action {unknown[0]!r}: use {', '.join(SLA_ACTIONS)}")
        if not names:
            raise InputError("Unable to create SLA as there is no action set")
        object.__setattr__(self, "job", str(self.job).strip())
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "actions", tuple(action for action in SLA_ACTIONS if action in names))

    @classmethod
    def parse(cls, text: str) -> SlaRule:
        """One Azkaban ``setSla`` setting, ``job,rule,H:MM,emailAction,killAction`` (``,SUCCESS,2:30,true,false``).

        An empty job means the flow; ``rule`` is ``SUCCESS``/``SUCCEED`` or ``FINISH``; the actions are
        ``true``/``false`` and at least one must be true (Azkaban's rule).
        """
        parts = [part.strip() for part in str(text).split(",")]
        try:
            if len(parts) != 5:
                raise InputError(f"expected 5 comma-separated fields, got {len(parts)}")
            job, kind, duration, email, kill = parts
            actions = tuple(name for name, flag in (("EMAIL", email), ("KILL", kill)) if _flag(name, flag))
            return cls(job, kind, _parse_duration(duration), actions)
        except InputError as error:
            raise InputError(f"Error parsing SLA setting '{text}': {error} (expected "
                             "job,rule,duration,emailAction,killAction as in ',SUCCESS,2:30,true,false')") from None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SlaRule:
        try:
            return cls(str(data.get("job") or ""), str(data["kind"]), int(data["duration_ms"]),
                       tuple(data.get("actions") or ()))
        except (KeyError, TypeError, ValueError) as error:
            raise InputError(f"SLA rule {dict(data)!r}: expected job, kind, duration_ms and actions ({error})"
                             ) from None

    def to_json(self) -> dict[str, Any]:
        return {"job": self.job, "kind": self.kind, "duration_ms": self.duration_ms, "actions": list(self.actions)}

    @property
    def key(self) -> str:
        """Identifies the rule in an execution's record of reported misses."""
        return f"{self.kind}:{self.duration_ms}:{self.job}"

    @property
    def duration_text(self) -> str:
        """``H:MM`` as Azkaban writes durations; seconds when the duration is not whole minutes."""
        if self.duration_ms % 60_000:
            return f"{self.duration_ms / 1000:g} s"
        minutes = self.duration_ms // 60_000
        return f"{minutes // 60}:{minutes % 60:02d}"

    def describe(self) -> str:
        target = f"job {self.job}" if self.job else "the flow"
        verb = "succeed" if self.kind == "SUCCESS" else "finish"
        return f"{target} must {verb} within {self.duration_text}"


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

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "project_id": self.project_id, "project_name": self.project_name,
                "flow_id": self.flow_id, "cron": self.cron, "timezone": self.timezone, "enabled": self.enabled,
                "options": self.options.to_json(), "sla": [rule.to_json() for rule in self.sla],
                "sla_emails": list(self.sla_emails), "webhook": self.webhook, "submit_user": self.submit_user,
                "submit_time": self.submit_time, "next_fire": self.next_fire, "last_fire": self.last_fire}


# -- the scheduler --------------------------------------------------------------------------------------------

class Scheduler:
    """Creates and changes schedules, fires the due ones (:meth:`tick`) and checks SLAs (:meth:`check_slas`).

    ``clock`` returns epoch ms (default ``store.clock``). ``sla_lookback_ms`` bounds how long after its end
    a finished execution is still checked, which matters only after the scheduler was down.
    """

    def __init__(self, store: Store, settings: Settings, clock: Callable[[], int] | None = None,
                 misfire_threshold_ms: int = MISFIRE_THRESHOLD_MS, sla_lookback_ms: int = 3_600_000,
                 webhook_timeout: float = 5.0) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock or store.clock
        self.misfire_threshold_ms = misfire_threshold_ms
        self.sla_lookback_ms = sla_lookback_ms
        self.webhook_timeout = webhook_timeout

    # -- schedules ------------------------------------------------------------------------------------------

    def schedule(self, project_name: str, flow_id: str, cron: str, timezone: str = "UTC",
                 options: ExecutionOptions | None = None, user: str = "sudoless") -> Schedule:
        """Schedule ``flow_id`` with a Quartz ``cron`` in ``timezone``, replacing its existing schedule.

        SLA rules in ``options.sla`` become the schedule's SLA; without them an existing SLA is kept.
        """
        expression = CronExpression.parse(cron, timezone)
        now = self.clock()
        first = _next_after(expression, now)
        if first < 0:
            raise InputError(f"cron expression '{expression.text}' has no fire time after {_stamp(now)}; "
                             "it would never run (check the year field)")
        project = self._project(project_name)
        if flow_id not in project.flows or project.flows[flow_id][0]:
            raise NotFoundError(f"Flow {flow_id} cannot be found in project {project_name}")
        options = options or ExecutionOptions(parallel=self.settings.parallel)
        values: dict[str, Any] = {
            "cron": expression.text, "timezone": expression.tz.key, "enabled": True, "submit_user": user,
            "submit_time": now, "next_fire": first,
            "options": replace(options, sla=(), sla_emails=(), sla_webhook=None).to_json(),
        }
        if options.sla:
            rules = tuple(SlaRule.from_json(rule) for rule in options.sla)
            self._check_jobs(project, flow_id, rules)
            values["sla"] = _sla_json(rules, options.sla_emails, options.sla_webhook)
        schedule_id = self.store.schedules.upsert(project.project_id, flow_id, values)
        log.info("scheduled %s.%s (schedule %d) with '%s' in %s; next fire %s", project_name, flow_id,
                 schedule_id, expression.text, expression.tz.key, _stamp(first))
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
            values["next_fire"] = _next_after(CronExpression.parse(schedule.cron, schedule.timezone), self.clock())
        self.store.schedules.update(schedule_id, values)
        return self.get(schedule_id)

    def set_sla(self, schedule_id: int, rules: Iterable[SlaRule | str | Mapping[str, Any]],
                emails: Iterable[str] | str = (), webhook: str | None = None) -> Schedule:
        """Replace the SLA of a schedule; no rules, emails or webhook removes it.

        Rules may be :class:`SlaRule`, Azkaban setting strings or JSON; ``emails`` may be one string split
        on commas, semicolons and whitespace, as Azkaban's ``slaEmails``. Job rules must name a job of
        the flow (nested ids for embedded flows).
        """
        schedule = self.get(schedule_id)
        parsed = tuple(_rule(rule) for rule in rules)
        if parsed:
            self._check_jobs(self._project(schedule.project_name), schedule.flow_id, parsed)
        addresses = _emails(emails)
        if webhook is not None and not webhook.strip():
            webhook = None
        if webhook is not None and not webhook.strip().lower().startswith(("http://", "https://")):
            raise InputError(f"SLA webhook {webhook!r}: expected an http:// or https:// URL")
        sla = _sla_json(parsed, addresses, webhook.strip() if webhook else None) \
            if parsed or addresses or webhook else None
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
                raise InputError(f"SLA rule for job '{rule.job}': flow {flow_id} has no such job "
                                 f"(jobs: {', '.join(sorted(jobs)) or 'none'}; embedded ones as sub:job)")

    # -- firing ---------------------------------------------------------------------------------------------

    def tick(self, now_ms: int | None = None) -> builtins.list[int]:
        """Fire every enabled schedule that is due at ``now_ms`` (default: the clock); the exec ids submitted."""
        now = self.clock() if now_ms is None else now_ms
        submitted: builtins.list[int] = []
        for row in self.store.schedules.due(now):
            try:
                submitted.extend(self._fire(row, now))
            except Exception:
                log.exception("schedule %d (%s.%s): firing failed", row.id, row.project_name, row.flow_id)
        return submitted

    def _fire(self, row: ScheduleRow, now: int) -> builtins.list[int]:
        name = f"schedule {row.id} ({row.project_name}.{row.flow_id})"
        try:
            expression = CronExpression.parse(row.cron, row.timezone)
        except InputError as error:
            log.error("%s: stored expression no longer parses (%s); it will not fire until rescheduled",
                      name, error)
            self.store.schedules.claim_fire(row.id, row.next_fire, -1, row.last_fire)
            return []
        submitted = []
        expected = row.next_fire
        while 0 <= expected <= now:
            if now - expected > self.misfire_threshold_ms:
                slot = _latest_fire(expression, expected, now)
                following = _next_after(expression, now)
            else:
                slot, following = expected, _next_after(expression, expected)
            if not self.store.schedules.claim_fire(row.id, expected, following, slot):
                log.debug("%s: slot %s was claimed elsewhere", name, _stamp(expected))
                break
            if slot != expected:
                log.warning("%s: missed its slots from %s to %s (late by more than the misfire threshold of "
                            "%g s); firing once, for %s; next fire %s", name, _stamp(expected), _stamp(slot),
                            self.misfire_threshold_ms / 1000, _stamp(slot), _stamp(following))
            elif now - expected > self.misfire_threshold_ms:
                log.warning("%s: slot %s is late by %g s (misfire threshold %g s); firing it once now", name,
                            _stamp(slot), (now - slot) / 1000, self.misfire_threshold_ms / 1000)
            exec_id = self._submit(row, slot, name)
            if exec_id is not None:
                submitted.append(exec_id)
            expected = following
        return submitted

    def _submit(self, row: ScheduleRow, slot: int, name: str) -> int | None:
        options = ExecutionOptions.from_json(row.options)
        rules, emails, webhook = _sla_parts(row.sla)
        if rules:
            options = replace(options, sla=tuple(rule.to_json() for rule in rules), sla_emails=emails,
                              sla_webhook=webhook)
        try:
            exec_id = submit_flow(self.store, self.settings, row.project_name, row.flow_id, options,
                                  row.submit_user, source="schedule")
        except StateError as error:
            # concurrentOption=skip with a run in progress lands here, as do the per-flow run cap and
            # a project without an uploaded version: the slot is over either way.
            log.warning("%s: slot %s skipped: %s", name, _stamp(slot), error)
            return None
        except SudolessError as error:
            log.error("%s: slot %s not run: %s", name, _stamp(slot), error)
            return None
        log.info("%s: fired slot %s as execution %d", name, _stamp(slot), exec_id)
        return exec_id

    # -- SLA ------------------------------------------------------------------------------------------------

    def check_slas(self, now_ms: int | None = None) -> builtins.list[str]:
        """Report SLA misses not reported before (once per execution and rule); returns their descriptions."""
        now = self.clock() if now_ms is None else now_ms
        reports: builtins.list[str] = []
        for record in self.store.schedules.sla_candidates(now - self.sla_lookback_ms):
            try:
                reports.extend(self._check_execution(record, now))
            except Exception:
                log.exception("SLA check of execution %d failed", record.id)
        return reports

    def _check_execution(self, record: ExecutionRecord, now: int) -> builtins.list[str]:
        options = ExecutionOptions.from_json(record.options)
        reported = record.options.get("sla_missed") or {}
        logged = record.options.get("sla_logged") or []
        reports = []
        runs: dict[str, JobRunRecord] | None = None
        for rule in (SlaRule.from_json(data) for data in options.sla):
            if rule.key in reported:
                continue
            if rule.job and runs is None:
                runs = {run.nested_id: run for run in self.store.job_runs(record.id)}  # latest attempt wins
            target = runs.get(rule.job) if rule.job and runs is not None else None
            if not _missed(rule, record, target, now):
                continue
            message = _miss_message(rule, record, target)
            if not self.store.schedules.record_sla_miss(record.id, rule.key, message):
                continue  # another scheduler reported it first
            log.warning("SLA missed: %s", message)
            reports.append(message)
            self._act(rule, record, options, message, now)
        if record.status in TERMINAL_FLOW and (reports or any(key not in logged for key in reported)):
            self._log_misses(record.id)
        return reports

    def _act(self, rule: SlaRule, record: ExecutionRecord, options: ExecutionOptions, message: str,
             now: int) -> None:
        if "KILL" in rule.actions and record.status not in TERMINAL_FLOW:
            try:
                self.store.request(record.id, "cancel")
                log.warning("SLA KILL: cancelling execution %d%s", record.id,
                            f" (the whole flow: rule on job {rule.job})" if rule.job else "")
            except StateError:
                log.info("SLA KILL: execution %d ended before it could be cancelled", record.id)
        if "EMAIL" in rule.actions and options.sla_emails:
            log.warning("SLA alert for %s (sudoless sends no mail; a webhook can relay it): %s",
                        ", ".join(options.sla_emails), message)
        if options.sla_webhook and ("EMAIL" in rule.actions or "WEBHOOK" in rule.actions):
            self._post(options.sla_webhook, {
                "event": "sla_missed", "message": message, "time": now, "execution_id": record.id,
                "project": record.project_name, "flow": record.flow_id, "job": rule.job or None,
                "rule": rule.kind, "duration_ms": rule.duration_ms, "start_time": record.start_time,
                "deadline": record.start_time + rule.duration_ms, "status": record.status.value,
                "actions": list(rule.actions), "emails": list(options.sla_emails)})

    def _post(self, url: str, payload: dict[str, Any]) -> None:
        request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.webhook_timeout) as response:
                response.read()
        except (OSError, ValueError, http.client.HTTPException) as error:  # URLError is an OSError
            log.warning("SLA webhook %s failed: %s", url, error)

    def _log_misses(self, exec_id: int) -> None:
        messages = self.store.schedules.take_unlogged_sla_misses(exec_id)
        if messages:
            writer = LogWriter(self.store, exec_id, "", 0, shared=True)
            for message in messages:
                writer.line(f"SLA missed: {message}", "WARN")
            writer.flush()

    # -- the loop -------------------------------------------------------------------------------------------

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Tick and check SLAs every ``interval`` seconds until ``stop`` is set; errors are logged, not raised."""
        log.info("scheduler running every %g s", interval)
        while not stop.is_set():
            for name, step in (("tick", self.tick), ("SLA check", self.check_slas)):
                try:
                    step()
                except Exception:
                    log.exception("scheduler %s failed; retrying in %g s", name, interval)
            stop.wait(interval)
        log.info("scheduler stopped")


# -- helpers --------------------------------------------------------------------------------------------------

def _flag(name: str, text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise InputError(f"{name.lower()}Action must be true or false, not {text!r}")
    return text.lower() == "true"


def _parse_duration(text: str) -> int:
    match = _DURATION.fullmatch(text)
    if not match:
        raise InputError(f"duration {text!r} is not H:MM (hours:minutes, as in 2:30)")
    return (int(match.group(1)) * 60 + int(match.group(2))) * 60_000


def _rule(rule: SlaRule | str | Mapping[str, Any]) -> SlaRule:
    if isinstance(rule, SlaRule):
        return rule
    return SlaRule.parse(rule) if isinstance(rule, str) else SlaRule.from_json(rule)


def _emails(emails: Iterable[str] | str) -> tuple[str, ...]:
    items = [emails] if isinstance(emails, str) else list(emails)
    found = [part for item in items for part in _EMAIL_SEPARATORS.split(item) if part]
    return tuple(dict.fromkeys(found))


def _sla_json(rules: Iterable[SlaRule], emails: Iterable[str], webhook: str | None) -> dict[str, Any]:
    return {"rules": [rule.to_json() for rule in rules], "emails": list(emails), "webhook": webhook}


def _sla_parts(data: Mapping[str, Any] | None) -> tuple[tuple[SlaRule, ...], tuple[str, ...], str | None]:
    if not data:
        return (), (), None
    rules = tuple(SlaRule.from_json(rule) for rule in data.get("rules") or ())
    return rules, tuple(data.get("emails") or ()), data.get("webhook") or None


def _schedule(row: ScheduleRow) -> Schedule:
    rules, emails, webhook = _sla_parts(row.sla)
    return Schedule(
        id=row.id, project_id=row.project_id, project_name=row.project_name, flow_id=row.flow_id, cron=row.cron,
        timezone=row.timezone, enabled=row.enabled, options=ExecutionOptions.from_json(row.options), sla=rules,
        sla_emails=emails, webhook=webhook, submit_user=row.submit_user, submit_time=row.submit_time,
        next_fire=row.next_fire, last_fire=row.last_fire)


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


def _instant(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _stamp(ms: int) -> str:
    return "never" if ms < 0 else f"{_instant(ms):%Y-%m-%d %H:%M:%S} UTC"


def _next_after(expression: CronExpression, ms: int) -> int:
    """The first fire time strictly after ``ms``, in epoch ms; -1 when none is left."""
    fire = expression.next_fire(_instant(ms))
    return -1 if fire is None else int(fire.timestamp()) * 1000


def _latest_fire(expression: CronExpression, earliest: int, now: int) -> int:
    """The last fire time in ``[earliest, now]`` (``earliest`` is one), without walking every slot between.

    Looks back from ``now`` over windows that double in size until one holds a fire time, then walks
    forward inside that window only: a per-second schedule after a week of downtime costs a few steps.
    """
    window = 1000
    while True:
        after = max(now - window, earliest - 1)
        slot = _next_after(expression, after)
        if 0 <= slot <= now:
            break
        if after == earliest - 1:
            return earliest
        window *= 2
    while 0 <= (following := _next_after(expression, slot)) <= now:
        slot = following
    return slot


def _missed(rule: SlaRule, record: ExecutionRecord, target: JobRunRecord | None, now: int) -> bool:
    """Whether ``rule`` is decided and missed for ``record`` at ``now`` (see the module docstring)."""
    if record.start_time < 0:
        return False
    deadline = record.start_time + rule.duration_ms
    flow_over = record.status in TERMINAL_FLOW
    if not flow_over and now < deadline:
        return False
    if rule.job:
        status = target.status if target else None
        end = -1
        if target is not None:
            # a job skipped or cancelled without running has no end time; it got its status at update_time
            end = target.end_time if target.end_time >= 0 else target.update_time
        done = status in FINISHED
        succeeded = status in SUCCEEDED_LIKE
    else:
        end = record.end_time
        done = flow_over
        succeeded = record.status == Status.SUCCEEDED
    met = (succeeded if rule.kind == "SUCCESS" else done) and 0 <= end <= deadline
    return not met


def _miss_message(rule: SlaRule, record: ExecutionRecord, target: JobRunRecord | None) -> str:
    deadline = record.start_time + rule.duration_ms
    if rule.job:
        state = f"job status {target.status.value}" if target else "the job never ran"
    else:
        state = f"flow status {record.status.value}"
    return (f"Execution {record.id} of {record.project_name}.{record.flow_id}: {rule.describe()} of its "
            f"start at {_stamp(record.start_time)}, i.e. by {_stamp(deadline)}; {state}; "
            f"actions {', '.join(rule.actions)}")
