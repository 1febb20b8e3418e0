"""Executions: the filterable history, and one execution watched live (graph, jobs, timeline, logs).

Live updates are polled, and each poll is cheap on purpose: ``/ui/data/executions/N/runs?since=T``
reads the execution row by primary key and only the job rows updated after ``T`` (the
``ix_job_runs_update`` index on execution and update time), and the page polls once a second only while
the execution runs and the tab is visible (every 10 s when hidden, never after the end). Azkaban's
``fetchexecflowupdate`` re-reads every job row and the flow graphs on each call, so the page does not
use it. Polls overlap the previous one by two seconds, which makes a row committed in the same
millisecond as the last one seen (or by an executor whose clock lags a little) show up anyway.

Logs are read by byte range: the page asks for 64 KB at an offset (or the last 64 KB), and a running
job's log is followed by asking for what lies after the last byte shown. A range is found with two
index seeks whatever the size of the log (:meth:`sudoless.store.logs.LogQueries.read`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from math import ceil
from typing import Any

from starlette.responses import Response, StreamingResponse

from sudoless.errors import InputError, NotFoundError, PermissionDenied, StateError
from sudoless.flows.executions import control, restart_execution
from sudoless.flows.model import FailureAction
from sudoless.flows.notify.history import execution_notifications
from sudoless.flows.options import ExecutionOptions
from sudoless.flows.why import why_not_run
from sudoless.server.ajax.execution_view import utf8_range
from sudoless.server.ajax.executor import EXECUTOR
from sudoless.server.dispatch import GET, POST, Call, Route
from sudoless.server.run_options import check_redefinitions, configured_failure_action
from sudoless.server.ui.flows import layout_json
from sudoless.server.ui.projects import PAGE_SIZE, page_number, readable_project_ids
from sudoless.server.ui.rows import execution_rows
from sudoless.server.ui.web import api_permission, csrf_of, data, locate_execution, page_url, redirect, render
from sudoless.store.executions import COUNT_AHEAD, HISTORY_SORTS, HistoryFilter
from sudoless.store.job_runs import JobRunState
from sudoless.store.status import TERMINAL_FLOW, Status

__all__ = ["ROUTES"]

READ = api_permission(EXECUTOR, "page:execution")
UPDATES = api_permission(EXECUTOR, "ajax:fetchexecflowupdate")
LOGS = api_permission(EXECUTOR, "ajax:fetchExecJobLogs")
CONTROL = api_permission(EXECUTOR, "ajax:retryFailedJobs")
EXECUTE = api_permission(EXECUTOR, "ajax:executeFlow")
CANCEL = api_permission(EXECUTOR, "ajax:cancelFlow")
OVERLAP_MS = 2000
MAX_LOG_BYTES = 1 << 20


def _day(text: str | None, end: bool = False) -> int | None:
    """``YYYY-MM-DD`` (UTC) as epoch ms at its start, or at the next day's start for an upper bound."""
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(day.timestamp() * 1000) + (86_400_000 if end else 0)


#: The executions page's columns: (sort key, heading); a key is a name of :data:`HISTORY_SORTS` or None.
COLUMNS = (
    ("id", "Run"),
    ("project", "Project"),
    ("flow", "Flow"),
    ("status", "Status"),
    ("user", "Submitted by"),
    ("submitted", "Submitted"),
    ("started", "Started"),
    ("ended", "Ended"),
    ("duration", "Duration"),
    ("source", "Source"),
    (None, "Actions"),
)


def _anchor(text: str | None) -> int | None:
    """A keyset link's execution id (``after=`` / ``before=``); anything but a positive id is no anchor
    (the page's number then applies), as a hand-edited link should not fail."""
    text = (text or "").strip()
    if not text.isdigit() or len(text) > 18:
        return None
    return int(text) or None


