"""Every UI page answers with 10,000 executions stored, on each database back end.

How fast they answer is measured by ``benchmarks/ui_pages.py`` (target: under 200 ms of server time each);
here each page must render (HTTP 200 with its Server-Timing header), and the history views must filter,
page and hide what a user may not see.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from sudoless.server.ui.projects import RATE_WINDOW
from support.services import create_database, drop_database
from ui.history import GRID_FLOW, GRID_PROJECT
from ui.pages import PAGES, World, build_world, server_ms

GRID_URL = f"/ui/projects/{GRID_PROJECT}/flows/{GRID_FLOW}/grid"


@pytest.fixture(scope="module", params=["sqlite", "mariadb", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The history on each database back end (the server ones with a smaller big log: 13 MB)."""
    kind = request.param
    root = tmp_path_factory.mktemp(f"history-{kind}")
    if kind == "sqlite":
        built = build_world(root, f"sqlite:///{root / 'history.db'}", log_chunks=2_000)
        yield built
        built.store.close()
        return
    url, engine, name = create_database(kind)
    try:
        built = build_world(root, url, log_chunks=200)
        yield built
        built.store.close()
    finally:
        drop_database(engine, name, kind)


@pytest.mark.slow
def test_every_page_answers_with_ten_thousand_executions(world: World) -> None:
    admin, alice, history = world.admin, world.alice, world.history
    # server_ms fails unless every try answers 200 with a Server-Timing header.
    timings = {path: server_ms(admin, path) for path in PAGES}
    timings["(alice) /ui/executions"] = server_ms(alice, "/ui/executions")
    timings["(alice) /ui/projects"] = server_ms(alice, "/ui/projects")
    report = "\n".join(f"{ms:7.1f} ms  {path}" for path, ms in timings.items())
    print(f"\nserver time on {world.store.dialect}, best of 3, {history.executions} executions:\n{report}")


def test_history_filters_and_visibility(world: World) -> None:
    admin, alice, history = world.admin, world.alice, world.history
    page = admin.get("/ui/executions?status=FAILED&user=bob").text
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.split(r"<tr[ >]", body)[1:]
    assert 0 < len(rows) <= 50
    assert all(">FAILED<" in row and "<td>bob</td>" in row for row in rows)
    # alice reads three projects only: the history shows nothing else, and the others' pages are refused
    mine = alice.get("/ui/executions").text
    names = set(re.findall(r'<a href="/ui/projects/(p\d\d)">', mine))
    assert names and names <= set(history.projects[:3])
    refused = alice.get(f"/ui/projects/{history.projects[5]}")
    assert refused.status_code == 403 and "READ" in refused.text
    assert alice.get(f"/ui/data/executions/{history.executions - 14}/runs").status_code in (200, 403)


def test_log_pages_by_offset(world: World) -> None:
    admin, history = world.admin, world.history
    url = f"/ui/data/executions/{history.big_log_exec}/log"
    last = admin.get(url, params={"job": "load", "offset": -1, "length": 1000}).json()
    assert last["size"] == history.big_log_bytes and last["offset"] + last["length"] == last["size"]
    middle = admin.get(url, params={"job": "load", "offset": 65_536 * 100 + 10, "length": 100}).json()
    assert middle["offset"] == 65_536 * 100 + 10 and len(middle["data"]) == 100
    assert middle["data"] == ("x" * 99 + "\n")[10:] + "x" * 10


def test_root_sends_browsers_to_the_ui_and_clients_to_azkaban(world: World) -> None:
    admin = world.admin
    browser = admin.get("/", headers={"Accept": "text/html,application/xhtml+xml"}, follow_redirects=False)
    assert browser.status_code == 302 and browser.headers["location"] == "/ui/"
    client = admin.get("/", headers={"Accept": "*/*"}, follow_redirects=False)
    assert client.status_code == 302 and client.headers["location"] == "/index"


