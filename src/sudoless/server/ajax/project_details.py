"""``/manager`` handlers about what a project holds: flows, graphs, jobs, executions, its audit log and its
permissions (reference §2.2.5-§2.2.6). :mod:`sudoless.server.ajax.manager` routes to them after the
permission check; every answer carries ``project`` and ``projectId``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from sudoless.accounts import Permission, check_name
from sudoless.errors import InputError, NotFoundError, PermissionDenied, SudolessError
from sudoless.flows import projects as lifecycle
from sudoless.flows.executions import load_version
from sudoless.server.dispatch import Call
from sudoless.server.params import Params
from sudoless.server.responses import jetty_error, json_response
from sudoless.store.projects import FlowRecord, ProjectRecord
from sudoless.store.status import Status

READ, WRITE, ADMIN = Permission.READ, Permission.WRITE, Permission.ADMIN
PERMISSION_FLAGS = ("admin", "read", "write", "execute", "schedule")


def reply_for(project: ProjectRecord, body: dict[str, Any]) -> Response:
    return json_response({"project": project.name, "projectId": project.id, **body})


def reply(call: Call, body: dict[str, Any] | None = None) -> Response:
    return reply_for(call.project, body or {})


def current_flows(call: Call) -> Mapping[str, FlowRecord]:
    return call.store.projects.version_flows(call.project, call.project.version)


# -- read APIs -----------------------------------------------------------------------------------------------


def get_project_id(call: Call) -> Response:
    return reply(call)


def fetch_project_flows(call: Call) -> Response:
    flows = [{"flowId": fid} for fid, record in sorted(current_flows(call).items()) if not record.embedded]
    return reply(call, {"flows": flows})


def graph_nodes(flows: Mapping[str, FlowRecord], flow_id: str) -> list[dict[str, Any]]:
    """Azkaban's ``fillFlowInfo``: nodes sorted by id, ``in`` sorted and omitted when empty, embedded flows
    expanded under ``flowId``/``flow``/``nodes``."""
    nodes = []
    for node in flows[flow_id].graph["nodes"]:
        obj: dict[str, Any] = {"id": node["name"], "type": node["type"]}
        if node.get("condition"):
            obj["condition"] = node["condition"]
        subflow = node.get("subflow")
        if subflow:
            obj["flowId"] = subflow
            if subflow in flows:
                obj["flow"] = subflow
                obj["nodes"] = graph_nodes(flows, subflow)
        if node.get("in"):
            obj["in"] = sorted(node["in"])
        nodes.append(obj)
    return sorted(nodes, key=lambda n: n["id"])


def fetch_flow_graph(call: Call) -> Response:
    flow_id = call.params.required("flow")
    flows = current_flows(call)
    if flow_id not in flows:
        return reply(call, {"error": f"Flow {flow_id} not found in project {call.project.name}"})
    return reply(call, {"flow": flow_id, "nodes": graph_nodes(flows, flow_id)})


def levels(nodes: list[dict[str, Any]]) -> dict[str, int]:
    parents = {n["name"]: list(n.get("in") or ()) for n in nodes}
    level: dict[str, int] = {}

    def visit(name: str, path: frozenset[str]) -> int:
        if name not in level:
            deps = [d for d in parents.get(name, ()) if d in parents and d not in path]
            level[name] = 1 + max((visit(d, path | {name}) for d in deps), default=-1)
        return level[name]

    for name in parents:
        visit(name, frozenset())
    return level


def fetch_flow_jobs(call: Call) -> Response:
    flow_id = call.params.required("flow")
    flows = current_flows(call)
    if flow_id not in flows:  # Azkaban throws a NullPointerException here: clients expect a 500
        return jetty_error(call.request.url.path, f"Flow {flow_id} not found in project {call.project.name}")
    nodes = flows[flow_id].graph["nodes"]
    depth = levels(nodes)
    dependents: dict[str, list[str]] = {n["name"]: [] for n in nodes}
    for node in nodes:
        for parent in node.get("in") or ():
            dependents.setdefault(parent, []).append(node["name"])
    out = [
        {
            "id": n["name"],
            "dependencies": list(n.get("in") or ()),
            "dependents": dependents[n["name"]],
            "level": depth[n["name"]],
        }
        for n in nodes
    ]
    out.sort(key=lambda n: n["level"])
    locked = call.store.project_settings.flow_lock(call.project.id, flow_id) is not None
    return reply(call, {"flowId": flow_id, "isLocked": locked, "nodes": out})


def fetch_flow_details(call: Call) -> Response:
    flow_id = call.params.required("flow")
    flows = current_flows(call)
    if flow_id not in flows:
        return reply(call, {"error": f"Flow {flow_id} not found."})
    types = list(dict.fromkeys(n["type"] for n in flows[flow_id].graph["nodes"]))
    body: dict[str, Any] = {"jobTypes": types}
    # An embedded flow (``outer:node``) carries the condition of the node that holds it, as Azkaban's does.
    outer, _, node = flow_id.rpartition(":")
    holder = next((n for n in flows[outer].graph["nodes"] if n["name"] == node), None) if outer in flows else None
    if holder is not None and holder.get("condition"):
        body["condition"] = holder["condition"]
    return reply(call, body)


def _node_props(call: Call, flow_id: str, node_id: str) -> tuple[dict[str, str], str] | None:
    project = call.project
    loaded = load_version(call.store, call.settings, project.id, project.version, project.name)
    flow = loaded.flows.get(flow_id)
    node = flow.nodes.get(node_id) if flow else None
    if node is None:
        return None
    return dict(node.props), node.type


def fetch_flow_node_data(call: Call) -> Response:
    flow_id = call.params.required("flow")
    node_id = call.params.required("node")
    flows = current_flows(call)
    if flow_id not in flows:
        return jetty_error(call.request.url.path, f"Flow {flow_id} not found in project {call.project.name}")
    found = _node_props(call, flow_id, node_id)
    if found is None:
        return reply(call, {"error": f"Job {node_id} doesn't exist."})
    props, kind = found
    body: dict[str, Any] = {"id": node_id, "flow": flow_id, "type": kind, "props": props}
    subflow = next((n.get("subflow") for n in flows[flow_id].graph["nodes"] if n["name"] == node_id), None)
    if subflow and subflow in flows:
        body["flow"] = subflow
        body["nodes"] = graph_nodes(flows, subflow)
    return reply(call, body)


def fetch_job_info(call: Call) -> Response:
    flow_id = call.params.required("flowName")
    job = call.params.required("jobName")
    flows = current_flows(call)
    if flow_id not in flows:
        return reply(call, {"error": f"Flow {flow_id} not found in project {call.project.name}"})
    found = _node_props(call, flow_id, job)
    if found is None:
        return reply(call, {"error": f"Job {job} not found in flow {flow_id}"})
    props, kind = found
    override = lifecycle.job_override(call.store, call.project, flow_id, job)
    return reply(
        call,
        {
            "jobName": job,
            "jobType": props.get("type", kind),
            "generalParams": props,
            "overrideParams": dict(props) if override is None else override,
        },
    )


def fetch_flow_executions(call: Call) -> Response:
    flow_id = call.params.required("flow")
    start = call.params.integer("start", bits=32)
    length = call.params.integer("length", bits=32)
    project = call.project
    records, total = call.store.executions.flow_page(project.id, flow_id, limit=length, offset=start)
    executions = [
        {
            "execId": r.id,
            "flowId": r.flow_id,
            "projectId": r.project_id,
            "status": r.status.value,
            "submitTime": r.submit_time,
            "startTime": r.start_time,
            "endTime": r.end_time,
            "submitUser": r.submit_user,
        }
        for r in records
    ]
    return reply(call, {"flow": flow_id, "total": total, "from": start, "length": length, "executions": executions})


def fetch_last_successful(call: Call) -> Response:
    flow_id = call.params.required("flow")
    found = call.store.executions.latest(call.project.id, flow_id, statuses=[Status.SUCCEEDED], limit=1)
    if not found:
        return reply(call, {"success": "false", "message": "This flow has no successful run."})
    return reply(call, {"success": "true", "message": "", "execId": found[0].id})


def fetch_project_logs(call: Call) -> Response:
    size = call.params.integer("size", 1000, bits=32)
    skip = call.params.integer("skip", 0, bits=32)
    events = call.store.projects.events(call.project.id, skip, size)
    return reply(
        call,
        {
            "columns": ["user", "time", "type", "message"],
            "logData": [[e.user, e.time, e.type, e.message] for e in events],
        },
    )


def _grants(call: Call, groups: bool) -> list[dict[str, Any]]:
    return [
        {"username": name, "permission": perms.names()}
        for name, is_group, perms in call.accounts.project_permissions(call.project.id)
        if is_group == groups
    ]


def get_permissions(call: Call) -> Response:
    return reply(call, {"permissions": _grants(call, groups=False)})


def get_group_permissions(call: Call) -> Response:
    return reply(call, {"permissions": _grants(call, groups=True)})


def get_proxy_users(call: Call) -> Response:
    # sudoless runs every job as the executor's own Unix user: proxy users are metadata only.
    return reply(call, {"proxyUsers": call.accounts.proxy_users(call.project.id)})


def get_sandbox_grants(call: Call) -> Response:
    grants = call.store.project_settings.sandbox_grants(call.project.id)
    return reply(
        call,
        {
            "read": list(grants.read),
            "write": list(grants.write),
            "ports": None if grants.ports is None else list(grants.ports),
        },
    )


def check_for_write_permission(call: Call) -> Response:
    return reply(call, {"hasWritePermission": call.allowed(call.project.id, WRITE)})


def is_flow_locked(call: Call) -> Response:
    flow_id = call.params.required("flowName")
    try:
        lock = lifecycle.flow_lock(call.store, call.project, flow_id)
    except NotFoundError as exc:
        return reply(call, {"error": str(exc)})
    return reply(call, {"flowId": flow_id, "isLocked": lock is not None})


# -- write APIs ----------------------------------------------------------------------------------------------


def change_description(call: Call) -> Response:
    try:
        lifecycle.change_description(call.store, call.project, call.params.required("description"), call.user.name)
    except InputError as exc:
        return reply(call, {"error": str(exc)})
    return reply(call)


def add_proxy_user(call: Call) -> Response:
    name = call.params.required("name")
    try:
        call.accounts.add_proxy_user(call.project.id, name, call.user)
    except (InputError, PermissionDenied) as exc:
        return reply(call, {"error": str(exc)})
    return reply(call)


def remove_proxy_user(call: Call) -> Response:
    call.accounts.remove_proxy_user(call.project.id, call.params.required("name"), call.user)
    return reply(call)


def set_job_override_property(call: Call) -> Response:
    flow_id = call.params.required("flowName")
    job = call.params.required("jobName")
    try:
        lifecycle.set_job_override(
            call.store, call.project, flow_id, job, call.params.group("jobOverride"), call.user.name
        )
    except (NotFoundError, InputError) as exc:
        return reply(call, {"error": str(exc)})
    return reply(call)


def set_sandbox_grants(call: Call) -> Response:
    """``read``, ``write``, ``ports``: comma-separated lists; ``ports`` absent or empty lifts the restriction."""

    def listed(key: str) -> list[str]:
        return [item.strip() for item in (call.params.get(key) or "").split(",") if item.strip()]

    ports = listed("ports")
    try:
        lifecycle.set_sandbox_grants(
            call.store,
            call.project,
            listed("read"),
            listed("write"),
            ports or None,
            call.user.name,
            is_admin=call.user.is_admin,
        )
    except (InputError, PermissionDenied) as exc:
        return reply(call, {"error": str(exc)})
    return get_sandbox_grants(call)


def set_flow_lock(call: Call) -> Response:
    flow_id = call.params.required("flowName")
    locked = call.params.required("isLocked").strip().lower() == "true"
    try:
        lock = lifecycle.set_flow_lock(
            call.store, call.project, flow_id, locked, call.params.get("flowLockErrorMessage"), call.user.name
        )
    except NotFoundError as exc:
        return reply(call, {"error": str(exc)})
    return reply(
        call, {"isLocked": lock is not None, "flowId": flow_id, "flowLockErrorMessage": lock.message if lock else None}
    )


def _requested_permission(params: Params) -> Permission:
    flags = {flag: params.required(f"permissions[{flag}]").strip().lower() == "true" for flag in PERMISSION_FLAGS}
    if flags["admin"]:
        return ADMIN
    perm = Permission(0)
    for flag, member in (
        ("read", READ),
        ("write", WRITE),
        ("execute", Permission.EXECUTE),
        ("schedule", Permission.SCHEDULE),
    ):
        if flags[flag]:
            perm |= member
    return perm


def _record_grant(call: Call, name: str, group: bool, perm: Permission) -> None:
    kind = "GROUP_PERMISSION" if group else "USER_PERMISSION"
    what = ", ".join(perm.names()) or "nothing (removed)"
    call.store.projects.add_event(
        call.project.id, kind, call.user.name, f"Permission for {'group' if group else 'user'} {name} set to {what}"
    )


def add_permission(call: Call) -> Response:
    name = call.params.required("name")
    group = call.params.required("group").strip().lower() == "true"
    existing = {(who, is_group) for who, is_group, _ in call.accounts.project_permissions(call.project.id)}
    if (name, group) in existing:
        return reply(
            call, {"error": "Group permission already exists." if group else "User permission already exists."}
        )
    try:
        if group:
            check_name(name, "group name")
        else:
            call.accounts.get_user(name)
    except (InputError, NotFoundError):
        return reply(call, {"error": "Group is invalid." if group else "User is invalid."})
    perm = _requested_permission(call.params)
    call.accounts.set_project_permission(call.project.id, name, group, perm)
    _record_grant(call, name, group, perm)
    return reply(call)


def change_permission(call: Call) -> Response:
    perm = _requested_permission(call.params)
    group = call.params.required("group").strip().lower() == "true"
    name = call.params.required("name")
    existing = {(who, is_group) for who, is_group, _ in call.accounts.project_permissions(call.project.id)}
    if (name, group) not in existing:
        return reply(call, {"error": f"Permissions for {name} cannot be found."})
    try:
        call.accounts.set_project_permission(call.project.id, name, group, perm)
    except SudolessError as exc:
        return reply(call, {"error": str(exc)})
    _record_grant(call, name, group, perm)
    return reply(call)
