"""The server's top-level router, indexed by a path's first segment.

Starlette's router tries its routes in order, a regular expression each, until one matches. The server has
about fifty (Azkaban's servlets, the web UI's pages, then the JSON API's mount at ``/api/v1``), so a JSON
API request paid some fifty failed matches before reaching its mount: about 0.38 M of the 0.58 M
instructions its event loop spent on an ``api:execution`` read (callgrind; benchmarks/README.md). The UI's
pages, after the servlets, paid a dozen or more.

:class:`IndexedRouter` keeps Starlette's routing exactly: a request is first matched against only the
routes that could match its path (those whose first segment is the path's, in their order, and those whose
first segment is a parameter), and the first of them to match fully handles it, as it would have in the
full walk, since no route left out can match. Anything else (a method not allowed, a redirect to the
path with or without its slash, not found) goes through Starlette's own walk of every route.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Router
from starlette.types import Receive, Scope, Send

__all__ = ["IndexedRouter", "first_segment"]


def first_segment(path: str) -> str:
    """What lies between a path's first and second slash (``/ui/flows/x`` -> ``ui``; ``/`` -> '')."""
    return path.split("/", 2)[1] if path.startswith("/") else path


class IndexedRouter(Router):
    """A :class:`~starlette.routing.Router` that looks its full matches up by the path's first segment.

    The index is built on the first request, and again whenever the route list's length changes (routes
    added after the application was made)."""

    _index: dict[str, list[BaseRoute]]
    _anywhere: list[BaseRoute]
    _indexed = -1

    def _build(self) -> None:
        index: dict[str, list[BaseRoute]] = {}
        anywhere: list[BaseRoute] = []  # routes that may match any first segment, kept in every bucket
        for route in self.routes:
            path = getattr(route, "path", None)
            key = first_segment(path) if isinstance(path, str) else None
            if key is None or "{" in key:
                anywhere.append(route)
                for bucket in index.values():
                    bucket.append(route)
            else:
                index.setdefault(key, list(anywhere)).append(route)
        self._index, self._anywhere, self._indexed = index, anywhere, len(self.routes)

    def candidates(self, path: str) -> Sequence[BaseRoute]:
        """The routes that could match ``path``, in the router's order."""
        if self._indexed != len(self.routes):
            self._build()
        return self._index.get(first_segment(path), self._anywhere)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            for route in self.candidates(get_route_path(scope)):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", self)
                    scope["route"] = route
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await super().app(scope, receive, send)
