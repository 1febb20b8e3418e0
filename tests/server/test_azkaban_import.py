"""Permissions imported from an Azkaban database, enforced by the live server over HTTP; the imported flow
runs through ``executeFlow`` like a natively uploaded one."""

from __future__ import annotations

import pytest

from azkaban_import.azkaban_db import T0, azkaban_database
from server.live import HELLO, LiveServer, make_zip, unique
from sudoless.accounts.permissions import Permission
from sudoless.azkaban_import import ImportOptions, import_azkaban
from sudoless.azkaban_import.source import origin_of
from sudoless.store.status import Status

pytestmark = pytest.mark.services


def test_imported_permissions_are_enforced(live: LiveServer) -> None:
    alice, alice_pw = live.add_user("alice")
    bob, bob_pw = live.add_user("bob")
    group = unique("ops")
    carol, carol_pw = live.add_user("carol", groups=(group,))
    name = unique("azk")
    with azkaban_database() as azkaban:
        project = azkaban.add_project(name, alice.name, "from Azkaban")
        azkaban.upload(project, make_zip(HELLO), alice.name, T0)
        azkaban.grant(project, alice.name, False, int(Permission.READ | Permission.EXECUTE))  # replaces ADMIN
        azkaban.grant(project, group, True, int(Permission.READ))
        nodes = [
            {
                "id": "start",
                "type": "command",
                "status": "SUCCEEDED",
                "attempt": 0,
                "inNodes": [],
                "startTime": T0 + 1000,
                "endTime": T0 + 2000,
                "updateTime": T0 + 2000,
            },
            {
                "id": "end",
                "type": "noop",
                "status": "SUCCEEDED",
                "attempt": 0,
                "inNodes": ["start"],
                "startTime": T0 + 2000,
                "endTime": T0 + 2100,
                "updateTime": T0 + 2100,
            },
        ]
        old_run = azkaban.execution(project, 1, "end", 50, alice.name, T0, nodes, {("start", 0): b"hello world\n" * 20})
        still_running = azkaban.execution(project, 1, "end", 30, alice.name, T0 + 5000, [])
        report = import_azkaban(live.store, live.settings, ImportOptions(source_url=azkaban.url))
        origin = origin_of(azkaban.url)
    assert report.counts["projects"] == 1 and report.counts["permissions"] == 2

    as_alice, as_bob, as_carol = (
        live.login(alice.name, alice_pw),
        live.login(bob.name, bob_pw),
        live.login(carol.name, carol_pw),
    )
    assert as_alice.ajax("/manager", "fetchprojectflows", project=name)["flows"] == [{"flowId": "end"}]
    assert as_carol.ajax("/manager", "fetchprojectflows", project=name)["flows"] == [{"flowId": "end"}]
    assert as_bob.ajax("/manager", "fetchprojectflows", project=name)["error"] == "Permission denied. Need READ access."
    refused = as_carol.ajax("/executor", "executeFlow", project=name, flow="end")  # READ only: no EXECUTE
    assert "execid" not in refused and "error" in refused
    assert (
        as_alice.ajax("/manager", "changeDescription", project=name, description="x")["error"]
        == "Permission denied. Need WRITE access."
    )
    exec_id = as_alice.execute(name, "end")
    native = as_alice.wait(exec_id)
    assert native["status"] == "SUCCEEDED"

    # the imported execution reads through the AJAX API as the native one does
    imported_id = live.store.imports.imported(origin, "execution")[str(old_run)]
    flow = as_alice.ajax("/executor", "fetchexecflow", execid=imported_id)
    assert set(flow) == set(native) and set(flow["nodes"][0]) == set(native["nodes"][0])
    assert (flow["status"], flow["submitUser"], flow["startTime"], flow["endTime"]) == (
        "SUCCEEDED",
        alice.name,
        T0 + 1000,
        T0 + 60_000,
    )
    assert sorted((n["id"], n["status"], n["startTime"]) for n in flow["nodes"]) == [
        ("end", "SUCCEEDED", T0 + 2000),
        ("start", "SUCCEEDED", T0 + 1000),
    ]
    log = as_alice.ajax("/executor", "fetchExecJobLogs", execid=imported_id, jobId="start", offset=0, length=50_000)
    assert log["data"] == "hello world\n" * 20
    assert as_bob.ajax("/executor", "fetchexecflow", execid=imported_id)["error"].startswith(f"User '{bob.name}'")

    # the JSON API marks the one still running in Azkaban (and only that one) as running elsewhere
    from server.test_api import api

    json_api = api(live, alice.name, alice_pw)
    running_id = live.store.imports.imported(origin, "execution")[str(still_running)]
    try:
        shown = json_api.get(f"/executions/{running_id}").json()
        assert (shown["status"], shown["elsewhere"]) == ("RUNNING", True)
        assert json_api.get(f"/executions/{imported_id}").json()["elsewhere"] is False
        assert as_alice.ajax("/executor", "fetchexecflow", execid=running_id)["status"] == "RUNNING"
    finally:
        # Nothing here ever ends it (a later import would bring its end): end it, since later tests on this
        # shared server wait until no execution is unfinished (tests/server/test_metrics.py).
        live.store.executions.update(running_id, status=Status.KILLED, end_time=live.store.clock())
