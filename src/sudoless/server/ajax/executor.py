"""``/executor`` (Azkaban's ExecutorServlet, web side): run flows, control and inspect executions, read logs.

With an ``execid`` parameter the execution is loaded first (a non-numeric id is an HTTP 500, an unknown
one ``Cannot find execution 'N'``) and the permission is checked on its project. ``executeFlow`` answers
``Project 'P' doesn't exist.`` both for a missing project and a missing EXECUTE permission, as Azkaban
does. Node trees and log pages follow §2.3.3-§2.3.4 of the reference.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sudoless.accounts import Permission
from sudoless.errors import FlowLockedError, InputError, NotFoundError, PermissionDenied, StateError
from sudoless.flows.attempt import attempt_stem
from sudoless.flows.executions import control, submit_flow
from sudoless.flows.flow_retry import retry_rule
from sudoless.flows.model import FailureAction
from sudoless.flows.options import ExecutionOptions
from sudoless.server import pages
from sudoless.server.ajax import execution_view as view
from sudoless.server.dispatch import GET, Call, Route, Servlet, Target
from sudoless.server.params import Params
from sudoless.server.responses import escape_html, json_response
from sudoless.server.run_options import OptionsError, check_redefinitions, execution_options
from sudoless.store.job_runs import JobRunRecord

__all__ = ["EXECUTOR"]

READ, EXECUTE, ADMIN = Permission.READ, Permission.EXECUTE, Permission.ADMIN


def select(request: Request, params: Params) -> str:
    if "ajax" in params:
        return f"ajax:{params.get('ajax')}"
    if request.method == "GET":
        return "page:execution" if "execid" in params else "page:executions"
    return "post"


# -- lookups and refusals ------------------------------------------------------------------------------------


def by_execid(call: Call) -> Target | Response:
    exec_id = call.params.integer("execid")
    try:
        record, project = call.store.executions.get_with_project(exec_id)
    except NotFoundError:
        return json_response({"error": f"Cannot find execution '{exec_id}'"})
    if project is None:
        return json_response({"error": "Project 'null' not found."})
    return Target(project=project, execution=record)


def by_project(call: Call) -> Target | Response:
    project = call.store.projects.get(name=call.params.required("project"))
    if project is None:
        return json_response({"error": "Project 'null' not found."})
    return Target(project=project)


def by_execid_or_project(call: Call) -> Target | Response:
    return by_execid(call) if "execid" in call.params else by_project(call)


def denied(call: Call, target: Target, perm: Permission) -> Response:
    assert target.project is not None
    return json_response(
        {"error": f"User '{call.user.name}' doesn't have {perm.name} permissions on {target.project.name}"}
    )


def fallback(call: Call) -> Response:
    if call.key.startswith("ajax:"):
        if "execid" in call.params:
            found = by_execid(call)
            return found if isinstance(found, Response) else json_response({})
        return json_response({"project": call.params.required("project")})
    return Response(b"")


# -- executeFlow ---------------------------------------------------------------------------------------------


def locate_execute(call: Call) -> Target | Response:
    name = call.params.required("project")
    project = call.store.projects.get(name=name)
    if project is None:
        return execute_denied(call, Target(), EXECUTE)
    return Target(project=project)


def execute_denied(call: Call, target: Target, perm: Permission) -> Response:
    name = call.params.required("project")
    return json_response({"project": name, "error": f"Project '{name}' doesn't exist."})


def execute_flow(call: Call) -> Response:
    project = call.project
    flow_id = call.params.required("flow")
    body: dict[str, Any] = {"project": project.name, "flow": flow_id}
    flows = call.store.projects.flow_records(project.id, project.version) if project.version else {}
    if flow_id not in flows or flows[flow_id].embedded:
        body["error"] = f"Flow '{flow_id}' cannot be found in project {project.name}"
        return json_response(body)
    try:
        options, disabled = execution_options(
            call.params, flows[flow_id].graph.get("props") or {}, call.user.is_admin, call.settings.parallel
        )
    except OptionsError as exc:
        body["error"] = f"Error parsing flow options: {exc}"
        return json_response(body)
    try:
        check_redefinitions(call, project.id, project.version, project.name, flow_id, options)
    except PermissionDenied as exc:  # runtime properties that change what a job runs need WRITE
        body["error"] = str(exc)
        return json_response(body)
    running = call.store.executions.running_ids(project.id, flow_id)
    ignored: list[str] = []
    try:
        exec_id = submit_flow(
            call.store,
            call.settings,
            project.name,
            flow_id,
            options,
            call.user.name,
            disabled=disabled,
            version=project.version,
            ignored=ignored,
        )
    except FlowLockedError as exc:  # Azkaban answers a locked flow as a message, not an error
        body.update(message=str(exc), execid=-1)
        return json_response(body)
    except StateError as exc:
        message = str(exc)
        prefix = f"Error submitting flow {flow_id}. "
        body["error"] = message if message.startswith(prefix) else prefix + message
        body["execid"] = -1
        return json_response(body)
    except InputError as exc:  # ``disabled`` that is not a JSON list
        body["error"] = f"Error parsing flow options: {exc}"
        return json_response(body)
    message = f"Execution queued successfully with exec id {exec_id}"
    if running:
        ids = ",".join(str(i) for i in running)
        if options.concurrent_option == "pipeline":
            message = (
                f"Flow {flow_id} is already running with exec id {ids}. Pipelining level "
                f"{options.pipeline_level}. \n{message}"
            )
        else:
            message = f"Flow {flow_id} is already running with exec id {ids}. Will execute concurrently. \n{message}"
    body.update(message=message, execid=exec_id)
    if ignored:  # beyond Azkaban, which skips them silently: say which names did nothing
        body["warn"] = "disabled: ignored " + "; ".join(ignored)
    return json_response(body)


# -- control -------------------------------------------------------------------------------------------------


def _control(call: Call, action: str, error_key: str = "error") -> Response:
    assert call.target.execution is not None
    try:
        control(call.store, call.target.execution.id, action)
    except StateError as exc:
        return json_response({error_key: str(exc)})
    return json_response({})


def cancel_flow(call: Call) -> Response:
    return _control(call, "cancel")


def pause_flow(call: Call) -> Response:
    return _control(call, "pause")


def resume_flow(call: Call) -> Response:
    return _control(call, "resume", error_key="resume")  # Azkaban's key for this one error


def retry_failed_jobs(call: Call) -> Response:
    return _control(call, "retry_failed")


def get_running(call: Call) -> Response:
    flow_id = call.params.required("flow")
    ids = call.store.executions.running_ids(call.project.id, flow_id)
    return json_response({"execIds": ids} if ids else {})


# -- status --------------------------------------------------------------------------------------------------


def _runs(call: Call) -> list[JobRunRecord]:
    assert call.target.execution is not None
    return call.store.job_runs.of(call.target.execution.id)


MAX_STATS_BYTES = 1 << 20


def job_stats(workdir: Path, job: str, attempt: int) -> list[Any]:
    path = workdir / ".jobs" / f"{attempt_stem(job, attempt)}.attach"
    try:
        if path.stat().st_size > MAX_STATS_BYTES:
            return [{"error": f"attachment larger than {MAX_STATS_BYTES} bytes, not shown"}]
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none written, retention removed it, or not JSON
        return []
    return data if isinstance(data, list) else [data]


def fetch_exec_flow(call: Call) -> Response:
    record = call.target.execution
    assert record is not None
    flows = call.store.projects.version_flows(call.project, record.version)
    tree = view.ExecutionTree(record, _runs(call), flows)
    body = {
        "submitTime": record.submit_time,
        "submitUser": record.submit_user,
        "execid": record.id,
        "projectId": record.project_id,
        "project": call.project.name,
    }
    options = ExecutionOptions.from_json(record.options)
    flow = flows.get(record.flow_id)
    rule = retry_rule(options, (flow.graph.get("props") or {}) if flow else {})
    if rule is not None:  # Azkaban sends this object as a JSON string
        body["retries"] = json.dumps(rule.to_json(options, record.id))
    body.update(tree.root_info())
    return json_response(body)


def fetch_exec_flow_update(call: Call) -> Response:
    record = call.target.execution
    assert record is not None
    last = call.params.integer("lastUpdateTime")
    flows = call.store.projects.version_flows(call.project, record.version)
    return json_response(view.ExecutionTree(record, _runs(call), flows).root_update(last))


def flow_info(call: Call) -> Response:
    record = call.target.execution
    if record is None:
        flow_id = call.params.required("flow")
        flows = call.store.projects.flow_records(call.project.id, call.project.version) if call.project.version else {}
        if flow_id not in flows:
            return json_response({"error": f"Error loading flow. Flow {flow_id} doesn't exist in {call.project.name}"})
        notify = flows[flow_id].graph.get("notify") or {}
        body: dict[str, Any] = {
            "successEmails": list(notify.get("success_emails") or []),
            "failureEmails": list(notify.get("failure_emails") or []),
        }
        schedule = call.scheduler.for_flow(call.project.id, flow_id)
        if schedule is not None and schedule.next_fire >= 0:
            body["scheduled"] = schedule.next_fire
        return json_response(body)
    options = ExecutionOptions.from_json(record.options)
    action = options.failure_action or FailureAction.FINISH_CURRENTLY_RUNNING
    top = {run.nested_id: run.status.value for run in _runs(call) if ":" not in run.nested_id}
    return json_response(
        {
            "successEmails": list(options.success_emails),
            "failureEmails": list(options.failure_emails),
            "runtimeProperties": {node: dict(props) for node, props in options.runtime.items() if props},
            "flowParam": dict(options.runtime.get("ROOT", {})),
            "failureAction": action.ajax_name,
            "notifyFailureFirst": options.notify_failure_first,
            "notifyFailureLast": options.notify_failure_last,
            "failureEmailsOverride": options.failure_emails_override,
            "successEmailsOverride": options.success_emails_override,
            "concurrentOptions": options.concurrent_option,
            "pipelineLevel": options.pipeline_level,
            "pipelineExecution": options.pipeline_execution,
            "queueLevel": 0,
            "nodeStatus": top,
            "disabled": list(options.disabled),
        }
    )


def fetch_scheduled_flow_graph(call: Call) -> Response:
    project = call.project
    flow_id = call.params.required("flow")
    flows = call.store.projects.flow_records(project.id, project.version) if project.version else {}
    if flow_id not in flows or flows[flow_id].embedded:
        return json_response({"error": f"Flow '{flow_id}' cannot be found in project {project.name}"})
    schedule = call.scheduler.for_flow(project.id, flow_id)
    disabled = set(schedule.options.disabled) if schedule else set()
    body = {
        "submitTime": -1,
        "submitUser": None,
        "execid": -1,
        "projectId": project.id,
        "project": project.name,
        **view.planned_tree(flows, flow_id, disabled),
    }
    return json_response(body)


def fetch_exec_job_stats(call: Call) -> Response:
    """Azkaban's job statistics are what the job wrote to its ``azkaban.job.attachment.file``: a JSON list
    (another JSON value is one item), read from the execution folder while retention keeps it."""
    job = call.params.required("jobid")
    record = call.target.execution
    assert record is not None
    attempts = [run.attempt for run in call.store.job_runs.attempts(record.id, job)]
    if not attempts:
        return json_response({"error": f"Job {job} doesn't exist in {record.id}"})
    attempt = call.params.integer("attempt", max(attempts), bits=32)
    return json_response({"jobStats": job_stats(call.settings.executions_dir / str(record.id), job, attempt)})


# -- logs ----------------------------------------------------------------------------------------------------


def log_page(call: Call, name: str, attempt: int) -> Response:
    assert call.target.execution is not None
    offset = call.params.integer("offset", bits=32)
    length = call.params.integer("length", bits=32)
    raw = (
        call.store.logs.read(call.target.execution.id, name, attempt, max(offset, 0), max(length, 0))
        if offset >= 0 and length > 0
        else b""
    )
    start, data = view.utf8_range(raw)
    if not data:
        return json_response({"data": "", "offset": offset, "length": 0})
    return json_response(
        {"data": escape_html(data.decode("utf-8", "replace")), "offset": offset + start, "length": len(data)}
    )


def fetch_exec_flow_logs(call: Call) -> Response:
    return log_page(call, "", 0)


def fetch_exec_job_logs(call: Call) -> Response:
    job = call.params.required("jobId")
    assert call.target.execution is not None
    attempts = [run.attempt for run in call.store.job_runs.attempts(call.target.execution.id, job)]
    if not attempts:
        return json_response({"error": f"Job {job} doesn't exist in {call.target.execution.id}"})
    return log_page(call, job, call.params.integer("attempt", max(attempts)))


# -- admin ---------------------------------------------------------------------------------------------------


def admin_denied(text: str) -> Any:
    def refuse(call: Call, target: Target, perm: Permission) -> Response:
        return json_response({"error": text, "status": "error"})

    return refuse


def admin_success(call: Call) -> Response:
    # Executors register and activate themselves and claim work from the database: nothing to reload.
    return json_response({"status": "success"})


# -- pages ---------------------------------------------------------------------------------------------------


def executions_page(call: Call) -> Response:
    records = call.store.executions.latest(limit=100)
    readable: dict[int, bool] = {}
    rows = []
    for record in records:
        if record.project_id not in readable:
            readable[record.project_id] = call.allowed(record.project_id, READ)
        if readable[record.project_id]:
            rows.append(
                (
                    record.id,
                    record.project_name,
                    record.flow_id,
                    record.status.value,
                    record.submit_user,
                    pages.when(record.start_time),
                    pages.when(record.end_time),
                )
            )
    return pages.table_page("Executions", ["id", "project", "flow", "status", "user", "start", "end"], rows)


def execution_page(call: Call) -> Response:
    record = call.target.execution
    assert record is not None
    rows = [
        (run.nested_id, run.attempt, run.type, run.status.value, pages.when(run.start_time), pages.when(run.end_time))
        for run in _runs(call)
    ]
    title = f"Execution {record.id}: {record.project_name}.{record.flow_id} {record.status.value}"
    return pages.table_page(title, ["job", "attempt", "type", "status", "start", "end"], rows)


def locate_page(call: Call) -> Target | Response:
    found = by_execid(call)
    if isinstance(found, Response):
        return pages.message_page("Execution", f"Error loading executing flow {call.params.get('execid')} not found.")
    return found


def page_denied(call: Call, target: Target, perm: Permission) -> Response:
    assert target.project is not None
    return pages.message_page(
        "Execution", f"User {call.user.name} doesn't have {perm.name} permissions on {target.project.name}"
    )


EXECUTOR = Servlet.build(
    "/executor",
    select,
    [
        Route(
            "ajax:executeFlow", execute_flow, EXECUTE, locate=locate_execute, denied=execute_denied, changes_state=True
        ),
        Route("ajax:cancelFlow", cancel_flow, EXECUTE, locate=by_execid, changes_state=True),
        Route("ajax:pauseFlow", pause_flow, EXECUTE, locate=by_execid, changes_state=True),
        Route("ajax:resumeFlow", resume_flow, EXECUTE, locate=by_execid, changes_state=True),
        Route("ajax:retryFailedJobs", retry_failed_jobs, EXECUTE, locate=by_execid, changes_state=True),
        Route("ajax:getRunning", get_running, EXECUTE, locate=by_project),
        Route("ajax:fetchexecflow", fetch_exec_flow, READ, locate=by_execid),
        Route("ajax:fetchexecflowupdate", fetch_exec_flow_update, READ, locate=by_execid),
        Route("ajax:fetchExecFlowLogs", fetch_exec_flow_logs, READ, locate=by_execid),
        Route("ajax:fetchExecJobLogs", fetch_exec_job_logs, READ, locate=by_execid),
        Route("ajax:fetchExecJobStats", fetch_exec_job_stats, READ, locate=by_execid),
        Route("ajax:flowInfo", flow_info, READ, locate=by_execid_or_project),
        Route(
            "ajax:fetchscheduledflowgraph",
            fetch_scheduled_flow_graph,
            EXECUTE,
            locate=locate_execute,
            denied=execute_denied,
        ),
        Route(
            "ajax:reloadExecutors",
            admin_success,
            ADMIN,
            global_scope=True,
            changes_state=True,
            denied=admin_denied("Only Admins are allowed to refresh the executors"),
        ),
        Route(
            "ajax:enableQueueProcessor",
            admin_success,
            ADMIN,
            global_scope=True,
            changes_state=True,
            denied=admin_denied("Only Admins are allowed to update queue processor"),
        ),
        Route(
            "ajax:disableQueueProcessor",
            admin_success,
            ADMIN,
            global_scope=True,
            changes_state=True,
            denied=admin_denied("Only Admins are allowed to update queue processor"),
        ),
        Route("page:executions", executions_page, methods=GET),
        Route("page:execution", execution_page, READ, locate=locate_page, denied=page_denied, methods=GET),
    ],
    fallback,
    denied=denied,
)
