"""Logs by byte range: the flow log of an execution and each job attempt's log, as JSON or raw text.

Offsets and lengths count bytes of the UTF-8 log, as in the AJAX API; unlike it, ``data`` is not
HTML-escaped, ranges are bounded (16 MiB a call) and the answer says how large the log is and whether it
is complete. ``format=text`` returns the raw bytes with the same facts in ``X-Log-*`` headers.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response

from sudoless.errors import NotFoundError
from sudoless.server.ajax.execution_view import utf8_range
from sudoless.server.ajax.executor import EXECUTOR
from sudoless.server.api.context import Caller, CallerDep, ajax_permission
from sudoless.server.api.errors import error_responses
from sudoless.server.api.executions import ExecId
from sudoless.server.api.models import PATH_NAME, LogFormat, LogPage
from sudoless.server.api.routing import ThreadedRoute
from sudoless.store.status import FINISHED, TERMINAL_FLOW

router = APIRouter(prefix="/executions/{exec_id}", tags=["logs"], route_class=ThreadedRoute)

FLOW_LOG = ajax_permission(EXECUTOR, "ajax:fetchExecFlowLogs")
JOB_LOG = ajax_permission(EXECUTOR, "ajax:fetchExecJobLogs")
MAX_LENGTH = 16 << 20

Offset = Annotated[int, Query(ge=0, le=2**53, description="first byte to read")]
Length = Annotated[int, Query(ge=0, le=MAX_LENGTH, description="bytes to read at most")]
Format = Annotated[LogFormat, Query(description="json: a LogPage; text: the raw bytes as text/plain")]
LOG_RESPONSES = {
    200: {
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/LogPage"}},
            "text/plain": {"schema": {"type": "string"}},
        },
        "description": "the byte range, as JSON or as text",
    },
    **error_responses(403, 404),
}


def page(
    call: Caller, exec_id: int, name: str, attempt: int, offset: int, length: int, complete: bool, fmt: LogFormat
) -> Response:
    size, raw = call.store.logs.page(exec_id, name, attempt, offset, length)
    done = complete and offset + len(raw) >= size
    if fmt == LogFormat.text:
        headers = {
            "X-Log-Offset": str(offset),
            "X-Log-Length": str(len(raw)),
            "X-Log-Size": str(size),
            "X-Log-Complete": "true" if done else "false",
        }
        return Response(raw, media_type="text/plain; charset=utf-8", headers=headers)
    start, data = utf8_range(raw)
    body = LogPage(
        data=data.decode("utf-8", "replace"),
        offset=offset + start if data else offset,
        length=len(data),
        size=size,
        complete=done and start + len(data) == len(raw),
    )
    return JSONResponse(body.model_dump())


@router.get("/logs", response_model=LogPage, responses=LOG_RESPONSES, summary="The flow log of an execution")
def flow_log(
    exec_id: ExecId, call: CallerDep, offset: Offset = 0, length: Length = 1 << 20, format: Format = LogFormat.json
) -> Response:  # noqa: A002 - the query parameter's name
    record = call.execution(exec_id, FLOW_LOG)
    return page(call, exec_id, "", 0, offset, length, record.status in TERMINAL_FLOW, format)


@router.get("/jobs/{job}/logs", response_model=LogPage, responses=LOG_RESPONSES, summary="A job's log")
def job_log(
    exec_id: ExecId,
    job: Annotated[
        str, PathParam(min_length=1, max_length=500, pattern=PATH_NAME, description="nested id: 'job' or 'sub:job'")
    ],
    call: CallerDep,
    offset: Offset = 0,
    length: Length = 1 << 20,
    attempt: Annotated[int | None, Query(ge=0, le=10_000, description="default: the latest")] = None,
    format: Format = LogFormat.json,
) -> Response:  # noqa: A002 - the query parameter's name
    record = call.execution(exec_id, JOB_LOG)
    runs = {run.attempt: run for run in call.store.job_runs.attempts(exec_id, job)}
    if not runs:
        raise NotFoundError(f"Job {job} doesn't exist in {exec_id}")
    chosen = max(runs) if attempt is None else attempt
    if chosen not in runs:
        raise NotFoundError(
            f"Job {job} of execution {exec_id} has no attempt {chosen} (attempts: {', '.join(map(str, sorted(runs)))})"
        )
    complete = runs[chosen].status in FINISHED or chosen < max(runs) or record.status in TERMINAL_FLOW
    return page(call, exec_id, job, chosen, offset, length, complete, format)
