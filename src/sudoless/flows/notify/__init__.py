"""Notifications: e-mail and webhooks for flow events and SLA misses, and Azkaban's job callbacks.

* :mod:`.recipients` reads who is told from flow properties and execution options (at submission);
* :mod:`.events` turns what happens to an execution into rows of a queue in the database, never raising;
* :mod:`.messages` renders the e-mails (plain text and HTML) and webhook bodies (JSON or Slack's);
* :mod:`.callbacks` reads ``job.notification.*`` job properties into HTTP requests;
* :mod:`.mail` sends through the ``[mail]`` SMTP server (plain, STARTTLS, TLS; password from a file);
* :mod:`.sender` claims due rows, delivers them, retries with back-off and records every attempt.

Sending is never on a flow's path: the runner only queues, and a sender thread of the server (or
``sudoless flow run`` after its flow) delivers. docs/notifications.md describes it for users.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sudoless.flows.notify.events import flow_finished, flow_first_failure, flow_started, job_event, sla_missed
    from sudoless.flows.notify.sender import Sender

__all__ = ["Sender", "flow_finished", "flow_first_failure", "flow_started", "job_event", "sla_missed"]

#: Where each name lives. Loaded on first use: a flow that sends nothing never imports smtplib and the
#: e-mail package (``sudoless flow run``'s start-up, benchmarks/README.md).
_HOMES = {
    "Sender": "sender",
    "flow_finished": "events",
    "flow_first_failure": "events",
    "flow_started": "events",
    "job_event": "events",
    "sla_missed": "events",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
