"""``/executor``: executeFlow with its options, control, status trees and updates, logs by byte range,
executions of a flow (reference §2.3)."""

from __future__ import annotations

import html
import time

import pytest

from server.live import HELLO, Client, LiveServer, make_zip, unique

SLEEPY = {"nap.job": "type=command\ncommand=sleep 30\n", "after.job": "type=noop\ndependencies=nap\n"}
EMBEDDED = {
    "i1.job": "type=command\ncommand=echo inside\n",
    "inner.job": "type=noop\ndependencies=i1\n",
    "outer.job": "type=flow\nflow.name=inner\n",
    "final.job": "type=noop\ndependencies=outer\n",
}


def project(admin: Client, files: dict[str, str]) -> str:
    name = unique("x")
    admin.create_project(name)
    response = admin.upload(name, make_zip(files))
    assert response.status_code == 200, response.text
    return name


def test_execute_and_fetch_the_execution(live: LiveServer, admin: Client) -> None:
    name = project(admin, HELLO)
    answer = admin.ajax("/executor", "executeFlow", via="POST", project=name, flow="end")
    exec_id = answer["execid"]
    assert answer == {
        "project": name,
        "flow": "end",
        "message": f"Execution queued successfully with exec id {exec_id}",
        "execid": exec_id,
    }
    body = admin.wait(exec_id)
    project_id = admin.ajax("/manager", "getProjectId", project=name)["projectId"]
    assert set(body) == {
        "submitTime",
        "submitUser",
        "execid",
        "projectId",
        "project",
        "id",
        "status",
        "startTime",
        "endTime",
        "updateTime",
        "type",
        "nestedId",
        "attempt",
        "flow",
        "nodes",
        "flowId",
    }
    assert (body["execid"], body["project"], body["projectId"], body["submitUser"]) == (
        exec_id,
        name,
        project_id,
        admin.user,
    )
    assert (body["id"], body["flow"], body["flowId"], body["nestedId"], body["type"], body["status"]) == (
        "end",
        "end",
        "end",
        "end",
        None,
        "SUCCEEDED",
    )
    assert body["submitTime"] <= body["startTime"] <= body["endTime"] <= body["updateTime"]
    nodes = {n["id"]: n for n in body["nodes"]}
    assert set(nodes["start"]) == {
        "id",
        "status",
        "startTime",
        "endTime",
        "updateTime",
        "type",
        "nestedId",
        "attempt",
    }  # no "in": start has no parents
    assert nodes["end"]["in"] == ["start"] and nodes["end"]["type"] == "noop"
    assert [nodes[j]["status"] for j in ("start", "end")] == ["SUCCEEDED", "SUCCEEDED"]


def test_execution_updates(live: LiveServer, admin: Client) -> None:
    name = project(admin, HELLO)
    exec_id = admin.execute(name, "end")
    final = admin.wait(exec_id)
    everything = admin.ajax("/executor", "fetchexecflowupdate", execid=exec_id, lastUpdateTime=-1)
    assert everything["id"] == "end" and everything["status"] == "SUCCEEDED"
    assert {n["id"] for n in everything["nodes"]} == {"start", "end"}
    assert set(everything["nodes"][0]) == {"id", "status", "startTime", "endTime", "updateTime", "attempt"}
    nothing = admin.ajax("/executor", "fetchexecflowupdate", execid=exec_id, lastUpdateTime=final["updateTime"])
    assert nothing == {
        "status": "SUCCEEDED",
        "startTime": final["startTime"],
        "endTime": final["endTime"],
        "updateTime": final["updateTime"],
    }


