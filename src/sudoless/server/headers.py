"""The security headers of the server's HTML pages, and HSTS when it serves HTTPS.

The web UI (``/ui/``) and the Azkaban pages (the login page, the project list, error pages) get the same
set: a Content-Security-Policy that runs scripts and styles only from this server and forbids framing,
``nosniff``, a same-origin referrer, no caching. JSON answers need none of them. Under ``--https`` every
answer carries ``Strict-Transport-Security``, so a browser that has been here once never again talks
plain HTTP to this host (where a session cookie could be read on the way).
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HSTS", "SECURITY_HEADERS", "StrictTransport", "protect_page"]

#: Scripts and styles only from this server; data may be fetched only from it too.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

#: One year, the value browsers' preload lists ask for; subdomains are left alone (they may be other servers).
HSTS = "max-age=31536000"


def protect_page(response: Response) -> Response:
    """Add :data:`SECURITY_HEADERS` to ``response`` if it is an HTML page (other answers pass unchanged)."""
    if response.headers.get("content-type", "").startswith("text/html"):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


class StrictTransport:
    """ASGI middleware adding ``Strict-Transport-Security`` to every HTTP answer (install it under HTTPS only)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (b"strict-transport-security", HSTS.encode())]
            await send(message)

        await self.app(scope, receive, send_with_hsts)
