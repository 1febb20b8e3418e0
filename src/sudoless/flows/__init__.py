"""The Azkaban-compatible flow engine, usable without the server: what a program needs to run a flow.

A flow travels from :func:`upload_project` (a directory or zip, validated and stored as a version) to
:func:`submit_flow` (an execution queued with its :class:`ExecutionOptions`), which an :class:`Executor`
claims and runs (:func:`run_execution`); :func:`control` cancels, pauses or resumes a live one and
:func:`restart_execution` reruns what did not succeed. :func:`load_project` checks a project without
storing it, into the model every loader produces: a :class:`Project` holds flows (:class:`Flow`), a flow
holds nodes (:class:`Node`), and every job and flow ends in a :class:`Status`.

The names load on first use (PEP 562): ``import sudoless.flows.model`` must not pay for the runner, the
store and SQLAlchemy, which these bring.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sudoless.flows.executions import control, restart_execution, submit_flow
    from sudoless.flows.executor import Executor, run_execution
    from sudoless.flows.formats import load_project
    from sudoless.flows.model import Flow, Node, Project
    from sudoless.flows.options import ExecutionOptions
    from sudoless.flows.upload import upload_project
    from sudoless.store.status import Status

__all__ = [
    "ExecutionOptions",
    "Executor",
    "Flow",
    "Node",
    "Project",
    "Status",
    "control",
    "load_project",
    "restart_execution",
    "run_execution",
    "submit_flow",
    "upload_project",
]

#: where each name is defined
_LAZY = {
    "ExecutionOptions": "sudoless.flows.options",
    "Executor": "sudoless.flows.executor",
    "Flow": "sudoless.flows.model",
    "Node": "sudoless.flows.model",
    "Project": "sudoless.flows.model",
    "Status": "sudoless.store.status",
    "control": "sudoless.flows.executions",
    "load_project": "sudoless.flows.formats",
    "restart_execution": "sudoless.flows.executions",
    "run_execution": "sudoless.flows.executor",
    "submit_flow": "sudoless.flows.executions",
    "upload_project": "sudoless.flows.upload",
}


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'sudoless.flows' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
