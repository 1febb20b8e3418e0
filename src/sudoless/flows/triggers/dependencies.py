"""Dependency types of flow triggers: a small registry of plug-ins, and the four built in.

A trigger's ``triggerDependencies`` each name a ``type``. The type checks the dependency's ``params`` when the
project is loaded (so a typo fails the upload, not the night run) and later answers, for one waiting trigger
instance, whether the dependency is met. Azkaban ships Kafka and HDFS types; these need neither:

* ``file``: ``path`` (absolute; a glob pattern is allowed) matches at least one existing file or folder,
  on a local or mounted file system.
* ``http``: ``url`` (http or https) answers a GET with a 2xx status. Only hosts on the admin's list
  (``webhook_hosts``, :mod:`sudoless.outbound`) are asked; any other answers "not met" with the reason.
* ``sql``: ``query`` (one SELECT or WITH statement) on ``database``, a name an admin gave a URL in the
  setting ``trigger_databases``, returns at least one row. Values come in as bound parameters only: the
  instance's ``:slot`` and ``:period_start`` (epoch ms) and each ``bind.NAME`` param as ``:NAME``. It runs in
  a read-only transaction that is rolled back.
* ``flow``: an execution of ``flow`` (in ``project``, default the trigger's own) ended SUCCEEDED within the
  instance's period: submitted after the trigger's previous cron slot (the cross-flow dependency).

A plug-in is a :class:`DependencyType` passed to :func:`register`; its functions get plain values, so a
type is testable without a server.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from sudoless.config import Settings
    from sudoless.store import Store

__all__ = ["CheckContext", "DependencyType", "check_params", "get_type", "register", "type_names"]


@dataclass(frozen=True)
class CheckContext:
    """What a dependency check may look at: the instance's project and flow and its period (epoch ms)."""

    store: Store
    settings: Settings
    project_name: str
    flow_id: str
    slot: int
    period_start: int


@dataclass(frozen=True)
class DependencyType:
    """``validate`` returns the problems of a params mapping (empty: fine); ``check`` returns None when the
    dependency is met, else a short reason why not (shown on the instance's page)."""

    name: str
    validate: Callable[[Mapping[str, str]], list[str]]
    check: Callable[[Mapping[str, str], CheckContext], str | None]


_TYPES: dict[str, DependencyType] = {}


def register(kind: DependencyType) -> None:
    """Make ``kind`` available to trigger files; a later registration of the same name replaces it."""
    _TYPES[kind.name] = kind


def get_type(name: str) -> DependencyType | None:
    return _TYPES.get(name)


def type_names() -> list[str]:
    return sorted(_TYPES)


def check_params(type_name: str, params: Mapping[str, str]) -> list[str]:
    """Problems of a dependency of type ``type_name`` with ``params``, unknown type included."""
    kind = _TYPES.get(type_name)
    if kind is None:
        return [f"unknown dependency type '{type_name}' (known: {', '.join(type_names())})"]
    return kind.validate(params)


def _required(params: Mapping[str, str], *names: str) -> list[str]:
    return [f"param '{name}' is required" for name in names if not params.get(name, "").strip()]


# -- file ----------------------------------------------------------------------------------------------------


def _file_validate(params: Mapping[str, str]) -> list[str]:
    problems = _required(params, "path")
    path = params.get("path", "").strip()
    if path and not path.startswith("/"):
        problems.append(f"param 'path' must be an absolute path or glob, not '{path}'")
    return problems


def _file_check(params: Mapping[str, str], context: CheckContext) -> str | None:
    pattern = params["path"].strip()
    if glob.glob(pattern):
        return None
    return f"nothing matches {pattern}"


# -- http ----------------------------------------------------------------------------------------------------


def _http_validate(params: Mapping[str, str]) -> list[str]:
    problems = _required(params, "url")
    url = params.get("url", "").strip()
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(f"param 'url' must be an http or https URL, not '{url}'")
    return problems


def _http_check(params: Mapping[str, str], context: CheckContext) -> str | None:
    import http.client

    from sudoless.outbound import OutboundRefused, WebhookHosts

    url = params["url"].strip()
    try:
        status = WebhookHosts.parse(context.settings.webhook_hosts).request(
            "GET", url, None, {}, timeout=5.0, what="trigger dependency"
        )
    except OutboundRefused as error:
        return str(error)
    except (OSError, http.client.HTTPException) as error:
        return f"{url}: {error.__class__.__name__}: {error}"
    return None if 200 <= status < 300 else f"{url} answered HTTP {status}"


# -- sql -----------------------------------------------------------------------------------------------------

_SELECT = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)


def _sql_validate(params: Mapping[str, str]) -> list[str]:
    problems = _required(params, "database", "query")
    query = params.get("query", "").strip().rstrip(";").strip()
    if query and (not _SELECT.match(query) or ";" in query):
        problems.append("param 'query' must be one SELECT (or WITH ... SELECT) statement")
    return problems


def _sql_check(params: Mapping[str, str], context: CheckContext) -> str | None:
    from sudoless.flows.triggers.sqlcheck import query_has_row

    return query_has_row(context.settings, params, context.slot, context.period_start)


# -- flow ----------------------------------------------------------------------------------------------------


def _flow_validate(params: Mapping[str, str]) -> list[str]:
    return _required(params, "flow")


def _flow_check(params: Mapping[str, str], context: CheckContext) -> str | None:
    from sudoless.store.status import Status

    project = params.get("project", "").strip() or context.project_name
    flow = params["flow"].strip()
    succeeded = context.store.triggers.succeeded_since(project, flow, context.period_start)
    if succeeded is not None:
        return None
    return f"no execution of {project}.{flow} {Status.SUCCEEDED.value} since the period began"


for _kind in (
    DependencyType("file", _file_validate, _file_check),
    DependencyType("http", _http_validate, _http_check),
    DependencyType("sql", _sql_validate, _sql_check),
    DependencyType("flow", _flow_validate, _flow_check),
):
    register(_kind)
