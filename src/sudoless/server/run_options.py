"""Execution options from request parameters, as Azkaban's ``HttpRequestUtils.parseFlowOptions`` reads them.

``executeFlow`` and ``scheduleCronFlow`` share these parameters (reference §2.3.1). Problems Azkaban
reports as ``Error parsing flow options: ...`` raise :class:`OptionsError` with the text after that
prefix; a non-numeric ``pipelineLevel`` is a :class:`MissingParameter` (HTTP 500), as in Azkaban.
``slaSettings[i]`` and ``slaEmails`` (Azkaban 4's per-execution SLA, same format as ``setSla``) become the
execution's SLA rules, which :mod:`sudoless.flows.sla` checks like those a schedule attaches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sudoless.accounts import Permission
from sudoless.errors import InputError
from sudoless.flows.model import FailureAction
from sudoless.flows.options import ExecutionOptions
from sudoless.flows.overrides import check_runtime
from sudoless.flows.sla import SlaRule, parse_emails
from sudoless.server.dispatch import Authenticated
from sudoless.server.params import Params, emails

__all__ = [
    "OptionsError",
    "check_redefinitions",
    "configured_failure_action",
    "execution_options",
    "failure_action_form_value",
    "filter_runtime",
    "options_json",
    "sla_rules",
]

_FAILURE_ACTIONS = {
    "finishCurrent": FailureAction.FINISH_CURRENTLY_RUNNING,
    "cancelImmediately": FailureAction.CANCEL_ALL,
    "finishPossible": FailureAction.FINISH_ALL_POSSIBLE,
}
#: Flow parameters only a global admin may set; dropped silently for everyone else, as Azkaban does.
_ADMIN_ONLY = ("flowPriority", "useExecutor")
_ADMIN_PREFIXES = ("azkaban.flow", "azkaban.job")


def failure_action_form_value(action: FailureAction) -> str:
    """The run form's (and ``executeFlow``'s) ``failureAction`` value for ``action``."""
    return next(value for value, known in _FAILURE_ACTIONS.items() if known == action)


def configured_failure_action(flow_props: Mapping[str, str]) -> FailureAction | None:
    """A flow's own ``failure.action``, or None when it sets none (or one the runner would refuse)."""
    text = flow_props.get("failure.action")
    try:
        return FailureAction.parse(text) if text else None
    except ValueError:
        return None


class OptionsError(InputError):
    """Execution options that do not parse; the message follows ``Error parsing flow options: ``."""


def execution_options(
    params: Params, flow_props: Mapping[str, str], is_admin: bool, parallel: int
) -> tuple[ExecutionOptions, str | None]:
    """The options a request asks for, and its ``disabled`` JSON (resolved later against the flow).

    ``flow_props`` is the flow's configuration (Flow 2.0 ``config``): its ``failure.action`` wins over the
    request's ``failureAction`` unless ``failureActionOverride=true``, as in Azkaban 4.
    """
    failure_action = _FAILURE_ACTIONS.get(params.get("failureAction") or "")
    if failure_action is not None and flow_props.get("failure.action") and not params.boolean("failureActionOverride"):
        failure_action = None

    concurrent = params.get("concurrentOption") or "skip"
    pipeline_level = None
    if concurrent == "pipeline":
        if params.get("pipelineLevel") is None:
            raise OptionsError("Missing required parameter 'pipelineLevel'.")
        pipeline_level = params.integer("pipelineLevel")
        if pipeline_level not in (1, 2, 3):
            raise OptionsError(f"pipelineLevel {pipeline_level} is not supported; use 1, 2 or 3")
    elif concurrent != "skip":
        concurrent = "ignore"  # Azkaban runs any other value ("ignore", "concurrent", ...) concurrently

    flow_override = params.group("flowOverride")
    runtime_groups = params.nested_group("runtimeProperty")
    if flow_override and runtime_groups:
        raise OptionsError("Cannot use both flowOverride and runtimeProperty params")
    runtime: dict[str, dict[str, str]] = {}
    if flow_override:
        runtime["ROOT"] = dict(flow_override)
    for node, props in runtime_groups.items():
        runtime.setdefault(node, {}).update(props)
    runtime = filter_runtime(runtime, is_admin)

    try:
        sla = tuple(rule.to_json() for rule in sla_rules(params, "slaSettings"))
    except InputError as exc:
        raise OptionsError(str(exc)) from None
    options = ExecutionOptions(
        sla=sla,
        sla_emails=parse_emails(params.get("slaEmails") or "") if sla else (),
        failure_action=failure_action,
        runtime=runtime,
        parallel=parallel,
        concurrent_option=concurrent,
        pipeline_level=pipeline_level,
        notify_failure_first=params.boolean("notifyFailureFirst"),
        notify_failure_last=params.boolean("notifyFailureLast"),
        # Azkaban reads both lists always and uses them only with their override flag; without it the
        # flow's failure.emails/success.emails are taken at submission (sudoless.flows.notify.recipients).
        failure_emails=emails(params.get("failureEmails")),
        success_emails=emails(params.get("successEmails")),
        failure_emails_override=params.boolean("failureEmailsOverride"),
        success_emails_override=params.boolean("successEmailsOverride"),
    )
    disabled = params.get("disabled")
    return options, (disabled if disabled and disabled.strip() else None)