def history_page(call: Call) -> Response:
    """The executions list: filters matching parts of names (any case), or whole names with ``match=exact``
    (what a flow's "All runs" link asks: a contains-match would add every flow whose name holds this one),
    columns sorted on the server."""
    params = call.params
    status_text = (params.get("status") or "").strip().upper()
    statuses: tuple[Status, ...] = ()
    if status_text == "RUNNING_ANY":
        statuses = tuple(s for s in Status if s not in TERMINAL_FLOW)
    elif status_text in Status.__members__:
        statuses = (Status(status_text),)
    project, flow, user = ((params.get(key) or "").strip() for key in ("project", "flow", "user"))
    exact = params.get("match") == "exact"
    readable = readable_project_ids(call)
    if exact and project:  # one project by its whole name, among those the user may read
        record = call.store.projects.get(name=project)
        readable = [record.id] if record and (readable is None or record.id in readable) else []
    wanted = HistoryFilter(
        project_ids=readable,
        statuses=statuses,
        since=_day(params.get("from")),
        until=_day(params.get("to"), end=True),
        flow=flow if exact else "",
        user=user if exact else "",
        project_contains="" if exact else project,
        flow_contains="" if exact else flow,
        user_contains="" if exact else user,
    )
    sort = params.get("sort") or "id"
    if sort not in HISTORY_SORTS:
        sort = "id"
    descending = (params.get("order") or "desc") != "asc"
    page = page_number(call)
    after, before = (_anchor(params.get(name)) for name in ("after", "before"))
    found = call.store.executions.history(
        wanted,
        PAGE_SIZE,
        (page - 1) * PAGE_SIZE,
        sort,
        descending,
        count_ahead=COUNT_AHEAD,
        after=after,
        before=None if after is not None else before,
    )
    filters = {
        "project": project,
        "flow": flow,
        "status": status_text,
        "user": user,
        "from": params.get("from") or "",
        "to": params.get("to") or "",
        "match": "exact" if exact else "",
    }
    ordering = {"sort": sort if sort != "id" else "", "order": "" if descending else "asc"}
    # Cancel is offered where the user may cancel (EXECUTE, as the API's cancelFlow); the route checks again.
    cancellable: dict[int, bool] = {}
    for run in found.runs:
        if run.status not in TERMINAL_FLOW and run.project_id not in cancellable:
            cancellable[run.project_id] = call.allowed(run.project_id, CANCEL)

    def sort_link(key: str) -> str:
        """The column's link: by it, newest or largest first; again on the sorted column flips the order."""
        flip = key == sort and descending
        return page_url("executions", **filters, sort=key, order="asc" if flip else "")

    def page_link(n: int) -> str:
        """Page ``n``: the next and previous pages by keyset (the last or first row shown), so that page
        5,000 costs what page 1 does; the first page plainly; any other by its number (an offset)."""
        if n == page + 1 and found.runs:
            return page_url("executions", **filters, **ordering, page=n, after=found.runs[-1].id)
        if n == page - 1 and n > 1 and found.runs:
            return page_url("executions", **filters, **ordering, page=n, before=found.runs[0].id)
        return page_url("executions", **filters, **ordering, page=n if n > 1 else None)

    back = page_url("executions", **filters, **ordering, page=page if page > 1 else None)
    return render(
        call,
        "executions.html",
        title="Executions",
        rows=execution_rows(found.runs, call.store.clock(), cancellable, csrf_of(call), back),
        runs=found.runs,
        total=found.total,
        exact=found.exact,
        page=page,
        pages=max(1, ceil(found.total / PAGE_SIZE)),
        filters=filters,
        columns=COLUMNS,
        sort=sort,
        descending=descending,
        sort_link=sort_link,
        statuses=[s.value for s in Status],
        users=call.store.accounts.user_names() if call.user.is_admin else [],
        page_link=page_link,
    )


def cancel_from_list(call: Call) -> Response:
    """Cancel a running or queued execution from the executions list (EXECUTE, CSRF-checked), then back."""
    record = call.target.execution
    assert record is not None
    back = call.params.get("back") or "/ui/executions"
    if not back.startswith("/ui/executions"):  # only back to the list, never elsewhere
        back = "/ui/executions"
    try:
        control(call.store, record.id, "cancel")
    except StateError as exc:
        return redirect(back, "error", str(exc))
    return redirect(back, "success", f"Execution {record.id} of {record.flow_id}: cancel requested.")


def run_json(run: JobRunState) -> dict[str, Any]:
    return {
        "id": run.nested_id,
        "attempt": run.attempt,
        "type": run.type,
        "status": run.status.value,
        "start": run.start_time,
        "end": run.end_time,
        "update": run.update_time,
    }


def state_json(call: Call, since: int = -1) -> dict[str, Any]:
    # the execution as the permission check located it: the request's reads share one snapshot, so reading
    # it again would return the same row
    record = call.target.execution
    assert record is not None
    runs = call.store.job_runs.states(record.id, since)
    return {
        "execution": {
            "id": record.id,
            "status": record.status.value,
            "submitTime": record.submit_time,
            "startTime": record.start_time,
            "endTime": record.end_time,
            "updateTime": record.update_time,
            "over": record.status in TERMINAL_FLOW,
        },
        "runs": [run_json(run) for run in runs],
        "now": call.store.clock(),
    }


def execution_view(call: Call) -> Response:
    record = call.target.execution
    assert record is not None
    project = call.project
    state = state_json(call)
    page_data = {
        "execid": record.id,
        "project": project.name,
        "flow": record.flow_id,
        "state": state,
        "layoutUrl": page_url("data/executions", record.id, "layout"),
        "runsUrl": page_url("data/executions", record.id, "runs"),
        "logUrl": page_url("data/executions", record.id, "log"),
        "jobUrl": page_url("data/executions", record.id, "jobs"),
        "overlap": OVERLAP_MS,
    }
    options = record.options or {}
    failure_action = options.get("failure_action")
    if not failure_action:  # the run asked for none: the flow's own setting applied, as the runner reads it
        flow = call.store.projects.version_flows(project, record.version).get(record.flow_id)
        own = configured_failure_action((flow.graph.get("props") or {}) if flow else {})
        failure_action = (own or FailureAction.FINISH_CURRENTLY_RUNNING).value
    return render(
        call,
        "execution.html",
        title=f"Execution {record.id}",
        record=record,
        project=project,
        page_data=page_data,
        can_control=call.allowed(project.id, CONTROL),
        can_execute=call.allowed(project.id, EXECUTE),
        failure_action=failure_action,
        concurrent=options.get("concurrent_option") or "skip",
        parameters=(options.get("runtime") or {}).get("ROOT") or {},
        disabled=options.get("disabled") or [],
        notifications=execution_notifications(call.store, record.id),
    )


