"""Permissions imported from an Azkaban database, enforced by the live server over HTTP; the imported flow
runs through ``executeFlow`` like a natively uploaded one."""

from __future__ import annotations

import pytest

from azkaban_import.azkaban_db import T0, azkaban_database
from server.live import HELLO, LiveServer, make_zip, unique
from sudoless.accounts.permissions import Permission
from sudoless.azkaban_import import ImportOptions, import_azkaban

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
        report = import_azkaban(live.store, live.settings, ImportOptions(source_url=azkaban.url))
    assert report.counts["projects"] == 1 and report.counts["permissions"] == 2

    as_alice, as_bob, as_carol = (live.login(alice.name, alice_pw), live.login(bob.name, bob_pw),
                                  live.login(carol.name, carol_pw))
    assert as_alice.ajax("/manager", "fetchprojectflows", project=name)["flows"] == [{"flowId": "end"}]
    assert as_carol.ajax("/manager", "fetchprojectflows", project=name)["flows"] == [{"flowId": "end"}]
    assert as_bob.ajax("/manager", "fetchprojectflows", project=name)["error"] == "Permission denied. Need READ access."
    refused = as_carol.ajax("/executor", "executeFlow", project=name, flow="end")  # READ only: no EXECUTE
    assert "execid" not in refused and "error" in refused
    assert as_alice.ajax("/manager", "changeDescription", project=name, description="x")["error"] \
        == "Permission denied. Need WRITE access."
    exec_id = as_alice.execute(name, "end")
    assert as_alice.wait(exec_id)["status"] == "SUCCEEDED"