def test_logs_by_byte_offset(live: LiveServer, admin: Client) -> None:
    name = project(admin, {"talk.job": "type=command\ncommand=echo 'déjà <vu> & \"ça\"'\n"})
    exec_id = admin.execute(name, "talk")
    admin.wait(exec_id)
    whole = admin.ajax("/executor", "fetchExecJobLogs", execid=exec_id, jobId="talk", offset=0, length=100_000)
    text = html.unescape(whole["data"])
    assert 'déjà <vu> & "ça"' in text
    assert "&lt;vu&gt; &amp; &quot;&ccedil;a&quot;" in whole["data"]  # escaped like commons-lang escapeHtml
    assert whole["offset"] == 0 and whole["length"] == len(text.encode())
    # Page with a small length: pieces end on character boundaries and lengths count raw bytes.
    offset, pieces = 0, []
    while True:
        page = admin.ajax("/executor", "fetchExecJobLogs", execid=exec_id, jobId="talk", offset=offset, length=7)
        if page["length"] == 0:
            break
        assert page["offset"] == offset and 0 < page["length"] <= 7
        piece = html.unescape(page["data"])
        assert len(piece.encode()) == page["length"]
        pieces.append(piece)
        offset += page["length"]
    assert "".join(pieces) == text
    past = admin.ajax("/executor", "fetchExecJobLogs", execid=exec_id, jobId="talk", offset=10**6, length=50)
    assert past == {"data": "", "offset": 10**6, "length": 0}
    flow_log = admin.ajax("/executor", "fetchExecFlowLogs", execid=exec_id, offset=0, length=50_000)
    assert "Flow talk finished: SUCCEEDED" in flow_log["data"]
    unknown = admin.ajax("/executor", "fetchExecJobLogs", execid=exec_id, jobId="nope", offset=0, length=10)
    assert unknown == {"error": f"Job nope doesn't exist in {exec_id}"}


def test_unknown_execution(live: LiveServer, admin: Client) -> None:
    assert admin.ajax("/executor", "fetchexecflow", execid=987654321) == {"error": "Cannot find execution '987654321'"}


def test_run_options_flow_override_and_disabled(live: LiveServer, admin: Client) -> None:
    name = project(admin, HELLO)
    exec_id = admin.execute(
        name,
        "end",
        **{
            "flowOverride[greeting]": "there",
            "disabled": "[]",
            "concurrentOption": "concurrent",
            "failureAction": "finishPossible",
            "notifyFailureFirst": "true",
        },
    )
    admin.wait(exec_id)
    log = admin.ajax("/executor", "fetchExecJobLogs", execid=exec_id, jobId="start", offset=0, length=10_000)
    assert "hello there" in log["data"]
    info = admin.ajax("/executor", "flowInfo", execid=exec_id)
    assert info["failureAction"] == "finishPossible" and info["notifyFailureFirst"] is True
    assert info["flowParam"] == {"greeting": "there"} and info["concurrentOptions"] == "ignore"
    assert info["nodeStatus"] == {"start": "SUCCEEDED", "end": "SUCCEEDED"}
    skipped = admin.execute(name, "end", disabled='["start"]')
    nodes = {n["id"]: n["status"] for n in admin.wait(skipped)["nodes"]}
    assert nodes == {"start": "SKIPPED", "end": "SUCCEEDED"}
    bad = admin.ajax("/executor", "executeFlow", project=name, flow="end", concurrentOption="pipeline")
    assert bad["error"] == "Error parsing flow options: Missing required parameter 'pipelineLevel'."
    missing = admin.ajax("/executor", "executeFlow", project=name, flow="nosuch")
    assert missing == {
        "project": name,
        "flow": "nosuch",
        "error": f"Flow 'nosuch' cannot be found in project {name}",
    }


