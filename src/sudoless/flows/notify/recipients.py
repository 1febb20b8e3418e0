"""Who is told about an execution: Azkaban's e-mail properties and options, and sudoless's webhooks.

A flow names its recipients in properties, as in Azkaban: the end job's properties (with the ``.properties``
files it inherits) for Flow 1.0, the flow's ``config`` for Flow 2.0. ``failure.emails`` and ``success.emails``
list addresses (split on commas, semicolons and white space) and ``notify.emails`` adds to both. sudoless adds
``start.emails`` (told when the flow starts), ``notify.webhooks`` (URLs told of every flow event),
``notify.webhook.format`` (``json``, the default, or ``slack`` for ``{"text": ...}``) and
``notify.webhook.events`` (a comma list of ``started``, ``failure``, ``success``, ``sla``; empty: all).

:func:`resolve` applies them when an execution is submitted: a request's e-mail lists replace the flow's only
with ``failureEmailsOverride``/``successEmailsOverride`` (Azkaban's rule); webhooks the request gives are
added to the flow's. Every webhook URL must go to a host on the admin's list (:mod:`sudoless.outbound`),
checked here so that a refused URL is an error of the submission, not a silent loss later.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from itertools import chain, repeat

from sudoless.errors import InputError
from sudoless.flows.model import Flow, Project
from sudoless.flows.options import ExecutionOptions
from sudoless.outbound import WebhookHosts

__all__ = [
    "WEBHOOK_EVENTS",
    "WEBHOOK_FORMATS",
    "FlowRecipients",
    "check_callbacks",
    "check_webhooks",
    "flow_notify_props",
    "flow_recipients",
    "resolve",
    "split_addresses",
]

WEBHOOK_FORMATS = ("json", "slack")
WEBHOOK_EVENTS = ("started", "failure", "success", "sla")
_SEPARATORS = re.compile(r"\s*,\s*|\s*;\s*|\s+")


def split_addresses(*texts: str | Iterable[str] | None) -> tuple[str, ...]:
    """Addresses or URLs from strings or lists, split like Azkaban's lists; duplicates dropped, order kept."""
    found: list[str] = []
    for text in texts:
        if not text:
            continue
        for item in [text] if isinstance(text, str) else text:
            found.extend(part for part in _SEPARATORS.split(item.strip()) if part)
    return tuple(dict.fromkeys(found))


def flow_notify_props(flow: Flow) -> dict[str, str]:
    """The properties a flow's notifications are read from: Flow 2.0's config, or the end job's own
    properties over those it inherits (Flow 1.0, whose flow is named after its end job)."""
    end = flow.nodes.get(flow.name)
    props: dict[str, str] = {}
    if end is not None:
        props.update(end.shared)
        props.update(end.props)
    props.update(flow.props)
    return props


@dataclass(frozen=True)
class FlowRecipients:
    """Who a flow's own properties say to tell (see the module docstring); :func:`resolve` merges them with
    a request's options, and the stored flow graph keeps them as :meth:`to_json`."""

    failure_emails: tuple[str, ...]
    success_emails: tuple[str, ...]
    start_emails: tuple[str, ...]
    webhooks: tuple[str, ...]
    webhook_format: str
    webhook_events: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "failure_emails": list(self.failure_emails),
            "success_emails": list(self.success_emails),
            "start_emails": list(self.start_emails),
            "webhooks": list(self.webhooks),
            "webhook_format": self.webhook_format,
            "webhook_events": list(self.webhook_events),
        }


def flow_recipients(props: Mapping[str, str]) -> FlowRecipients:
    """The notification settings written in ``props`` (see the module docstring)."""
    both = split_addresses(props.get("notify.emails"))
    fmt = (props.get("notify.webhook.format") or "json").strip().lower()
    if fmt not in WEBHOOK_FORMATS:
        raise InputError(f"notify.webhook.format {fmt!r}: use json or slack")
    events = tuple(e.lower() for e in split_addresses(props.get("notify.webhook.events")))
    unknown = [e for e in events if e not in WEBHOOK_EVENTS]
    if unknown:
        raise InputError(f"notify.webhook.events {unknown[0]!r}: use {', '.join(WEBHOOK_EVENTS)}")
    return FlowRecipients(
        failure_emails=split_addresses(props.get("failure.emails"), both),
        success_emails=split_addresses(props.get("success.emails"), both),
        start_emails=split_addresses(props.get("start.emails")),
        webhooks=split_addresses(props.get("notify.webhooks")),
        webhook_format=fmt,
        webhook_events=events,
    )


def resolve(options: ExecutionOptions, flow: Flow, hosts: WebhookHosts | None) -> ExecutionOptions:
    """``options`` with the flow's recipients applied (see the module docstring); OutboundRefused (an
    InputError) names a webhook whose host is not on the admin's list (``hosts`` None: not checked, for a
    schedule's firing, whose URLs were checked when it was saved and are again at each send)."""
    found = flow_recipients(flow_notify_props(flow))
    failure = options.failure_emails if options.failure_emails_override else found.failure_emails
    success = options.success_emails if options.success_emails_override else found.success_emails
    webhooks = split_addresses(found.webhooks, options.webhooks)
    resolved = replace(
        options,
        failure_emails=failure,
        success_emails=success,
        webhooks=webhooks,
        start_emails=split_addresses(found.start_emails, options.start_emails),
        webhook_format=options.webhook_format
        if options.webhooks and options.webhook_format != "json"
        else found.webhook_format,
        webhook_events=options.webhook_events or found.webhook_events,
    )
    if hosts is not None:
        check_webhooks(resolved, hosts)
    return resolved


def check_webhooks(options: ExecutionOptions, hosts: WebhookHosts) -> None:
    """OutboundRefused unless every webhook of ``options`` goes to a listed host."""
    for url in options.webhooks:
        hosts.check(url, "notify.webhooks URL")


#: how every key :func:`check_callbacks` checks starts
_CALLBACK_PREFIX = "job.notification."


def check_callbacks(project: Project, flow: Flow, hosts: WebhookHosts) -> None:
    """OutboundRefused naming the job and property of the first job callback (:mod:`.callbacks`) of ``flow``
    or its embedded flows whose URL goes to a host the admin has not listed. A URL whose scheme or host is
    still a ``${...}`` or ``?{...}`` token cannot be judged yet; it is checked when it is sent."""
    seen: set[str] = set()
    pending = [flow]
    while pending:
        current = pending.pop()
        if current.name in seen:
            continue
        seen.add(current.name)
        for node in current.nodes.values():
            if node.subflow is not None and node.subflow in project.flows:
                pending.append(project.flows[node.subflow])
            if not any(map(str.startswith, chain(node.props, node.shared), repeat(_CALLBACK_PREFIX))):
                continue  # most jobs: no key to look at (the test on each key in C, not bytecode)
            for key, url in {**node.shared, **node.props}.items():
                if not (key.startswith("job.notification.") and key.endswith(".url")) or not url:
                    continue
                head = url.split("/", 3)[:3]
                if any(token in part for part in head for token in ("${", "?{", "$(")):
                    continue
                hosts.check(url, f"job {node.name} of flow {current.name}: {key}")
