"""The job details panel of the flow and execution pages, as JSON for their scripts: what a job runs, its
properties resolved as a run would see them (secrets masked), where it sits in the flow, and its recent
attempts with their durations and logs. The data comes from :func:`sudoless.flows.job_details.job_details`;
an execution's panel resolves with that execution's version and runtime properties."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from sudoless.errors import InputError, NotFoundError
from sudoless.flows.job_details import job_details
from sudoless.flows.options import ExecutionOptions
from sudoless.server.dispatch import GET, Call, Route
from sudoless.server.ui import charts, executions, flows
from sudoless.server.ui.web import data, format_duration, locate_execution, locate_project, page_url
from sudoless.store.job_runs import JobAttempt

__all__ = ["ROUTES", "attempts_chart"]


def _answer(
    call: Call,
    project_id: int,
    project_name: str,
    version: int,
    flow_id: str,
    runtime: Mapping[str, Mapping[str, str]],
) -> Response:
    job = call.params.required("job")
    if not version:
        return data({"error": "This project has no uploaded version."}, 404)
    try:
        details = job_details(call.store, call.settings, project_id, project_name, version, flow_id, job, runtime)
    except NotFoundError as exc:
        return data({"error": str(exc)}, 404)
    except InputError as exc:  # a stored version that no longer loads (a flow renamed in a later upload)
        return data({"error": str(exc)}, 409)
    anchor = f"#log={quote(job, safe='')}"
    return data(
        {
            "id": details.nested_id,
            "name": details.name,
            "type": details.type,
            "command": details.command,
            "condition": details.condition,
            "source": details.source,
            "parents": details.parents,
            "children": details.children,
            "properties": [[key, value] for key, value in details.properties.items()],
            "unresolved": details.unresolved,
            "recent": [
                {
                    "execid": run.exec_id,
                    "attempt": run.attempt,
                    "status": run.status.value,
                    "start": run.start_time,
                    "end": run.end_time,
                    "log": page_url("executions", run.exec_id) + f"{anchor}&attempt={run.attempt}",
                }
                for run in details.recent
            ],
            "chart": attempts_chart(details.recent, call.store.clock()),
        }
    )


def attempts_chart(attempts: Sequence[JobAttempt], now: int) -> dict[str, Any]:
    """The panel's chart of a job's recent attempts (newest first, as queried), as its script draws it. When
    every attempt has ended, no bar grows with the time, and the chart is kept, by the attempts themselves (a
    new attempt, or one whose status or times changed, is another key): about a twentieth of the panel."""
    shown = tuple(attempts)
    if all(attempt.end_time >= 0 for attempt in shown):
        return _ended_chart(shown)
    return _chart_json(shown, now)


@functools.lru_cache(maxsize=1024)
def _ended_chart(attempts: tuple[JobAttempt, ...]) -> dict[str, Any]:
    return _chart_json(attempts, 0)


def _chart_json(attempts: Sequence[JobAttempt], now: int) -> dict[str, Any]:
    chart = charts.attempt_bars(attempts, now)
    return {
        "width": chart.width,
        "height": chart.height,
        "axis": chart.axis,
        "ticks": [[y, format_duration(value)] for y, value in chart.ticks],
        "bars": [
            {
                "x": bar.x,
                "y": bar.y,
                "width": bar.width,
                "height": bar.height,
                "status": bar.status.value,
                "title": f"#{bar.exec_id} {bar.status.value} in {format_duration(bar.duration)}",
            }
            for bar in chart.bars
        ],
    }


def flow_job(call: Call) -> Response:
    project = call.project
    return _answer(call, project.id, project.name, project.version, call.params.required("flow"), {})


def execution_job(call: Call) -> Response:
    record = call.target.execution
    assert record is not None
    runtime = ExecutionOptions.from_json(record.options).runtime
    return _answer(call, record.project_id, record.project_name, record.version, record.flow_id, runtime)


ROUTES = [
    (
        "/ui/data/projects/{project}/flows/{flow}/jobs/{job}",
        Route("data:flow-job", flow_job, flows.READ, locate=locate_project, methods=GET),
    ),
    (
        "/ui/data/executions/{execid}/jobs/{job}",
        Route("data:execution-job", execution_job, executions.READ, locate=locate_execution, methods=GET),
    ),
]
