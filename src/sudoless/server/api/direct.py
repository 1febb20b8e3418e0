"""The JSON API's common reads dispatched straight to their route, around FastAPI's routing and dependency
solving; every other request, and every request whose parameters are invalid, goes through FastAPI as before.

Per request FastAPI matched the path against nine included routers one regular expression at a time, solved
the route's dependencies generically (the caller, its two security schemes, the NUL guard), entered its exit
stacks and middleware, and only then made the one call to the request threads (:mod:`.routing`): about
1.7 million instructions on the event loop per read, where the server's one process has about 10 million a
request to spend at 200 requests a second. :class:`DirectRoutes` does the same work with what was decided
when the application was built:

* the route: the routes of the same routers in the same order, grouped by their first literal segment and
  number of segments, each matched by Starlette's own compiled path (the first route matching path and method
  wins, as Starlette's router picks it);
* its parameters: each validated by the route's own field (its ``validate``, as FastAPI validates it), read
  from the path or query as FastAPI reads a plain parameter (a sequence from every value of its name, an
  absent or empty one replaced by a copy of its default); a field of any other kind (a model of parameters,
  JSON, aliases, a validated default) makes the route's parameters go through FastAPI's own function
  (:func:`request_params_to_args`), whose generic analysis of each field on each request was the greater part
  of what remained. A request with an invalid parameter is handed to FastAPI untouched, which answers it as
  before (the deferred refusals first, then 400);
* its dependencies: a route is dispatched directly only if each of them has a direct resolver given here
  (:data:`sudoless.server.api.context.DIRECT`: the caller) and the application's own are the ones given (the
  NUL guard), called with the request as FastAPI calls them; any other route is FastAPI's;
* errors: the application's exception handlers, looked up as Starlette's middleware looks them up; an
  unexpected exception is answered by the application's handler for ``Exception`` and raised again, as
  Starlette's ``ServerErrorMiddleware`` does.

The response is the route's own (:meth:`.routing.ThreadedRoute._render`), so its bytes are those FastAPI
sends; tests/server/test_api_routing.py compares the answers of both paths.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass
from enum import Enum
from types import UnionType
from typing import Any, Union, get_args, get_origin

from fastapi import FastAPI, params
from fastapi._compat import field_annotation_is_sequence
from fastapi.dependencies.utils import request_params_to_args
from fastapi.routing import APIRouter
from pydantic import BaseModel, Json
from starlette._utils import get_route_path
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from sudoless.server.api.routing import ThreadedRoute
from sudoless.server.route_index import first_segment

__all__ = ["DirectRoutes", "Resolver"]

#: a dependency's value from the request alone, as FastAPI would have solved it
Resolver = Callable[[Request], Awaitable[Any]]
#: an exception handler of the application
Handler = Callable[[Request, Exception], Any]
#: the key's first segment for a path whose first segment no route has as a literal (such paths share one key,
#: so the table stays as small as the API)
_ANY = ""


#: the defaults that a deep copy returns as they are
ATOMIC = (type(None), bool, int, float, str, bytes, Enum)
COPIED = object()


@dataclass(frozen=True)
class _Param:
    """A plain path or query parameter, as FastAPI reads it (the module docstring)."""

    field: Any  # FastAPI's ModelField
    name: str
    alias: str
    loc: tuple[str, str]
    many: bool  # a sequence: every value of its name
    required: bool
    #: the default when it is one value that a copy would not change (None, a number, a string, an enum
    #: member), else :data:`COPIED` (a copy of the field's default for each request, as FastAPI makes)
    default: Any

    @classmethod
    def of(cls, field: Any) -> _Param | None:
        """The parameter, or None if it is not a plain one."""
        info = field.field_info
        if not isinstance(info, (params.Path, params.Query)) or info.validation_alias or info.validate_default:
            return None
        annotation = info.annotation
        if get_origin(annotation) in (Union, UnionType):
            annotation = next((arg for arg in get_args(annotation) if arg is not type(None)), annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return None
        if any(type(item) is Json for item in info.metadata):
            return None
        many = field_annotation_is_sequence(info.annotation)
        if many and isinstance(info, params.Path):
            return None
        alias = field.alias
        required = info.is_required()
        atomic = not required and info.default_factory is None and isinstance(info.default, ATOMIC)
        return cls(
            field, field.name, alias, (info.in_.value, alias), many, required, info.default if atomic else COPIED
        )

    def read(self, received: Any, values: dict[str, Any]) -> bool:
        """Put the parameter's value from ``received`` into ``values``; False if it is missing or invalid."""
        raw = received.getlist(self.alias) if self.many else received.get(self.alias)
        if raw is None or (self.many and not raw):
            if self.required:
                return False
            values[self.name] = deepcopy(self.field.default) if self.default is COPIED else self.default
            return True
        value, errors = self.field.validate(raw, values, loc=self.loc)
        if errors:
            return False
        values[self.name] = value
        return True


