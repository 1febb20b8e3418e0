"""The UI says what the run does: the run form starts from the flow's own failure action, *Options of
this run* agrees with the flow log, attempt numbers are the log's, and every time names its zone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from server.live import LiveServer, make_zip, unique
from ui.driver import LAPTOP, Browser
from ui.test_browser import wait_js, wait_status

pytestmark = pytest.mark.slow

#: Flow 2.0: the flow sets finish_all_possible; ``bad`` fails twice (one retry), ``good`` runs on anyway.
OWN_ACTION = """config:
  failure.action: finish_all_possible
nodes:
  - name: end
    type: noop
    dependsOn: [bad, good]
  - name: bad
    type: command
    config:
      command: sh -c "echo broken >&2; exit 1"
      retries: 1
      retry.backoff: 100
  - name: good
    type: command
    config:
      command: sleep 1
"""


@pytest.fixture
def berlin(chromium: Any, ui_server: LiveServer) -> Iterator[Browser]:
    """The admin, in a browser whose clock is set to Europe/Berlin (the server speaks UTC)."""
    context = chromium.new_context(viewport=LAPTOP, timezone_id="Europe/Berlin", locale="en-US")
    session = Browser(context, ui_server)
    session.login(ui_server.admin, ui_server.password)
    yield session
    context.close()


def test_failure_action_attempts_and_zones_agree_with_the_run(berlin: Browser, ui_server: LiveServer) -> None:
    admin = ui_server.as_admin()
    name = unique("own")
    admin.create_project(name)
    assert (
        admin.upload(name, make_zip({"p.project": "azkaban-flow-version: 2.0\n", "own.flow": OWN_ACTION})).status_code
        == 200
    )
    page = berlin.go(f"/ui/projects/{name}/flows/own")
    # The form starts at the flow's own setting, not at the generic default.
    assert page.input_value("#failure-action") == "finishPossible"
    page.click("#run-button")
    page.wait_for_url(re.compile(r".*/ui/executions/\d+$"))
    exec_id = int(page.url.rsplit("/", 1)[1])
    wait_status(page, "FAILED", timeout=40)
    assert page.inner_text("#job-table tr[data-job='good'] .status") == "SUCCEEDED"  # it did finish all possible
    page.click("details.options summary")
    assert "FINISH_ALL_POSSIBLE" in page.inner_text("details.options")
    flow_log = page.request.get(ui_server.url + f"/ui/data/executions/{exec_id}/log?offset=0").json()["data"]
    assert "failure action FINISH_ALL_POSSIBLE" in flow_log

    # Attempts: the table, the attempt menu, the timeline and the log all say the same numbers.
    assert page.inner_text("#job-table tr[data-job='bad'] td:nth-child(4)") == "1"
    page.click("#job-table tr[data-job='bad'] button")
    wait_js(page, "document.querySelector('#log-text').textContent.includes('Finished job bad attempt 1')")
    assert page.eval_on_selector_all("#log-attempt option", "o => o.map(x => x.textContent)") == [
        "Attempt 0",
        "Attempt 1",
    ]
    assert page.input_value("#log-attempt") == "1"
    titles = page.eval_on_selector_all("#timeline rect.bar title", "t => t.map(x => x.textContent)")
    assert any(t.startswith("bad attempt 0:") for t in titles) and any(t.startswith("bad attempt 1:") for t in titles)
    page.select_option("#log-attempt", "0")
    wait_js(page, "document.querySelector('#log-text').textContent.includes('Finished job bad attempt 0')")

    # Times: the reader's zone, named (Berlin in December: CET, "GMT+1" in some locales); UTC on hover.
    zone = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (CET|GMT\+1)"
    assert re.fullmatch(zone, page.inner_text("#job-table tr[data-job='bad'] td:nth-child(5)"))
    submitted = page.locator("#summary time")
    assert re.fullmatch(zone, submitted.inner_text())
    assert submitted.get_attribute("title").endswith(" UTC")
    berlin.shot("execution-own-failure-action")
    berlin.check_clean()
