"""How a web UI request is served: the session from the cookie, the permission check, rendering.

Every UI endpoint is a :class:`~sudoless.server.dispatch.Route`, answered by the same
:func:`~sudoless.server.dispatch.answer` as the AJAX API: method check, CSRF check for state changes,
project lookup, permission check, handler. Project-level permissions are taken from the API's own route
table (:func:`api_permission`), so a page never asks for less than the API call that shows the same data;
the UI has no permission logic of its own.

Pages are Jinja2 templates with autoescaping on, so every value is escaped unless a template says
otherwise (no template does for user data); data for scripts travels as JSON in ``<script
type="application/json">`` blocks, which the Content-Security-Policy set here keeps inert (no inline
script runs, only files from ``/ui/static``).
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from sudoless.accounts import Permission
from sudoless.errors import NotFoundError
from sudoless.server import flash, sessions
from sudoless.server.dispatch import Call, Route, Services, Servlet, Target, answer
from sudoless.server.headers import SECURITY_HEADERS
from sudoless.server.params import BadBody, BodyTooLarge, MissingParameter, Params, read_params
from sudoless.server.ui.layout import Layout
from sudoless.store.projects import FlowRecord
from sudoless.store.status import Status

__all__ = [
    "Cache",
    "Ui",
    "api_permission",
    "csrf_of",
    "data",
    "endpoint",
    "error_page",
    "format_duration",
    "locate_execution",
    "locate_project",
    "locate_schedule",
    "page_url",
    "quoted",
    "render",
    "status_class",
    "time_html",
]


V = TypeVar("V")


class Cache(Generic[V]):
    """Values that never go stale, by key: bounded, the least recently used leaving first. Holds graph
    layouts by (database, project id, version, flow, expanded flows) and a version's flows, since stored
    versions never change, and the grid's job statuses of finished executions, which no longer change either."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._items: OrderedDict[tuple[Any, ...], V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], compute: Callable[[], V]) -> V:
        found = self.peek(key)
        if found is not None:
            return found
        value = compute()
        self.put(key, value)
        return value

    def peek(self, key: tuple[Any, ...]) -> V | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key: tuple[Any, ...], value: V) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)


@dataclass
class Ui:
    """What the UI endpoints share: the server's services, the templates, caches."""

    services: Services
    env: Environment
    asset_version: str
    layouts: Cache[Layout] = field(default_factory=Cache)
    #: per (database, project id, version): the version's flows (:func:`~.projects.current_flows`); shared
    #: by every caller, who must not change them
    flows: Cache[dict[str, FlowRecord]] = field(default_factory=Cache)
    #: per finished execution, its job attempts' (nested id, attempt, status): the runs x jobs grid's cells
    finished_jobs: Cache[list[tuple[str, int, str]]] = field(default_factory=lambda: Cache(5000))


def ui_of(call: Call) -> Ui:
    ui: Ui = call.request.app.state.ui
    return ui


# -- formatting ---------------------------------------------------------------------------------------------


NO_TIME = Markup('<span class="muted">-</span>')


@functools.lru_cache(maxsize=4096)
def _utc_date(day: int) -> str:
    """Day ``day`` since the epoch as ``YYYY-MM-DD``: the part of a time the day's times share."""
    return f"{datetime.fromtimestamp(day * 86_400, UTC):%Y-%m-%d}"


