"""Schedules from Azkaban's ``triggers`` table, as sudoless schedules, paused unless asked otherwise.

A schedule in Azkaban is a trigger (source ``SimpleTimeTrigger``) serialised as JSON: its trigger condition
holds a ``BasicTimeChecker`` (Quartz cron, time zone) and its actions an ``ExecuteFlowAction`` (project, flow,
user, execution options). Its ``status`` is READY or PAUSED.

SLA settings travel with the action: Azkaban 3.x keeps them as the action's ``slaOptions`` list, later versions
inside its execution options; either way each is ``{"type": "FlowSucceed" | "FlowFinish" | "JobSucceed" |
"JobFinish", "info": {"Duration": "90m", "JobName": ..., "EmailList": [...]}, "actions": ["SlaAlert",
"SlaCancelFlow" | "SlaKillJob"]}``. They become the schedule's SLA rules here (an alert is ``EMAIL``, a cancel
or kill ``KILL``), with every rule's addresses as the schedule's SLA addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sudoless.config import Settings
from sudoless.errors import InputError, SudolessError
from sudoless.flows.model import FailureAction
from sudoless.flows.options import ExecutionOptions
from sudoless.flows.scheduler import Scheduler
from sudoless.flows.sla import SlaRule, parse_emails
from sudoless.store import Store

from .report import Report

__all__ = ["AzkabanSchedule", "import_schedules", "parse_trigger", "sla_rules"]

#: Azkaban's SLA types: (a job's rule?, sudoless's kind)
_SLA_TYPES = {
    "FlowSucceed": (False, "SUCCESS"),
    "FlowFinish": (False, "FINISH"),
    "JobSucceed": (True, "SUCCESS"),
    "JobFinish": (True, "FINISH"),
}
#: Azkaban's SLA actions as sudoless's
_SLA_ACTIONS = {"SlaAlert": "EMAIL", "SlaCancelFlow": "KILL", "SlaKillJob": "KILL"}
#: the units of an SLA duration as Azkaban writes it (``90m``; older releases wrote other period units)
_DURATION_UNITS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


@dataclass(frozen=True)
class AzkabanSchedule:
    trigger_id: int
    project_id: int
    project_name: str
    flow_id: str
    cron: str
    timezone: str | None
    user: str
    paused: bool
    options: dict[str, Any]
    sla: tuple[Any, ...]


def parse_trigger(trigger_id: int, data: Any) -> AzkabanSchedule | str:
    """The schedule a trigger's JSON describes, or why it is not one sudoless can take."""
    if not isinstance(data, dict):
        return f"trigger {trigger_id}: empty or not a JSON object"
    checkers = ((data.get("triggerCondition") or {}).get("checkers")) or []
    time_check = next((c.get("checkerJson") or {} for c in checkers if c.get("type") == "BasicTimeChecker"), None)
    action = next(
        (a.get("actionJson") or {} for a in data.get("actions") or [] if a.get("type") == "ExecuteFlowAction"), None
    )
    if time_check is None or action is None:
        kinds = [c.get("type") for c in checkers] + [a.get("type") for a in data.get("actions") or []]
        return f"trigger {trigger_id}: not a flow schedule ({', '.join(map(str, kinds)) or 'no checkers'})"
    cron = time_check.get("cronExpression")
    if not cron or cron == "null":
        return (
            f"trigger {trigger_id} ({action.get('projectName')}.{action.get('flowName')}): a period schedule "
            f"({time_check.get('period')}) without cron; schedule it again with a cron expression"
        )
    return AzkabanSchedule(
        trigger_id=trigger_id,
        project_id=int(action.get("projectId", 0)),
        project_name=str(action.get("projectName")),
        flow_id=str(action.get("flowName")),
        cron=str(cron),
        timezone=time_check.get("timezone") or None,
        user=str(action.get("submitUser") or data.get("submitUser") or "azkaban"),
        paused=str(data.get("status", "READY")).upper() == "PAUSED",
        options=action.get("executionOptions") or {},
        sla=tuple(action.get("slaOptions") or ((action.get("executionOptions") or {}).get("slaOptions") or ())),
    )


def sla_rules(options: tuple[Any, ...], where: str) -> tuple[list[SlaRule], tuple[str, ...], list[str]]:
    """Azkaban's SLA options as sudoless rules, their alert addresses, and one line per option that does not
    convert (with what to do)."""
    rules: list[SlaRule] = []
    emails: list[str] = []
    problems: list[str] = []
    for number, option in enumerate(options, start=1):
        try:
            rule, addresses = _sla_rule(option)
        except (InputError, ValueError, TypeError, AttributeError) as exc:
            problems.append(
                f"{where}: SLA setting {number} ({option!r}) not understood ({exc}); set it again in sudoless"
            )
            continue
        rules.append(rule)
        emails.extend(addresses)
    return rules, parse_emails(emails), problems


