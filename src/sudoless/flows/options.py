"""Execution options: what a caller may choose when it runs a flow (Azkaban's ExecutionOptions)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from sudoless.errors import InputError
from sudoless.flows.model import FailureAction, Flow, Project


@dataclass(frozen=True)
class ExecutionOptions:
    """``runtime`` maps a node path (``ROOT``, ``job``, ``sub:job``) to properties for that node;
    ``disabled`` holds nested ids that start DISABLED and end SKIPPED."""

    failure_action: FailureAction | None = None
    disabled: tuple[str, ...] = ()
    runtime: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    parallel: int = 10
    concurrent_option: str = "skip"
    pipeline_level: int | None = None
    #: with ``concurrent_option="pipeline"``: the running execution this one follows (set at submission)
    pipeline_execution: int | None = None
    #: Azkaban's notifyFailureFirst / notifyFailureLast: mail the failure addresses at the first failed job
    #: while the flow still runs, and when it ends (without either, at the end: :mod:`sudoless.flows.notify`)
    notify_failure_first: bool = False
    notify_failure_last: bool = False
    failure_emails: tuple[str, ...] = ()
    success_emails: tuple[str, ...] = ()
    #: the addresses above replace the flow's ``failure.emails``/``success.emails`` (+ ``notify.emails``);
    #: without the override the flow's own addresses are taken when the execution is submitted
    failure_emails_override: bool = False
    success_emails_override: bool = False
    #: sudoless's additions (flow properties ``start.emails``, ``notify.webhooks``, ``notify.webhook.format``,
    #: ``notify.webhook.events``), also resolved at submission
    start_emails: tuple[str, ...] = ()
    webhooks: tuple[str, ...] = ()
    webhook_format: str = "json"
    webhook_events: tuple[str, ...] = ()
    #: restart of another execution: its succeeded jobs are disabled and their outputs reused.
    reuse_outputs_from: int | None = None
    #: SLA rules (``SlaRule.to_json()`` dicts) a schedule attaches to the executions it fires, so that the
    #: scheduler can check them against the execution alone, even after the schedule changes.
    sla: tuple[dict[str, Any], ...] = ()
    sla_emails: tuple[str, ...] = ()
    sla_webhook: str | None = None
    #: flow-level retry (:mod:`sudoless.flows.flow_retry`): which retry this is, and the executions it links
    retry_count: int = 0
    retry_root: int | None = None
    retry_parent: int | None = None
    retry_child: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The options as JSON values, sharing nothing mutable with ``self``. Built field by field:
        ``dataclasses.asdict`` deep-copies every string of every tuple, which was the largest part of
        the CPU a scheduler spent firing a thousand schedules at once (profiled; benchmarks/README.md)."""
        data = {name: getattr(self, name) for name in _FIELDS}
        data["failure_action"] = self.failure_action.value if self.failure_action else None
        data["runtime"] = {k: dict(v) for k, v in self.runtime.items()}
        data["sla"] = copy.deepcopy(self.sla) if self.sla else ()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExecutionOptions:
        values = dict(data)
        action = values.get("failure_action")
        values["failure_action"] = FailureAction(action) if action else None
        for key in (
            "disabled",
            "failure_emails",
            "success_emails",
            "sla_emails",
            "start_emails",
            "webhooks",
            "webhook_events",
        ):
            values[key] = tuple(values.get(key) or ())
        values["sla"] = tuple(dict(rule) for rule in values.get("sla") or ())
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in values.items() if k in known})

    def effective_failure_action(self, flow: Flow, override: bool = True) -> FailureAction:
        """The request's action if given; else Flow 2.0's ``failure.action`` config; else the default."""
        if self.failure_action is not None and override:
            return self.failure_action
        configured = flow.props.get("failure.action")
        if configured:
            return FailureAction.parse(configured)
        return self.failure_action or FailureAction.FINISH_CURRENTLY_RUNNING


def parse_disabled(
    spec: str | Iterable[Any], project: Project, flow: Flow, ignored: list[str] | None = None
) -> tuple[str, ...]:
    """Azkaban's ``disabled`` JSON (names, or ``{"id": subflow, "children": [...]}``) to nested ids.

    Nested ids written directly (``sub:job``) are accepted too. A name that is not in the flow is ignored,
    as Azkaban ignores it (a schedule outlives the jobs it once disabled); each one goes into ``ignored``
    with the reason, for the caller to warn about. Text that is not such a JSON list is an input error.
    """
    ignored = [] if ignored is None else ignored
    if isinstance(spec, str):
        try:
            spec = json.loads(spec) if spec.strip() else []
        except json.JSONDecodeError as exc:
            raise InputError(
                f'disabled: not a JSON array ({exc.msg}); expected like ["job1", '
                '{"id": "subflow", "children": ["inner"]}]'
            ) from None
    out: list[str] = []

    def walk(items: Any, current: Flow, prefix: str) -> None:
        if not isinstance(items, list):
            raise InputError("disabled: expected a JSON array of job names")
        for item in items:
            if isinstance(item, str):
                resolve_path(item.split(":"), current, prefix)
            elif isinstance(item, dict) and "id" in item:
                node = current.nodes.get(str(item["id"]))
                if node is None or node.subflow is None:
                    ignored.append(f"'{prefix}{item['id']}' is not an embedded flow of {flow.name}")
                    continue
                children = item.get("children")
                if children is None:
                    out.append(prefix + node.name)
                else:
                    walk(children, project.flows[node.subflow], f"{prefix}{node.name}:")
            else:
                raise InputError(f"disabled: cannot read item {item!r}")

    def resolve_path(parts: list[str], current: Flow, prefix: str) -> None:
        head = parts[0]
        node = current.nodes.get(head)
        if node is None:
            ignored.append(f"job '{prefix}{head}' is not in flow {flow.name}")
        elif len(parts) == 1:
            out.append(prefix + head)
        elif node.subflow is None:
            ignored.append(f"'{prefix}{head}' is not an embedded flow of {flow.name}")
        else:
            resolve_path(parts[1:], project.flows[node.subflow], f"{prefix}{head}:")

    walk(list(spec), flow, "")
    return tuple(dict.fromkeys(out))


def parse_assignments(pairs: Iterable[str]) -> dict[str, dict[str, str]]:
    """Command-line parameters: ``key=value`` for the flow (``ROOT``), ``NODE@key=value`` for one node.

    Property names contain dots, so ``job.key=value`` would be ambiguous; ``@`` cannot appear in a name.
    """
    runtime: dict[str, dict[str, str]] = {}
    for pair in pairs:
        if "=" not in pair:
            raise InputError(f"-p {pair}: expected key=value (or NODE@key=value for one job)")
        key, value = pair.split("=", 1)
        node, _, prop = key.rpartition("@")
        if not prop:
            raise InputError(f"-p {pair}: the property name is empty")
        runtime.setdefault(node or "ROOT", {})[prop] = value
    return runtime


#: the fields :meth:`ExecutionOptions.to_json` copies (the others are immutable values: str, int, tuples of str)
_FIELDS = tuple(f.name for f in fields(ExecutionOptions))