def restart(call: Call) -> Response:
    """Restart failed: a new execution of what did not succeed, continuing in this one's folder
    (:func:`~sudoless.flows.executions.restart_execution`); its runtime properties are checked again, as
    the JSON API's restart checks them, since the caller may have less permission than the first runner."""
    record = call.target.execution
    assert record is not None
    options = ExecutionOptions.from_json(record.options)
    try:
        check_redefinitions(call, record.project_id, record.version, record.project_name, record.flow_id, options)
        new_id = restart_execution(call.store, call.settings, record.id, call.user.name)
    except PermissionDenied as exc:
        return data({"error": str(exc)}, 403)
    except (StateError, InputError, NotFoundError) as exc:
        return data({"error": str(exc)}, 409)
    return data({"execid": new_id, "message": f"Execution {record.id} restarted as {new_id}"})


def execution_runs(call: Call) -> Response:
    since = call.params.integer("since", -1)
    return data(state_json(call, since - OVERLAP_MS if since >= 0 else -1))


def execution_layout(call: Call) -> Response:
    record = call.target.execution
    assert record is not None
    return layout_json(call, record.project_id, record.version, record.flow_id)


def execution_log(call: Call) -> Response:
    """A byte range of a job's log (``job`` empty: the flow's own log) as text, with the log's size.

    ``offset=-1`` asks for the last ``length`` bytes. The range is trimmed to whole UTF-8 characters and
    the answer says where it really starts. A job that never started says why (``reason``). With
    ``download=1`` the answer is the whole log as a text file, streamed a megabyte at a time.
    """
    record = call.target.execution
    assert record is not None
    job = call.params.get("job") or ""
    runs = call.store.job_runs.attempts(record.id, job) if job else []
    attempts = [run.attempt for run in runs] if job else [0]
    if not attempts:
        return data({"error": f"Job {job} doesn't exist in execution {record.id}"}, 404)
    attempt = call.params.integer("attempt", max(attempts))
    if call.params.get("download"):
        return _download(call, record.id, job, attempt, call.store.logs.size(record.id, job, attempt))
    length = min(max(call.params.integer("length", 65536), 0), MAX_LOG_BYTES)
    offset = call.params.integer("offset", 0)
    if offset < 0:  # the tail: its start depends on the size
        size = call.store.logs.size(record.id, job, attempt)
        offset = max(size - length, 0)
    size, raw = call.store.logs.page(record.id, job, attempt, offset, length)
    skipped, piece = utf8_range(raw)
    reason = None
    this = next((run for run in runs if run.attempt == attempt), None)
    if size == 0 and this is not None:
        # oldest attempt first: the later ones win
        latest = {run.nested_id: run for run in call.store.job_runs.of(record.id) if run.nested_id in this.parents}
        reason = why_not_run(this, latest, record)
    return data(
        {
            "job": job,
            "attempt": attempt,
            "attempts": sorted(set(attempts)),
            "offset": offset + skipped,
            "length": len(piece),
            "size": size,
            "data": piece.decode("utf-8", "replace"),
            "reason": reason,
        }
    )


def _download(call: Call, exec_id: int, job: str, attempt: int, size: int) -> Response:
    """The whole log as ``text/plain``, named after the execution, the job and the attempt."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", job or "flow")
    filename = f"execution-{exec_id}-{name}" + (f"-attempt-{attempt}" if job else "") + ".log"

    def chunks() -> Iterator[bytes]:
        for offset in range(0, size, MAX_LOG_BYTES):
            yield call.store.logs.read(exec_id, job, attempt, offset, MAX_LOG_BYTES)

    return StreamingResponse(
        chunks(),
        media_type="text/plain; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Content-Length": str(size),
            "X-Content-Type-Options": "nosniff",
        },
    )


ROUTES = [
    ("/ui/executions", Route("executions", history_page, methods=GET)),
    ("/ui/executions/{execid}", Route("execution", execution_view, READ, locate=locate_execution, methods=GET)),
    (
        "/ui/executions/{execid}/cancel",
        Route(
            "cancel-execution",
            cancel_from_list,
            CANCEL,
            locate=locate_execution,
            methods=POST,
            changes_state=True,
        ),
    ),
    (
        "/ui/data/executions/{execid}/runs",
        Route("data:runs", execution_runs, UPDATES, locate=locate_execution, methods=GET),
    ),
    (
        "/ui/data/executions/{execid}/layout",
        Route("data:exec-layout", execution_layout, READ, locate=locate_execution, methods=GET),
    ),
    ("/ui/data/executions/{execid}/log", Route("data:log", execution_log, LOGS, locate=locate_execution, methods=GET)),
    (
        "/ui/data/executions/{execid}/restart",
        Route("data:restart", restart, EXECUTE, locate=locate_execution, methods=POST, changes_state=True),
    ),
]
