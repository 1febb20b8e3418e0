"""Execution history from ``execution_flows`` (flow data: gzip JSON), ``execution_jobs`` (output properties)
and ``execution_logs`` (log chunks, each gzip on its own), as sudoless executions readable like native ones.

The flow data is Azkaban's own record of an execution (its UI reads it, not ``execution_jobs``): every node
with its type, parents, status, times and earlier attempts, embedded flows nested inside.

An execution still preparing or running in Azkaban is imported as it stood, with the executor id
:data:`~sudoless.store.executions.ELSEWHERE`: no executor here claims or finalises it, so it never runs twice;
its record says it runs elsewhere (``elsewhere`` in the API). A later import brings its final state over it,
in place, keeping its id here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sudoless.config import Settings
from sudoless.store import Store
from sudoless.store.executions import ELSEWHERE
from sudoless.store.status import TERMINAL_FLOW, Status

from .report import Progress, Report
from .schedules import execution_options
from .source import AzkabanSource, decode_json

__all__ = ["import_history", "job_rows"]

DAY_MS = 86_400_000


def _time(value: Any) -> int:
    return int(value) if value not in (None, "") and int(value) > 0 else -1


def _status(value: Any, where: str) -> Status:
    try:
        return Status(str(value)) if not isinstance(value, int) else Status.from_code(value)
    except (ValueError, KeyError):
        raise ValueError(f"{where}: unknown status {value!r}") from None


def job_rows(nodes: list[dict[str, Any]], outputs: dict[str, Any], prefix: str = "") -> Iterator[dict[str, Any]]:
    """One job_runs row per attempt of every node of the flow data, embedded flows' nodes with nested ids
    (``outer:inner``) as sudoless names them; output properties for top-level jobs."""
    for node in nodes:
        nested = prefix + str(node["id"])
        common = {
            "nested_id": nested,
            "type": str(node.get("type") or "command"),
            "parents": json.dumps([prefix + str(p) for p in node.get("inNodes") or []]),
            "condition": node.get("condition"),
            "pid": None,
            "host": None,
            "input_props": None,
        }
        for past in node.get("pastAttempts") or []:
            yield {
                **common,
                "attempt": int(past.get("attempt", 0)),
                "status": _status(past.get("status"), nested),
                "start_time": _time(past.get("startTime")),
                "end_time": _time(past.get("endTime")),
                "update_time": _time(past.get("endTime")),
                "output_props": None,
            }
        output = outputs.get(nested) if not prefix else None
        yield {
            **common,
            "attempt": int(node.get("attempt", 0)),
            "status": _status(node.get("status"), nested),
            "start_time": _time(node.get("startTime")),
            "end_time": _time(node.get("endTime")),
            "update_time": _time(node.get("updateTime")),
            "output_props": json.dumps(output) if output else None,
        }
        if node.get("nodes"):
            yield from job_rows(node["nodes"], outputs, nested + ":")


#: Executions read, written and committed together: one round trip per batch for their jobs' outputs and one
#: stream of their log chunks, one transaction here. Bounds the memory to a batch's flow data.
BATCH = 200


def import_history(
    store: Store,
    settings: Settings,
    source: AzkabanSource,
    projects: dict[int, tuple[int, str]],
    history: str,
    origin: str,
    report: Report,
    write: bool = True,
    progress: Progress | None = None,
) -> None:
    """Import the executions of ``projects`` (Azkaban id to (local id, name); local id 0 in a dry run) that
    ``history`` asks for: ``all``, ``none`` or a number of days back from now. ``write`` False only counts."""
    if history == "none" or not projects:
        return
    since = None if history == "all" else store.clock() - int(history) * DAY_MS
    done = store.imports.imported(origin, "execution")
    in_flight = store.imports.in_flight(origin)
    versions = store.imports.imported(origin, "version")
    after = 0
    total = source.count_executions(sorted(projects), since) if progress is not None else 0
    read = 0
    while True:
        rows = source.executions(sorted(projects), since, after, BATCH)
        if not rows:
            break
        after = int(rows[-1].exec_id)
        read += len(rows)
        batch = _decoded(rows, projects, done, in_flight, report)
        _flush(store, settings, source, projects, versions, batch, origin, report, write, in_flight)
        if progress is not None:
            progress("executions", read, max(total, read))
    if report.counts["executions running in Azkaban"] and write:
        report.notes.append(
            "executions still running or preparing in Azkaban were imported as they stood, marked as running "
            "elsewhere: sudoless never runs them; import again once they have ended to bring their final state"
        )


def _decoded(
    rows: list[Any],
    projects: dict[int, tuple[int, str]],
    done: dict[str, int],
    in_flight: dict[str, tuple[int, str, int]],
    report: Report,
) -> list[tuple[Any, Status, dict[str, Any]]]:
    """The rows of a page to import (new ones, and those imported while running that changed since), their
    flow data decoded; the others counted or reported."""
    batch: list[tuple[Any, Status, dict[str, Any]]] = []
    for row in rows:
        key = str(row.exec_id)
        if key in done:
            before = in_flight.get(key)
            if before is None or (before[1], before[2]) == (_status_name(row.status), _time(row.update_time)):
                report.skipped["executions"] += 1
                continue
        where = f"execution {row.exec_id} ({projects[int(row.project_id)][1]}.{row.flow_id})"
        try:
            status = _status(int(row.status or 0), where)
            data = decode_json(row.enc_type, row.flow_data, f"execution_flows {row.exec_id}") or {}
        except ValueError as exc:
            report.unmapped.append(f"{where}: {exc}")
            continue
        batch.append((row, status, data))
    return batch


def _status_name(code: Any) -> str:
    try:
        return Status.from_code(int(code or 0)).value
    except KeyError:
        return ""


def _flush(
    store: Store,
    settings: Settings,
    source: AzkabanSource,
    projects: dict[int, tuple[int, str]],
    versions: dict[str, int],
    batch: list[tuple[Any, Status, dict[str, Any]]],
    origin: str,
    report: Report,
    write: bool,
    in_flight: dict[str, tuple[int, str, int]],
) -> None:
    if not batch:
        return
    outputs = source.output_params([int(row.exec_id) for row, _, _ in batch])
    items: list[tuple[str, dict[str, Any], list[dict[str, Any]]]] = []
    for row, status, data in batch:
        local_id, name = projects[int(row.project_id)]
        try:
            jobs = [
                {**job, "status": job["status"].value}
                for job in job_rows(data.get("nodes") or [], outputs.get(int(row.exec_id), {}))
            ]
        except (ValueError, KeyError, TypeError) as exc:
            report.unmapped.append(f"execution {row.exec_id} ({name}.{row.flow_id}): flow data not understood: {exc}")
            continue
        options = execution_options(data.get("executionOptions") or {}, settings.parallel).to_json()
        running = status not in TERMINAL_FLOW
        items.append(
            (
                str(row.exec_id),
                {
                    "project_id": local_id,
                    "project_name": name,
                    "version": versions.get(f"{row.project_id}/{row.version}", int(row.version)),
                    "flow_id": row.flow_id,
                    "status": status.value,
                    "submit_user": row.submit_user or "azkaban",
                    "submit_time": _time(row.submit_time),
                    "start_time": _time(row.start_time),
                    "end_time": _time(row.end_time),
                    "update_time": _time(row.update_time),
                    "source": (row.execution_source or "adhoc")[:32],
                    "options": json.dumps(options),
                    "executor_id": ELSEWHERE if running else None,
                    "control": "",
                    "priority": 5,
                    "restarted_from": None,
                },
                jobs,
            )
        )
        if str(row.exec_id) in in_flight:
            report.add("executions updated since they ran")
        else:
            report.add("executions")
        if running:
            report.add("executions running in Azkaban")
        report.add("job attempts", len(jobs))
    if not write or not items:
        return
    wanted = [int(key) for key, _, _ in items]

    def logs() -> Iterator[tuple[int, str, int, int, bytes]]:
        for chunk in source.log_chunks(wanted):
            report.add("log chunks")
            yield chunk

    replace = {key: in_flight[key][0] for key, _, _ in items if key in in_flight}
    store.imports.insert_executions(origin, items, logs, replace)
