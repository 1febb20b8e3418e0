"""Schedules from Azkaban's ``triggers`` table, as sudoless schedules, paused unless asked otherwise.

A schedule in Azkaban is a trigger (source ``SimpleTimeTrigger``) serialised as JSON: its trigger condition
holds a ``BasicTimeChecker`` (Quartz cron, time zone) and its actions an ``ExecuteFlowAction`` (project, flow,
user, execution options). Its ``status`` is READY or PAUSED.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sudoless.config import Settings
from sudoless.errors import SudolessError
from sudoless.flows.model import FailureAction
from sudoless.flows.options import ExecutionOptions
from sudoless.flows.scheduler import Scheduler
from sudoless.store import Store

from .report import Report

__all__ = ["AzkabanSchedule", "import_schedules", "parse_trigger"]


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
    has_sla: bool


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
        has_sla=bool(action.get("slaOptions")),
    )


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
) -> None:
    """Create a schedule for each trigger of a project being imported (``names``: Azkaban project id to its
    name here); ``store`` None only checks. Paused unless ``enable`` and Azkaban had it running."""
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
        if parsed.has_sla:
            report.unmapped.append(f"{where}: its SLA settings; set them again with `sudoless` or the UI")
        if scheduler is None or store is None:
            report.add("schedules")
            continue
        try:
            schedule = scheduler.schedule(
                names[parsed.project_id],
                parsed.flow_id,
                parsed.cron,
                parsed.timezone,
                execution_options(parsed.options, settings.parallel),
                parsed.user,
            )
        except SudolessError as exc:
            report.unmapped.append(f"{where}: {exc}")
            continue
        if parsed.paused or not enable:
            scheduler.set_enabled(schedule.id, False)
        store.imports.record_import(origin, "schedule", str(trigger_id), schedule.id)
        report.add("schedules")
