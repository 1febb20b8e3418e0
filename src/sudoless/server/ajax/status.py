"""``/status``: server health without login, for load balancers and monitors; details for admins only.

Azkaban's StatusServlet tells anyone the version, the process id, the installation path, memory and every
executor's host and port. Without a login sudoless answers only ``{"status" : "up"}`` (HTTP 200), or
``{"status" : "down"}`` with HTTP 503 when the database does not answer; a request with an admin's
session (cookie or ``session.id``) gets Azkaban's full answer.
"""

from __future__ import annotations

import functools
import os
import resource
import sys
from importlib import metadata

from starlette.requests import Request
from starlette.responses import Response

from sudoless.flows.sandbox import sandbox_status
from sudoless.server import sessions
from sudoless.server.dispatch import Call, Route, Servlet
from sudoless.server.params import Params
from sudoless.server.responses import json_response

__all__ = ["STATUS", "server_status"]


@functools.cache
def version() -> str:
    try:
        return metadata.version("sudoless")
    except metadata.PackageNotFoundError:
        return "unknown"


def _used_memory() -> int:
    """Resident memory of this process in bytes (Azkaban reports the JVM's used heap)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def _memory_limit() -> int:
    """The address-space limit of the process (Azkaban's ``xmx``); -1 when unlimited."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return -1 if soft == resource.RLIM_INFINITY else int(soft)


def _from_admin(call: Call) -> bool:
    """Whether the request carries a live session of a global admin (the servlet itself is public)."""
    session, _ = sessions.session_id(call.request, call.params)
    user = call.accounts.session_user(session) if session else None
    return user is not None and user.is_admin


def server_status(call: Call) -> Response:
    store = call.store
    database_up = store.database_up()
    if not _from_admin(call):
        return json_response({"status": "up" if database_up else "down"}, status=200 if database_up else 503)
    now = store.clock()
    timeout = int(call.settings.executor_timeout * 1000)
    executors = {
        str(x.id): {
            "id": x.id,
            "host": x.host,
            "pid": x.pid,
            "active": now - x.heartbeat <= timeout,
            "started": x.started,
            "heartbeat": x.heartbeat,
        }
        for x in (store.executors.active() if database_up else ())
    }
    return json_response(
        {
            "version": call.services.version or version(),
            "pid": os.getpid(),
            "installationPath": str(call.settings.home),
            "usedMemory": _used_memory(),
            "xmx": _memory_limit(),
            "isDatabaseUp": database_up,
            "executorStatusMap": executors,
            "jobSandbox": sandbox_status(call.settings).line,
        }
    )


def _select(request: Request, params: Params) -> str:
    return "status"


STATUS = Servlet.build("/status", _select, [Route("status", server_status)], server_status, public=True)