@dataclass(frozen=True)
class _Plan:
    """How a directly dispatched route is called: its parameters and its dependencies' resolvers."""

    path_fields: Sequence[Any]
    query_fields: Sequence[Any]
    #: the plain parameters (path ones first), or None if FastAPI's function must read them
    plain: tuple[tuple[bool, _Param], ...] | None
    resolvers: tuple[tuple[str, Resolver], ...]
    request_name: str
    endpoint: Callable[..., Awaitable[Response]]  # the threaded route's coroutine

    def read(self, path_params: dict[str, Any], query_string: bytes) -> dict[str, Any] | None:
        """The route's parameters from the request, or None if one is missing or invalid."""
        if self.plain is None:
            return self._read_generic(path_params, query_string)
        values: dict[str, Any] = {}
        query: QueryParams | None = None
        for in_query, param in self.plain:
            if in_query and query is None:
                query = QueryParams(query_string)
            if not param.read(query if in_query else path_params, values):
                return None
        return values

    def _read_generic(self, path_params: dict[str, Any], query_string: bytes) -> dict[str, Any] | None:
        values, errors = request_params_to_args(self.path_fields, path_params)
        if errors:
            return None
        if self.query_fields:
            queried, errors = request_params_to_args(self.query_fields, QueryParams(query_string))
            if errors:
                return None
            values.update(queried)
        return values


@dataclass(frozen=True)
class _Entry:
    """One route of the API, in the order FastAPI matches them."""

    route: ThreadedRoute | None
    methods: frozenset[str]
    regex: Any  # re.Pattern[str]
    convertors: Mapping[str, Any]
    first: str | None  # the first segment if it is literal
    segments: int | None  # how many segments a path it matches has (None: a path convertor matches any)
    plan: _Plan | None  # None: FastAPI's to answer

    def fits(self, first: str, segments: int) -> bool:
        return (self.first is None or self.first == first) and (self.segments is None or self.segments == segments)


