"""The job details panel, on the flow page and on the execution page: type, command, resolved properties
with secrets masked, condition, parents and children (links that open theirs), the last durations as a small
chart and links to the last logs."""

from __future__ import annotations

from typing import Any

import pytest

from server.live import LiveServer
from ui.driver import PHONE, Browser
from ui.test_browser import api_project, wait_js, wait_status

pytestmark = pytest.mark.slow

SECRET = "s3cret-pass-word"
TOKEN = "tok-0123456789"
FILES = {
    "common.properties": f"db.password={SECRET}\nregion=us\n",
    "extract.job": 'type=command\ncommand=sh -c "echo extracting"\n',
    "enrich.job": (
        f"type=command\ndependencies=extract\nregion=eu\napi.token={TOKEN}\ncommand=echo enriching ${{region}}\n"
    ),
    "check.job": "type=command\ndependencies=extract\ncommand=echo connecting with ${db.password}\n",
    "load.job": "type=noop\ndependencies=enrich,check\n",
    "end.job": "type=noop\ndependencies=load\ncondition=all_done\n",
}


def panel_props(page: Any) -> dict[str, str]:
    return dict(
        page.eval_on_selector_all(
            "#job-props tbody tr", "rows => rows.map(r => [r.dataset.key, r.querySelector('td code').textContent])"
        )
    )


def open_panel(page: Any, job: str) -> None:
    page.click(f".job-details[aria-label='Details of {job}']")
    wait_js(
        page,
        "document.querySelector('.job-panel-name').textContent === arg && document.querySelector('#job-props')",
        arg=job,
    )


def test_job_details_on_the_flow_and_execution_pages(laptop: Browser, ui_server: LiveServer) -> None:
    name = api_project(ui_server, FILES, "details")
    admin = ui_server.as_admin()
    first = admin.execute(name, "end")
    assert admin.wait(first, timeout=60)["status"] == "SUCCEEDED"
    second = admin.execute(name, "end")
    assert admin.wait(second, timeout=60)["status"] == "SUCCEEDED"

    page = laptop.go(f"/ui/projects/{name}/flows/end")
    page.wait_for_selector("#graph .node")
    assert page.is_hidden("#job-panel")
    open_panel(page, "enrich")
    assert page.inner_text("#job-type") == "command"
    assert page.inner_text("#job-command") == "echo enriching eu"
    assert page.inner_text("#job-condition") == "all parents succeeded (the default)"
    assert page.eval_on_selector_all("#job-parents a", "a => a.map(x => x.textContent)") == ["extract"]
    assert page.eval_on_selector_all("#job-children a", "a => a.map(x => x.textContent)") == ["load"]
    props = panel_props(page)
    assert props["region"] == "eu"  # the job's own value over the directory's
    assert props["api.token"] == "********" and props["db.password"] == "********"
    assert props["command"] == "echo enriching eu" and props["type"] == "command"
    # The last durations: one bar per run, oldest first; links to each run's log of this job.
    assert page.locator("#job-panel svg.job-chart rect.bar").count() == 2
    titles = page.eval_on_selector_all("#job-panel svg.job-chart rect.bar title", "t => t.map(x => x.textContent)")
    assert titles[0].startswith(f"#{first} SUCCEEDED in ") and titles[1].startswith(f"#{second} SUCCEEDED in ")
    logs = page.eval_on_selector_all("#job-logs a", "a => a.map(x => x.getAttribute('href'))")
    assert logs == [f"/ui/executions/{second}#log=enrich&attempt=0", f"/ui/executions/{first}#log=enrich&attempt=0"]
    content = page.content()
    assert SECRET not in content and TOKEN not in content
    laptop.shot("job-panel-1440")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") == 0
    page.locator("#job-panel").scroll_into_view_if_needed()
    laptop.shot("job-panel-390")
    page.set_viewport_size({"width": 1440, "height": 900})

    # A secret copied into a command by substitution is masked there too; a child link opens the child's panel.
    open_panel(page, "check")
    assert page.inner_text("#job-command") == "echo connecting with ********"
    page.click("#job-children a")
    wait_js(
        page, "document.querySelector('.job-panel-name').textContent === 'load' && document.querySelector('#job-type')"
    )
    wait_js(page, "document.querySelector('#job-type').textContent === 'noop'")
    assert page.inner_text("#job-command") == "none (not a command job)"
    assert sorted(page.eval_on_selector_all("#job-parents a", "a => a.map(x => x.textContent)")) == ["check", "enrich"]

    # A last-log link opens that run's page on that job's log.
    open_panel(page, "enrich")
    page.click(f"#job-logs a[href='/ui/executions/{second}#log=enrich&attempt=0']")
    page.wait_for_url(f"**/ui/executions/{second}#log=enrich&attempt=0")
    wait_js(page, "document.querySelector('#log-text').textContent.includes('enriching eu')")
    assert page.inner_text("#log-name") == "enrich"

    # The execution page has the same panel, resolved as that run ran; the condition is shown.
    wait_status(page, "SUCCEEDED")
    wait_js(page, "document.querySelectorAll('#job-table tbody tr').length === 5")
    open_panel(page, "end")
    assert page.inner_text("#job-condition") == "all_done"
    assert page.eval_on_selector_all("#job-parents a", "a => a.map(x => x.textContent)") == ["load"]
    assert page.eval_on_selector_all("#job-children a", "a => a.map(x => x.textContent)") == []
    assert page.inner_text("#job-children") == "none"
    assert SECRET not in page.content()
    laptop.shot("job-panel-execution")
    missing = page.request.get(ui_server.url + f"/ui/data/executions/{second}/jobs/nope")
    assert missing.status == 404 and "no job nope" in missing.json()["error"]
    laptop.check_clean()
