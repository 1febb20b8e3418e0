"""Flow-level retry over real HTTP: executeFlow's flowOverride asks for it, the retry runs on the server's
executor as a new execution, and fetchexecflow's ``retries`` links the executions as Azkaban's does."""

from __future__ import annotations

import json

from server.live import Client, LiveServer, make_zip, unique


def test_failed_execution_is_retried_and_linked(live: LiveServer, admin: Client) -> None:
    name = unique("r")
    admin.create_project(name)
    admin.upload(name, make_zip({"boom.job": "type=command\ncommand=false\n"}))
    first = admin.execute(
        name, "boom", **{"flowOverride[flow.retry.statuses]": "FAILED", "flowOverride[flow.max.retries]": "1"}
    )
    assert admin.wait(first)["status"] == "FAILED"

    def child_of(exec_id: int) -> int:
        retries = json.loads(admin.ajax("/executor", "fetchexecflow", execid=exec_id)["retries"])
        return int(retries["childExecutionID"])

    deadline_body = admin.wait(
        first, until=lambda body: json.loads(body.get("retries", "{}")).get("childExecutionID", -1) > 0
    )
    retries = json.loads(deadline_body["retries"])
    assert retries["allowedStatuses"] == "FAILED" and retries["userDefinedMax"] == 1
    assert (retries["userDefinedCount"], retries["rootExecutionID"], retries["parentExecutionID"]) == (0, first, -1)
    second = child_of(first)
    done = admin.wait(second)
    assert done["status"] == "FAILED"
    again = json.loads(done["retries"])
    assert (
        again["userDefinedCount"],
        again["rootExecutionID"],
        again["parentExecutionID"],
        again["childExecutionID"],
    ) == (1, first, first, -1)
    plain = admin.execute(name, "boom")
    assert "retries" not in admin.wait(plain)
