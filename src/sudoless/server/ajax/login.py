"""``action=login`` (accepted on every servlet path) and ``logout``.

Success answers ``{"status" : "success", "session.id" : ...}`` and sets the ``azkaban.browser.session.id``
cookie (the ``azkaban-client`` package reads only the cookie, the others the JSON). Failures answer
``{"error" : ...}`` with HTTP 200; the texts are Azkaban's (``Incorrect Login.`` ...) except when the
login throttle refuses, whose text deliberately lacks ``Incorrect Login.``, so that the ``azkaban`` client
does not retry.

A login posted from another site's page is refused (HTTP 403, no session), as the web UI's login form
does, with the same test (:func:`sudoless.server.sessions.same_origin`): otherwise a hostile page could
log a visitor in to the attacker's account and collect what they then upload or type. Requests without
``Origin``, ``Referer`` and ``Sec-Fetch-Site`` (curl, the Azkaban clients, scripts) are not from a
browser and pass.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from sudoless.errors import AuthError
from sudoless.server import flash, sessions
from sudoless.server.dispatch import Services
from sudoless.server.params import Params
from sudoless.server.responses import json_response

__all__ = ["CROSS_SITE", "client_ip", "login", "logout"]

#: The answer to a login posted from another site (no ``Incorrect Login.``: clients must not retry it).
CROSS_SITE = "Log in from this server's own page: logins posted from other sites are refused."


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def login(services: Services, request: Request, params: Params) -> Response:
    username = params.get("username")
    password = params.get("password")
    if username is None or password is None:
        return json_response({"error": "Incorrect Login."})
    if not sessions.same_origin(request):
        return json_response({"error": CROSS_SITE}, status=403)
    ip = client_ip(request)
    try:
        user = services.accounts.authenticate(username, password, ip)
    except AuthError as exc:
        return json_response({"error": str(exc)})
    session = services.accounts.create_session(user, ip)
    response = json_response({"status": "success", "session.id": session})
    sessions.set_session_cookie(response, session, services.secure)
    return response


def logout(services: Services, session: str | None) -> Response:
    if session:
        services.accounts.end_session(session)
    response = flash.redirect("/")
    response.delete_cookie(sessions.COOKIE, path="/")
    return response
