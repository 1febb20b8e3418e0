"""A logged-in browser page for the UI tests, with screenshots and a check for script errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from server.live import LiveServer

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
VIEWPORT = {"width": 1366, "height": 768}
LAPTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


class Browser:
    """One logged-in browser context with its page, and the checks every test wants."""

    def __init__(self, context: Any, server: LiveServer) -> None:
        self.context = context
        self.server = server
        self.page = context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(f"script error: {error}"))
        # Console errors are script errors and CSP refusals; a 401/403 page load is a test's own doing.
        self.page.on(
            "console",
            lambda m: (
                self.errors.append(f"console: {m.text}")
                if m.type == "error" and not m.text.startswith("Failed to load resource")
                else None
            ),
        )
        self.page.on("dialog", lambda dialog: dialog.accept())
        self.page.set_default_timeout(15_000)

    def go(self, path: str) -> Any:
        self.page.goto(self.server.url + path)
        return self.page

    def login(self, user: str, password: str) -> None:
        self.go("/")
        self.page.fill("#username", user)
        self.page.fill("#password", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_url("**/ui/projects")

    def shot(self, name: str, full_page: bool = False) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def check_clean(self) -> None:
        """No script error happened (a CSP violation or an exception in the UI's scripts)."""
        assert not self.errors, self.errors
