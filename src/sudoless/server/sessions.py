"""Who is calling: the session id of a request, the answers for a missing or expired session, and CSRF.

Azkaban reads the session from the cookie ``azkaban.browser.session.id`` or, when there is no cookie, from
the ``session.id`` parameter (query, form or multipart field); a stale cookie is not rescued by a good
parameter. What a request without a valid session gets back depends on its shape (reference §1.3), and
clients detect those answers to log in again, so they are reproduced exactly.

CSRF: a browser sends the session cookie with any request to this host, including ones a hostile page
triggers. Requests that change state and were authenticated by the cookie must therefore either carry
the session's CSRF token (``X-CSRF-TOKEN`` header or ``csrf.token`` parameter) or come from this origin
(``Sec-Fetch-Site``, else ``Origin``, else ``Referer``). A request carrying none of those headers is not
from a browser (scripts and the API clients send none), and one authenticated by the ``session.id``
parameter cannot be forged by another site, which cannot read the id: both pass, so ``curl`` and the
three Azkaban clients work unchanged. The cookie is also ``SameSite=Lax`` and ``HttpOnly``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from sudoless.server import pages
from sudoless.server.params import Params
from sudoless.server.responses import compact_json, json_response, text_response

__all__ = ["COOKIE", "PARAM", "csrf_token", "expired", "load_secret", "same_origin", "session_id"]

COOKIE = "azkaban.browser.session.id"
PARAM = "session.id"
CSRF_HEADER = "x-csrf-token"
CSRF_PARAM = "csrf.token"


def session_id(request: Request, params: Params) -> tuple[str | None, bool]:
    """The session id and whether it came from the cookie."""
    cookie = request.cookies.get(COOKIE)
    if cookie:
        return cookie, True
    value = params.get(PARAM)
    return (value or None), False


def expired(request: Request, params: Params) -> Response:
    """Azkaban's answer to a request without a valid session, by request shape (reference §1.3)."""
    if request.method == "POST":
        if params.multipart:
            return text_response("Login error. Need username and password")
        if request.headers.get("x-requested-with") == "XMLHttpRequest":
            body = {"status": "error", "message": "Invalid Session. Need to re-login", "action": "login"}
            return Response(compact_json(body).encode(), media_type="application/json")
        return pages.login_page()
    if "ajax" in params:
        return json_response({"error": "session"})
    return pages.login_page()


def set_session_cookie(response: Response, session: str, secure: bool) -> None:
    response.set_cookie(COOKIE, session, path="/", httponly=True, samesite="lax", secure=secure)


def load_secret(home: Path) -> bytes:
    """The server's CSRF key, created 0600 in SUDOLESS_HOME on first use so tokens survive restarts."""
    path = home / "server-secret"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        pass
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = secrets.token_bytes(32)
    scratch = home / f".server-secret.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret.hex() + "\n")
    os.replace(scratch, path)
    return bytes.fromhex(path.read_text().strip())


def csrf_token(secret: bytes, session: str) -> str:
    """The CSRF token of a session: a keyed digest, so the server stores nothing per session."""
    return hmac.new(secret, session.encode(), hashlib.sha256).hexdigest()


def csrf_ok(request: Request, params: Params, secret: bytes, session: str, via_cookie: bool) -> bool:
    """Whether a state-changing request may proceed (see the module docstring)."""
    if not via_cookie:
        return True
    token = request.headers.get(CSRF_HEADER) or params.get(CSRF_PARAM)
    if token and hmac.compare_digest(token, csrf_token(secret, session)):
        return True
    return same_origin(request)


def same_origin(request: Request) -> bool:
    """Whether a browser sent ``request`` from this server's own pages; True for non-browser clients.

    The one test behind the CSRF check and both login forms (``/ui/login`` and Azkaban's ``action=login``).
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    for header in ("origin", "referer"):
        value = request.headers.get(header)
        if value is not None:
            return _netloc(value) == request.headers.get("host", "").lower()
    return True


def _netloc(url: str) -> str:
    try:
        return urlsplit(url).netloc.lower()
    except ValueError:
        return ""
