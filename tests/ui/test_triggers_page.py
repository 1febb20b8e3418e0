"""The Triggers page in a real Chromium: a waiting instance shows why its dependency is not met, the Kill
button cancels it, and Pause/Resume change the trigger; a dependency that arrives shows the run's link."""

from __future__ import annotations

from pathlib import Path

from server.live import LiveServer, make_zip, unique
from support.eventually import eventually
from ui.driver import Browser


def trigger_project(ui_server: LiveServer, marker: Path) -> tuple[str, int]:
    flow = (
        f"trigger:\n  maxWaitMins: 30\n  schedule:\n    type: cron\n    value: 0 0 5 * * ?\n"
        f"  triggerDependencies:\n    - name: landed\n      type: file\n      params:\n        path: {marker}\n"
        "nodes:\n  - name: report\n    type: noop\n"
    )
    admin = ui_server.as_admin()
    name = unique("trig")
    admin.create_project(name)
    admin.upload(name, make_zip({"p.project": "azkaban-flow-version: 2.0\n", "nightly.flow": flow}))
    return name, int(admin.ajax("/manager", "getProjectId", project=name)["projectId"])


def test_triggers_page_shows_states_and_kills(browser: Browser, ui_server: LiveServer, tmp_path: Path) -> None:
    name, project_id = trigger_project(ui_server, tmp_path / "landed")
    triggers = ui_server.server.scheduler.triggers
    waiting = triggers.fire(project_id, "nightly")
    page = browser.page
    browser.go("/ui/triggers")
    row = page.locator(f"#instance-table tr[data-instance='{waiting}']")
    assert row.get_attribute("data-status") == "RUNNING"
    assert "nothing matches" in row.locator("li[data-dependency='landed']").inner_text()
    browser.shot("triggers")
    row.locator("button:has-text('Kill')").click()
    page.wait_for_selector(f"#instance-table tr[data-instance='{waiting}'][data-status='CANCELLED']")
    assert "killed" in page.inner_text("#messages")

    trigger_row = page.locator(f"#trigger-table tr[data-trigger='{name}.nightly']")
    trigger_row.locator("button:has-text('Pause')").click()
    page.wait_for_selector(f"#trigger-table tr.paused[data-trigger='{name}.nightly']")
    page.locator(f"#trigger-table tr[data-trigger='{name}.nightly'] button:has-text('Resume')").click()
    page.wait_for_selector(f"#trigger-table tr[data-trigger='{name}.nightly']:not(.paused)")

    (tmp_path / "landed").write_text("")
    ran = triggers.fire(project_id, "nightly")
    exec_id = eventually(
        lambda: triggers.instance(ran).exec_id,
        lambda exec_id: exec_id is not None,
        interval=0.1,
        what="the trigger instance's execution",
    )
    assert exec_id > 0
    browser.go("/ui/triggers")
    assert page.locator(f"#instance-table tr[data-instance='{ran}'] a[href='/ui/executions/{exec_id}']").count() == 1
    browser.check_clean()
