"""Azkaban's one-shot messages: set in a cookie before a redirect, shown (and cleared) by the next page.

The cookie names are Azkaban's (``azkaban.success.message``, ``azkaban.failure.message``,
``azkaban.warn.message``); values are percent-encoded so any text survives the cookie syntax.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

__all__ = ["KINDS", "redirect", "set_message", "take_messages"]

KINDS = {"success": "azkaban.success.message", "error": "azkaban.failure.message", "warning": "azkaban.warn.message"}


#: Browsers drop cookies over 4 KB (and proxies refuse huge headers): messages, which may quote what a
#: request sent, are cut to this many characters, 3 KB at most once percent-encoded.
MAX_MESSAGE_CHARS = 500


def set_message(response: Response, kind: str, text: str) -> None:
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 3] + "..."
    response.set_cookie(KINDS[kind], quote(text, safe=""), path="/", httponly=True, samesite="lax")


def redirect(location: str, kind: str | None = None, text: str = "") -> Response:
    """A 302 to ``location``, carrying a message for the page it leads to."""
    response = RedirectResponse(location, status_code=302)
    if kind is not None:
        set_message(response, kind, text)
    return response


def take_messages(request: Request) -> list[tuple[str, str]]:
    """The messages waiting in the request's cookies, as (kind, text)."""
    found = []
    for kind, name in KINDS.items():
        value = request.cookies.get(name)
        if value:
            found.append((kind, unquote(value)))
    return found


def clear_messages(request: Request, response: Response) -> None:
    for name in KINDS.values():
        if name in request.cookies:
            response.delete_cookie(name, path="/")
