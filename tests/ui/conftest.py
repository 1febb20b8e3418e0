"""Fixtures for the browser tests: a live server (SQLite) and a real headless Chromium driven by Playwright.

Chromium is Debian's ``chromium`` package (``/usr/bin/chromium``), launched directly: Playwright's own
browser download is never used. Without it (or without Playwright) the browser tests are skipped with the
reason, except under ``CI=true``, where that fails the run. Screenshots of every page, at 1366x768, go
to ``test-artifacts/ui/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.live import LiveServer, server_settings, start_live
from sudoless.store import Store
from support.services import unavailable
from ui.driver import LAPTOP, VIEWPORT, Browser

CHROMIUM = os.environ.get("SUDOLESS_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install playwright; its browser download is not needed)")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        unavailable(f"chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live server of its own (the browser tests run on SQLite only: the database layer is the API's
    tests' business, and one back end keeps this suite's run short)."""
    root = tmp_path_factory.mktemp("ui-server")
    url = f"sqlite:///{root / 'sudoless.db'}"
    store = Store(url)
    server = start_live(server_settings(root / "home", url), store)
    yield server
    server.stop()
    store.close()


@pytest.fixture
def browser(chromium: Any, ui_server: LiveServer) -> Iterator[Browser]:
    """The admin, logged in through the login form, in a fresh context (own cookies)."""
    context = chromium.new_context(viewport=VIEWPORT)
    session = Browser(context, ui_server)
    session.login(ui_server.admin, ui_server.password)
    yield session
    context.close()


@pytest.fixture
def new_browser(chromium: Any, ui_server: LiveServer) -> Iterator[Any]:
    """A factory of fresh browser contexts, logged in as nobody."""
    contexts: list[Any] = []

    def make() -> Browser:
        context = chromium.new_context(viewport=VIEWPORT)
        contexts.append(context)
        return Browser(context, ui_server)

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def laptop(chromium: Any, ui_server: LiveServer) -> Iterator[Browser]:
    context = chromium.new_context(viewport=LAPTOP)
    session = Browser(context, ui_server)
    session.login(ui_server.admin, ui_server.password)
    yield session
    context.close()


@pytest.fixture(scope="session")
def broken_run(ui_server: LiveServer) -> int:
    from ui.projects import broken_in_the_middle
    from ui.test_browser import api_project

    name = api_project(ui_server, broken_in_the_middle(), "broken")
    admin = ui_server.as_admin()
    exec_id = admin.execute(name, "done")
    assert admin.wait(exec_id, timeout=60)["status"] == "FAILED"
    return exec_id
