"""Turning what happens to an execution into queued notifications.

Called by the runner (flow start, first failure, end, each job's start and end), by the executor when it
finalises an execution whose process died, and by the SLA checks. Every function here only writes rows to
the queue (:mod:`sudoless.store.notifications`) and never raises: a notification must not block,
slow down or fail a flow, so any error is logged and the flow goes on. The sender delivers the rows later.

Which recipients are told (options resolved at submission, :mod:`.recipients`):

* flow started: ``start_emails``; webhooks unless their events leave ``started`` out;
* first failed job while the flow runs: ``failure_emails`` when ``notify_failure_first``; webhooks (``failure``);
* the flow ended: SUCCEEDED tells ``success_emails``; any other end tells ``failure_emails`` when
  ``notify_failure_last`` is set or ``notify_failure_first`` is not (so that a failure is never silent by
  default); webhooks (``success`` / ``failure``);
* an SLA miss with the EMAIL action: the SLA's addresses; webhooks (``sla``);
* job callbacks: the job's own ``job.notification.*`` properties (:mod:`.callbacks`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import urlsplit

from sudoless.config import Settings
from sudoless.flows.notify import messages as m
from sudoless.flows.notify.callbacks import callback_requests
from sudoless.flows.options import ExecutionOptions
from sudoless.store import Store
from sudoless.store.light.notifications import NewNotification
from sudoless.store.status import Status

__all__ = ["MAX_ATTEMPTS", "flow_finished", "flow_first_failure", "flow_started", "job_event", "sla_missed"]

log = logging.getLogger(__name__)

#: attempts per message before it is given up (the sender spaces them, :mod:`.sender`)
MAX_ATTEMPTS = 4

_WEBHOOK_EVENT = {
    m.STARTED: "started",
    m.FAILURE_FIRST: "failure",
    m.FAILED: "failure",
    m.SUCCEEDED: "success",
    m.SLA_MISSED: "sla",
}


def flow_started(store: Store, settings: Settings, exec_id: int) -> int:
    return _flow_event(store, settings, exec_id, m.STARTED)


def flow_first_failure(store: Store, settings: Settings, exec_id: int) -> int:
    return _flow_event(store, settings, exec_id, m.FAILURE_FIRST)


def flow_finished(store: Store, settings: Settings, exec_id: int) -> int:
    """Queue the end-of-flow notifications for the execution's final status; the number queued."""
    try:
        status = store.executions.get(exec_id).status
    except Exception:
        log.exception("notifications of execution %d: cannot read it", exec_id)
        return 0
    return _flow_event(store, settings, exec_id, m.SUCCEEDED if status == Status.SUCCEEDED else m.FAILED)


def sla_missed(store: Store, settings: Settings, exec_id: int, emails: tuple[str, ...], message: str) -> int:
    """Queue the SLA alert e-mail (Azkaban's EMAIL action) to ``emails`` and the flow's webhooks."""
    return _flow_event(store, settings, exec_id, m.SLA_MISSED, detail=message, emails=emails)


def _flow_event(
    store: Store,
    settings: Settings,
    exec_id: int,
    event: str,
    detail: str | None = None,
    emails: tuple[str, ...] | None = None,
) -> int:
    try:
        record = store.executions.get(exec_id)
        options = ExecutionOptions.from_json(record.options)
        if emails is None:
            emails = _emails(options, event)
        events = options.webhook_events
        webhooks = options.webhooks if not events or _WEBHOOK_EVENT[event] in events else ()
        if not emails and not webhooks:
            return 0
        summary = m.ExecutionSummary.from_store(store, settings, exec_id)
        rows = []
        if emails:
            body = m.email_body(summary, event, detail)
            rows.append(
                NewNotification(exec_id, event, "email", ", ".join(emails), {**body, "to": list(emails)}, MAX_ATTEMPTS)
            )
        for url in webhooks:
            rows.append(
                NewNotification(
                    exec_id,
                    event,
                    "webhook",
                    url,
                    {"body": m.webhook_body(summary, event, options.webhook_format, detail)},
                    MAX_ATTEMPTS,
                )
            )
        store.notifications.enqueue(rows)
        return len(rows)
    except Exception:
        log.exception("notifications of execution %d (%s) could not be queued", exec_id, event)
        return 0


def _emails(options: ExecutionOptions, event: str) -> tuple[str, ...]:
    if event == m.STARTED:
        return options.start_emails
    if event == m.SUCCEEDED:
        return options.success_emails
    if event == m.FAILURE_FIRST:
        return options.failure_emails if options.notify_failure_first else ()
    if event == m.FAILED and (options.notify_failure_last or not options.notify_failure_first):
        return options.failure_emails
    return ()


def job_event(
    store: Store,
    settings: Settings,
    exec_id: int,
    project: str,
    flow: str,
    job: str,
    status: str,
    props: Mapping[str, str],
) -> list[str]:
    """Queue the job callbacks of ``status`` (``started``, or the job's final status: its own callbacks and
    ``completed``); returns the lines to write to the job's log (what was queued or skipped)."""
    try:
        if status == "started":
            kinds = ["started"]
        elif status == Status.SUCCEEDED.value:
            kinds = ["success", "completed"]
        elif status in (Status.FAILED.value, Status.KILLED.value, Status.FAILED_FINISHING.value):
            kinds = ["failure", "completed"]
        else:
            return []
        server = urlsplit(m.server_base(settings)).netloc
        lines: list[str] = []
        rows = []
        for kind in kinds:
            context = {
                "server": server,
                "project": project,
                "flow": flow,
                "executionId": str(exec_id),
                "job": job,
                "status": kind,
            }
            for request in callback_requests(props, kind, context, lines):
                rows.append(
                    NewNotification(
                        exec_id,
                        f"job_{kind}",
                        "callback",
                        request.url,
                        {
                            "method": request.method,
                            "body": request.body,
                            "job": job,
                            "headers": [list(h) for h in request.headers],
                        },
                        MAX_ATTEMPTS,
                    )
                )
                lines.append(f"Job callback queued for {kind}: {request.method} {request.url}")
        if rows:
            store.notifications.enqueue(rows)
        return lines
    except Exception as error:
        log.exception("job callbacks of %s in execution %d could not be queued", job, exec_id)
        return [f"Job callbacks could not be queued: {error}"]
