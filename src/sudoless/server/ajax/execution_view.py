"""Executions as Azkaban's ExecutorServlet renders them: node trees, incremental updates, log byte ranges.

The store keeps one row per job attempt with nested ids (``sub:job``); Azkaban shows a tree where an
embedded flow node holds its own ``nodes``, each node shows its latest attempt, and earlier attempts are
``pastAttempts``. Which embedded flow a node runs comes from the version's stored flow graphs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sudoless.store.executions import ExecutionRecord
from sudoless.store.job_runs import JobRunRecord
from sudoless.store.projects import FlowRecord
from sudoless.store.status import Status

__all__ = ["ExecutionTree", "planned_tree", "utf8_range"]


def _subflows(flows: Mapping[str, FlowRecord], flow_id: str, prefix: str, out: dict[str, str]) -> None:
    """Map nested ids of embedded-flow nodes to the flow they run."""
    record = flows.get(flow_id)
    if record is None:
        return
    for node in record.graph.get("nodes", ()):
        subflow = node.get("subflow")
        if subflow:
            nested = prefix + node["name"]
            out[nested] = subflow
            _subflows(flows, subflow, nested + ":", out)


class ExecutionTree:
    """One execution's node tree, built from its job rows."""

    def __init__(self, record: ExecutionRecord, runs: Iterable[JobRunRecord], flows: Mapping[str, FlowRecord]) -> None:
        self.record = record
        self.latest: dict[str, JobRunRecord] = {}
        self.past: dict[str, list[JobRunRecord]] = {}
        for run in sorted(runs, key=lambda r: (r.nested_id, r.attempt)):
            previous = self.latest.get(run.nested_id)
            if previous is not None:
                self.past.setdefault(run.nested_id, []).append(previous)
            self.latest[run.nested_id] = run
        self.children: dict[str, list[str]] = {}
        for nested in self.latest:
            parent = nested.rsplit(":", 1)[0] if ":" in nested else ""
            self.children.setdefault(parent, []).append(nested)
        self.subflow: dict[str, str] = {}
        _subflows(flows, record.flow_id, "", self.subflow)

    def _is_flow(self, nested: str) -> bool:
        return nested in self.children or nested in self.subflow

    def _flow_id(self, nested: str) -> str:
        return self.subflow.get(nested, nested.rsplit(":", 1)[-1])

    def _attempts(self, nested: str) -> list[dict[str, Any]]:
        return [
            {"attempt": run.attempt, "startTime": run.start_time, "endTime": run.end_time, "status": run.status.value}
            for run in self.past.get(nested, ())
        ]

    def node_info(self, nested: str) -> dict[str, Any]:
        run = self.latest[nested]
        obj: dict[str, Any] = {
            "id": nested.rsplit(":", 1)[-1],
            "status": run.status.value,
            "startTime": run.start_time,
            "endTime": run.end_time,
            "updateTime": run.update_time,
            "type": run.type,
        }
        if run.condition:
            obj["condition"] = run.condition
        obj["nestedId"] = nested
        obj["attempt"] = run.attempt
        if run.attempt > 0:
            obj["pastAttempts"] = self._attempts(nested)
        if run.parents:
            obj["in"] = [parent.rsplit(":", 1)[-1] for parent in run.parents]
        if self._is_flow(nested):
            flow_id = self._flow_id(nested)
            obj["flow"] = flow_id
            obj["nodes"] = [self.node_info(child) for child in self.children.get(nested, ())]
            obj["flowId"] = flow_id
        return obj

    def root_info(self) -> dict[str, Any]:
        """``fetchexecflow``'s flow part (the caller adds execid, project, submit time and user)."""
        record = self.record
        return {
            "id": record.flow_id,
            "status": record.status.value,
            "startTime": record.start_time,
            "endTime": record.end_time,
            "updateTime": record.update_time,
            "type": None,
            "nestedId": record.flow_id,
            "attempt": 0,
            "flow": record.flow_id,
            "nodes": [self.node_info(child) for child in self.children.get("", ())],
            "flowId": record.flow_id,
        }

    def _update(self, nested: str, last: int) -> dict[str, Any]:
        run = self.latest[nested]
        obj: dict[str, Any] = {}
        if self._is_flow(nested):
            changed = [u for u in (self._update(c, last) for c in self.children.get(nested, ())) if u]
            if changed:
                obj["flow"] = self._flow_id(nested)
                obj["nodes"] = changed
        if run.update_time > last or obj:
            obj.update(
                id=nested.rsplit(":", 1)[-1],
                status=run.status.value,
                startTime=run.start_time,
                endTime=run.end_time,
                updateTime=run.update_time,
                attempt=run.attempt,
            )
            if run.attempt > 0:
                obj["pastAttempts"] = self._attempts(nested)
        return obj

    def root_update(self, last: int) -> dict[str, Any]:
        """``fetchexecflowupdate``: only what changed after ``last`` (epoch ms), plus the flow's state."""
        record = self.record
        obj: dict[str, Any] = {}
        changed = [u for u in (self._update(c, last) for c in self.children.get("", ())) if u]
        if changed:
            obj["flow"] = record.flow_id
            obj["nodes"] = changed
        if record.update_time > last or obj:
            obj.update(id=record.flow_id, attempt=0)
        obj.update(
            status=record.status.value,
            startTime=record.start_time,
            endTime=record.end_time,
            updateTime=record.update_time,
        )
        return obj