def filter_runtime(runtime: Mapping[str, Mapping[str, str]], is_admin: bool) -> dict[str, dict[str, str]]:
    """Runtime properties without those only a global admin may set (Azkaban drops them silently)."""
    kept = {
        node: {
            key: value
            for key, value in props.items()
            if is_admin or not (key in _ADMIN_ONLY or key.startswith(_ADMIN_PREFIXES))
        }
        for node, props in runtime.items()
    }
    return {node: props for node, props in kept.items() if props}


def check_redefinitions(
    caller: Authenticated, project_id: int, version: int, project_name: str, flow_id: str, options: ExecutionOptions
) -> None:
    """PermissionDenied when a caller without WRITE on the project sends runtime properties that change
    what a job runs (:mod:`sudoless.flows.overrides`); before an execution, a schedule or a restart."""
    if options.runtime and not caller.allowed(project_id, Permission.WRITE):
        check_runtime(caller.store, caller.settings, project_id, version, project_name, flow_id, options.runtime)


def sla_rules(params: Params, prefix: str) -> list[SlaRule]:
    """``prefix[i]=job,rule,H:MM,emailAction,killAction`` settings (``setSla``'s ``settings``, executeFlow's
    ``slaSettings``) as rules, in index order; InputError names the first that does not parse."""
    settings = params.group(prefix)

    def order(key: str) -> tuple[bool, int, str]:
        return (not key.isdecimal(), int(key) if key.isdecimal() and len(key) < 10 else 0, key)

    return [SlaRule.parse(settings[key]) for key in sorted(settings, key=order)]


def options_json(options: ExecutionOptions) -> dict[str, Any]:
    """ExecutionOptions as Azkaban serialises them in ``fetchSchedule`` (bean property names)."""
    action = options.failure_action or FailureAction.FINISH_CURRENTLY_RUNNING
    return {
        "notifyOnFirstFailure": options.notify_failure_first,
        "notifyOnLastFailure": options.notify_failure_last,
        "failureEmails": list(options.failure_emails),
        "successEmails": list(options.success_emails),
        "pipelineLevel": options.pipeline_level,
        "queueLevel": 0,
        "concurrentOption": options.concurrent_option,
        "mailCreator": "default",
        "memoryCheck": True,
        "flowParameters": dict(options.runtime.get("ROOT", {})),
        "failureAction": action.value,
        "failureEmailsOverridden": options.failure_emails_override,
        "successEmailsOverridden": options.success_emails_override,
        "pipelineExecutionId": None,
        "disabledJobs": list(options.disabled),
        "runtimeProperties": {node: dict(props) for node, props in options.runtime.items()},
        "failureActionOverridden": options.failure_action is not None,
    }
