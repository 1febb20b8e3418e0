"""A flow's runs x jobs grid: one column per recent run (oldest on the left, newest on the right, as
Airflow's grid has it), one row per job in the flow's order, each cell the status of that job's latest
attempt in that run, linked to the attempt's log.

The whole grid costs two indexed statements whatever its size: the flow's latest runs
(:meth:`~sudoless.store.executions.ExecutionQueries.recent`) and every attempt's status in those runs
(:meth:`~sudoless.store.job_runs.JobRunQueries.statuses_of`); the flow's job order comes from the stored
version's graph, as on the flow page. A finished run's attempts no longer change, so they are kept (the
5,000 most recently shown runs) and only unfinished or unseen runs are read again. The page renders the run
headers and job names; the cells (6,100 for 100 runs of a 61-job flow) travel as one short string per job,
a letter per run, and the page's script turns them into links: rendering each cell's markup on the server
took longer than the 50 ms a page may take.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from sudoless.server.dispatch import GET, Call, Route
from sudoless.server.ui.flows import READ, job_attempts, job_tree
from sudoless.server.ui.projects import current_flows
from sudoless.server.ui.rows import grid_heads, grid_rows
from sudoless.server.ui.web import error_page, locate_project, render
from sudoless.store.executions import ExecutionRecord, ExecutionSummary
from sudoless.store.status import Status

__all__ = ["CODES", "ROUTES", "Grid", "build_grid"]

RUN_CHOICES = (25, 50, 100)
DEFAULT_RUNS = 25
#: One letter per status in a row's string ("." where the job was not part of the run); the page gets the
#: statuses in this order and reads a letter as its index.
CODES = {status.value: chr(ord("a") + index) for index, status in enumerate(Status)}
NONE = "."


@dataclass(frozen=True)
class Grid:
    runs: list[ExecutionSummary | ExecutionRecord]  # oldest first: the columns
    jobs: list[dict[str, Any]]  # the rows: id, name, depth
    cells: list[str]  # per row, one letter of CODES per run
    attempts: dict[str, int]  # "row:column" -> the latest attempt, where it is not the first (0)

    def page_data(self) -> dict[str, Any]:
        """What the page's script needs to draw the cells."""
        return {
            "runs": [run.id for run in self.runs],
            "jobs": [job["id"] for job in self.jobs],
            "statuses": list(CODES),
            "cells": self.cells,
            "attempts": self.attempts,
        }


def build_grid(
    runs_newest_first: Sequence[ExecutionSummary | ExecutionRecord],
    jobs: list[dict[str, Any]],
    attempts_of: Mapping[int, Sequence[tuple[str, int, str]]],
) -> Grid:
    """The grid of ``runs`` (as queried, newest first) over ``jobs`` (:func:`~.flows.job_tree`'s order),
    from each run's ``(nested id, attempt, status)`` rows, in attempt order per node (a later one wins).

    A job some run had but the current version lacks (renamed or removed since) gets a row at the end,
    so no cell of a shown run is left out.
    """
    runs = list(reversed(runs_newest_first))
    width = len(runs)
    rows: dict[str, list[str]] = {job["id"]: [NONE] * width for job in jobs}
    latest: dict[tuple[str, int], int] = {}
    for col, run in enumerate(runs):
        for nested_id, attempt, status in attempts_of.get(run.id, ()):
            row = rows.get(nested_id)
            if row is None:
                row = rows[nested_id] = [NONE] * width
            row[col] = CODES.get(status, NONE)
            latest[nested_id, col] = attempt
    known = {job["id"] for job in jobs}
    gone = [{"id": n, "name": n, "depth": n.count(":")} for n in sorted(set(rows) - known)]
    every = [{**job, "depth": min(int(job["depth"]), 4)} for job in [*jobs, *gone]]
    index = {job["id"]: position for position, job in enumerate(every)}
    attempts = {f"{index[nested]}:{col}": attempt for (nested, col), attempt in latest.items() if attempt}
    return Grid(runs=runs, jobs=every, cells=["".join(rows[job["id"]]) for job in every], attempts=attempts)


def wanted_runs(call: Call) -> int:
    """The ``runs`` parameter: how many of the latest runs to show, 1 to 100 (25 when absent or bad)."""
    text = (call.params.get("runs") or "").strip()
    return min(max(int(text), 1), RUN_CHOICES[-1]) if text.isdigit() else DEFAULT_RUNS


def grid_view(call: Call) -> Response:
    project = call.project
    flow_id = call.params.required("flow")
    flows = current_flows(call, project)
    if flow_id not in flows or flows[flow_id].embedded:
        return error_page(call, 404, "No such flow", f"Project {project.name} has no flow {flow_id}.")
    count = wanted_runs(call)
    runs = call.store.executions.recent(project.id, flow_id, count)
    grid = build_grid(runs, job_tree(flows, flow_id), job_attempts(call, runs))
    return render(
        call,
        "grid.html",
        title=f"{flow_id} runs - {project.name}",
        project=project,
        flow_id=flow_id,
        grid=grid,
        heads=grid_heads(grid.runs),
        rows=grid_rows(grid.jobs),
        count=count,
        choices=RUN_CHOICES,
        page_data=grid.page_data(),
    )


ROUTES = [
    (
        "/ui/projects/{project}/flows/{flow}/grid",
        Route("flow-grid", grid_view, READ, locate=locate_project, methods=GET),
    ),
]
