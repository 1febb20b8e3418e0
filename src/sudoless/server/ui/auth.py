"""Logging in and out of the web UI.

The login form posts here rather than to Azkaban's ``action=login`` so that it works without
JavaScript and answers with a redirect instead of JSON; the session it creates is the same kind (the
``azkaban.browser.session.id`` cookie, HttpOnly, SameSite=Lax), so the UI's scripts can call the AJAX API
with it. The login page carries the markers Azkaban clients use to detect a login page.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from sudoless.errors import AuthError
from sudoless.server import sessions
from sudoless.server.ajax.login import client_ip
from sudoless.server.dispatch import POST, Call, Route
from sudoless.server.headers import SECURITY_HEADERS
from sudoless.server.params import BadBody, BodyTooLarge, read_params
from sudoless.server.ui.web import Ui, redirect

__all__ = ["ROUTES", "login_form", "login_submit"]

HOME = "/ui/projects"


def safe_next(target: str | None) -> str:
    """Where to go after logging in: only a path of this UI (never another site, nor ``//host``)."""
    if target and target.startswith("/ui/") and not target.startswith("/ui//") and "\\" not in target:
        return target
    return HOME


def _login_page(ui: Ui, next_path: str, error: str = "", username: str = "", status: int = 200) -> Response:
    html = ui.env.get_template("login.html").render(
        next=next_path, error=error, username=username, asset=ui.asset_version
    )
    response = HTMLResponse(html, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


async def login_form(request: Request) -> Response:
    """The login page; a visitor who is logged in already goes on at once."""
    ui: Ui = request.app.state.ui
    target = safe_next(request.query_params.get("next"))
    session = request.cookies.get(sessions.COOKIE)
    if session and await run_in_threadpool(ui.services.accounts.session_user, session) is not None:
        return RedirectResponse(target, status_code=303)
    return _login_page(ui, target)


async def login_submit(request: Request) -> Response:
    ui: Ui = request.app.state.ui
    try:
        params = await read_params(request, 0)
    except (BodyTooLarge, BadBody):
        return _login_page(ui, HOME, "The login form could not be read.", status=400)
    target = safe_next(params.get("next"))
    username = params.get("username") or ""
    if not sessions.same_origin(request):
        # Another site must not log a visitor in to an account of its choosing (login CSRF).
        return _login_page(ui, target, "Log in from this server's own page.", username, status=403)
    services = ui.services

    def attempt() -> str:
        user = services.accounts.authenticate(username, params.get("password") or "", client_ip(request))
        return services.accounts.create_session(user, client_ip(request))

    try:
        session = await run_in_threadpool(attempt)
    except AuthError as exc:
        return _login_page(ui, target, str(exc), username, status=401)
    response = RedirectResponse(target, status_code=303)
    sessions.set_session_cookie(response, session, services.secure)
    return response


def logout(call: Call) -> Response:
    if call.session_id:
        call.accounts.end_session(call.session_id)
    response = redirect("/ui/login")
    response.delete_cookie(sessions.COOKIE, path="/")
    return response


ROUTES = [("/ui/logout", Route("logout", logout, methods=POST, changes_state=True))]
