"""The JSON API's restart shares the engine's: the new execution continues in a copy of the failed one's folder."""

from __future__ import annotations

from pathlib import Path

from server.live import Client, LiveServer, make_zip, unique


def test_a_restart_through_the_api_finds_what_the_skipped_job_wrote(
    live: LiveServer, admin: Client, tmp_path: Path
) -> None:
    marker = tmp_path / "fixed"
    project = unique("restart")
    admin.create_project(project)
    files = {
        "make.job": "type=command\ncommand=sh -c 'echo made-by-make > made.txt'\n",
        # fails until the input is fixed; then reads what ``make`` wrote in the first run
        "use.job": f"type=command\ndependencies=make\ncommand=sh -c 'test -e {marker} && cat made.txt'\n",
    }
    assert admin.upload(project, make_zip(files)).status_code == 200
    first = admin.execute(project, "use")
    assert admin.wait(first)["status"] == "FAILED"
    marker.touch()
    http = live.http(headers={"Authorization": f"Bearer {admin.sid}"})
    response = http.post(f"/api/v1/executions/{first}/restart")
    assert response.status_code == 201, response.text
    second = response.json()["exec_id"]
    body = admin.wait(second)
    assert body["status"] == "SUCCEEDED", body
    assert {n["id"]: n["status"] for n in body["nodes"]} == {"make": "SKIPPED", "use": "SUCCEEDED"}
    log = admin.ajax("/executor", "fetchExecJobLogs", execid=second, jobId="use", offset=0, length=10_000)
    assert "made-by-make" in log["data"]
