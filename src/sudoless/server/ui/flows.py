"""A flow: its graph (coloured by the last run), the run form, and the chart of its last 50 runs.

The graph is laid out on the server (:mod:`sudoless.server.ui.layout`) and fetched as JSON by the page,
once per set of expanded embedded flows; the run form submits to the AJAX API's ``executeFlow``, so its
options are parsed and checked exactly as for any Azkaban client.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from markupsafe import Markup
from starlette.responses import Response

from sudoless.errors import NotFoundError, StateError
from sudoless.flows.executions import PreparedRun, prepare_execution
from sudoless.server.ajax.executor import EXECUTOR
from sudoless.server.ajax.manager import MANAGER
from sudoless.server.dispatch import GET, Call, Route
from sudoless.server.run_options import configured_failure_action, failure_action_form_value
from sudoless.server.ui.layout import layout_flow
from sudoless.server.ui.projects import abilities, current_flows
from sudoless.server.ui.rows import recent_rows, run_chart
from sudoless.server.ui.web import (
    api_permission,
    data,
    error_page,
    locate_project,
    page_url,
    render,
    status_class,
    ui_of,
)
from sudoless.store.executions import ExecutionRecord, ExecutionSummary
from sudoless.store.projects import FlowRecord
from sudoless.store.status import TERMINAL_FLOW

__all__ = ["ROUTES", "job_tree", "layout_json"]

#: The graph and the flow page show what ``fetchflowgraph`` shows.
READ = api_permission(MANAGER, "ajax:fetchflowgraph")
FAILURE_ACTIONS = (
    ("finishCurrent", "Finish running jobs, start no new ones"),
    ("cancelImmediately", "Cancel everything at once"),
    ("finishPossible", "Finish every job that can still run"),
)


def job_tree(flows: dict[str, FlowRecord], flow_id: str) -> list[dict[str, Any]]:
    """Every node of a flow, embedded flows' nodes included, as (nested id, depth, type) in flow order."""
    out: list[dict[str, Any]] = []

    def walk(current: str, prefix: str, depth: int, seen: frozenset[str]) -> None:
        record = flows.get(current)
        if record is None or current in seen:
            return
        for node in record.graph.get("nodes", ()):
            nested = prefix + node["name"]
            out.append({"id": nested, "name": node["name"], "depth": depth, "type": node.get("type") or ""})
            if node.get("subflow"):
                walk(node["subflow"], nested + ":", depth + 1, seen | {current})

    walk(flow_id, "", 0, frozenset())
    return out


def job_items(
    jobs: list[dict[str, Any]],
    statuses: dict[str, str],
    execute_ok: bool,
    disabled: set[str],
    prepared_id: int | None,
) -> Markup:
    """The flow page's job list, one ``<li>`` a job, built here rather than in the template: a template loop
    costs tens of microseconds a job in Jinja's per-item machinery, seconds for a 10,000-job flow (measured in
    benchmarks/README.md, big_flow.py), while one join of ``html.escape``d strings is a few microseconds."""
    parts: list[str] = []
    for job in jobs:
        ident, name = escape(job["id"]), escape(job["name"])
        parts.append(f'<li class="depth-{min(job["depth"], 4)}">')
        if execute_ok:
            checked = "" if job["id"] in disabled else " checked"
            parts.append(f'<label><input type="checkbox" class="job-enabled" value="{ident}"{checked}> {name}</label>')
        else:
            parts.append(name)
        if job["id"] in disabled:
            parts.append(f' <span class="small prepared-why">succeeded in #{prepared_id}: disabled</span>')
        parts.append(f' <span class="muted small">{escape(job["type"])}</span>')
        parts.append(
            f' <button type="button" class="link small job-details" data-job="{ident}"'
            f' aria-label="Details of {ident}">Details</button>'
        )
        shown = statuses.get(job["id"])
        if shown:
            parts.append(f' <span class="status {status_class(shown)}">{escape(shown)}</span>')
        parts.append("</li>\n")
    return Markup("".join(parts))


def layout_json(call: Call, project_id: int, version: int, flow_id: str) -> Response:
    """The layout of a stored flow version with the ``expand`` parameter's embedded flows opened."""
    expand = tuple(sorted({e for e in (call.params.get("expand") or "").split(",") if e}))

    def compute() -> Any:
        flows = call.store.projects.flow_records(project_id, version)
        return layout_flow({fid: record.graph for fid, record in flows.items()}, flow_id, expand)

    if not version:
        return data({"error": "This project has no uploaded version."}, 404)
    layout = ui_of(call).layouts.get((call.store.url, project_id, version, flow_id, expand), compute)
    if not layout.nodes:
        return data({"error": f"Flow {flow_id} has no jobs in version {version}."}, 404)
    return data(layout.to_json())


def flow_layout(call: Call) -> Response:
    project = call.project
    return layout_json(call, project.id, project.version, call.params.required("flow"))


