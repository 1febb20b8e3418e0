"""The README's screenshots of the platform demo, taken as a user of `./dev demo` would see it.

    .venv/bin/python tests/ui/demo_screenshots.py [--out docs/screenshots]

In a temporary home it runs the demo's quick flow as `./dev demo` does (examples/run_platform_demo.py), starts
the server, logs in with headless Chromium (Debian's /usr/bin/chromium, driven by Playwright, 1366x768), and
saves: the project, the quick flow's graph after its run, that execution with the summary job's log (it shows
the plaintext), the spark flow started with its Run button and finished, and the routes map the dispatch job
drew. Not a test (it writes into the repository); tests/test_demo.py checks the same runs' outcomes.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

from server.live import server_settings, start_live  # noqa: E402
from sudoless.store import Store  # noqa: E402
from sudoless.store.status import Status  # noqa: E402
from test_demo import demo  # noqa: E402
from ui.conftest import CHROMIUM, FLAGS  # noqa: E402
from ui.driver import VIEWPORT, Browser  # noqa: E402
from ui.test_browser import wait_js, wait_status  # noqa: E402

PROJECT = demo.PROJECT.name


def take(out: Path) -> list[Path]:
    """Run the demo in a scratch home and save the screenshots into ``out``; return their paths."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="sudoless-demo-shots-") as scratch:
        home = Path(scratch) / "home"
        # The jobs read SUDOLESS_HOME and find sudoless and python3 on PATH, as under `./dev demo`.
        os.environ["SUDOLESS_HOME"] = str(home)
        os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        url = f"sqlite:///{Path(scratch) / 'sudoless.db'}"
        settings = server_settings(home, url)
        store = Store(url)
        quick = demo.run_quick(store, settings, "demo")
        if quick.status != Status.SUCCEEDED:
            raise SystemExit(f"the quick flow ended {quick.status.value}: {quick.jobs}")
        shutil.copyfile(quick.workdir / "out" / "routes.png", out / "demo-routes.png")
        saved.append(out / "demo-routes.png")
        server = start_live(settings, store)
        try:
            with sync_playwright() as playwright:
                chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                browser = Browser(chromium.new_context(viewport=VIEWPORT), server)
                browser.login(server.admin, server.password)
                page = browser.page

                def shot(name: str) -> None:
                    page.screenshot(path=str(out / f"{name}.png"))
                    saved.append(out / f"{name}.png")

                browser.go(f"/ui/projects/{PROJECT}")
                page.wait_for_selector("#flow-table")
                shot("demo-project")

                browser.go(f"/ui/projects/{PROJECT}/flows/{demo.QUICK_FLOW}")
                page.wait_for_selector("#graph .node.s-succeeded")
                shot("demo-flow")

                browser.go(f"/ui/executions/{quick.exec_id}")
                wait_status(page, "SUCCEEDED")
                page.click("#job-table tr[data-job='summary'] button")
                wait_js(page, "document.querySelector('#log-text').textContent.includes('into the dark')")
                shot("demo-execution")

                # The slow flow, one click away: its page, Run, and the execution page that follows it live.
                browser.go(f"/ui/projects/{PROJECT}/flows/{demo.SLOW_FLOW}")
                page.wait_for_selector("#graph .node")
                page.click("#run-button")
                page.wait_for_url(re.compile(r".*/ui/executions/\d+$"))
                wait_status(page, "SUCCEEDED", timeout=300)
                page.click("#job-table tr[data-job='wordcount'] button")
                wait_js(page, "document.querySelector('#log-text').textContent.includes('RESULT')", 30)
                shot("demo-spark")
                browser.check_clean()
                chromium.close()
        finally:
            server.stop()
            store.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=TESTS.parent / "docs" / "screenshots")
    for path in take(parser.parse_args().out):
        print(path)


if __name__ == "__main__":
    main()
