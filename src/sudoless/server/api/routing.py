"""How a JSON API route runs: its whole blocking part in one call to the server's request threads, inside one
read transaction, as the AJAX API's requests do (:func:`sudoless.server.app.handle`).

FastAPI runs a synchronous route in AnyIO's thread pool, then validates its result in that pool again, and a
synchronous dependency (the session lookup) would take a third hop: each hop about 98 us of CPU where the
request threads (:mod:`sudoless.server.threads`) take 31, and each read of the request began and ended its
own transaction (a round trip for the rollback on MySQL). With :class:`ThreadedRoute` as the routers' route
class, a synchronous route is handed to FastAPI as a coroutine function with the same signature (so the
parameters, the validation and the OpenAPI document are FastAPI's as before) that makes one call to the
request threads; that call, within :meth:`Store.shared_reads <sudoless.store.Store.shared_reads>`:

1. resolves the dependencies whose work blocks (:class:`Deferred`: the caller's session, the admin check),
   in the order FastAPI solved them;
2. runs the route;
3. validates its result against the route's response model and serialises it to JSON, once, as FastAPI
   would have (the same ``response_field``, so the same bytes), and returns the finished response.

A dependency that reads the database returns a :class:`Deferred` instead of its value (:func:`defer`), which
the route receives resolved. FastAPI validates the request's parameters after solving the dependencies, so
a request with both an invalid parameter and an unknown token was refused with 401, not 400: the handler of
validation errors (:mod:`.errors`) settles the request's deferred dependencies first (:func:`settle`), and
the answer stays the same.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from fastapi.datastructures import DefaultPlaceholder
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import ResponseValidationError
from fastapi.routing import APIRoute
from fastapi.utils import is_body_allowed_for_status_code
from starlette.requests import Request
from starlette.responses import Response

from sudoless.server.dispatch import Services

__all__ = ["Deferred", "ThreadedRoute", "defer", "services", "services_of", "settle"]

T = TypeVar("T")
U = TypeVar("U")

#: where a request's deferred dependencies wait, in its ASGI scope, in the order they were solved
PENDING = "sudoless.api.deferred"
#: the parameter a threaded route's signature gains unless it has one for the request already: the request,
#: whose application's services it runs in (a parameter FastAPI fills without solving a dependency)
REQUEST_ARG = "sudoless_request_"
#: the synchronous function a threaded endpoint wraps
ORIGINAL = "__sudoless_route__"


def services_of(request: Request) -> Services:
    """The services of the JSON API's application."""
    found: Services = request.app.state.services  # Starlette's app.state holds untyped attributes
    return found


async def services(request: Request) -> Services:
    """:func:`services_of` as a dependency (a coroutine: a plain function would be sent to a thread)."""
    return services_of(request)


class Deferred(Generic[T]):
    """A dependency's value whose blocking part runs in the request's thread, computed once."""

    __slots__ = ("_compute", "_done", "_pending", "_value")

    def __init__(self, compute: Callable[[], T], pending: list[Deferred[Any]]) -> None:
        self._compute = compute
        self._pending = pending
        self._done = False
        self._value: T | None = None
        pending.append(self)

    def resolve(self) -> T:
        """The value (computing it the first time); raises what the computation raised."""
        if not self._done:
            self._value = self._compute()
            self._done = True
        return self._value  # type: ignore[return-value]  # set above: T may itself include None

    def then(self, step: Callable[[T], U]) -> Deferred[U]:
        """A dependency on this one: ``step`` of its value, also deferred (and settled after it)."""
        return Deferred(lambda: step(self.resolve()), self._pending)


def defer(request: Request, compute: Callable[[], T]) -> Deferred[T]:
    """``compute`` as a dependency's value, to run in the request's thread (see the module docstring)."""
    pending: list[Deferred[Any]] = request.scope.setdefault(PENDING, [])
    return Deferred(compute, pending)


def _resolve_all(svc: Services, pending: list[Deferred[Any]]) -> None:
    with svc.store.shared_reads():
        for deferred in list(pending):
            deferred.resolve()