def _prepared(call: Call, flow_id: str) -> PreparedRun | Response | None:
    """The run the ``prepare`` parameter names (Azkaban's "Prepare Execution"), when it is one of this flow."""
    if not call.params.get("prepare"):
        return None
    exec_id = call.params.integer("prepare")
    try:
        prepared = prepare_execution(call.store, exec_id)
    except NotFoundError:
        return error_page(call, 404, "No such execution", f"Execution {exec_id} does not exist.")
    except StateError as exc:
        return error_page(call, 409, "Nothing to prepare", str(exc))
    if prepared.record.project_id != call.project.id or prepared.record.flow_id != flow_id:
        return error_page(call, 404, "No such execution", f"Execution {exec_id} is not a run of {flow_id}.")
    return prepared


def job_attempts(
    call: Call, runs: Sequence[ExecutionSummary | ExecutionRecord]
) -> dict[int, list[tuple[str, int, str]]]:
    """Each run's job attempts, in (node, attempt) order: finished runs' from the cache (their rows no longer
    change), the others' (and finished ones not seen yet) in one statement. The runs x jobs grid's cells, and
    the flow page's colours (its newest run's)."""
    cache = ui_of(call).finished_jobs
    out: dict[int, list[tuple[str, int, str]]] = {}
    missing = []
    for run in runs:
        found = cache.peek((call.store.url, run.id)) if run.status in TERMINAL_FLOW else None
        if found is None:
            missing.append(run.id)
        else:
            out[run.id] = found
    for exec_id in missing:
        out[exec_id] = []
    for exec_id, nested_id, attempt, status in call.store.job_runs.statuses_of(missing):
        out[exec_id].append((nested_id, attempt, status))
    for run in runs:
        if run.id in missing and run.status in TERMINAL_FLOW:
            cache.put((call.store.url, run.id), out[run.id])
    return out


def flow_view(call: Call) -> Response:
    project = call.project
    flow_id = call.params.required("flow")
    flows = current_flows(call, project)
    if flow_id not in flows or flows[flow_id].embedded:
        return error_page(call, 404, "No such flow", f"Project {project.name} has no flow {flow_id}.")
    prepared = _prepared(call, flow_id)
    if isinstance(prepared, Response):
        return prepared
    now = call.store.clock()
    runs, scheduled = call.store.executions.recent_and_scheduled(project.id, flow_id, 50)
    last_status: dict[str, str] = {}
    shown_run = prepared.record if prepared is not None else runs[0] if runs else None
    shown = shown_run.id if shown_run is not None else None
    if shown_run is not None:  # in (node, attempt) order: a node's latest attempt wins
        for nested_id, _, status in job_attempts(call, [shown_run])[shown_run.id]:
            last_status[nested_id] = status
    props = flows[flow_id].graph.get("props") or {}
    jobs = job_tree(flows, flow_id)
    own_action = configured_failure_action(props)  # the form starts where the run would go without it
    if prepared is not None and prepared.options.failure_action is not None:
        own_action = prepared.options.failure_action  # ... or where the run it repeats went
    execute_ok = call.allowed(project.id, api_permission(EXECUTOR, "ajax:executeFlow"))
    chart, marks = run_chart(runs, now)
    page_data = {
        "project": project.name,
        "flow": flow_id,
        "layoutUrl": page_url("data/projects", project.name, "flows", flow_id, "layout"),
        "jobUrl": page_url("data/projects", project.name, "flows", flow_id, "jobs"),
        "statuses": last_status,
        "lastExec": shown,
        "jobs": [job["id"] for job in jobs],
        "prepared": None
        if prepared is None
        else {
            "execid": prepared.record.id,
            "disabled": list(prepared.disabled),
            "params": prepared.options.runtime.get("ROOT") or {},
            "jobParams": {node: props for node, props in prepared.options.runtime.items() if node != "ROOT"},
            "concurrent": prepared.options.concurrent_option,
        },
    }
    return render(
        call,
        "flow.html",
        title=f"{flow_id} - {project.name}",
        project=project,
        flow_id=flow_id,
        runs=runs[:10],
        recent_rows=recent_rows(runs[:10], now),
        chart=chart,
        chart_marks=marks,
        job_items=job_items(
            jobs,
            last_status,
            execute_ok,
            set(prepared.disabled) if prepared else set(),
            prepared.record.id if prepared else None,
        ),
        notify=flows[flow_id].graph.get("notify") or {"success_emails": [], "failure_emails": []},
        scheduled=scheduled,
        can=abilities(call, project),
        configured_failure=props.get("failure.action"),
        failure_actions=FAILURE_ACTIONS,
        default_failure=failure_action_form_value(own_action) if own_action else "finishCurrent",
        page_data=page_data,
        prepared=prepared,
        override_failure=bool(prepared and prepared.options.failure_action and props.get("failure.action")),
        execute_ok=execute_ok,
    )


ROUTES = [
    ("/ui/projects/{project}/flows/{flow}", Route("flow", flow_view, READ, locate=locate_project, methods=GET)),
    (
        "/ui/data/projects/{project}/flows/{flow}/layout",
        Route("data:flow-layout", flow_layout, READ, locate=locate_project, methods=GET),
    ),
]
