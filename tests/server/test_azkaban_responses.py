"""Response keys Azkaban's clients read, over real HTTP: flowInfo's runtimeProperties, fetchflowdetails'
condition, and fetchExecJobStats returning what the job wrote to its attachment file."""

from __future__ import annotations

from server.live import Client, LiveServer, make_zip, unique

FLOW2 = {
    "p.project": "azkaban-flow-version: 2.0\n",
    "f.flow": (
        "nodes:\n"
        "  - name: a\n    type: command\n    config:\n"
        "      command: bash stats.sh\n"
        "  - name: sub\n    type: flow\n    dependsOn: [a]\n    condition: one_success\n"
        "    nodes:\n      - name: inner\n        type: noop\n"
    ),
    "stats.sh": 'printf \'[{"rows": 42}, {"stage": "load"}]\' > "$(grep \'^azkaban.job.attachment.file=\' '
    '"$JOB_PROP_FILE" | cut -d= -f2-)"\n',
}


def test_flow_info_runtime_properties_and_details_condition(live: LiveServer, admin: Client) -> None:
    name = unique("k")
    admin.create_project(name)
    assert admin.upload(name, make_zip(FLOW2)).status_code == 200
    exec_id = admin.execute(name, "f", **{"runtimeProperty[ROOT][day]": "monday", "runtimeProperty[a][size]": "3"})
    assert admin.wait(exec_id)["status"] == "SUCCEEDED"
    info = admin.ajax("/executor", "flowInfo", execid=exec_id)
    assert info["runtimeProperties"] == {"ROOT": {"day": "monday"}, "a": {"size": "3"}}
    assert info["flowParam"] == {"day": "monday"}
    details = admin.ajax("/manager", "fetchflowdetails", project=name, flow="f:sub")
    assert (details["jobTypes"], details["condition"]) == (["noop"], "one_success")
    assert "condition" not in admin.ajax("/manager", "fetchflowdetails", project=name, flow="f")
    stats = admin.ajax("/executor", "fetchExecJobStats", execid=exec_id, jobid="a")
    assert stats == {"jobStats": [{"rows": 42}, {"stage": "load"}]}
    assert admin.ajax("/executor", "fetchExecJobStats", execid=exec_id, jobid="sub:inner") == {"jobStats": []}
    missing = admin.ajax("/executor", "fetchExecJobStats", execid=exec_id, jobid="nope")
    assert missing == {"error": f"Job nope doesn't exist in {exec_id}"}