async def settle(request: Request) -> None:
    """Resolve the request's deferred dependencies in a request thread, raising the first refusal: what the
    request would have been answered before its parameters were validated."""
    pending: list[Deferred[Any]] | None = request.scope.get(PENDING)
    if pending:
        svc = services_of(request)
        await svc.threads.run(_resolve_all, svc, pending)


class ThreadedRoute(APIRoute):
    """A route whose synchronous endpoint runs as one call to the request threads (the module docstring);
    a coroutine endpoint runs on the event loop as before, its deferred dependencies resolved first."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        original = getattr(endpoint, ORIGINAL, endpoint)
        #: whether the endpoint runs in the request threads, its response rendered there (a synchronous one)
        self.threaded = not inspect.iscoroutinefunction(original)
        super().__init__(path, self._wrap(original), **kwargs)

    def _wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.isasyncgenfunction(original) or inspect.isgeneratorfunction(original):
            raise TypeError(f"{original.__name__}: streaming endpoints are not supported by {type(self).__name__}")
        is_coroutine = inspect.iscoroutinefunction(original)
        signature = inspect.signature(original, eval_str=True)
        parameters = list(signature.parameters.values())
        given = [p.name for p in parameters if isinstance(p.annotation, type) and issubclass(p.annotation, Request)]
        if given:
            request_arg, hidden = given[0], False
        else:
            request_arg, hidden = REQUEST_ARG, True
            parameters.append(inspect.Parameter(REQUEST_ARG, inspect.Parameter.KEYWORD_ONLY, annotation=Request))
        run = self._run

        async def endpoint(**values: Any) -> Any:
            svc = services_of(values.pop(request_arg) if hidden else values[request_arg])
            if not is_coroutine:
                return await svc.threads.run(run, svc, original, values)
            if any(isinstance(value, Deferred) for value in values.values()):
                await svc.threads.run(_resolve_values, svc, values)
            return await original(**values)

        for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
            setattr(endpoint, attribute, getattr(original, attribute))
        endpoint.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]  # inspect reads it
        setattr(endpoint, ORIGINAL, original)
        return endpoint

    def _run(self, svc: Services, original: Callable[..., Any], values: dict[str, Any]) -> Response:
        """The blocking part of a request, in a request thread: dependencies, route, response."""
        with svc.store.shared_reads():
            _substitute(values)
            return self._render(original(**values))

    def _render(self, content: Any) -> Response:
        """The response FastAPI would have made of the route's result: validated against the response model
        and serialised by its field (to JSON bytes directly, FastAPI's path for the default response class)."""
        if isinstance(content, Response):
            return content
        field = self.response_field
        status = self.status_code or 200  # the default of every response class this API uses
        chosen = self.response_class
        response_class = chosen.value if isinstance(chosen, DefaultPlaceholder) else chosen
        if field is None:
            response = response_class(jsonable_encoder(content), status_code=status)
        else:
            value, errors = field.validate(content, {}, loc=("response",))
            if errors:
                raise ResponseValidationError(errors=errors, body=content)
            options: dict[str, Any] = {
                "include": self.response_model_include,
                "exclude": self.response_model_exclude,
                "by_alias": self.response_model_by_alias,
                "exclude_unset": self.response_model_exclude_unset,
                "exclude_defaults": self.response_model_exclude_defaults,
                "exclude_none": self.response_model_exclude_none,
            }
            if isinstance(chosen, DefaultPlaceholder):
                body = field.serialize_json(value, **options)
                response = Response(body, media_type="application/json", status_code=status)
            else:
                response = response_class(field.serialize(value, mode="json", **options), status_code=status)
        if not is_body_allowed_for_status_code(response.status_code):
            response.body = b""
        return response


def _substitute(values: dict[str, Any]) -> None:
    """Replace each :class:`Deferred` among an endpoint's arguments by its value, in order (in place)."""
    for name, value in values.items():
        if isinstance(value, Deferred):
            values[name] = value.resolve()


def _resolve_values(svc: Services, values: dict[str, Any]) -> None:
    with svc.store.shared_reads():
        _substitute(values)
