"""Azkaban's job callbacks: HTTP requests a job's properties ask for when it starts and ends.

``job.notification.<status>.<n>.url`` with ``.method`` (``GET``, the default, or ``POST``), ``.body`` (needed
by a POST) and ``.headers`` (``Name:value`` pairs separated by CR LF), for ``<status>`` ``started``,
``success``, ``failure`` and ``completed`` (after success or failure) and ``<n>`` 1, 2, 3 (the first
missing number ends the list, as Azkaban reads them). The tokens ``?{server}``, ``?{project}``, ``?{flow}``,
``?{executionId}``, ``?{job}`` and ``?{status}`` are replaced, URL-encoded in the URL and as they are in the
body. A POST without a body or a method other than GET and POST is skipped with a line in the job's log
(Azkaban refuses such a project at upload). Each request becomes a queued notification, so a slow or absent
receiver never holds the job up; its URL must go to a host on the admin's webhook list like any webhook.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote_plus

__all__ = ["CALLBACK_STATUSES", "CallbackRequest", "callback_requests", "has_callbacks"]

CALLBACK_STATUSES = ("started", "success", "failure", "completed")
MAX_CALLBACKS = 3
_TOKENS = ("server", "project", "flow", "executionId", "job", "status")


@dataclass(frozen=True)
class CallbackRequest:
    method: str
    url: str
    body: str | None
    headers: tuple[tuple[str, str], ...]


#: the first URL of each status: a job has callbacks when one of them is set
_FIRST_URLS = tuple(f"job.notification.{status}.1.url" for status in CALLBACK_STATUSES)


def has_callbacks(props: Mapping[str, str]) -> bool:
    """Whether any ``job.notification.<status>.1.url`` is set (cheap: checked before resolving anything, and
    three times per job by the runner, so the keys are made once and looked up without a generator)."""
    return any(map(props.get, _FIRST_URLS))


def callback_requests(
    props: Mapping[str, str], status: str, context: Mapping[str, str], problems: list[str] | None = None
) -> list[CallbackRequest]:
    """The requests of ``status`` in ``props``, tokens replaced from ``context`` (keys as in ``_TOKENS``);
    skipped ones are described in ``problems``."""
    requests = []
    for number in range(1, MAX_CALLBACKS + 1):
        prefix = f"job.notification.{status}.{number}."
        url = props.get(prefix + "url")
        if not url:
            break
        method = (props.get(prefix + "method") or "GET").strip().upper()
        body = props.get(prefix + "body")
        if method not in ("GET", "POST"):
            _note(problems, f"{prefix}method {method!r}: only GET and POST are supported; callback skipped")
            continue
        if method == "POST" and not body:
            _note(problems, f"{prefix}body is missing for a POST; callback {url} skipped")
            continue
        headers = tuple(
            (name.strip(), value.strip())
            for name, sep, value in (
                line.partition(":") for line in (props.get(prefix + "headers") or "").split("\r\n")
            )
            if sep and name.strip()
        )
        requests.append(
            CallbackRequest(
                method,
                _replace(url, context, True),
                _replace(body, context, False) if method == "POST" and body else None,
                headers,
            )
        )
    return requests


def _replace(text: str, context: Mapping[str, str], encode: bool) -> str:
    for token in _TOKENS:
        value = str(context.get(token, ""))
        text = text.replace(f"?{{{token}}}", quote_plus(value) if encode else value)
    return text


def _note(problems: list[str] | None, text: str) -> None:
    if problems is not None:
        problems.append(text)
