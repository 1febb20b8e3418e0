"""The reads ``server_latency.py`` measures: every read an Azkaban client or the web UI makes against a
populated server, each with how a request is drawn at random and how its answer is checked.

Three kinds, by how they authenticate as the clients do:

- **ajax**: Azkaban's AJAX API (``/executor``, ``/manager``, ``/history``, ``/schedule``, ``/index``), the
  session id as the ``session.id`` parameter, as the ``azkaban`` client and scripts send it;
- **ui**: the web UI's pages and the JSON its scripts read (``/ui/data/...``), the session in the browser's
  cookie;
- **api**: the JSON API (``/api/v1``), the session id as a bearer token.

A request is drawn from what the database holds (:class:`Population`): a uniformly random execution, a
random flow of a random project, a job that ran in that execution (so that its log exists), a page of a
flow's executions (3 times in 4 the first, as people mostly look at the newest). Its check is cheap: status
200, a body of the right kind (JSON without an ``error`` key, or a complete HTML page), and one fact that
only the right answer holds (the execution id asked for, the flow's name, the job's log line).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

#: rows per page of a flow's executions (the Azkaban web UI's page)
PAGE = 16
#: bytes of a log asked for at once (the Azkaban web UI asks 50,000)
LOG_LENGTH = 50_000
#: the web UI's session cookie (sudoless.server.sessions.COOKIE, not imported: the generator stays light)
COOKIE = "azkaban.browser.session.id"


@dataclass(frozen=True)
class Population:
    """What the database holds, as ``populate`` made it: enough to draw requests whose answers are known."""

    executions: int
    #: (project, flow) of every flow, by flow index
    flows: list[tuple[str, str]]
    #: every flow's nodes in the order they were written, (nested id, type)
    nodes: list[list[tuple[str, str]]]
    #: per execution (id - 1): its flow's index and how many of its nodes ran (a prefix; the others were
    #: cancelled or killed)
    runs: list[tuple[int, int]]
    session: str

    @classmethod
    def from_json(cls, filled: dict[str, Any], executions: int, session: str) -> Population:
        return cls(
            executions=executions,
            flows=[(project, flow) for project, flow in filled["flows"]],
            nodes=[[(name, kind) for name, kind in nodes] for nodes in filled.get("nodes", [])],
            runs=[(flow, ran) for flow, ran in filled.get("runs", [])],
            session=session,
        )

    def execution(self, rng: random.Random) -> int:
        return rng.randint(1, self.executions)

    def flow(self, rng: random.Random) -> tuple[str, str]:
        return self.flows[rng.randrange(len(self.flows))]

    def project(self, rng: random.Random) -> str:
        return self.flow(rng)[0]

    def job_of_flow(self, rng: random.Random) -> tuple[str, str, str]:
        """(project, flow, job) of a random job (not an embedded flow's node) of a random flow."""
        index = rng.randrange(len(self.flows))
        project, flow = self.flows[index]
        jobs = [name for name, kind in self.nodes[index] if kind != "flow"]
        return project, flow, jobs[rng.randrange(len(jobs))]

    def ran_job(self, rng: random.Random) -> tuple[int, str, str]:
        """(execution, project, job) of a job attempt that ran, so that it wrote a log."""
        exec_id = self.execution(rng)
        index, ran = self.runs[exec_id - 1]
        jobs = [name for name, kind in self.nodes[index][:ran] if kind != "flow"]
        return exec_id, self.flows[index][0], jobs[rng.randrange(len(jobs))]

    def flow_page(self, rng: random.Random) -> tuple[str, str, int]:
        """(project, flow, first row) of a page of a flow's executions: the first page 3 times in 4."""
        project, flow = self.flow(rng)
        per_flow = max(1, self.executions // max(len(self.flows), 1))
        start = 0 if rng.random() < 0.75 else PAGE * rng.randrange(max(1, per_flow // PAGE))
        return project, flow, start


#: how a request is drawn: (request target, what the check needs to know)
Draw = Callable[[Population, random.Random], tuple[str, str]]
#: how an answer is checked: (what the draw said, HTTP status, body) -> None when right, else what is wrong
Check = Callable[[str, int, str], "str | None"]


@dataclass(frozen=True)
class Read:
    """One endpoint: its kind (ajax, ui, api), how to draw a request and how to check the answer."""

    name: str
    kind: str
    draw: Draw
    check: Check

    def headers(self, session: str) -> str:
        """The request's extra header lines: the UI's cookie or the API's bearer token."""
        if self.kind == "ui":
            return f"Cookie: {COOKIE}={session}\r\n"
        if self.kind == "api":
            return f"Authorization: Bearer {session}\r\n"
        return ""


# -- checks -------------------------------------------------------------------------------------------------


def json_body(predicate: Callable[[Any, str], bool], wrong: str) -> Check:
    """A JSON answer without an ``error`` key for which ``predicate(body, expected)`` holds."""

    def check(expected: str, status: int, text: str) -> str | None:
        if status != 200:
            return f"HTTP {status}"
        try:
            body = json.loads(text)
        except ValueError:
            return "not JSON"
        if isinstance(body, dict) and "error" in body:
            return f"error: {body['error']}"[:120]
        return None if predicate(body, expected) else wrong

    return check


def html_page(expected_in_page: bool = True) -> Check:
    """A complete HTML page (a page cut short has no ``</html>``) that shows what the draw expects."""

    def check(expected: str, status: int, text: str) -> str | None:
        if status != 200:
            return f"HTTP {status}"
        if not text.rstrip().endswith("</html>"):
            return "not a whole HTML page"
        if expected_in_page and expected not in text:
            return "the page does not show what was asked for"
        return None

    return check


def has(*keys: str) -> Callable[[Any, str], bool]:
    return lambda body, _expected: isinstance(body, dict) and all(key in body for key in keys)


def log_holds(key: str = "data") -> Callable[[Any, str], bool]:
    """A log page whose text holds the expected line (JSON escapes nothing in it: plain words)."""
    return lambda body, expected: isinstance(body, dict) and expected in str(body.get(key, ""))


# -- draws --------------------------------------------------------------------------------------------------


def ajax(path: str, **query: str) -> Callable[[str], str]:
    """A request target for an AJAX read, the session id added last (as Azkaban's clients send it)."""
    return lambda session: f"{path}?{urlencode({**query, 'session.id': session})}"


def q(part: object) -> str:
    """One path part, quoted (names may hold any character but ``/``)."""
    return quote(str(part), safe="")


def draw_fetchexecflow(pop: Population, rng: random.Random) -> tuple[str, str]:
    exec_id = pop.execution(rng)
    return ajax("/executor", ajax="fetchexecflow", execid=str(exec_id))(pop.session), str(exec_id)


def draw_fetchexecflowupdate(pop: Population, rng: random.Random) -> tuple[str, str]:
    exec_id = pop.execution(rng)
    # the web UI's first poll of a page asks for everything (-1); a finished execution answers the same later
    target = ajax("/executor", ajax="fetchexecflowupdate", execid=str(exec_id), lastUpdateTime="-1")
    return target(pop.session), str(exec_id)


def draw_flow_log(pop: Population, rng: random.Random) -> tuple[str, str]:
    exec_id = pop.execution(rng)
    target = ajax("/executor", ajax="fetchExecFlowLogs", execid=str(exec_id), offset="0", length=str(LOG_LENGTH))
    return target(pop.session), f"Submitting execution {exec_id} "


def draw_job_log(pop: Population, rng: random.Random) -> tuple[str, str]:
    exec_id, _, job = pop.ran_job(rng)
    target = ajax(
        "/executor", ajax="fetchExecJobLogs", execid=str(exec_id), jobId=job, offset="0", length=str(LOG_LENGTH)
    )
    return target(pop.session), f"Starting job {job} "


def draw_job_stats(pop: Population, rng: random.Random) -> tuple[str, str]:
    exec_id, _, job = pop.ran_job(rng)
    return ajax("/executor", ajax="fetchExecJobStats", execid=str(exec_id), jobid=job)(pop.session), job


def draw_flow_info(pop: Population, rng: random.Random) -> tuple[str, str]:
    exec_id = pop.execution(rng)
    return ajax("/executor", ajax="flowInfo", execid=str(exec_id))(pop.session), str(exec_id)


def draw_get_running(pop: Population, rng: random.Random) -> tuple[str, str]:
    project, flow = pop.flow(rng)
    return ajax("/executor", ajax="getRunning", project=project, flow=flow)(pop.session), flow


def draw_project_flows(pop: Population, rng: random.Random) -> tuple[str, str]:
    project = pop.project(rng)
    return ajax("/manager", ajax="fetchprojectflows", project=project)(pop.session), project


def draw_flow_graph(pop: Population, rng: random.Random) -> tuple[str, str]:
    project, flow = pop.flow(rng)
    return ajax("/manager", ajax="fetchflowgraph", project=project, flow=flow)(pop.session), flow


def draw_flow_executions(pop: Population, rng: random.Random) -> tuple[str, str]:
    project, flow, start = pop.flow_page(rng)
    target = ajax(
        "/manager", ajax="fetchFlowExecutions", project=project, flow=flow, start=str(start), length=str(PAGE)
    )
    return target(pop.session), flow


def draw_last_successful(pop: Population, rng: random.Random) -> tuple[str, str]:
    project, flow = pop.flow(rng)
    target = ajax("/manager", ajax="fetchLastSuccessfulFlowExecution", project=project, flow=flow)
    return target(pop.session), flow


def draw_project_logs(pop: Population, rng: random.Random) -> tuple[str, str]:
    project = pop.project(rng)
    return ajax("/manager", ajax="fetchProjectLogs", project=project)(pop.session), project


def draw_history(pop: Population, rng: random.Random) -> tuple[str, str]:
    # the Executions page of Azkaban's UI: the newest first, now and then a later page or a search
    choice = rng.random()
    if choice < 0.7:
        query = {"ajax": "fetch", "page": str(1 + (rng.random() < 0.2) * rng.randrange(1, 50)), "size": "16"}
    elif choice < 0.85:
        query = {"ajax": "fetch", "search": "true", "searchterm": pop.flow(rng)[1], "size": "16"}
    else:
        query = {"ajax": "fetch", "advfilter": "true", "projcontain": pop.project(rng), "status": "FAILED"}
    return ajax("/history", **query)(pop.session), ""


def draw_schedules(pop: Population, rng: random.Random) -> tuple[str, str]:
    return ajax("/schedule", ajax="fetchSchedules")(pop.session), ""


def draw_user_projects(pop: Population, rng: random.Random) -> tuple[str, str]:
    return ajax("/index", ajax="fetchuserprojects")(pop.session), ""


def draw_ui_executions(pop: Population, rng: random.Random) -> tuple[str, str]:
    choice = rng.random()
    if choice < 0.6:
        return "/ui/executions", ""
    if choice < 0.8:
        project, flow = pop.flow(rng)
        return f"/ui/executions?project={q(project)}&flow={q(flow)}", flow
    if choice < 0.9:
        return "/ui/executions?status=FAILED", ""
    return f"/ui/executions?page={rng.randrange(2, 50)}", ""


def draw_ui_execution(pop: Population, rng: random.Random) -> tuple[str, str]:
    exec_id = pop.execution(rng)
    return f"/ui/executions/{exec_id}", f"<title>Execution {exec_id} - sudoless</title>"  # whole: not N0


def draw_ui_project(pop: Population, rng: random.Random) -> tuple[str, str]:
    project = pop.project(rng)
    return f"/ui/projects/{q(project)}", project


def draw_ui_flow(pop: Population, rng: random.Random) -> tuple[str, str]:
    project, flow = pop.flow(rng)
    return f"/ui/projects/{q(project)}/flows/{q(flow)}", flow


def draw_ui_grid(pop: Population, rng: random.Random) -> tuple[str, str]:
    project, flow = pop.flow(rng)
    return f"/ui/projects/{q(project)}/flows/{q(flow)}/grid", flow


def draw_ui_runs(pop: Population, rng: random.Random) -> tuple[str, str]:
    exec_id = pop.execution(rng)
    return f"/ui/data/executions/{exec_id}/runs?since=0", str(exec_id)


def draw_ui_exec_layout(pop: Population, rng: random.Random) -> tuple[str, str]:
    return f"/ui/data/executions/{pop.execution(rng)}/layout", ""


def draw_ui_log(pop: Population, rng: random.Random) -> tuple[str, str]:
    exec_id, _, job = pop.ran_job(rng)
    return f"/ui/data/executions/{exec_id}/log?job={q(job)}&offset=0", f"Starting job {job} "


def draw_ui_execution_job(pop: Population, rng: random.Random) -> tuple[str, str]:
    exec_id, _, job = pop.ran_job(rng)
    return f"/ui/data/executions/{exec_id}/jobs/{q(job)}", job


def draw_ui_flow_layout(pop: Population, rng: random.Random) -> tuple[str, str]:
    project, flow = pop.flow(rng)
    return f"/ui/data/projects/{q(project)}/flows/{q(flow)}/layout", flow


def draw_ui_flow_job(pop: Population, rng: random.Random) -> tuple[str, str]:
    project, flow, job = pop.job_of_flow(rng)
    return f"/ui/data/projects/{q(project)}/flows/{q(flow)}/jobs/{q(job)}", job


def draw_api_executions(pop: Population, rng: random.Random) -> tuple[str, str]:
    project, flow, start = pop.flow_page(rng)
    return f"/api/v1/executions?project={q(project)}&flow={q(flow)}&offset={start}&limit={PAGE}", flow


def draw_api_execution(pop: Population, rng: random.Random) -> tuple[str, str]:
    exec_id = pop.execution(rng)
    return f"/api/v1/executions/{exec_id}", str(exec_id)


def draw_api_job_log(pop: Population, rng: random.Random) -> tuple[str, str]:
    exec_id, _, job = pop.ran_job(rng)
    return f"/api/v1/executions/{exec_id}/jobs/{q(job)}/logs?offset=0&length={LOG_LENGTH}", f"Starting job {job} "


def draw_api_flow(pop: Population, rng: random.Random) -> tuple[str, str]:
    project, flow = pop.flow(rng)
    return f"/api/v1/projects/{q(project)}/flows/{q(flow)}", flow


def draw_api_projects(pop: Population, rng: random.Random) -> tuple[str, str]:
    return "/api/v1/projects", pop.project(rng)


# -- the table ----------------------------------------------------------------------------------------------


def _nodes(body: Any, _expected: str = "") -> bool:
    return bool(isinstance(body, dict) and body.get("nodes"))


READS: tuple[Read, ...] = (
    # Azkaban's AJAX API: an execution's page and its polls, logs, job statistics
    Read(
        "fetchexecflow",
        "ajax",
        draw_fetchexecflow,
        json_body(lambda b, e: str(b.get("execid")) == e and _nodes(b), "wrong execution or no nodes"),
    ),
    Read(
        "fetchexecflowupdate",
        "ajax",
        draw_fetchexecflowupdate,
        json_body(lambda b, e: isinstance(b, dict) and "status" in b and _nodes(b), "no status or no nodes"),
    ),
    Read("fetchExecFlowLogs", "ajax", draw_flow_log, json_body(log_holds(), "the flow log is not there")),
    Read("fetchExecJobLogs", "ajax", draw_job_log, json_body(log_holds(), "the job log is not there")),
    Read("fetchExecJobStats", "ajax", draw_job_stats, json_body(has("jobStats"), "no jobStats")),
    Read("flowInfo", "ajax", draw_flow_info, json_body(has("nodeStatus", "failureAction"), "no nodeStatus")),
    Read("getRunning", "ajax", draw_get_running, json_body(lambda b, e: isinstance(b, dict), "not an object")),
    # a project's and a flow's pages
    Read(
        "fetchprojectflows",
        "ajax",
        draw_project_flows,
        json_body(lambda b, e: b.get("project") == e and bool(b.get("flows")), "wrong project or no flows"),
    ),
    Read(
        "fetchflowgraph",
        "ajax",
        draw_flow_graph,
        json_body(lambda b, e: b.get("flow") == e and _nodes(b), "wrong flow or no nodes"),
    ),
    Read(
        "fetchFlowExecutions",
        "ajax",
        draw_flow_executions,
        json_body(
            lambda b, e: b.get("flow") == e and isinstance(b.get("executions"), list) and "total" in b,
            "no executions list",
        ),
    ),
    Read(
        "fetchLastSuccessfulFlowExecution",
        "ajax",
        draw_last_successful,
        json_body(lambda b, e: b.get("success") == "true" and bool(b.get("execId")), "no successful execution"),
    ),
    Read(
        "fetchProjectLogs",
        "ajax",
        draw_project_logs,
        json_body(lambda b, e: b.get("project") == e and bool(b.get("logData")), "no project events"),
    ),
    # the lists: executions (history), schedules, projects
    Read(
        "history",
        "ajax",
        draw_history,
        json_body(lambda b, e: isinstance(b.get("executions"), list) and "total" in b, "no executions list"),
    ),
    Read(
        "fetchSchedules",
        "ajax",
        draw_schedules,
        json_body(lambda b, e: bool(b.get("items")), "no schedules"),
    ),
    Read(
        "fetchuserprojects",
        "ajax",
        draw_user_projects,
        json_body(lambda b, e: bool(b.get("projects")), "no projects"),
    ),
    # the web UI's pages (the session in its cookie)
    Read("ui:executions", "ui", draw_ui_executions, html_page()),
    Read("ui:execution", "ui", draw_ui_execution, html_page()),
    Read("ui:projects", "ui", lambda pop, rng: ("/ui/projects", pop.project(rng)), html_page()),
    Read("ui:project", "ui", draw_ui_project, html_page()),
    Read("ui:flow", "ui", draw_ui_flow, html_page()),
    Read("ui:grid", "ui", draw_ui_grid, html_page()),
    Read("ui:schedules", "ui", lambda pop, rng: ("/ui/schedules", pop.flow(rng)[1]), html_page()),
    Read("ui:status", "ui", lambda pop, rng: ("/ui/status", ""), html_page(expected_in_page=False)),
    # what the UI's scripts read
    Read(
        "ui:data:runs",
        "ui",
        draw_ui_runs,
        json_body(lambda b, e: str(b["execution"]["id"]) == e and bool(b.get("runs")), "wrong execution or no runs"),
    ),
    Read("ui:data:exec-layout", "ui", draw_ui_exec_layout, json_body(_nodes, "no nodes")),
    Read("ui:data:log", "ui", draw_ui_log, json_body(log_holds(), "the job log is not there")),
    Read("ui:data:execution-job", "ui", draw_ui_execution_job, json_body(lambda b, e: e in json.dumps(b), "no job")),
    Read("ui:data:flow-layout", "ui", draw_ui_flow_layout, json_body(_nodes, "no nodes")),
    Read("ui:data:flow-job", "ui", draw_ui_flow_job, json_body(lambda b, e: e in json.dumps(b), "no job")),
    # the JSON API (a bearer token)
    Read(
        "api:executions",
        "api",
        draw_api_executions,
        json_body(lambda b, e: isinstance(b.get("items"), list) and b.get("total", 0) > 0, "no executions"),
    ),
    Read(
        "api:execution",
        "api",
        draw_api_execution,
        json_body(lambda b, e: str(b.get("id")) == e and bool(b.get("jobs")), "wrong execution or no jobs"),
    ),
    Read("api:job-log", "api", draw_api_job_log, json_body(log_holds(), "the job log is not there")),
    Read("api:flow", "api", draw_api_flow, json_body(lambda b, e: e in json.dumps(b), "wrong flow")),
    Read(
        "api:projects",
        "api",
        draw_api_projects,
        json_body(lambda b, e: isinstance(b, list) and e in json.dumps(b), "the project is not listed"),
    ),
)

BY_NAME = {read.name: read for read in READS}
#: the groups ``--endpoints`` accepts besides single names
GROUPS = {
    "all": [read.name for read in READS],
    "ajax": [read.name for read in READS if read.kind == "ajax"],
    "ui": [read.name for read in READS if read.kind == "ui"],
    "api": [read.name for read in READS if read.kind == "api"],
}


def expand(names: list[str]) -> list[str]:
    """``--endpoints``' names with the groups spelled out, each once, in the order given; KeyError names an
    unknown one."""
    out: list[str] = []
    for name in names:
        for one in GROUPS.get(name, [name]):
            if one not in BY_NAME:
                raise KeyError(one)
            if one not in out:
                out.append(one)
    return out
