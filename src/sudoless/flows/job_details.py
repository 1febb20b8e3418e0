"""One job of a stored flow as a person debugging it wants to see it: what it runs and with which
properties, where it sits in the flow, and how its recent runs went.

The properties are resolved the way the runner resolves them (:mod:`sudoless.flows.formats.precedence`:
the directory's ``.properties``, the flow's ``config`` and, for an execution, its runtime properties, the
job's own file, job overrides), except for what exists only while a run goes on (its parents' outputs, the
``azkaban.flow.*``/``azkaban.job.*`` built-ins): references to those stay as written and are listed. Values
of keys that look secret (password, secret, token, key) are masked, and so is any text of them that a
substitution copied into another value, such as a command.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sudoless.config import Settings
from sudoless.errors import NotFoundError
from sudoless.flows.executions import apply_job_overrides, load_version
from sudoless.flows.formats.precedence import job_props, node_layers, overlay
from sudoless.flows.formats.substitution import resolve_known
from sudoless.flows.model import Flow, Node, Project
from sudoless.store import Store
from sudoless.store.job_runs import JobAttempt

__all__ = ["MASK", "JobDetails", "is_secret", "job_details", "mask_secrets"]

MASK = "********"
_SECRET_KEY = re.compile(r"pass(word|wd)?|secret|token|key|credential", re.IGNORECASE)
#: Shorter secrets are not hunted for inside other values: "1" or "on" would mask half a command.
_MIN_HIDDEN = 4


def is_secret(key: str) -> bool:
    """Whether a property's name says it holds a secret (``db.password``, ``api_token``, ``aws.secret.key``)."""
    return _SECRET_KEY.search(key) is not None


def mask_secrets(props: Mapping[str, str]) -> dict[str, str]:
    """``props`` with secret keys' values replaced by :data:`MASK`, and their text masked inside the others."""
    hidden = sorted({v for k, v in props.items() if is_secret(k) and len(v) >= _MIN_HIDDEN}, key=len, reverse=True)
    out: dict[str, str] = {}
    for key, value in props.items():
        if is_secret(key):
            out[key] = MASK
            continue
        for secret in hidden:
            value = value.replace(secret, MASK)
        out[key] = value
    return out


@dataclass(frozen=True)
class JobDetails:
    """A job of a flow (``nested_id`` as ``sub:job`` inside embedded flows) and its last attempts.

    ``unresolved`` names the properties whose references only a run can fill in, with the reason."""

    nested_id: str
    name: str
    type: str
    command: str | None
    properties: dict[str, str]
    unresolved: dict[str, str]
    condition: str | None
    parents: list[str]
    children: list[str]
    recent: list[JobAttempt]
    source: str


def _walk(project: Project, flow: Flow, nested_id: str) -> tuple[list[tuple[Flow, Node]], Flow, Node]:
    """The embedded-flow nodes from the top down to the job, the flow holding it, and its node."""
    path: list[tuple[Flow, Node]] = []
    current = flow
    parts = nested_id.split(":")
    for index, part in enumerate(parts):
        node = current.nodes.get(part)
        if node is None:
            raise NotFoundError(f"Flow {flow.name} has no job {nested_id}")
        if index == len(parts) - 1:
            return path, current, node
        if node.subflow is None or node.subflow not in project.flows:
            raise NotFoundError(f"Flow {flow.name} has no job {nested_id} ({part} is not an embedded flow)")
        path.append((current, node))
        current = project.flows[node.subflow]
    raise NotFoundError(f"Flow {flow.name} has no job {nested_id}")


def job_details(
    store: Store,
    settings: Settings,
    project_id: int,
    project_name: str,
    version: int,
    flow_id: str,
    nested_id: str,
    runtime: Mapping[str, Mapping[str, str]] | None = None,
    history: int = 20,
) -> JobDetails:
    """The :class:`JobDetails` of ``nested_id`` in ``flow_id`` of a stored version; NotFoundError if it has
    no such job. ``runtime`` (node path -> properties) adds an execution's runtime properties, as it ran."""
    runtime = runtime or {}
    project = load_version(store, settings, project_id, version, project_name)
    project = apply_job_overrides(project, store.project_settings.job_overrides(project_id, version))
    flow = project.flow(flow_id)
    path, holder, node = _walk(project, flow, nested_id)
    scope = overlay(flow.props, runtime.get("ROOT", {}))
    prefix = ""
    for _, container in path:
        prefix += container.name
        scope = overlay(scope, node_layers([], container.props, runtime.get(prefix, {})))
        prefix += ":"
    eager: list[Mapping[str, str]] = []
    if settings.runtime_props_eager:
        parts = nested_id.split(":")
        eager = [runtime.get("ROOT", {}), *(runtime.get(":".join(parts[:i]), {}) for i in range(1, len(parts)))]
    merged = job_props(node.shared, scope, [], node.props, runtime.get(nested_id, {}), eager)
    resolved, unresolved = resolve_known(merged)
    masked = mask_secrets(resolved)
    kids = holder.children()
    return JobDetails(
        nested_id=nested_id,
        name=node.name,
        type=node.type,
        command=masked.get("command"),
        properties=dict(sorted(masked.items())),
        unresolved=unresolved,
        condition=node.condition,
        parents=[prefix + p for p in node.dependencies],
        children=[prefix + c for c in kids.get(node.name, [])],
        recent=store.job_runs.recent_attempts(project_id, flow_id, nested_id, history),
        source=node.source,
    )
