"""``/history`` (Azkaban's HistoryServlet): searching every execution the user may read.

Azkaban's page takes a quick search (``search=true&searchterm=``: in the project, flow or user), an
advanced filter (``advfilter=true`` with ``projcontain``, ``flowcontain``, ``usercontain``, ``status`` as
Azkaban's number or name, ``begin`` and ``end`` as ``MM/dd/yyyy hh:mm AM`` in the server's zone), ``days``
(the last N days) and paging (``page`` from 1, ``size``). Its ``ajax=fetch`` answers ``{}``; here it answers
the same search as JSON. A browser without ``ajax`` is sent to the web UI's executions page.

Its ``total`` counts at most 1,000 matches past the page asked for (:data:`COUNT_AHEAD`): past that,
``totalExact`` is false and ``total`` is a lower bound (an exact count of a million executions took longer
than the rest of the answer).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sudoless.server import flash
from sudoless.server.dispatch import GET, Call, Route, Servlet
from sudoless.server.params import Params
from sudoless.server.responses import json_response
from sudoless.store.executions import COUNT_AHEAD, History, HistoryFilter
from sudoless.store.status import Status

__all__ = ["HISTORY"]

DEFAULT_SIZE = 16
MAX_SIZE = 1000
_TIME_FORMATS = ("%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M", "%m/%d/%Y", "%Y-%m-%d %H:%M", "%Y-%m-%d")


class SearchError(ValueError):
    """A parameter that cannot be read; the answer says which and how to write it."""


def select(request: Request, params: Params) -> str:
    ajax = params.get("ajax")
    return f"ajax:{ajax}" if ajax is not None else "page"


def _time(call: Call, name: str) -> int | None:
    text = (call.params.get(name) or "").strip()
    if not text or text == "-1":
        return None
    if text.lstrip("-").isdigit():
        return int(text)
    for pattern in _TIME_FORMATS:
        try:
            when = datetime.strptime(text.upper() if "%p" in pattern else text, pattern)
        except ValueError:
            continue
        return int(when.replace(tzinfo=call.settings.zone).timestamp() * 1000)
    raise SearchError(f"{name}={text!r}: expected MM/dd/yyyy hh:mm AM (the server's zone) or epoch milliseconds")


def _status(text: str) -> tuple[Status, ...]:
    text = text.strip()
    if not text or text == "0":
        return ()
    try:
        return (Status.from_code(int(text)),) if text.isdigit() else (Status(text.upper()),)
    except (KeyError, ValueError):
        raise SearchError(f"status={text!r}: not an execution status (a name such as FAILED, or its number)") from None


def search(call: Call) -> tuple[History, int, int]:
    """The executions the request asks for, among those its user may read; with the page and its size."""
    from sudoless.server.ui.projects import readable_project_ids

    params = call.params
    page = max(1, params.integer("page", 1, bits=32))
    size = min(MAX_SIZE, max(1, params.integer("size", DEFAULT_SIZE, bits=32)))
    wanted: dict[str, Any] = {"project_ids": readable_project_ids(call)}
    if params.get("search") == "true":
        wanted["term"] = (params.get("searchterm") or "").strip()
    elif params.get("advfilter") == "true":
        wanted.update(
            project_contains=(params.get("projcontain") or "").strip(),
            flow_contains=(params.get("flowcontain") or "").strip(),
            user_contains=(params.get("usercontain") or "").strip(),
            statuses=_status(params.get("status") or ""),
            since=_time(call, "begin"),
            until=_time(call, "end"),
        )
    days = params.integer("days", 0, bits=32)
    if days > 0:
        wanted["since"] = call.store.clock() - days * 86_400_000
    found = call.store.executions.history(HistoryFilter(**wanted), size, (page - 1) * size, count_ahead=COUNT_AHEAD)
    return found, page, size


def fetch(call: Call) -> Response:
    try:
        found, page, size = search(call)
    except SearchError as exc:
        return json_response({"error": str(exc)})
    return json_response(
        {
            "total": found.total,
            "totalExact": found.exact,
            "page": page,
            "size": size,
            "executions": [
                {
                    "execId": run.id,
                    "projectId": run.project_id,
                    "projectName": run.project_name,
                    "flowId": run.flow_id,
                    "status": run.status.value,
                    "submitUser": run.submit_user,
                    "submitTime": run.submit_time,
                    "startTime": run.start_time,
                    "endTime": run.end_time,
                }
                for run in found.runs
            ],
        }
    )


def page(call: Call) -> Response:
    from sudoless.server.ui.web import page_url

    return flash.redirect(page_url("executions"))


def fallback(call: Call) -> Response:
    return json_response({})


HISTORY = Servlet.build(
    "/history",
    select,
    [
        Route("ajax:fetch", fetch, methods=GET),
        Route("page", page, methods=GET),
    ],
    fallback,
)