def planned_tree(flows: Mapping[str, FlowRecord], flow_id: str, disabled: set[str]) -> dict[str, Any]:
    """The node tree an execution of ``flow_id`` would start with (``fetchscheduledflowgraph``)."""

    def nodes(current: str, prefix: str) -> list[dict[str, Any]]:
        out = []
        for node in flows[current].graph.get("nodes", ()):
            nested = prefix + node["name"]
            status = Status.DISABLED if nested in disabled else Status.READY
            obj: dict[str, Any] = {
                "id": node["name"],
                "status": status.value,
                "startTime": -1,
                "endTime": -1,
                "updateTime": -1,
                "type": node["type"],
            }
            if node.get("condition"):
                obj["condition"] = node["condition"]
            obj["nestedId"] = nested
            obj["attempt"] = 0
            if node.get("in"):
                obj["in"] = list(node["in"])
            subflow = node.get("subflow")
            if subflow and subflow in flows:
                obj.update(flow=subflow, nodes=nodes(subflow, nested + ":"), flowId=subflow)
            out.append(obj)
        return out

    return {
        "id": flow_id,
        "status": Status.READY.value,
        "startTime": -1,
        "endTime": -1,
        "updateTime": -1,
        "type": None,
        "nestedId": flow_id,
        "attempt": 0,
        "flow": flow_id,
        "nodes": nodes(flow_id, ""),
        "flowId": flow_id,
    }


def utf8_range(data: bytes) -> tuple[int, bytes]:
    """Trim ``data`` to whole UTF-8 characters (Azkaban's ``getUtf8Range``): skip continuation bytes at
    the start, drop an incomplete character at the end. Returns (bytes skipped at the start, the bytes)."""
    start = 0
    while start < len(data) and start < 4 and (data[start] & 0xC0) == 0x80:
        start += 1
    end = len(data)
    # Walk back over at most three continuation bytes to the last lead byte and check it is complete.
    lead = end - 1
    while lead >= start and lead > end - 4 and (data[lead] & 0xC0) == 0x80:
        lead -= 1
    if lead >= start:
        byte = data[lead]
        size = (
            1
            if byte < 0x80
            else 2
            if byte >> 5 == 0b110
            else 3
            if byte >> 4 == 0b1110
            else 4
            if byte >> 3 == 0b11110
            else 1
        )
        if lead + size > end:
            end = lead
    return start, data[start:end]