def _sla_rule(option: dict[str, Any]) -> tuple[SlaRule, list[str]]:
    info = option.get("info") or {}
    kind = _SLA_TYPES.get(str(option.get("type")))
    if kind is None:
        raise ValueError(f"type {option.get('type')!r} is not one of {', '.join(_SLA_TYPES)}")
    is_job, rule_kind = kind
    job = str(info.get("JobName") or "") if is_job else ""
    if is_job and not job:
        raise ValueError("a job rule without JobName")
    duration = str(info.get("Duration") or "")
    unit = _DURATION_UNITS.get(duration[-1:])
    if unit is None or not duration[:-1].isdigit():
        raise ValueError(f"duration {duration!r}: expected minutes such as 90m")
    actions = tuple(dict.fromkeys(_SLA_ACTIONS[a] for a in option.get("actions") or () if a in _SLA_ACTIONS))
    emails = info.get("EmailList") or []
    return SlaRule(job, rule_kind, int(duration[:-1]) * unit, actions), [str(e) for e in emails]


def execution_options(data: dict[str, Any], parallel: int) -> ExecutionOptions:
    """Azkaban's ExecutionOptions JSON as sudoless's options (the fields both have)."""
    action = str(data.get("failureAction"))
    disabled = [d for d in data.get("disabled") or [] if isinstance(d, str)]
    return ExecutionOptions(
        failure_action=FailureAction(action) if action in FailureAction.__members__ else None,
        disabled=tuple(disabled),
        runtime={"ROOT": {str(k): str(v) for k, v in (data.get("flowParameters") or {}).items()}},
        parallel=parallel,
        concurrent_option=str(data.get("concurrentOption") or "skip"),
        pipeline_level=data.get("pipelineLevel"),
        notify_failure_first=bool(data.get("notifyOnFirstFailure")),
        notify_failure_last=bool(data.get("notifyOnLastFailure")),
        failure_emails=tuple(data.get("failureEmails") or ()),
        success_emails=tuple(data.get("successEmails") or ()),
        failure_emails_override=bool(data.get("failureEmailsOverride")),
        success_emails_override=bool(data.get("successEmailsOverride")),
    )


def import_schedules(
    store: Store | None,
    settings: Settings,
    triggers: list[tuple[int, str, Any]],
    names: dict[int, str],
    origin: str,
    enable: bool,
    report: Report,
    default_zone: str = "",
) -> None:
    """Create a schedule for each trigger of a project being imported (``names``: Azkaban project id to its
    name here); ``store`` None only checks. Paused unless ``enable`` and Azkaban had it running. A trigger
    without a zone takes ``default_zone`` (Azkaban's ``default.timezone.id``), else the server's."""
    done = store.imports.imported(origin, "schedule") if store is not None else {}
    scheduler = Scheduler(store, settings) if store is not None else None
    for trigger_id, _source, data in triggers:
        parsed = parse_trigger(trigger_id, data)
        if isinstance(parsed, str):
            report.unmapped.append(parsed)
            continue
        if parsed.project_id not in names:
            continue  # a project left out (--projects, a conflict skipped): its schedules stay behind too
        if str(trigger_id) in done:
            report.skipped["schedules"] += 1
            continue
        where = f"schedule of {parsed.project_name}.{parsed.flow_id} (trigger {trigger_id})"
        rules, sla_emails, problems = sla_rules(parsed.sla, where)
        report.unmapped.extend(problems)
        if scheduler is None or store is None:
            report.add("schedules")
            report.add("SLA rules", len(rules))
            continue
        options = execution_options(parsed.options, settings.parallel)
        try:
            schedule = scheduler.schedule(
                names[parsed.project_id],
                parsed.flow_id,
                parsed.cron,
                parsed.timezone or default_zone or None,
                options,
                parsed.user,
            )
        except SudolessError as exc:
            report.unmapped.append(f"{where}: {exc}")
            continue
        if rules or sla_emails:
            try:
                scheduler.set_sla(schedule.id, rules, sla_emails)
                report.add("SLA rules", len(rules))
            except SudolessError as exc:
                report.unmapped.append(f"{where}: its SLA settings ({exc}); set them again in sudoless")
        if parsed.paused or not enable:
            scheduler.set_enabled(schedule.id, False)
        store.imports.record_import(origin, "schedule", str(trigger_id), schedule.id)
        report.add("schedules")
