"""What a notification says: the summary of an execution, rendered as an e-mail (plain text and HTML) or
as a webhook body (sudoless's JSON, or Slack's ``{"text": ...}``, which Mattermost and others accept too)."""

from __future__ import annotations

import html
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sudoless.config import Settings
from sudoless.store import Store
from sudoless.store.status import Status

__all__ = ["ExecutionSummary", "email_body", "execution_link", "server_base", "webhook_body"]

#: the flow events; each e-mail and webhook names one
STARTED, FAILURE_FIRST, FAILED, SUCCEEDED, SLA_MISSED = (
    "flow_started",
    "flow_failure_first",
    "flow_failed",
    "flow_succeeded",
    "sla_missed",
)

_HEADLINES = {
    STARTED: "started",
    FAILURE_FIRST: "has a failed job and is still running",
    SUCCEEDED: "succeeded",
    SLA_MISSED: "missed its SLA",
}


def server_base(settings: Settings) -> str:
    """The server's address for links: ``external_url``, else this host's name on the default port."""
    return settings.external_url.rstrip("/") or f"http://{socket.getfqdn()}:8081"


def execution_link(settings: Settings, exec_id: int) -> str:
    return f"{server_base(settings)}/executor?execid={exec_id}"


@dataclass(frozen=True)
class ExecutionSummary:
    """What every flow notification reports about its execution."""

    exec_id: int
    project: str
    flow: str
    status: str
    submit_user: str
    start_time: int
    end_time: int
    failed_jobs: tuple[str, ...]
    link: str

    @classmethod
    def from_store(cls, store: Store, settings: Settings, exec_id: int) -> ExecutionSummary:
        record = store.executions.get(exec_id)
        latest: dict[str, Status] = {}
        for run in store.job_runs.of(exec_id):
            latest[run.nested_id] = run.status
        failed = tuple(job for job, status in latest.items() if status in (Status.FAILED, Status.KILLED))
        return cls(
            exec_id,
            record.project_name,
            record.flow_id,
            record.status.value,
            record.submit_user,
            record.start_time,
            record.end_time,
            failed,
            execution_link(settings, exec_id),
        )

    @property
    def duration(self) -> str:
        if self.start_time < 0:
            return "-"
        end = self.end_time if self.end_time >= 0 else self.start_time
        seconds = max(0, (end - self.start_time) // 1000)
        hours, rest = divmod(seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        return f"{hours}h {minutes}m {seconds}s" if hours else f"{minutes}m {seconds}s" if minutes else f"{seconds}s"

    def to_json(self) -> dict[str, Any]:
        return {
            "execution_id": self.exec_id,
            "project": self.project,
            "flow": self.flow,
            "status": self.status,
            "submit_user": self.submit_user,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "duration": self.duration,
            "failed_jobs": list(self.failed_jobs),
            "link": self.link,
        }


def _stamp(ms: int) -> str:
    return "-" if ms < 0 else f"{datetime.fromtimestamp(ms / 1000, UTC):%Y-%m-%d %H:%M:%S} UTC"


def headline(summary: ExecutionSummary, event: str) -> str:
    what = _HEADLINES.get(event) or f"ended {summary.status}"
    return f"Flow {summary.flow} of project {summary.project} {what} (execution {summary.exec_id})"


def _rows(summary: ExecutionSummary, detail: str | None) -> list[tuple[str, str]]:
    rows = [
        ("Project", summary.project),
        ("Flow", summary.flow),
        ("Execution", str(summary.exec_id)),
        ("Status", summary.status),
        ("Submitted by", summary.submit_user),
        ("Start", _stamp(summary.start_time)),
        ("End", _stamp(summary.end_time)),
        ("Duration", summary.duration),
    ]
    if summary.failed_jobs:
        rows.append(("Failed jobs", ", ".join(summary.failed_jobs)))
    if detail:
        rows.append(("Detail", detail))
    return rows


def email_body(summary: ExecutionSummary, event: str, detail: str | None = None) -> dict[str, str]:
    """``subject``, ``text`` and ``html`` of the e-mail for ``event``; ``detail`` adds a line (an SLA miss)."""
    title = headline(summary, event)
    rows = _rows(summary, detail)
    width = max(len(name) for name, _ in rows)
    text = "\n".join(
        [
            title,
            "",
            *(f"{name + ':':<{width + 1}} {value}" for name, value in rows),
            "",
            f"Execution page: {summary.link}",
            "",
        ]
    )
    cells = "".join(
        f'<tr><th align="left">{html.escape(name)}</th><td>{html.escape(value)}</td></tr>' for name, value in rows
    )
    page = (
        f"<html><body><h2>{html.escape(title)}</h2><table>{cells}</table>"
        f'<p><a href="{html.escape(summary.link, quote=True)}">Open execution {summary.exec_id}</a></p>'
        "</body></html>"
    )
    return {"subject": f"[sudoless] {title}", "text": text, "html": page}


def webhook_body(summary: ExecutionSummary, event: str, fmt: str, detail: str | None = None) -> dict[str, Any]:
    """The JSON a webhook receives for ``event``: sudoless's own document, or Slack's ``{"text": ...}``."""
    title = headline(summary, event)
    if fmt == "slack":
        lines = [f"*{title}*", f"Status: {summary.status}, duration {summary.duration}"]
        if summary.failed_jobs:
            lines.append(f"Failed jobs: {', '.join(summary.failed_jobs)}")
        if detail:
            lines.append(detail)
        lines.append(f"<{summary.link}|Execution {summary.exec_id}>")
        return {"text": "\n".join(lines)}
    return {"event": event, "message": title, **summary.to_json(), **({"detail": detail} if detail else {})}