def test_session_and_csrf_are_required(world: World) -> None:
    admin = world.admin
    anonymous = TestClient(admin.app, base_url="http://testserver")
    page = anonymous.get("/ui/executions", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/ui/login?next=")
    assert anonymous.get("/ui/data/executions/1/runs").status_code == 401
    # A state change with the session cookie but neither the token nor a same-origin header is refused.
    forged = admin.post("/ui/projects/p19/delete", headers={"Origin": "http://evil.example"}, follow_redirects=False)
    assert forged.status_code == 403
    assert admin.get("/ui/projects/p19").status_code == 200


def page_data(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)
    assert match, html[:500]
    return dict(json.loads(match.group(1)))


def test_grid_of_a_hundred_runs(world: World) -> None:
    """The grid's cells as the page gets them, checked against the job rows the seed wrote."""
    store = world.store
    project = store.projects.get(name=GRID_PROJECT)
    assert project is not None
    newest = store.executions.recent(project.id, GRID_FLOW, 100)
    for path, count in ((f"/ui/projects/{GRID_PROJECT}/flows/{GRID_FLOW}/grid", 25), (f"{GRID_URL}?runs=100", 100)):
        data = page_data(world.admin.get(path).text)
        assert data["runs"] == [run.id for run in reversed(newest[:count])]  # oldest on the left
        assert len(data["jobs"]) == 61 and data["jobs"][0] == "L00_00" and data["jobs"][-1] == "done"
        assert all(len(row) == count for row in data["cells"])
    statuses = data["statuses"]
    for column, run in enumerate(reversed(newest)):
        latest = {}
        for job in store.job_runs.of(run.id):
            latest[job.nested_id] = job
        for row, name in enumerate(data["jobs"]):
            assert statuses[ord(data["cells"][row][column]) - ord("a")] == latest[name].status.value
            assert data["attempts"].get(f"{row}:{column}", 0) == latest[name].attempt
    assert any(data["attempts"].values()) and any(statuses[ord(c) - 97] == "FAILED" for c in "".join(data["cells"]))
    # Again, finished runs' cells from the cache: the same answer.
    assert page_data(world.admin.get(f"{GRID_URL}?runs=100").text) == data
    # alice reads three projects only, not this one.
    assert world.alice.get(GRID_URL).status_code == 403


def test_flow_page_colours_each_job_by_its_latest_attempt(world: World) -> None:
    """The graph's colours: each job's latest attempt in the newest run, or in the run a "Prepare" repeats."""
    store = world.store
    project = store.projects.get(name=GRID_PROJECT)
    assert project is not None
    runs = store.executions.recent(project.id, GRID_FLOW, 100)
    retried = [run.id for run in runs if any(job.attempt for job in store.job_runs.of(run.id))]
    assert retried  # the grid's seed retries a job in some runs
    flow_url = f"/ui/projects/{GRID_PROJECT}/flows/{GRID_FLOW}"
    shown = [(page_data(world.admin.get(flow_url).text), runs[0].id)]
    for exec_id in retried:
        response = world.admin.get(f"{flow_url}?prepare={exec_id}")
        if response.status_code == 200:  # a run with something left to run again
            shown.append((page_data(response.text), exec_id))
    for data, exec_id in shown:
        latest = {job.nested_id: job.status.value for job in store.job_runs.of(exec_id)}  # oldest attempt first
        assert data["lastExec"] == exec_id and data["statuses"] == latest


def execution_rows(html: str) -> list[dict[str, str]]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = []
    for row in re.split(r"<tr[ >]", body)[1:]:
        if not row.startswith("data-exec"):
            continue  # "No execution matches."
        cells = re.findall(r"<td>(.*?)</td>", row, re.S)
        rows.append({"id": re.findall(r"#(\d+)", cells[0])[0], "project": re.sub(r"<[^>]+>", "", cells[1]), "row": row})
    return rows


def test_history_contains_filters_and_sorting(world: World) -> None:
    admin = world.admin
    # Parts of names, any case: "P1" finds p10..p19 (and p01's "p01" does not contain "p1").
    found = execution_rows(admin.get("/ui/executions", params={"project": "P1"}).text)
    assert found and {row["project"] for row in found} <= {f"p1{i}" for i in range(10)}
    assert {row["project"] for row in found} != {"p10"}
    by_user = execution_rows(admin.get("/ui/executions", params={"user": "AR"}).text)  # carol
    assert by_user and all("<td>carol</td>" in row["row"] for row in by_user)
    wild = execution_rows(admin.get("/ui/executions", params={"flow": "%"}).text)
    assert wild == []  # % is a character to find, not a wildcard
    # Sorted by a column, both ways, on the server; an unknown column or injection attempt sorts by id.
    ascending = execution_rows(admin.get("/ui/executions", params={"sort": "project", "order": "asc"}).text)
    names = [r["project"] for r in ascending]
    assert names == sorted(names) and names[0] == "p00"
    descending = execution_rows(admin.get("/ui/executions", params={"sort": "project"}).text)
    assert descending[0]["project"] == "wide"
    durations = execution_rows(admin.get("/ui/executions", params={"sort": "duration", "order": "asc"}).text)
    assert durations
    hostile = admin.get("/ui/executions", params={"sort": "id; DROP TABLE executions", "order": "asc"})
    assert hostile.status_code == 200
    ids = [int(r["id"]) for r in execution_rows(hostile.text)]
    assert ids == sorted(ids) and ids[0] == 1  # by id, in the order asked for
    assert world.store.executions.latest(limit=1)[0].id > 10_000  # and the table is still there
    # The End column, and the sort links keep the filters.
    page = admin.get("/ui/executions", params={"project": "p0", "sort": "ended"}).text
    assert '<th scope="col" aria-sort="descending" data-sort="ended">' in page
    assert "project=p0&amp;sort=ended&amp;order=asc" in page


def test_last_run_badges_on_the_projects_list(world: World) -> None:
    page = world.admin.get("/ui/projects").text
    store = world.store
    for name in ("p00", "p07", GRID_PROJECT):
        project = store.projects.get(name=name)
        assert project is not None
        last = store.executions.latest(project.id, limit=1)[0]
        row = page.split(f'<a href="/ui/projects/{name}">', 1)[1].split("</tr>", 1)[0]
        assert f'href="/ui/executions/{last.id}"' in row and f">{last.status.value}<" in row


def test_the_executions_count_stops_ahead_and_says_so(world: World) -> None:
    admin, history = world.admin, world.history
    first = admin.get("/ui/executions").text
    # 50 on the page and 1,000 counted ahead of it: the pager says the total is a lower bound
    assert "Page 1 of more than 21 (more than 1050: counting stops there)" in first
    assert 'rel="next"' in first
    middle = admin.get("/ui/executions?page=150").text  # 7,450 before it, 1,050 counted: still a lower bound
    assert "Page 150 of more than 170 (more than 8500: counting stops there)" in middle
    deep = admin.get("/ui/executions?page=190").text  # 9,450 before it: the count reaches the end, exact
    total = history.executions + 100  # the grid project's runs too
    assert f"Page 190 of {-(-total // 50)} ({total} in all)" in deep
    few = admin.get("/ui/executions?project=p01&flow=load").text
    assert f"({history.executions // len(history.projects)} in all)" in few


def test_project_page_rates_over_the_newest_runs(world: World) -> None:
    page = world.admin.get("/ui/projects/p00").text
    row = page.split('<a href="/ui/projects/p00/flows/load">load</a>', 1)[1].split("</tr>", 1)[0]
    runs = world.history.executions // len(world.history.projects)  # 500: more than the window of 100
    assert runs > RATE_WINDOW and f">last {RATE_WINDOW}</span>" in row and f"<td>{runs}</td>" not in row
    assert f"over each flow's last {RATE_WINDOW} runs" in page
    assert re.search(r"<span>\d+%</span>", row)
