"""``/history`` over real HTTP: Azkaban's quick search and advanced filter, paging, only what the user
may read, and the page sending a browser to the executions view."""

from __future__ import annotations

from server.live import HELLO, Client, LiveServer, make_zip, unique


def run(admin: Client, project: str, flow: str) -> int:
    exec_id = admin.execute(project, flow)
    admin.wait(exec_id)
    return exec_id


def test_history_search(live: LiveServer, admin: Client) -> None:
    marker = unique("hist")
    one, two = f"{marker}a", f"{marker}b"
    for name in (one, two):
        admin.create_project(name)
        admin.upload(name, make_zip({**HELLO, "bad.job": "type=command\ncommand=false\n"}))
    ok = run(admin, one, "end")
    failed = run(admin, two, "bad")
    third = run(admin, two, "end")

    def fetch(**params: str) -> dict:
        return admin.ajax("/history", "fetch", **params)

    quick = fetch(search="true", searchterm=marker.upper(), size="10")
    assert quick["total"] == 3 and [e["execId"] for e in quick["executions"]] == [third, failed, ok]
    assert quick["totalExact"] is True  # counted to the end: fewer than COUNT_AHEAD past the page
    assert quick["executions"][1] | {"submitTime": 0, "startTime": 0, "endTime": 0} == {
        "execId": failed,
        "projectId": quick["executions"][1]["projectId"],
        "projectName": two,
        "flowId": "bad",
        "status": "FAILED",
        "submitUser": admin.user,
        "submitTime": 0,
        "startTime": 0,
        "endTime": 0,
    }
    by_status = fetch(advfilter="true", projcontain=marker, status="70")  # Azkaban's number for FAILED
    assert [e["execId"] for e in by_status["executions"]] == [failed]
    assert fetch(advfilter="true", projcontain=marker, status="succeeded")["total"] == 2
    by_flow = fetch(advfilter="true", projcontain=one, flowcontain="EN")
    assert [e["execId"] for e in by_flow["executions"]] == [ok]
    paged = fetch(search="true", searchterm=marker, size="2", page="2")
    assert (paged["total"], paged["page"], [e["execId"] for e in paged["executions"]]) == (3, 2, [ok])
    assert fetch(advfilter="true", projcontain=marker, begin="01/01/2099 12:00 AM")["total"] == 0
    assert fetch(advfilter="true", projcontain=marker, begin="01/01/2020 09:30 am", end="-1")["total"] == 3
    assert fetch(search="true", searchterm=marker, days="1")["total"] == 3
    bad = fetch(advfilter="true", begin="yesterday")
    assert bad == {"error": "begin='yesterday': expected MM/dd/yyyy hh:mm AM (the server's zone) or epoch milliseconds"}
    assert fetch(search="true", searchterm="100%_")["total"] == 0  # wildcards are literal

    outsider, password = live.add_user("outsider")
    stranger = live.login(outsider.name, password)
    assert stranger.ajax("/history", "fetch", search="true", searchterm=marker)["total"] == 0
    page = admin.get("/history")
    assert page.status_code == 302 and page.headers["location"] == "/ui/executions"