def utc_parts(ms: int) -> tuple[str, str]:
    """Epoch ms (not negative) as its UTC date and clock, ``YYYY-MM-DD`` and ``HH:MM:SS`` (whole seconds).

    The date comes from a cache by day and the clock from integer arithmetic: ``strftime`` through
    ``datetime`` cost about 4 us a time, the most expensive part of a list page's 150 times."""
    day, second = divmod(ms // 1000, 86_400)
    hours, second = divmod(second, 3_600)
    minutes, second = divmod(second, 60)
    return _utc_date(day), f"{hours:02d}:{minutes:02d}:{second:02d}"


def time_html(ms: int | None) -> str:
    """:func:`format_time`'s markup as a plain string, for the pages that build rows in Python."""
    if ms is None or ms < 0:
        return str(NO_TIME)
    date, clock = utc_parts(ms)
    return f'<time datetime="{date}T{clock}Z">{date} {clock} UTC</time>'


def format_time(ms: int | None) -> Markup:
    """A ``<time>`` element in UTC; the browser rewrites it into the reader's zone."""
    return Markup(time_html(ms))


def iso_time(ms: int) -> str:
    """Epoch ms as the UTC instant a ``<time datetime>`` attribute holds."""
    date, clock = utc_parts(ms)
    return f"{date}T{clock}Z"


def short_time(ms: int) -> str:
    """``MM-DD HH:MM`` in UTC: a column head's room (the browser rewrites it into the reader's zone)."""
    date, clock = utc_parts(ms)
    return f"{date[5:]} {clock[:5]}"


def format_duration(ms: int | None) -> str:
    """``2h 03m``, ``4m 05s``, ``12.3s``, ``850 ms``; ``-`` for an unknown duration."""
    if ms is None or ms < 0:
        return "-"
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def format_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def status_class(status: Status | str) -> str:
    """The CSS class of a status badge (one per Azkaban status)."""
    return "s-" + str(getattr(status, "value", status)).lower().replace("_", "-")


@functools.lru_cache(maxsize=4096)
def quoted(text: str) -> str:
    """``text`` quoted as one part of a URL (``/`` too). Cached: the same few names (projects, flows,
    users) fill every list, and quoting one costs more than finding it here."""
    return quote(text, safe="")


def page_url(kind: str, *parts: object, **query: object) -> str:
    """UI URLs with each path part quoted (names may hold any character but ``/``)."""
    path = "/ui/" + "/".join([kind, *(quoted(str(p)) for p in parts)])
    wanted = {k: v for k, v in query.items() if v not in (None, "")}
    if wanted:
        path += "?" + "&".join(f"{quote(k)}={quoted(str(v))}" for k, v in wanted.items())
    return path


def new_environment() -> Environment:
    """The templates, compiled once per process: they ship inside the package and change only with it.

    Jinja's default ``auto_reload`` asked the file system for every template a page uses (an ``isfile`` and a
    ``getmtime`` each, the page and every template it extends or includes) on every render; a developer
    editing a template restarts the server instead."""
    env = Environment(
        loader=PackageLoader("sudoless.server.ui", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(
        when=format_time,
        duration=format_duration,
        size=format_bytes,
        status_class=status_class,
        iso=iso_time,
        short_utc=short_time,
    )
    env.globals.update(url=page_url)
    return env


# -- responses ----------------------------------------------------------------------------------------------


def csrf_of(call: Call) -> str:
    """The CSRF token of the caller's session, which every form of a page carries."""
    return sessions.csrf_token(ui_of(call).services.secret, call.session_id) if call.session_id else ""


def render(call: Call, template: str, status: int = 200, **context: Any) -> Response:
    """A page: the template with the navigation's needs (user, CSRF token, one-shot messages)."""
    ui = ui_of(call)
    messages = flash.take_messages(call.request)
    html = ui.env.get_template(template).render(
        user=call.user,
        csrf=csrf_of(call),
        messages=messages,
        asset=ui.asset_version,
        is_admin=call.user.is_admin,
        now=call.store.clock(),
        path=call.request.url.path,
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    flash.clear_messages(call.request, response)
    return response


def data(body: Any, status: int = 200) -> Response:
    """JSON for the UI's scripts (compact; the Azkaban pretty-printing is for Azkaban clients)."""
    return Response(
        json.dumps(body, separators=(",", ":"), default=str).encode(), status_code=status, media_type="application/json"
    )


def error_page(call: Call, status: int, title: str, message: str) -> Response:
    if call.key.startswith("data:"):
        return data({"error": message}, status)
    return render(call, "error.html", status=status, title=title, message=message)


def redirect(location: str, kind: str | None = None, text: str = "") -> Response:
    """303 after a form post (the browser follows with GET), with an optional one-shot message."""
    response = RedirectResponse(location, status_code=303)
    if kind is not None:
        flash.set_message(response, kind, text)
    return response


# -- lookups and refusals (used as Route.locate / Route.denied) ---------------------------------------------


def api_permission(servlet: Servlet, key: str) -> Permission:
    """The permission the AJAX API's route ``key`` of ``servlet`` requires: the UI asks for the same."""
    permission = servlet.routes[key].permission
    assert permission is not None, f"{servlet.path} {key} needs no permission"
    return permission


def locate_project(call: Call) -> Target | Response:
    name = call.params.required("project")
    project = call.store.projects.get(name=name)
    if project is None:
        return error_page(call, 404, "No such project", f"Project {name} does not exist (or was deleted).")
    return Target(project=project)


def locate_execution(call: Call) -> Target | Response:
    exec_id = call.params.integer("execid")
    try:
        record, project = call.store.executions.get_with_project(exec_id)
    except NotFoundError:
        return error_page(call, 404, "No such execution", f"Execution {exec_id} does not exist.")
    if project is None:
        return error_page(call, 404, "No such project", f"The project of execution {exec_id} is gone.")
    return Target(project=project, execution=record)


def locate_schedule(call: Call) -> Target | Response:
    schedule_id = call.params.integer("scheduleId")
    try:
        schedule = call.scheduler.get(schedule_id)
    except NotFoundError:
        return error_page(call, 404, "No such schedule", f"Schedule {schedule_id} does not exist.")
    project = call.store.projects.get(project_id=schedule.project_id)
    if project is None:
        return error_page(call, 404, "No such project", f"The project of schedule {schedule_id} is gone.")
    return Target(project=project, schedule=schedule)


def denied(call: Call, target: Target, perm: Permission) -> Response:
    where = f"project {target.project.name}" if target.project is not None else "this server"
    return error_page(
        call, 403, "Permission denied", f"User {call.user.name} needs the {perm.name} permission on {where} for this."
    )


# -- endpoints ----------------------------------------------------------------------------------------------


def _not_allowed(call: Call) -> Response:
    return error_page(call, 405, "Method not allowed", f"{call.request.method} is not allowed here.")


def endpoint(route: Route) -> Callable[[Request], Awaitable[Response]]:
    """An ASGI endpoint serving ``route`` to logged-in users (others are sent to the login page).

    Route keys starting with ``data:`` answer JSON (errors too); the others answer pages.
    """
    servlet = Servlet.build(f"/ui#{route.key}", lambda request, params: route.key, [route], _not_allowed, denied=denied)

    async def serve(request: Request) -> Response:
        started = time.perf_counter()
        ui: Ui = request.app.state.ui
        try:
            params = await read_params(request, ui.services.settings.max_upload_bytes)
        except (BodyTooLarge, BadBody) as exc:
            return data({"error": str(exc)}, 413 if isinstance(exc, BodyTooLarge) else 400)
        params.items[:0] = [(key, str(value)) for key, value in request.path_params.items()]
        try:
            response = await ui.services.threads.run(_handle, ui, servlet, route, request, params)
        finally:
            params.close()
        response.headers.update(SECURITY_HEADERS)
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    return serve


def _handle(ui: Ui, servlet: Servlet, route: Route, request: Request, params: Params) -> Response:
    """Serve one page or data request; its reads share one read transaction, as the AJAX API's do
    (:func:`sudoless.server.app.handle`)."""
    with ui.services.store.shared_reads():
        return _serve(ui, servlet, route, request, params)


def _serve(ui: Ui, servlet: Servlet, route: Route, request: Request, params: Params) -> Response:
    services = ui.services
    session = request.cookies.get(sessions.COOKIE)
    user = services.accounts.session_user(session) if session else None
    if user is None:
        if route.key.startswith("data:"):
            return data({"error": "session", "login": "/ui/login"}, 401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(page_url("login", next=target if request.method == "GET" else None), status_code=303)
    call = Call(request, params, services, user, session, via_cookie=True)
    try:
        return answer(servlet, call)
    except MissingParameter as exc:
        call.key = route.key
        return error_page(call, 400, "Bad request", str(exc))
