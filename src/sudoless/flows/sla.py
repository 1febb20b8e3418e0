"""SLA rules of scheduled flows, and the checks that report the executions which miss them.

SLA rules belong to a schedule and travel in the options of every execution it fires (``sla``,
``sla_emails``, ``sla_webhook``), so a check needs the execution alone. A rule is measured from the
execution's start (an execution that has not started is not checked) and is decided

* at the deadline (start + duration) while the flow runs: missed unless its target (the flow, or the job
  by nested id, latest attempt) had finished (``FINISH``) or succeeded (``SUCCESS``) by then;
* as soon as the flow ends, when that is earlier: the outcome is known then, so a flow that fails
  within a ``SUCCESS`` window is reported at once instead of at the deadline.

A miss is reported once per (execution, rule), however many checkers run: it is recorded in the
execution's options under a row lock, and only the checker whose record wins reports it. It is logged at
once, in the Python log and as a ``WARN`` line in the execution's flow log (appended at the log's current
end, beside the runner's own lines, so a running execution shows the miss immediately); ``EMAIL`` and
``WEBHOOK`` rules alert: the JSON description is POSTed to the schedule's webhook if it has one and its
host is on the admin's list (:mod:`sudoless.outbound`; 5 s timeout; failures are logged, never raised).
``EMAIL`` also queues an alert e-mail to the SLA's addresses (and the flow's ``notify.webhooks`` hear of
it), delivered by the notification sender (:mod:`sudoless.flows.notify`) when the checker has settings.
``KILL`` cancels the execution; for a job rule too, the whole execution is cancelled (a job cannot be
killed alone).
"""

from __future__ import annotations

import http.client
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sudoless.config import Settings
from sudoless.errors import InputError, StateError
from sudoless.flows.joblog import LogWriter
from sudoless.flows.options import ExecutionOptions
from sudoless.flows.schedule import stamp
from sudoless.outbound import OutboundRefused, WebhookHosts
from sudoless.store import Store
from sudoless.store.executions import ExecutionRecord
from sudoless.store.job_runs import JobRunRecord
from sudoless.store.status import FINISHED, SUCCEEDED_LIKE, TERMINAL_FLOW, Status

__all__ = ["SLA_ACTIONS", "SlaChecker", "SlaRule", "parse_emails"]

log = logging.getLogger(__name__)

SLA_ACTIONS = ("EMAIL", "KILL", "WEBHOOK")
_SLA_KINDS = {"SUCCESS": "SUCCESS", "SUCCEED": "SUCCESS", "FINISH": "FINISH"}
_DURATION = re.compile(r"([0-9]+):([0-9]+)")
_EMAIL_SEPARATORS = re.compile(r"[\s,;]+")


