"""``/projects/{project}/flows``: the flows of the current version, a flow's graph, and flow locks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam

from sudoless.errors import NotFoundError
from sudoless.flows import projects as lifecycle
from sudoless.server.ajax.manager import MANAGER
from sudoless.server.api.context import CallerDep, ajax_permission
from sudoless.server.api.errors import error_responses
from sudoless.server.api.models import PATH_NAME, FlowGraph, FlowInfo, FlowLockRequest, GraphNode
from sudoless.server.api.projects import ProjectName
from sudoless.server.api.routing import ThreadedRoute
from sudoless.store.projects import FlowRecord

router = APIRouter(prefix="/projects/{project}/flows", tags=["flows"], route_class=ThreadedRoute)

LIST = ajax_permission(MANAGER, "ajax:fetchprojectflows")
GRAPH = ajax_permission(MANAGER, "ajax:fetchflowgraph")
LOCK = ajax_permission(MANAGER, "ajax:setFlowLock")

FlowName = Annotated[str, PathParam(min_length=1, max_length=512, pattern=PATH_NAME, description="the flow's name")]


def graph_nodes(flows: Mapping[str, FlowRecord], flow_id: str, seen: frozenset[str] = frozenset()) -> list[GraphNode]:
    """A flow's nodes with embedded flows expanded (their ``nodes``), by node id."""
    nodes = []
    for node in sorted(flows[flow_id].graph.get("nodes", ()), key=lambda n: n["name"]):
        subflow: Any = node.get("subflow")
        inner = graph_nodes(flows, subflow, seen | {flow_id}) if subflow in flows and subflow not in seen else None
        nodes.append(
            GraphNode(
                id=node["name"],
                type=node["type"],
                depends_on=sorted(node.get("in") or ()),
                condition=node.get("condition"),
                subflow=subflow,
                nodes=inner,
            )
        )
    return nodes


@router.get(
    "",
    response_model=list[FlowInfo],
    responses=error_responses(403, 404),
    summary="Top-level flows of the current version",
)
def list_flows(project: ProjectName, call: CallerDep) -> list[FlowInfo]:
    record = call.project(project, LIST)
    flows = call.store.projects.version_flows(record, record.version)
    locks = call.store.project_settings.flow_locks(record.id)
    return [
        FlowInfo(id=fid, locked=fid in locks, lock_message=locks[fid].message if fid in locks else None)
        for fid in sorted(flows)
        if not flows[fid].embedded
    ]


@router.get("/{flow}", response_model=FlowGraph, responses=error_responses(403, 404), summary="A flow's graph")
def flow_graph(project: ProjectName, flow: FlowName, call: CallerDep) -> FlowGraph:
    record = call.project(project, GRAPH)
    flows = call.store.projects.version_flows(record, record.version)
    if flow not in flows:
        raise NotFoundError(f"Flow {flow} not found in project {record.name}")
    lock = call.store.project_settings.flow_lock(record.id, flow)
    return FlowGraph(
        project=record.name,
        flow=flow,
        locked=lock is not None,
        lock_message=lock.message if lock else None,
        properties=dict(flows[flow].graph.get("props") or {}),
        nodes=graph_nodes(flows, flow),
    )


@router.put(
    "/{flow}/lock", response_model=FlowInfo, responses=error_responses(403, 404), summary="Lock or unlock a flow"
)
def set_lock(project: ProjectName, flow: FlowName, body: FlowLockRequest, call: CallerDep) -> FlowInfo:
    """A locked flow is neither executed (submissions answer 409) nor scheduled; its schedule skips its slots.
    The lock belongs to the flow's name and outlives uploads."""
    record = call.project(project, LOCK)
    lock = lifecycle.set_flow_lock(call.store, record, flow, body.locked, body.message, call.user.name)
    return FlowInfo(id=flow, locked=lock is not None, lock_message=lock.message if lock else None)