class DirectRoutes:
    """An ASGI application: FastAPI's ``app`` with the reads of ``routers`` dispatched directly (the module
    docstring). ``guards`` are the application's own dependencies, ``resolvers`` the dependencies a direct
    route may have (by the callable FastAPI would call)."""

    def __init__(
        self,
        app: FastAPI,
        routers: Sequence[APIRouter],
        guards: Sequence[Callable[[Request], Awaitable[None]]],
        resolvers: Mapping[Callable[..., Any], Resolver],
    ) -> None:
        self.app = app
        #: what answers the requests not dispatched directly (FastAPI's application)
        self.fallback: ASGIApp = app
        self.guards = tuple(guards)
        self.handlers: Mapping[Any, Handler] = app.exception_handlers
        direct_app = [dependency.dependency for dependency in app.router.dependencies] == list(guards)
        self.entries = tuple(
            _entry(route, resolvers if direct_app and not router.dependencies and not app.dependency_overrides else {})
            for router in routers
            for route in router.routes
        )
        self._candidates: dict[tuple[str, int], tuple[_Entry, ...]] = {}
        self._literals = frozenset(entry.first for entry in self.entries if entry.first is not None)

    def candidates(self, route_path: str) -> tuple[_Entry, ...]:
        """The entries that may match ``route_path``, in order."""
        first = first_segment(route_path)
        key = (first if first in self._literals else _ANY, route_path.count("/"))
        found = self._candidates.get(key)
        if found is None:
            found = self._candidates[key] = tuple(entry for entry in self.entries if entry.fits(*key))
        return found

    def match(self, scope: Scope) -> tuple[_Entry, dict[str, Any]] | None:
        """The first entry matching the request's path and method, with its path parameters; None if none
        does (FastAPI then answers: a 404, a 405 or one of its own routes)."""
        route_path = get_route_path(scope)
        method = scope["method"]
        for entry in self.candidates(route_path):
            if method in entry.methods:
                found = entry.regex.match(route_path)
                if found is not None:
                    params = {key: entry.convertors[key].convert(value) for key, value in found.groupdict().items()}
                    return entry, params
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not await self._direct(scope, receive, send):
            await self.fallback(scope, receive, send)

    async def _direct(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer the request directly if it can be; False (nothing done) if FastAPI must."""
        matched = self.match(scope)
        if matched is None or matched[0].plan is None:
            return False
        entry, path_params = matched
        plan = matched[0].plan
        values = plan.read(path_params, scope["query_string"])
        if values is None:
            return False
        child = {**scope, "app": self.app, "path_params": path_params, "endpoint": plan.endpoint, "route": entry.route}
        request = Request(child, receive)
        try:
            for guard in self.guards:
                await guard(request)
            for name, resolve in plan.resolvers:
                values[name] = await resolve(request)
            values[plan.request_name] = request
            response = await plan.endpoint(**values)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is not None:
                response = await _answer(handler, request, exc)
            else:  # Starlette's ServerErrorMiddleware: the answer of the handler of Exception, then the raise
                await (await _answer(self.handlers[Exception], request, exc))(child, receive, send)
                raise
        await response(child, receive, send)
        return True

    def _handler(self, exc: Exception) -> Handler | None:
        """The handler Starlette's ExceptionMiddleware would call (the most specific class first), or None
        for one its ServerErrorMiddleware handles."""
        for kind in type(exc).__mro__:
            if kind is Exception:
                return None
            if kind in self.handlers:
                return self.handlers[kind]
        return None


async def _answer(handler: Handler, request: Request, exc: Exception) -> Response:
    """A handler's response (a synchronous handler runs in a worker thread, as Starlette runs it)."""
    if inspect.iscoroutinefunction(handler):
        response: Response = await handler(request, exc)
        return response
    answered: Response = await run_in_threadpool(handler, request, exc)
    return answered


def _entry(route: Any, resolvers: Mapping[Callable[..., Any], Resolver]) -> _Entry:
    path = route.path
    regex, _, convertors = compile_path(path)
    first = first_segment(path)
    segments = path.count("/")
    return _Entry(
        route=route if isinstance(route, ThreadedRoute) else None,
        methods=frozenset(getattr(route, "methods", None) or ()),
        regex=regex,
        convertors=convertors,
        first=None if "{" in first else first,
        segments=None if ":path}" in path else segments,
        plan=_plan(route, resolvers),
    )


def _plan(route: Any, resolvers: Mapping[Callable[..., Any], Resolver]) -> _Plan | None:
    """The plan of a route that can be dispatched directly: a threaded route with a synchronous endpoint,
    path and query parameters, the request and dependencies that all have resolvers; None otherwise."""
    if not isinstance(route, ThreadedRoute) or not route.threaded:
        return None
    dependant = route.dependant
    special = (
        dependant.websocket_param_name,
        dependant.http_connection_param_name,
        dependant.response_param_name,
        dependant.background_tasks_param_name,
        dependant.security_scopes_param_name,
    )
    if dependant.header_params or dependant.cookie_params or dependant.body_params or any(special):
        return None
    if dependant.request_param_name is None or route.body_field is not None:
        return None
    solved = []
    for sub in dependant.dependencies:
        resolve = resolvers.get(sub.call) if sub.call is not None else None
        if resolve is None or sub.name is None:
            return None
        solved.append((sub.name, resolve))
    plain = [(False, _Param.of(field)) for field in dependant.path_params]
    plain += [(True, _Param.of(field)) for field in dependant.query_params]
    return _Plan(
        path_fields=tuple(dependant.path_params),
        query_fields=tuple(dependant.query_params),
        plain=tuple((q, p) for q, p in plain if p is not None) if all(p for _, p in plain) else None,
        resolvers=tuple(solved),
        endpoint=route.endpoint,
        request_name=dependant.request_param_name,
    )