def test_control_of_a_running_execution(live: LiveServer, admin: Client) -> None:
    name = project(admin, SLEEPY)
    first = admin.execute(name, "after")
    admin.wait(first, until=lambda b: any(n["status"] == "RUNNING" for n in b["nodes"]))
    assert admin.ajax("/executor", "getRunning", project=name, flow="after") == {"execIds": [first]}
    # The default concurrentOption is skip (azkaban-cli sends no options at all).
    refused = admin.ajax("/executor", "executeFlow", project=name, flow="after")
    assert refused == {
        "project": name,
        "flow": "after",
        "execid": -1,
        "error": "Error submitting flow after. Flow after is already running. Skipping execution.",
    }
    second = admin.ajax("/executor", "executeFlow", project=name, flow="after", concurrentOption="ignore")
    assert second["message"] == (
        f"Flow after is already running with exec id {first}. Will execute concurrently. \n"
        f"Execution queued successfully with exec id {second['execid']}"
    )
    assert admin.ajax("/executor", "pauseFlow", execid=first) == {}
    admin.wait(first, until=lambda b: b["status"] == "PAUSED")
    assert admin.ajax("/executor", "resumeFlow", execid=first) == {}
    admin.wait(first, until=lambda b: b["status"] == "RUNNING")
    for exec_id in (first, second["execid"]):
        assert admin.ajax("/executor", "cancelFlow", execid=exec_id) == {}
    assert admin.wait(first)["status"] == "KILLED"
    assert admin.wait(second["execid"])["status"] == "KILLED"
    assert admin.ajax("/executor", "getRunning", project=name, flow="after") == {}
    message = f"Execution {first} of flow after isn't running."
    assert admin.ajax("/executor", "cancelFlow", execid=first) == {"error": message}
    assert admin.ajax("/executor", "resumeFlow", execid=first) == {"resume": message}
    assert admin.ajax("/executor", "retryFailedJobs", execid=first) == {
        "error": "Flow has already finished. Please re-execute."
    }


def test_executions_of_a_flow(live: LiveServer, admin: Client) -> None:
    name = project(admin, HELLO)
    assert admin.ajax("/manager", "fetchLastSuccessfulFlowExecution", project=name, flow="end")["success"] == "false"
    ids = [admin.execute(name, "end", concurrentOption="ignore") for _ in range(3)]
    for exec_id in ids:
        admin.wait(exec_id)
    page = admin.ajax("/manager", "fetchFlowExecutions", project=name, flow="end", start=1, length=1)
    assert (page["flow"], page["total"], page["from"], page["length"]) == ("end", 3, 1, 1)
    assert [e["execId"] for e in page["executions"]] == [ids[1]]  # newest first
    assert set(page["executions"][0]) == {
        "execId",
        "flowId",
        "projectId",
        "status",
        "submitTime",
        "startTime",
        "endTime",
        "submitUser",
    }
    last = admin.ajax("/manager", "fetchLastSuccessfulFlowExecution", project=name, flow="end")
    assert (last["success"], last["message"], last["execId"]) == ("true", "", ids[-1])


def test_embedded_flow_and_retries(live: LiveServer, admin: Client) -> None:
    files = {**EMBEDDED, "flaky.job": "type=command\ncommand=false\nretries=1\nretry.backoff=0\n"}
    name = project(admin, files)
    body = admin.wait(admin.execute(name, "final"))
    outer = next(n for n in body["nodes"] if n["id"] == "outer")
    assert (outer["type"], outer["flow"], outer["flowId"], outer["nestedId"]) == (
        "flow",
        "inner",
        "inner",
        "outer",
    )
    inner_nodes = {n["id"]: n for n in outer["nodes"]}
    assert inner_nodes["i1"]["nestedId"] == "outer:i1" and inner_nodes["inner"]["in"] == ["i1"]
    log = admin.ajax("/executor", "fetchExecJobLogs", execid=body["execid"], jobId="outer:i1", offset=0, length=10_000)
    assert "inside" in log["data"]
    flaky = admin.wait(admin.execute(name, "flaky"))
    node = flaky["nodes"][0]
    assert (flaky["status"], node["status"], node["attempt"]) == ("FAILED", "FAILED", 1)
    assert [(a["attempt"], a["status"]) for a in node["pastAttempts"]] == [(0, "FAILED")]
    first = admin.ajax(
        "/executor",
        "fetchExecJobLogs",
        execid=flaky["execid"],
        jobId="flaky",
        offset=0,
        length=10_000,
        attempt=0,
    )
    assert "attempt 0" in first["data"]


@pytest.mark.parametrize("via", ["GET", "POST"])
def test_execute_via_get_and_post(live: LiveServer, admin: Client, via: str) -> None:
    name = project(admin, HELLO)
    answer = admin.ajax("/executor", "executeFlow", via=via, project=name, flow="end")
    assert answer["execid"] > 0
    started = time.monotonic()
    assert admin.wait(answer["execid"])["status"] == "SUCCEEDED"
    assert time.monotonic() - started < 30