# -- rules ----------------------------------------------------------------------------------------------------


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
            raise InputError(
                f"SLA rule type {self.kind!r}: use SUCCESS (must succeed within) or FINISH (must finish within)"
            )
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
            raise InputError(
                f"Error parsing SLA setting '{text}': {error} (expected "
                "job,rule,duration,emailAction,killAction as in ',SUCCESS,2:30,true,false')"
            ) from None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SlaRule:
        try:
            return cls(
                str(data.get("job") or ""),
                str(data["kind"]),
                int(data["duration_ms"]),
                tuple(data.get("actions") or ()),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InputError(
                f"SLA rule {dict(data)!r}: expected job, kind, duration_ms and actions ({error})"
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


def parse_emails(emails: Iterable[str] | str) -> tuple[str, ...]:
    """SLA alert addresses: one string or several, each split on commas, semicolons and whitespace, as
    Azkaban's ``slaEmails``; duplicates dropped, order kept."""
    items = [emails] if isinstance(emails, str) else list(emails)
    found = [part for item in items for part in _EMAIL_SEPARATORS.split(item) if part]
    return tuple(dict.fromkeys(found))


# -- checking -------------------------------------------------------------------------------------------------


class SlaChecker:
    """Checks the executions that carry SLA rules and reports each miss once (see the module docstring).

    ``clock`` returns epoch ms (default ``store.clock``). ``lookback_ms`` bounds how long after its end a
    finished execution is still checked, which matters only after the checks were not running for a while.
    ``webhook_timeout`` is in seconds; ``webhook_hosts`` is the admin's allowlist, checked again at each send
    (default: empty, so no webhook is sent).
    """

    def __init__(
        self,
        store: Store,
        clock: Callable[[], int] | None = None,
        webhook_timeout: float = 5.0,
        lookback_ms: int = 3_600_000,
        webhook_hosts: WebhookHosts | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.store = store
        #: with settings, EMAIL alerts are queued as e-mails (their links need the server's address)
        self.settings = settings
        self.clock = clock or store.clock
        self.webhook_timeout = webhook_timeout
        self.lookback_ms = lookback_ms
        self.webhook_hosts = webhook_hosts or WebhookHosts()

    def check(self, now_ms: int | None = None) -> list[str]:
        """Report SLA misses not reported before (once per execution and rule); returns their descriptions."""
        now = self.clock() if now_ms is None else now_ms
        reports: list[str] = []
        for record in self.store.schedules.sla_candidates(now - self.lookback_ms):
            try:
                reports.extend(self._check_execution(record, now))
            except Exception:
                log.exception("SLA check of execution %d failed", record.id)
        return reports

    def _check_execution(self, record: ExecutionRecord, now: int) -> list[str]:
        options = ExecutionOptions.from_json(record.options)
        reported = record.options.get("sla_missed") or {}
        reports = []
        runs: dict[str, JobRunRecord] | None = None
        for rule in (SlaRule.from_json(data) for data in options.sla):
            if rule.key in reported:
                continue
            if rule.job and runs is None:
                runs = {run.nested_id: run for run in self.store.job_runs.of(record.id)}  # latest attempt wins
            target = runs.get(rule.job) if rule.job and runs is not None else None
            if not _missed(rule, record, target, now):
                continue
            message = _miss_message(rule, record, target)
            if not self.store.schedules.record_sla_miss(record.id, rule.key, message):
                continue  # another checker reported it first
            log.warning("SLA missed: %s", message)
            reports.append(message)
            self._log_miss(record.id, message)
            self._act(rule, record, options, message, now)
        return reports

    def _log_miss(self, exec_id: int, message: str) -> None:
        # The miss is recorded already and will not be reported again: a failed write must not stop the
        # KILL or the alert, so it is logged here instead of raised.
        try:
            writer = LogWriter(self.store, exec_id, "", 0, shared=True)
            writer.line(f"SLA missed: {message}", "WARN")
            writer.flush()
        except Exception:
            log.exception("SLA miss of execution %d could not be written to its flow log", exec_id)

    def _act(self, rule: SlaRule, record: ExecutionRecord, options: ExecutionOptions, message: str, now: int) -> None:
        if "KILL" in rule.actions and record.status not in TERMINAL_FLOW:
            try:
                self.store.executions.request(record.id, "cancel")
                log.warning(
                    "SLA KILL: cancelling execution %d%s",
                    record.id,
                    f" (the whole flow: rule on job {rule.job})" if rule.job else "",
                )
            except StateError:
                log.info("SLA KILL: execution %d ended before it could be cancelled", record.id)
        if "EMAIL" in rule.actions and (options.sla_emails or options.webhooks):
            log.warning("SLA alert for %s: %s", ", ".join(options.sla_emails) or "the flow's webhooks", message)
            if self.settings is not None:
                from sudoless.flows.notify.events import sla_missed

                sla_missed(self.store, self.settings, record.id, options.sla_emails, message)
        if options.sla_webhook and ("EMAIL" in rule.actions or "WEBHOOK" in rule.actions):
            self._post(
                options.sla_webhook,
                {
                    "event": "sla_missed",
                    "message": message,
                    "time": now,
                    "execution_id": record.id,
                    "project": record.project_name,
                    "flow": record.flow_id,
                    "job": rule.job or None,
                    "rule": rule.kind,
                    "duration_ms": rule.duration_ms,
                    "start_time": record.start_time,
                    "deadline": record.start_time + rule.duration_ms,
                    "status": record.status.value,
                    "actions": list(rule.actions),
                    "emails": list(options.sla_emails),
                },
            )

    def _post(self, url: str, payload: dict[str, Any]) -> None:
        try:
            status = self.webhook_hosts.post(url, payload, self.webhook_timeout, "SLA webhook")
        except OutboundRefused as error:
            log.warning("SLA webhook not sent: %s", error)
            return
        except (OSError, http.client.HTTPException) as error:
            log.warning("SLA webhook %s failed: %s", url, error)
            return
        if status >= 400:
            log.warning("SLA webhook %s answered HTTP %d", url, status)


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
    return (
        f"Execution {record.id} of {record.project_name}.{record.flow_id}: {rule.describe()} of its "
        f"start at {stamp(record.start_time)}, i.e. by {stamp(deadline)}; {state}; "
        f"actions {', '.join(rule.actions)}"
    )
